import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createWealthboxIntegration } from '../helpers/fixtures';
import { cronAt, killAll, startBeforeSlot, syncScheduleEnv, until, type ServiceProcess } from '../helpers/service-process';
import { createTestContext, createTestDatabase, type TestContext } from '../helpers/test-app';

/**
 * Two real service processes (not two apps in one process) on one database, both firing the
 * same incremental ticks: each integration is synced once per scheduled time. Before the job
 * table, an instance whose timer fired after the other's run had ended ran the tick again.
 */
const INTEGRATIONS = 5;
// Three ticks, a few seconds apart, once the processes have had time to start (more, when the machine is slow).
const FIRST_TICK_AFTER_S = 18;
const TICK_GAP_S = 4;

let fake: FakeWealthbox;
let ctx: TestContext;
let databaseUrl: string;
const instances: ServiceProcess[] = [];

/** The three ticks' times, from the first. */
const slotsFrom = (first: Date) => [0, 1, 2].map((k) => new Date(first.getTime() + k * TICK_GAP_S * 1000));

/** The scheduled times this process's ticks named, with what each enqueued. */
const ticks = (i: ServiceProcess) =>
  i.logs.filter((l) => l.message === 'sync tick').map((l) => l.meta as { scheduledFor: string; enqueued: number });

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  fake = await new FakeWealthbox({ contacts: 30 }).start();
  ctx = await createTestContext({ DATABASE_URL: databaseUrl });
});
afterAll(async () => {
  await killAll(instances);
  await ctx.close();
  await fake.stop();
});

it('when two service processes fire the same ticks, then each integration is synced once per scheduled time', async () => {
  const ids: number[] = [];
  for (let i = 0; i < INTEGRATIONS; i++) ids.push((await createWealthboxIntegration(ctx, fake)).id);

  const { processes, slot } = await startBeforeSlot({
    count: 2,
    databaseUrl,
    env: (first) => ({ ...syncScheduleEnv({ incremental: cronAt(...slotsFrom(first)), concurrency: 2 }), SYNC_OVERLAP_SECONDS: '0' }),
    marginS: FIRST_TICK_AFTER_S,
    started: (p) => instances.push(p),
  });
  const [a, b] = processes;
  const slots = slotsFrom(slot);

  const wanted = slots.map((s) => s.toISOString());
  const ticked = (i: ServiceProcess) => wanted.every((w) => ticks(i).some((t) => t.scheduledFor === w));
  await until(
    'both processes to fire the three ticks',
    async () => (ticked(a) && ticked(b) ? true : undefined),
    slots[2].getTime() - Date.now() + 20_000,
  );
  // Then every job of those ticks ends (the runs are short; nothing else is queued).
  await until(
    'the jobs to end',
    async () => {
      const [open] = await ctx.sql<{ n: number }>("SELECT count(*)::int AS n FROM sync_jobs WHERE status IN ('pending', 'running')");
      return open.n === 0 ? true : undefined;
    },
    20_000,
  );
  for (const i of [a, b]) i.child.kill('SIGTERM');
  await Promise.all([a.exited, b.exited]);

  // Both processes' ticks named each slot; between them they queued one job per integration.
  for (const w of wanted) {
    const enqueued = [a, b].flatMap((i) => ticks(i).filter((t) => t.scheduledFor === w)).map((t) => t.enqueued);
    expect(enqueued.length).toBeGreaterThanOrEqual(2);
    expect(enqueued.reduce((x, y) => x + y, 0)).toBe(INTEGRATIONS);
  }
  const jobs = await ctx.sql<{ integration_id: number; scheduled_for: Date; status: string; run_id: number | null; claimed_by: string }>(
    'SELECT integration_id, scheduled_for, status, run_id, claimed_by FROM sync_jobs ORDER BY scheduled_for, integration_id',
  );
  expect(jobs.map((j) => [j.scheduled_for.toISOString(), j.integration_id])).toEqual(wanted.flatMap((w) => ids.map((id) => [w, id])));
  expect(jobs.every((j) => j.status === 'done' && j.run_id !== null)).toBe(true);

  // One cron run per integration and scheduled time: each the run of that time's job.
  const runs = await ctx.sql<{ id: number; integration_id: number; status: string }>(
    "SELECT id, integration_id, status FROM sync_runs WHERE trigger = 'cron' ORDER BY id",
  );
  expect(runs).toHaveLength(INTEGRATIONS * slots.length);
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  expect(runs.map((r) => r.id).sort((x, y) => x - y)).toEqual(jobs.map((j) => j.run_id).sort((x, y) => (x as number) - (y as number)));
  for (const id of ids) expect(runs.filter((r) => r.integration_id === id)).toHaveLength(slots.length);
}, 180_000);
