/**
 * npm run bench:webhooks
 *
 * Inbound: autocannon, in a second process, POSTs a new validly signed Wealthbox event per
 * request to POST /api/webhooks/wealthbox/:id for BENCH_SECONDS (20) over BENCH_CONNECTIONS
 * (10) connections, while the inbox worker processes them in this process. Baseline, same
 * run, same load: a bare Express handler that only parses JSON. The two alternate in
 * BENCH_ROUNDS (2) slices each (bare, ours, ours, bare), each of ours followed by emptying the
 * inbox, so that other work on the machine weighs on both alike. Then every accepted event
 * must have been stored and processed exactly once.
 *
 * BENCH_PROFILE=1 records a CPU profile of this process (the service) during our measured run,
 * writes it to the temporary folder (open it in Chrome's DevTools) and prints where the time
 * went by package and source file. The run also prints how many writing transactions (each a
 * commit to wait for) PostgreSQL ran per accepted request, which shows the group commit at work,
 * and the CPU per request of this process, of PostgreSQL and of the whole machine (Linux).
 *
 * BENCH_NO_WORKERS=1: the inbox worker off during the slices (ingest alone; the backlog is
 * drained after each). BENCH_WORKER_PROCESS=1: the inbox worker in a ROLE=worker service process
 * of its own on the same machine, this process serving as the API instance.
 * BENCH_COMPARE_ROUTER=1: a third side, the same endpoint through Express's router instead of
 * the inbound hot path, alternating with the other two.
 *
 * Outbound: BENCH_OUTBOUND_EVENTS (10,000; 0 skips this part) user.created events (one push of that many
 * users, with a subscription) delivered to a receiver in a third process; deliveries/s.
 * Baseline, same run: the same number of bare keep-alive POSTs to that receiver at the same
 * concurrency, without the database.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import axios from 'axios';
import express from 'express';
import { bootstrap, createApp, createServices } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createPrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import { freePort, healthy, killAll, startServiceProcess, type ServiceProcess } from '../tests/helpers/service-process';
import { scratchDatabase } from './scratch-database';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const OUTBOUND_N = Number(process.env.BENCH_OUTBOUND_EVENTS ?? 10_000);
const SECRET = 'bench-webhook-secret';
// The inbox worker in a ROLE=worker process of its own; this process is then the API instance.
const WORKER_PROCESS = Boolean(process.env.BENCH_WORKER_PROCESS);
const ENCRYPTION_KEY = Buffer.alloc(32, 3).toString('base64');
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

/** Slices of one side as one run: requests summed, the worst slice's latencies. */
function combine(runs: LoadResult[]): LoadResult {
  const statuses: Record<string, number> = {};
  for (const r of runs) for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const sum = (f: (r: LoadResult) => number) => runs.reduce((n, r) => n + f(r), 0);
  const most = (f: (r: LoadResult) => number) => Math.max(...runs.map(f));
  return {
    requests: sum((r) => r.requests),
    rps: sum((r) => r.rps) / runs.length,
    p50: most((r) => r.p50),
    p99: most((r) => r.p99),
    max: most((r) => r.max),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    statuses,
  };
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

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** Starts a CPU profile of this process; the returned function stops it, saves it and prints a summary. */
async function startProfile(): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = (await session.post('Profiler.stop')) as unknown as {
      profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
    };
    session.disconnect();
    const file = path.join(os.tmpdir(), `webhooks-inbound-${Date.now()}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    // Self time by where the code lives: a package, one of our files, or Node's internals.
    const where = (n: ProfileNode) => {
      const url = n.callFrame.url;
      if (!url) return n.callFrame.functionName ? `(${n.callFrame.functionName.replace(/[()]/g, '')})` : '(native)';
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
      if (pkg) return pkg[1];
      if (url.startsWith('node:')) return url;
      return path.relative(path.join(__dirname, '..'), url.replace(/^file:\/\//, ''));
    };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const key = where(byId.get(id) as ProfileNode);
      self.set(key, (self.get(key) ?? 0) + profile.timeDeltas[i]);
      total += profile.timeDeltas[i];
    });
    console.log(`\n  CPU profile of the service process during our run: ${file}`);
    console.log('  self time by package / file (idle is time waiting for I/O):');
    for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
      console.log(`    ${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
    }
  };
}

/** The next transaction id: it advances once per transaction that writes (reading it writes nothing). */
async function nextXid(prisma: { $queryRawUnsafe<T>(sql: string): Promise<T> }): Promise<number> {
  const [row] = await prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text::float8 AS n`);
  return row.n;
}

/** CPU ms used so far by processes and their children, ended ones too (Linux /proc; ticks of 10 ms). */
function procCpuMs(pids: Set<number>): number {
  let ticks = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command's closing parenthesis: state, ppid, ... utime (12th), stime (13th).
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (pids.has(Number(entry)) || pids.has(Number(f[1]))) ticks += Number(f[11]) + Number(f[12]);
      // Children that ended (a closed connection's backend) count in their parent's cutime, cstime.
      if (pids.has(Number(entry))) ticks += Number(f[13]) + Number(f[14]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks * 10;
}

/** CPU ms the whole machine has spent busy (all cores, every process), from /proc/stat. */
function machineBusyMs(): number {
  const [, ...t] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  return (t[0] + t[1] + t[2] + t[5] + t[6] + t[7]) * 10;
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
    ENCRYPTION_KEY,
    CRON_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    WEBHOOK_RATE_LIMIT_MAX: '100000000',
    ALLOW_PRIVATE_URLS: 'true',
    // All outbound events go to one subscription here: the per-subscription cap (4 by default,
    // so a slow endpoint cannot take the pool) would measure the cap, not the sender.
    WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: '64',
    ...(process.env.BENCH_NO_WORKERS || WORKER_PROCESS ? { WEBHOOK_WORKERS_ENABLED: 'false' } : {}),
  });
  const prisma = createPrismaClient(db.url, config.database);
  const services = createServices({ config, prisma, logger });
  await bootstrap({ config, logger }, services);
  const server = await listen(createApp({ config, prisma, logger }, services));
  services.workers.start();
  let worker: ServiceProcess | null = null;
  if (WORKER_PROCESS) {
    worker = startServiceProcess({
      databaseUrl: db.url,
      port: await freePort(),
      env: { ROLE: 'worker', NODE_ENV: 'production', ENCRYPTION_KEY, LOG_LEVEL: 'warn', CRON_ENABLED: 'false', WEBHOOK_POLL_MS: '100' },
    });
    await healthy(worker);
  }
  const org = await services.organizations.create({ name: 'Bench inbound', slug: 'bench-inbound' });
  const integration = await services.integrations.create(org.id, {
    provider: 'wealthbox',
    name: 'Bench',
    config: { apiKey: 'bench-token-123', webhookSecret: SECRET },
  });
  const ours = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks/wealthbox/${integration.id}`;
  // BENCH_COMPARE_ROUTER=1: a third side in the same run, the same endpoint through Express's
  // router instead of the hot path (a trailing slash: the router matches it, the hot path
  // leaves it to the router).
  const viaRouter = `${ours}/`;
  const COMPARE_ROUTER = Boolean(process.env.BENCH_COMPARE_ROUTER);

  const bareApp = express();
  bareApp.post('/hook', express.json({ limit: '1mb' }), (_req, res) => {
    res.status(202).json({ received: true });
  });
  const bare = await listen(bareApp);
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/hook`;

  const slice = SECONDS / ROUNDS;
  console.log(
    `\nInbound: ${SECONDS} s per side in ${ROUNDS} alternating slices, ${CONNECTIONS} connections, autocannon in a second process\n`,
  );
  const pending = async () =>
    (await prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM inbound_events WHERE status = 'pending'`))[0].n;
  // After each of our slices the inbox is emptied before anything else runs, so that no
  // processing left over from ours falls on the bare slice.
  let backlog = 0;
  let drainMs = 0;
  const drain = async () => {
    const start = performance.now();
    backlog += await pending();
    if (process.env.BENCH_NO_WORKERS) await services.inboxWorker.drain();
    else await until('the inbox to empty', async () => (await pending()) === 0, 600_000);
    drainMs += performance.now() - start;
  };
  await load(ours, 2, SECRET, 'warmup');
  if (COMPARE_ROUTER) await load(viaRouter, 2, SECRET, 'warmup-router');
  await drain();
  await load(bareUrl, 2, '-', 'warmup');
  backlog = drainMs = 0;
  const bareRuns: LoadResult[] = [];
  const ourRuns: LoadResult[] = [];
  const routerRuns: LoadResult[] = [];
  let writes = 0;
  // CPU time per request of this process (the service, with its worker, and the bare
  // handler), of PostgreSQL (the postmaster and its children: backends, WAL writer...), and
  // of the whole machine (that includes the load generator, and anything else running).
  const [backend] = await prisma.$queryRawUnsafe<{ pid: number }[]>('SELECT pg_backend_pid() AS pid');
  const postmaster = Number(fs.readFileSync(`/proc/${backend.pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  const pgPids = new Set([postmaster]);
  const cpuMs = { bare: 0, ours: 0, router: 0 };
  const pgMs = { bare: 0, ours: 0, router: 0 };
  const machineMs = { bare: 0, ours: 0, router: 0 };
  const workerMs = { bare: 0, ours: 0, router: 0 };
  const workerPids = new Set(worker?.child.pid ? [worker.child.pid] : []);
  const cpuOf = async (side: 'bare' | 'ours' | 'router', run: () => Promise<LoadResult>) => {
    const before = process.cpuUsage();
    const pgBefore = procCpuMs(pgPids);
    const workerBefore = procCpuMs(workerPids);
    const machineBefore = machineBusyMs();
    const result = await run();
    const used = process.cpuUsage(before);
    cpuMs[side] += (used.user + used.system) / 1000;
    pgMs[side] += procCpuMs(pgPids) - pgBefore;
    workerMs[side] += procCpuMs(workerPids) - workerBefore;
    machineMs[side] += machineBusyMs() - machineBefore;
    return result;
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Bare, ours, then ours, bare...: a drift in the machine's load falls on both sides alike.
    const sides = COMPARE_ROUTER ? ['bare', 'ours', 'router'] : ['bare', 'ours'];
    for (const side of round % 2 === 0 ? sides : sides.reverse()) {
      if (side === 'bare') {
        bareRuns.push(await cpuOf('bare', () => load(bareUrl, slice, '-', `bare${round}`)));
        continue;
      }
      if (side === 'router') {
        routerRuns.push(await cpuOf('router', () => load(viaRouter, slice, SECRET, `router${round}`)));
        await drain();
        continue;
      }
      const stopProfile = round === 0 && process.env.BENCH_PROFILE ? await startProfile() : null;
      const xidBefore = await nextXid(prisma);
      ourRuns.push(await cpuOf('ours', () => load(ours, slice, SECRET, `run${round}`)));
      writes += (await nextXid(prisma)) - xidBefore;
      await stopProfile?.();
      await drain();
    }
  }
  const baseline = combine(bareRuns);
  const ourRun = combine(ourRuns);
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
  const routerRun = COMPARE_ROUTER ? combine(routerRuns) : null;
  const accepted = Object.entries({ ...ourRun.statuses, '202-router': routerRun?.statuses['202'] ?? 0 })
    .filter(([code]) => code.startsWith('202'))
    .reduce((n, [, c]) => n + c, 0);
  const warmupAccepted = counts.stored - accepted;

  const row = (name: string, r: LoadResult) =>
    `  ${name.padEnd(34)} ${fmt(r.rps).padStart(7)} req/s   p50 ${String(r.p50).padStart(3)} ms   p99 ${String(r.p99).padStart(3)} ms   max ${String(r.max).padStart(4)} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
  const slices = (runs: LoadResult[]) => runs.map((r) => fmt(r.rps)).join(' / ');
  console.log(row('bare Express, JSON parse only', baseline));
  console.log(row('POST /api/webhooks/wealthbox/:id', ourRun));
  if (routerRun) {
    console.log(row('the same through the router', routerRun));
    console.log(`  ratio (through the router / bare):  ${(routerRun.rps / baseline.rps).toFixed(2)}`);
    console.log(
      `  CPU of the service process per request: hot path ${(cpuMs.ours / ourRun.requests).toFixed(3)} ms; through the router ${(cpuMs.router / routerRun.requests).toFixed(3)} ms`,
    );
  }
  console.log(`  ratio (ours / bare):               ${(ourRun.rps / baseline.rps).toFixed(2)}`);
  console.log(`  req/s by slice: bare ${slices(bareRuns)}; ours ${slices(ourRuns)} (p50, p99, max: the highest slice's)`);
  console.log(
    `  accepted (202) ${fmt(accepted)} + warm-up ${fmt(warmupAccepted)}; stored ${fmt(counts.stored)}; processed exactly once ${fmt(counts.processed_once)}; users created ${fmt(counts.users)}; lost or repeated ${fmt(counts.stored - counts.processed_once + (counts.stored - counts.users))}`,
  );
  if (WORKER_PROCESS) {
    console.log(
      '  The inbox worker ran in a ROLE=worker process of its own, on the same machine (the bare handler had the same machine, the worker idle).',
    );
  }
  console.log(
    `  CPU of the service process per request: bare ${(cpuMs.bare / baseline.requests).toFixed(3)} ms; ours ${(cpuMs.ours / ourRun.requests).toFixed(3)} ms (${WORKER_PROCESS ? 'the API instance alone' : process.env.BENCH_NO_WORKERS ? 'no worker running' : "with the inbox worker's share"})`,
  );
  if (WORKER_PROCESS) console.log(`  CPU of the worker process per request: ${(workerMs.ours / ourRun.requests).toFixed(3)} ms`);
  const perRequest = (ms: { bare: number; ours: number }) =>
    `bare ${(ms.bare / baseline.requests).toFixed(3)} ms; ours ${(ms.ours / ourRun.requests).toFixed(3)} ms`;
  console.log(`  CPU of PostgreSQL per request: ${perRequest(pgMs)}`);
  console.log(
    `  CPU of the whole machine per request (${os.cpus().length} cores; with the load generator and anything else running): ${perRequest(machineMs)}`,
  );
  console.log(
    `  writing transactions during our run (requests and inbox worker): ${fmt(writes)}, ${(writes / Math.max(1, ourRun.statuses['202'] ?? 0)).toFixed(2)} per accepted request`,
  );
  console.log(`  backlog when our slices stopped: ${fmt(backlog)} events in all, processed in ${fmt(drainMs)} ms after them`);

  // The outbound part below runs its delivery worker in this process only.
  if (worker) await killAll([worker]);

  if (OUTBOUND_N === 0) {
    // BENCH_OUTBOUND_EVENTS=0: the inbound part alone.
    await services.workers.stop();
    server.close();
    bare.close();
    await prisma.$disconnect();
    await db.dispose();
    return;
  }

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
