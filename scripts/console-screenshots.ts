/**
 * npm run console:screenshots: the README's pictures of the console. Starts the service on a
 * throw-away embedded PostgreSQL with a fake Wealthbox (500 contacts), fills it through the
 * API (an organization, users, an integration with three syncs, a webhook subscription whose
 * receiver refuses the first deliveries), then opens each page in Debian's Chromium
 * (CHROMIUM_PATH) and writes docs/console/<page>.png.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { FakeWealthbox } from '../fake-crm/wealthbox/fake-wealthbox';
import { bootstrap, createApp, createServices } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createPrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import { scratchDatabase } from '../bench/scratch-database';

const OUT = path.join(__dirname, '..', 'docs', 'console');

async function main(): Promise<void> {
  const logger = createLogger({ level: 'warn', json: false });
  const db = await scratchDatabase(logger);
  const fake = await new FakeWealthbox({ contacts: 500, staff: 3 }).start();
  // A receiver that refuses the first four deliveries, so the delivery history has failures to show.
  let refused = 0;
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (refused++ < 4) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

  const config = loadConfig({
    ...process.env,
    DATABASE_URL: db.url,
    ALLOW_PRIVATE_URLS: 'true',
    CRON_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
    WEBHOOK_RETRY_SCHEDULE: '0,1,1,2',
  });
  const prisma = createPrismaClient(db.url, config.database);
  const services = createServices({ config, prisma, logger });
  await bootstrap({ config, logger }, services);
  services.workers.start();
  const app = createApp({ config, prisma, logger }, services);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { key } = await services.apiKeys.create({ name: 'screenshots', scope: 'admin' });
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json().catch(() => ({}))) as { data?: Record<string, unknown> };
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json.data as Record<string, unknown>;
  };

  const org = await call('POST', '/api/organizations', { name: 'Acme Wealth Advisors' });
  await call('POST', '/api/organizations', { name: 'Globex Planning' });
  await call('POST', '/api/webhook-subscriptions', {
    organizationId: org.id,
    url: receiverUrl,
    events: ['user.created', 'user.updated', 'sync.completed'],
    description: 'CRM mirror',
  });
  for (const [i, name] of ['Ann Lee', 'Bo Diaz', 'Cy Park'].entries()) {
    await call('POST', '/api/users', { organizationId: org.id, name, email: `user${i}@acme.example`, department: 'Advisory' });
  }
  const integration = await call('POST', '/api/integrations', {
    organizationId: org.id,
    provider: 'wealthbox',
    name: 'Acme Wealthbox',
    config: { apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 0 },
  });
  await call('POST', `/api/integrations/${integration.id}/test`);
  await call('POST', `/api/integrations/${integration.id}/sync?mode=full&wait=true`);
  for (let i = 1; i <= 40; i++) fake.updateContact(i * 7, { jobTitle: `Partner ${i}` });
  await call('POST', `/api/integrations/${integration.id}/sync?mode=incremental&wait=true`);
  for (let i = 1; i <= 12; i++) fake.updateContact(i * 11, { jobTitle: `Associate ${i}` });
  await call('POST', `/api/integrations/${integration.id}/sync?mode=incremental&wait=true`);
  // Let the deliveries (and their retries) happen.
  await new Promise((r) => setTimeout(r, 3000));

  fs.mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  await page.goto(`${base}/console/`);
  await page.screenshot({ path: path.join(OUT, 'sign-in.png') });
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Console' }).waitFor();
  const pages: [string, string][] = [
    ['integrations', 'Integrations'],
    ['syncs', 'Syncs'],
    ['webhooks', 'Webhooks'],
    ['users', 'Users'],
  ];
  for (const [name, title] of pages) {
    // A new hash on the same document: wait for this page's heading and for its lists to load.
    await page.goto(`${base}/console/#/${name}?org=${org.id}`);
    await page.getByRole('heading', { level: 1, name: title }).waitFor();
    // (Polled from here: the console's policy refuses the string evaluation waitForFunction needs.)
    for (let i = 0; i < 100 && (await page.getByText(/Loading/).count()) > 0; i++) await page.waitForTimeout(100);
    await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
    process.stdout.write(`docs/console/${name}.png\n`);
  }
  await browser.close();
  server.close();
  receiver.close();
  await services.workers.stop();
  await services.pull.stop();
  await prisma.$disconnect();
  await fake.stop();
  await db.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
