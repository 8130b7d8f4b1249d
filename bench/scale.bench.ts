/**
 * npm run bench:scale: many organizations, two service processes, one nightly tick.
 *
 * BENCH_ORGS (200) organizations, each with one HubSpot integration on an account of its own
 * (its own token) at one fake HubSpot holding BENCH_CONTACTS (300) contacts. The fake keeps
 * HubSpot's documented quota per account (100 requests per rolling 10 s for a private app,
 * answering 429 past it and counting those 429s) and answers each request after
 * BENCH_LATENCY_MS (100). The integrations keep HubSpot's default client-side pace. Two
 * service processes (`src/server.ts`, NODE_ENV=production, SYNC_CONCURRENCY=BENCH_CONCURRENCY,
 * 4) on one scratch database both fire the same nightly tick. Printed: the wall-clock time
 * from the tick to the last run's end; runs and runs twice; the fake's 429s and the most
 * requests any account made in one quota window; the peak of runs in progress per process
 * (its own log lines) and overall (the runs' times in the database); each organization's wait
 * from the tick to its run's start.
 *
 * Baseline, same run: one process with SYNC_CONCURRENCY=1 on a fresh database, for
 * BENCH_BASELINE_ORGS (50) other accounts; the ratio compares runs per second.
 *
 * SYNC_JITTER_SECONDS is 0 here: with the default 30, each wait would include up to 30 s of
 * deliberate spread, and the figures are about the queue.
 */
import { FakeHubSpot } from '../fake-crm/hubspot/fake-hubspot';
import { bootstrap, createServices } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createPrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import { cronAt, killAll, runsInProgress, startBeforeSlot, syncScheduleEnv, type ServiceProcess } from '../tests/helpers/service-process';
import { ENCRYPTION_KEY } from '../tests/helpers/test-app';
import { scratchDatabase } from './scratch-database';

const ORGS = Number(process.env.BENCH_ORGS ?? 200);
const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 100);
const BASELINE_ORGS = Number(process.env.BENCH_BASELINE_ORGS ?? 50);
// Time for the processes to start (tsx compiles the service on the way) before the tick; doubled when not enough.
const TICK_AFTER_S = Number(process.env.BENCH_TICK_AFTER_S ?? 20);
// HubSpot's documented limit for a private app on a free or starter portal.
const QUOTA = { requests: 100, perMs: 10_000 };
// And its search limit: 5 a second per account.
const SEARCH_PER_SECOND = 5;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const quiet = createLogger({ level: 'warn', json: false });

interface PhaseResult {
  wallMs: number;
  runs: number;
  succeeded: number;
  twice: number;
  usersCreated: number;
  serialMs: number;
  peakPerProcess: number[];
  peakOverall: number;
  waits: number[];
  tokens: string[];
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

/** The most runs whose [start, end) intervals overlap at one instant. */
function peakOverlap(intervals: { start: number; end: number }[]): number {
  // Ends sort before starts at the same instant: a run that ended as another began frees its slot.
  const events = intervals.flatMap((i) => [
    { t: i.start, d: 1 },
    { t: i.end, d: -1 },
  ]);
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of events) peak = Math.max(peak, (now += e.d));
  return peak;
}

/** The most requests any one of `tokens` made within `windowMs` (arrivals in (t - windowMs, t]), of those `counted`. */
function maxPerWindow(
  fake: FakeHubSpot,
  tokens: Set<string>,
  windowMs: number,
  counted: (r: { method: string; path: string }) => boolean,
): number {
  const byToken = new Map<string, number[]>();
  for (const r of fake.requests) {
    if (!r.token || !tokens.has(r.token) || !counted(r)) continue;
    const list = byToken.get(r.token) ?? [];
    list.push(r.at);
    byToken.set(r.token, list);
  }
  let max = 0;
  for (const times of byToken.values()) {
    times.sort((a, b) => a - b);
    for (let lo = 0, hi = 0; hi < times.length; hi++) {
      while (times[lo] <= times[hi] - windowMs) lo++;
      max = Math.max(max, hi - lo + 1);
    }
  }
  return max;
}

// Search has its own per-second budget and is exempt from the ten-secondly one.
const isSearch = (r: { method: string; path: string }) => r.method === 'POST' && r.path.endsWith('/search');
const windows = (fake: FakeHubSpot, tokens: string[]) => ({
  tenSecondly: maxPerWindow(fake, new Set(tokens), QUOTA.perMs, (r) => !isSearch(r)),
  search: maxPerWindow(fake, new Set(tokens), 1000, isSearch),
});

/** `orgs` organizations with a HubSpot integration each on an account of their own; `processes` services; one nightly tick. */
async function phase(
  fake: FakeHubSpot,
  label: string,
  opts: { orgs: number; processes: number; concurrency: number },
): Promise<PhaseResult> {
  const db = await scratchDatabase(quiet);
  const running: ServiceProcess[] = [];
  try {
    // The organizations and integrations first: the tick must find them.
    const config = loadConfig({ DATABASE_URL: db.url, ENCRYPTION_KEY, CRON_ENABLED: 'false', ALLOW_PRIVATE_URLS: 'true' });
    const prisma = createPrismaClient(db.url, config.database);
    const services = createServices({ config, prisma, logger: quiet });
    await bootstrap({ config, logger: quiet }, services);
    const tokens: string[] = [];
    for (let i = 0; i < opts.orgs; i++) {
      const token = `pat-na1-bench-${label}-${i}`;
      fake.addToken(token);
      tokens.push(token);
      const org = await services.organizations.create({ name: `Bench ${label} ${i}` });
      await services.integrations.create(org.id, {
        provider: 'hubspot',
        name: 'HubSpot',
        config: { accessToken: token, baseUrl: fake.url },
      });
    }
    const { slot, processes } = await startBeforeSlot({
      count: opts.processes,
      databaseUrl: db.url,
      env: (at) => ({
        ...syncScheduleEnv({ nightly: cronAt(at), concurrency: opts.concurrency }),
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
      }),
      marginS: TICK_AFTER_S,
      started: (p) => running.push(p),
    });
    process.stdout.write(
      `${label}: ${opts.orgs} organizations, ${opts.processes} process(es) x concurrency ${opts.concurrency}; tick at ${slot.toISOString()}`,
    );

    // Until every job of the tick has ended.
    for (let last = 0; ;) {
      await new Promise((r) => setTimeout(r, 500));
      const [row] = await prisma.$queryRawUnsafe<{ ended: number; total: number }[]>(
        `SELECT count(*) FILTER (WHERE status IN ('done', 'failed'))::int AS ended, count(*)::int AS total FROM sync_jobs WHERE scheduled_for = $1`,
        slot,
      );
      if (row.total >= opts.orgs && row.ended === row.total) break;
      if (Date.now() - last > 10_000) {
        last = Date.now();
        process.stdout.write(` ${row.ended}`);
      }
      if (Date.now() > slot.getTime() + 30 * 60_000) throw new Error('the tick did not end within 30 minutes');
    }
    process.stdout.write('\n');
    await killAll(running);

    const runs = await prisma.$queryRawUnsafe<
      { integration_id: number; status: string; created: number; started_at: Date; finished_at: Date; scheduled_for: Date }[]
    >(
      `SELECT r.integration_id, r.status, r.created, r.started_at, r.finished_at, j.scheduled_for
       FROM sync_runs r LEFT JOIN sync_jobs j ON j.run_id = r.id
       WHERE r.trigger = 'cron'`,
    );
    const perIntegration = new Map<number, number>();
    for (const r of runs) perIntegration.set(r.integration_id, (perIntegration.get(r.integration_id) ?? 0) + 1);
    const intervals = runs.map((r) => ({ start: r.started_at.getTime(), end: (r.finished_at ?? r.started_at).getTime() }));
    const result: PhaseResult = {
      wallMs: Math.max(...intervals.map((i) => i.end)) - slot.getTime(),
      runs: runs.length,
      succeeded: runs.filter((r) => r.status === 'succeeded').length,
      twice: [...perIntegration.values()].filter((n) => n > 1).length,
      usersCreated: runs.reduce((n, r) => n + r.created, 0),
      serialMs: intervals.reduce((n, i) => n + i.end - i.start, 0),
      peakPerProcess: processes.map((p) => runsInProgress(p.logs).peak),
      peakOverall: peakOverlap(intervals),
      waits: runs.map((r) => r.started_at.getTime() - (r.scheduled_for ?? slot).getTime()).sort((a, b) => a - b),
      tokens,
    };
    await services.pull.stop();
    await prisma.$disconnect();
    return result;
  } finally {
    await killAll(running);
    await db.dispose();
  }
}

async function main(): Promise<void> {
  const fake = await new FakeHubSpot({
    contacts: CONTACTS,
    seed: 7,
    rateLimitMax: QUOTA.requests,
    rateLimitIntervalMs: QUOTA.perMs,
    searchPerSecond: SEARCH_PER_SECOND,
  }).start();
  fake.slowDown(LATENCY_MS);
  console.log(
    `\nbench:scale: ${ORGS} organizations x ${CONTACTS} contacts on a fake HubSpot (quota ${QUOTA.requests} requests / ${QUOTA.perMs / 1000} s per account, ${LATENCY_MS} ms per request)\n`,
  );

  const scale = await phase(fake, 'scale', { orgs: ORGS, processes: 2, concurrency: CONCURRENCY });
  const mainRequests = fake.requests.length;
  const main429 = fake.rateLimitViolations;
  const mainWindow = windows(fake, scale.tokens);
  const base = await phase(fake, 'baseline', { orgs: BASELINE_ORGS, processes: 1, concurrency: 1 });
  const baseWindow = windows(fake, base.tokens);
  await fake.stop();

  const w = scale.waits;
  const rate = (p: PhaseResult) => (p.runs / p.wallMs) * 1000;
  console.log('');
  console.log(`wall-clock, tick to last run's end   ${secs(scale.wallMs)} (${rate(scale).toFixed(2)} runs/s)`);
  console.log(
    `runs                                 ${scale.runs} (expected ${ORGS}); succeeded ${scale.succeeded}; integrations run twice: ${scale.twice} (expected 0)`,
  );
  console.log(`users created                        ${fmt(scale.usersCreated)} (expected ${fmt(ORGS * CONTACTS)})`);
  console.log(`requests to the fake                 ${fmt(mainRequests)}; 429s served by the fake: ${main429} (expected 0)`);
  console.log(
    `most requests in one quota window    ${mainWindow.tenSecondly} of ${QUOTA.requests} in ${QUOTA.perMs / 1000} s; searches ${mainWindow.search} of ${SEARCH_PER_SECOND} in 1 s (busiest account)`,
  );
  console.log(
    `peak runs in progress                ${scale.peakPerProcess.map((p, i) => `process ${i + 1}: ${p}`).join(', ')} (limit ${CONCURRENCY} each); overall ${scale.peakOverall}`,
  );
  console.log(
    `wait, tick to the run's start        min ${secs(w[0])}, median ${secs(quantile(w, 0.5))}, p95 ${secs(quantile(w, 0.95))}, max ${secs(w[w.length - 1])}`,
  );
  console.log(`sum of run durations (serial time)   ${secs(scale.serialMs)} (${secs(scale.serialMs / scale.runs)} a run)`);
  console.log(
    `baseline, 1 process x concurrency 1  ${secs(base.wallMs)} for ${base.runs} runs (${rate(base).toFixed(2)} runs/s); peak ${base.peakPerProcess[0]}; 429s ${fake.rateLimitViolations - main429}; most in a window ${baseWindow.tenSecondly}`,
  );
  console.log(`\nratio, runs/s: two processes x ${CONCURRENCY} / one process x 1 = ${(rate(scale) / rate(base)).toFixed(1)}x`);

  const checks: [string, boolean][] = [
    ['every organization synced once', scale.runs === ORGS && scale.succeeded === ORGS && scale.twice === 0],
    ['every contact arrived', scale.usersCreated === ORGS * CONTACTS],
    [
      'no quota exceeded (0 429s)',
      fake.rateLimitViolations === 0 && mainWindow.tenSecondly <= QUOTA.requests && mainWindow.search <= SEARCH_PER_SECOND,
    ],
    ['no process above its concurrency', scale.peakPerProcess.every((p) => p <= CONCURRENCY) && base.peakPerProcess[0] <= 1],
    ['baseline synced once each', base.runs === BASELINE_ORGS && base.succeeded === BASELINE_ORGS && base.twice === 0],
  ];
  console.log(`checks: ${checks.map(([what, ok]) => `${what} ${ok ? 'met' : 'NOT met'}`).join('; ')}\n`);
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
