import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/console-browser';
import { createTestContext, type TestContext } from '../helpers/test-app';

describe('/api/docs in a real browser', () => {
  let ctx: TestContext;
  let server: Server;
  let browser: Browser;

  beforeAll(async () => {
    ctx = await createTestContext();
    server = await new Promise((resolve) => {
      const s = ctx.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server.close(r));
    await ctx.close();
  });

  it('renders every endpoint of the document', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/api/docs`);
    await page.waitForSelector('.opblock-summary-path', { timeout: 20_000 });
    const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path') ?? e.textContent ?? ''));
    const doc = (await ctx.http.get('/api/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
      webhooks: Record<string, Record<string, unknown>>;
    };
    // The API's operations, and the outbound events (OpenAPI 3.1 `webhooks`), one block each.
    const count = (section: Record<string, Record<string, unknown>>) =>
      Object.values(section).reduce((n, ops) => n + Object.keys(ops).length, 0);
    expect(Object.keys(doc.webhooks)).toContain('sync.completed');
    expect(paths).toHaveLength(count(doc.paths) + count(doc.webhooks));
    expect(paths).toEqual(expect.arrayContaining(['/api/webhook-subscriptions/{id}/recover', '/api/internal/sync/users', '/metrics']));
    expect(await page.textContent('.info .title')).toContain('CRM integration service');
    // helmet's Content-Security-Policy lets the page's own scripts and styles run.
    expect(errors.filter((e) => /Content Security Policy|Refused/.test(e))).toEqual([]);
    await page.close();
  }, 60_000);
});
