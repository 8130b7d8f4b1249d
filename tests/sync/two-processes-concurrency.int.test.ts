import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createWealthboxIntegration } from '../helpers/fixtures';
import { cronAt, killAll, runsInProgress, startBeforeSlot, syncScheduleEnv, until, type ServiceProcess } from '../helpers/service-process';
import { createTestContext, createTestDatabase, type TestContext } from '../helpers/test-app';

/**
 * Issue 14: two real service processes on one database, SYNC_CONCURRENCY=4 each, one nightly
 * tick on both for 50 integrations: each integration synced once, and no process ever has
 * more than 4 runs in progress. Each process's own log says what it runs ('sync started' /
 * 'sync finished' with the run id, in the order it wrote them); the fake answers slowly, so
 * the runs overlap and the limit is reached.
 */
const INTEGRATIONS = 50;
const CONCURRENCY = 4;
// Time for both processes to start (tsx compiles the service on the way) before the tick; doubled when not enough.
const TICK_AFTER_S = 18;
// A run reads the staff and one page of contacts: about a second at this delay per request.
const FAKE_DELAY_MS = 250;

const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);

let fake: FakeWealthbox;
let ctx: TestContext;
let databaseUrl: string;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  fake = await new FakeWealthbox({ contacts: 20 }).start();
  ctx = await createTestContext({ DATABASE_URL: databaseUrl });
});
afterAll(async () => {
  await killAll(processes);
  await ctx.close();
  await fake.stop();
});

it('when 50 integrations are ticked on two processes with concurrency 4, then each is synced once and neither process runs more than 4 at once', async () => {
  // The integrations first: the tick must find them.
  const ids: number[] = [];
  for (let i = 0; i < INTEGRATIONS; i++) ids.push((await createWealthboxIntegration(ctx, fake)).id);
  fake.slowDown(FAKE_DELAY_MS);
  const {
    processes: [a, b],
    slot,
  } = await startBeforeSlot({
    count: 2,
    databaseUrl,
    // Claims wake on a run's end; the poll only matters for jobs not yet due.
    env: (at) => ({ ...syncScheduleEnv({ nightly: cronAt(at), concurrency: CONCURRENCY }), WEBHOOK_POLL_MS: '200' }),
    marginS: TICK_AFTER_S,
    started: (p) => processes.push(p),
  });

  const tickOf = (p: ServiceProcess) =>
    p.logs.find((l) => l.message === 'sync tick' && l.meta.scheduledFor === slot.toISOString())?.meta as
      { enqueued: number; worker: string } | undefined;
  await until('both processes to fire the tick', () => (tickOf(a) && tickOf(b) ? true : undefined), slot.getTime() - Date.now() + 10_000);
  await until(
    'every job of the tick to end',
    async () => {
      const [row] = await ctx.sql<{ open: number; done: number }>(
        "SELECT count(*) FILTER (WHERE status IN ('pending', 'running'))::int AS open, count(*)::int AS done FROM sync_jobs",
      );
      return row.done === INTEGRATIONS && row.open === 0 ? true : undefined;
    },
    40_000,
  );
  await killAll(processes);

  // The tick fired in both; between them they queued one job per integration.
  expect(tickOf(a)!.enqueued + tickOf(b)!.enqueued).toBe(INTEGRATIONS);

  // Each process's view: never more than its concurrency at once, and the limit was reached.
  const [viewA, viewB] = [runsInProgress(a.logs), runsInProgress(b.logs)];
  expect(viewA.peak).toBeLessThanOrEqual(CONCURRENCY);
  expect(viewB.peak).toBeLessThanOrEqual(CONCURRENCY);
  expect(Math.max(viewA.peak, viewB.peak)).toBe(CONCURRENCY);
  // Both took part, and every run a process started, it also finished.
  expect(viewA.started.length).toBeGreaterThan(0);
  expect(viewB.started.length).toBeGreaterThan(0);
  expect(sorted(viewA.finished)).toEqual(sorted(viewA.started));
  expect(sorted(viewB.finished)).toEqual(sorted(viewB.started));

  // One cron run per integration, all succeeded, each the run of that integration's job.
  const runs = await ctx.sql<{ id: number; integration_id: number; status: string; users: number }>(
    `SELECT r.id, r.integration_id, r.status, r.created AS users FROM sync_runs r WHERE r.trigger = 'cron' ORDER BY r.id`,
  );
  expect(runs).toHaveLength(INTEGRATIONS);
  expect(new Set(runs.map((r) => r.integration_id))).toEqual(new Set(ids));
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  // 20 contacts and the firm's 3 staff each.
  expect(runs.every((r) => r.users === 23)).toBe(true);

  // The logs and the table agree on who ran what: a process's runs are its worker's jobs.
  const jobs = await ctx.sql<{ run_id: number; claimed_by: string; status: string }>('SELECT run_id, claimed_by, status FROM sync_jobs');
  expect(jobs.every((j) => j.status === 'done')).toBe(true);
  const runsOf = (worker: string) => sorted(jobs.filter((j) => j.claimed_by === worker).map((j) => j.run_id));
  expect(runsOf(tickOf(a)!.worker)).toEqual(sorted(viewA.started));
  expect(runsOf(tickOf(b)!.worker)).toEqual(sorted(viewB.started));
  expect(viewA.started.length + viewB.started.length).toBe(INTEGRATIONS);
}, 180_000);
