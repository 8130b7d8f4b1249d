/**
 * npm run bench:webhooks
 *
 * Inbound: autocannon, in a second process, POSTs a new validly signed Wealthbox event per
 * request to POST /api/webhooks/wealthbox/:id for BENCH_SECONDS (20) over BENCH_CONNECTIONS
 * (10) connections, while the inbox worker processes them in this process. Baseline, same
 * run, same load: a bare Express handler that only parses JSON. Then, once the inbox is
 * empty: every accepted event must have been stored and processed exactly once.
 *
 * Outbound: BENCH_OUTBOUND_EVENTS (10,000) user.created events (one push of that many
 * users, with a subscription) delivered to a receiver in a third process; deliveries/s.
 * Baseline, same run: the same number of bare keep-alive POSTs to that receiver at the same
 * concurrency, without the database.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import axios from 'axios';
import express from 'express';
import { bootstrap, createApp, createServices } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createPrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import { scratchDatabase } from './scratch-database';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const OUTBOUND_N = Number(process.env.BENCH_OUTBOUND_EVENTS ?? 10_000);
const SECRET = 'bench-webhook-secret';
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const tsx = path.join(__dirname, '..', 'node_modules', '.bin', 'tsx');

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
}

let nextContactId = 1_000_000;

function load(url: string, seconds: number, secret: string, prefix: string): Promise<LoadResult> {
  // Each run's contacts are new people.
  const firstId = nextContactId;
  nextContactId += 10_000_000;
  return new Promise((resolve, reject) => {
    const child = spawn(
      tsx,
      [path.join(__dirname, 'processes', 'webhook-load.ts'), url, String(seconds), String(CONNECTIONS), secret, prefix, String(firstId)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() as string)) : reject(new Error(`load exited ${code}`)),
    );
  });
}

function startReceiver(): Promise<{ url: string; stop(): Promise<number> }> {
  return new Promise((resolve) => {
    const child = spawn(tsx, [path.join(__dirname, 'processes', 'receiver.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const port = /^(\d+)\n/.exec(out)?.[1];
      if (port && !out.includes('count')) {
        resolve({
          url: `http://127.0.0.1:${port}/hook`,
          stop: () =>
            new Promise((done) => {
              child.on('exit', () => done(Number(/count (\d+)/.exec(out)?.[1] ?? -1)));
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

function listen(app: express.Express): Promise<http.Server> {
  return new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const logger = createLogger({ level: 'warn', json: true });
  const db = await scratchDatabase(logger);
  const config = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL: db.url,
    API_KEY: 'bench-admin-key-0123456789',
    ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
    CRON_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    WEBHOOK_RATE_LIMIT_MAX: '100000000',
    ALLOW_PRIVATE_URLS: 'true',
    // All outbound events go to one subscription here: the per-subscription cap (4 by default,
    // so a slow endpoint cannot take the pool) would measure the cap, not the sender.
    WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: '64',
    ...(process.env.BENCH_NO_WORKERS ? { WEBHOOK_WORKERS_ENABLED: 'false' } : {}),
  });
  const prisma = createPrismaClient(db.url, config.database);
  const services = createServices({ config, prisma, logger });
  await bootstrap({ config, logger }, services);
  const server = await listen(createApp({ config, prisma, logger }, services));
  services.workers.start();
  const org = await services.organizations.create({ name: 'Bench inbound', slug: 'bench-inbound' });
  const integration = await services.integrations.create(org.id, {
    provider: 'wealthbox',
    name: 'Bench',
    config: { apiKey: 'bench-token-123', webhookSecret: SECRET },
  });
  const ours = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks/wealthbox/${integration.id}`;

  const bareApp = express();
  bareApp.post('/hook', express.json({ limit: '1mb' }), (_req, res) => {
    res.status(202).json({ received: true });
  });
  const bare = await listen(bareApp);
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/hook`;

  console.log(`\nInbound: ${SECONDS} s per run, ${CONNECTIONS} connections, autocannon in a second process\n`);
  await load(ours, 2, SECRET, 'warmup');
  await load(bareUrl, 2, '-', 'warmup');
  const baseline = await load(bareUrl, SECONDS, '-', 'bare');
  const ourRun = await load(ours, SECONDS, SECRET, 'run');
  services.inboxWorker.start(); // (already running unless BENCH_NO_WORKERS measured the request path alone)
  const drainStart = performance.now();
  const pending = async () =>
    (await prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM inbound_events WHERE status = 'pending'`))[0].n;
  const backlog = await pending();
  await until('the inbox to empty', async () => (await pending()) === 0, 600_000);
  const drainMs = performance.now() - drainStart;
  const [counts] = await prisma.$queryRawUnsafe<
    { stored: number; processed_once: number; created: number; other: number; users: number }[]
  >(
    `SELECT count(*)::int AS stored,
            count(*) FILTER (WHERE status = 'processed' AND attempts = 1)::int AS processed_once,
            count(*) FILTER (WHERE outcome = 'created')::int AS created,
            count(*) FILTER (WHERE status <> 'processed' OR attempts <> 1)::int AS other,
            (SELECT count(*)::int FROM users WHERE organization_id = $1) AS users
     FROM inbound_events WHERE integration_id = $2`,
    org.id,
    integration.id,
  );
  const accepted = Object.entries(ourRun.statuses)
    .filter(([code]) => code === '202')
    .reduce((n, [, c]) => n + c, 0);
  const warmupAccepted = counts.stored - accepted;

  const row = (name: string, r: LoadResult) =>
    `  ${name.padEnd(34)} ${fmt(r.rps).padStart(7)} req/s   p50 ${String(r.p50).padStart(3)} ms   p99 ${String(r.p99).padStart(3)} ms   max ${String(r.max).padStart(4)} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
  console.log(row('bare Express, JSON parse only', baseline));
  console.log(row('POST /api/webhooks/wealthbox/:id', ourRun));
  console.log(`  ratio (ours / bare):               ${(ourRun.rps / baseline.rps).toFixed(2)}`);
  console.log(
    `  accepted (202) ${fmt(accepted)} + warm-up ${fmt(warmupAccepted)}; stored ${fmt(counts.stored)}; processed exactly once ${fmt(counts.processed_once)}; users created ${fmt(counts.users)}; lost or repeated ${fmt(counts.stored - counts.processed_once + (counts.stored - counts.users))}`,
  );
  console.log(`  backlog when the load stopped: ${fmt(backlog)} events, processed in ${fmt(drainMs)} ms after it`);

  // Outbound.
  const receiver = await startReceiver();
  const tenant = { id: 'bench-outbound-tenant', name: 'Bench outbound' };
  // The push makes the tenant's organization; subscribe it before the big push.
  const first = await services.push.push(
    { operation: 'user_sync', tenant, users: [{ email: 'first@example.com', name: 'First' }] } as never,
    'bench',
  );
  await services.subscriptions.create(first.metadata.organizationId, { url: receiver.url, events: ['user.created'] });
  const users = Array.from({ length: OUTBOUND_N }, (_, i) => ({ email: `out-${i}@example.com`, name: `Out ${i}` }));
  const pushStart = performance.now();
  const pushed = await services.push.push({ operation: 'user_sync', tenant, users } as never, 'bench');
  const pushMs = performance.now() - pushStart;
  const outStart = performance.now();
  services.deliveries.start();
  const delivered = async () =>
    (
      await prisma.$queryRawUnsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
         WHERE s.organization_id = $1 AND d.status = 'succeeded'`,
        pushed.metadata.organizationId,
      )
    )[0].n;
  await until('every delivery', async () => (await delivered()) >= OUTBOUND_N, 600_000);
  const outMs = performance.now() - outStart;

  const agent = new http.Agent({ keepAlive: true, maxSockets: config.webhooks.delivery.concurrency });
  const client = axios.create({ httpAgent: agent, validateStatus: () => true, timeout: 10_000 });
  const body = JSON.stringify({ id: 'x', event: 'user.created', timestamp: new Date().toISOString(), data: { id: 1 } });
  let next = 0;
  const baseStart = performance.now();
  await Promise.all(
    Array.from({ length: config.webhooks.delivery.concurrency }, async () => {
      while (next++ < OUTBOUND_N) await client.post(receiver.url, body, { headers: { 'Content-Type': 'application/json' } });
    }),
  );
  const baseMs = performance.now() - baseStart;
  const received = await receiver.stop();

  const ourRate = (OUTBOUND_N / outMs) * 1000;
  const baseRate = (OUTBOUND_N / baseMs) * 1000;
  console.log(
    `\nOutbound: ${fmt(OUTBOUND_N)} user.created events, ${config.webhooks.delivery.concurrency} concurrent deliveries, receiver in a third process\n`,
  );
  console.log(`  push of ${fmt(OUTBOUND_N)} users writing ${fmt(OUTBOUND_N)} events + deliveries: ${fmt(pushMs)} ms`);
  console.log(`  delivered (signed, logged):         ${fmt(ourRate).padStart(7)} deliveries/s  (${fmt(outMs)} ms)`);
  console.log(`  bare keep-alive POSTs, no database: ${fmt(baseRate).padStart(7)} requests/s    (${fmt(baseMs)} ms)`);
  console.log(`  ratio (ours / bare):                ${(ourRate / baseRate).toFixed(2)}`);
  console.log(`  receiver counted ${fmt(received)} requests (expected ${fmt(2 * OUTBOUND_N)})\n`);

  await services.workers.stop();
  server.close();
  bare.close();
  agent.destroy();
  await prisma.$disconnect();
  await db.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
