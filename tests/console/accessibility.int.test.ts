import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { ADMIN_KEY } from '../helpers/test-app';
import { startConsole, type ConsoleHarness } from '../helpers/console-browser';

/**
 * Accessible basics on every page, with data on it: each form control has a name (a label or
 * aria-label), each button says what it does, there is one h1, no positive tabindex, and text
 * is at WCAG AA contrast (4.5:1) against its background.
 */
const AUDIT = `(() => {
  const problems = [];
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  // Text for screen readers only (.sr-only: a 1px clipped box) is not seen, so has no contrast to keep.
  const seen = (el) => visible(el) && !el.closest('.sr-only');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!visible(el)) continue;
    const named = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!named) problems.push('control without a label: ' + el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!visible(el)) continue;
    if (!(el.textContent.trim() || el.getAttribute('aria-label'))) problems.push('nameless ' + el.tagName + ': ' + el.outerHTML.slice(0, 120));
  }
  const h1 = [...document.querySelectorAll('h1')].filter(visible).length;
  if (h1 !== 1) problems.push(h1 + ' visible h1 elements');
  for (const el of document.querySelectorAll('[tabindex]')) if (Number(el.getAttribute('tabindex')) > 0) problems.push('positive tabindex');
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || !seen(el) || el.disabled || el.closest('[disabled]')) continue;
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) problems.push('contrast ' + ratio.toFixed(2) + ' for "' + el.textContent.trim().slice(0, 40) + '" (' + el.tagName + '.' + el.className + ')');
  }
  return problems;
})()`;

describe('the console: accessible basics on every page', () => {
  let h: ConsoleHarness;
  let fake: FakeWealthbox;
  let orgId: number;

  beforeAll(async () => {
    h = await startConsole();
    fake = await new FakeWealthbox({ contacts: 12, staff: 1 }).start();
    const admin = { 'x-api-key': ADMIN_KEY };
    orgId = (await h.ctx.http.post('/api/organizations').set(admin).send({ name: 'Audit Org' }).expect(201)).body.data.id;
    await h.ctx.http
      .post('/api/users')
      .set(admin)
      .send({ organizationId: orgId, name: 'Ann Audit', email: 'ann@audit.example' })
      .expect(201);
    const integration = (
      await h.ctx.http
        .post('/api/integrations')
        .set(admin)
        .send({ organizationId: orgId, provider: 'wealthbox', name: 'Audit Wealthbox', config: { apiKey: fake.token, baseUrl: fake.url } })
        .expect(201)
    ).body.data;
    await h.ctx.http.post(`/api/integrations/${integration.id}/sync?mode=full&wait=true`).set(admin).expect(200);
    await h.ctx.http
      .post('/api/webhook-subscriptions')
      .set(admin)
      .send({ organizationId: orgId, url: 'http://127.0.0.1:9/hooks', events: ['user.created'] })
      .expect(201);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await fake?.stop();
  });

  it('sign-in page', async () => {
    const { page, unexpectedErrors } = await h.open();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate(AUDIT)).toEqual([]);
    expect(unexpectedErrors()).toEqual([]);
    await page.context().close();
  });

  it.each(['integrations', 'syncs', 'webhooks', 'users'])('%s page', async (name) => {
    const { page, unexpectedErrors } = await h.signIn(ADMIN_KEY, `/console/#/${name}?org=${orgId}`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.evaluate(AUDIT)).toEqual([]);
    expect(unexpectedErrors()).toEqual([]);
    await page.context().close();
  });
});
