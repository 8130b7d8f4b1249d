import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createTestContext, type TestContext } from '../helpers/test-app';
import { createWealthboxIntegration } from '../helpers/fixtures';
import { createSyncJobRepository, type SyncJobRepository } from '../../src/modules/sync';

/**
 * Scheduled syncs through sync_jobs, in one process: ticks dedupe by slot, the worker keeps to
 * SYNC_CONCURRENCY, jobs wait for their jitter, and organizations take turns.
 */
let fake: FakeWealthbox;
beforeAll(async () => {
  fake = await new FakeWealthbox({ contacts: 120 }).start();
});
afterAll(async () => {
  await fake.stop();
});

// Past slots, one per use, that no real tick names (a tick names the time it fires).
const slot = (minute: number) => new Date(Date.UTC(2020, 0, 1, 0, minute));

interface JobRow {
  integration_id: number;
  status: string;
  scheduled_for: Date;
  not_before: Date;
  started_at: Date | null;
  finished_at: Date | null;
  run_id: number | null;
  claimed_by: string | null;
}

/** Waits (no timing asserted) until every job of the slot has ended. */
async function ended(ctx: TestContext, at: Date): Promise<JobRow[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const rows = await ctx.sql<JobRow>('SELECT * FROM sync_jobs WHERE scheduled_for = $1 ORDER BY integration_id', [at]);
    if (rows.every((r) => r.status === 'done' || r.status === 'failed')) return rows;
    if (Date.now() > deadline) throw new Error(`jobs still open: ${JSON.stringify(rows.map((r) => r.status))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The most jobs whose [started_at, finished_at) intervals overlap at one instant. */
function peakOverlap(rows: JobRow[]): number {
  const events = rows.flatMap((r) => [
    { t: (r.started_at as Date).getTime(), d: 1 },
    { t: (r.finished_at as Date).getTime(), d: -1 },
  ]);
  // At the same instant an end comes before a start: a slot freed is then taken.
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of events) peak = Math.max(peak, (now += e.d));
  return peak;
}

describe('scheduled syncs through the job table', () => {
  let ctx: TestContext;
  let jobs: SyncJobRepository;
  beforeAll(async () => {
    ctx = await createTestContext();
    jobs = createSyncJobRepository(ctx.prisma);
  });
  afterAll(() => ctx.close());

  it('when two ticks name the same scheduled time, then each active integration gets one job, due within the jitter', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push((await createWealthboxIntegration(ctx, fake)).id);
    const off = (await createWealthboxIntegration(ctx, fake)).id;
    await ctx.sql('UPDATE integrations SET is_active = false WHERE id = $1', [off]);
    const at = slot(1);

    const [first, second] = await Promise.all([jobs.enqueue('incremental', at, 30), jobs.enqueue('incremental', at, 30)]);
    expect(first.enqueued + second.enqueued).toBe(ids.length);
    expect(await jobs.enqueue('incremental', at, 30)).toEqual({ active: ids.length, enqueued: 0 });

    const rows = await ctx.sql<JobRow & { mode: string; trigger: string }>('SELECT * FROM sync_jobs WHERE scheduled_for = $1', [at]);
    expect(rows.map((r) => r.integration_id).sort((a, b) => a - b)).toEqual(ids);
    for (const r of rows) {
      expect(r).toMatchObject({ mode: 'incremental', trigger: 'cron', status: 'pending' });
      const delay = r.not_before.getTime() - at.getTime();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(30_000);
    }
    // Random per job: ten jobs all due in the same millisecond would mean no jitter.
    expect(new Set(rows.map((r) => r.not_before.getTime())).size).toBeGreaterThan(1);

    // A later tick while these still wait adds nothing; the full mode is a queue of its own.
    expect((await jobs.enqueue('incremental', slot(2), 30)).enqueued).toBe(0);
    expect((await jobs.enqueue('full', slot(2), 0)).enqueued).toBe(ids.length);
    await ctx.sql("UPDATE sync_jobs SET status = 'done', finished_at = now() WHERE status = 'pending'");
    expect((await jobs.enqueue('incremental', slot(3), 0)).enqueued).toBe(ids.length);
    await ctx.sql("UPDATE sync_jobs SET status = 'done', finished_at = now() WHERE status = 'pending'");
  });

  it('when a job is not yet due (jitter), then no worker claims it', async () => {
    const id = (await createWealthboxIntegration(ctx, fake)).id;
    await jobs.enqueue('incremental', new Date(Date.now() + 3_600_000), 0);
    expect((await jobs.claim('w-test', 100, 60, 3)).map((j) => j.integrationId)).not.toContain(id);
    await ctx.sql("UPDATE sync_jobs SET not_before = now() - interval '1 second' WHERE integration_id = $1", [id]);
    expect((await jobs.claim('w-test', 100, 60, 3)).map((j) => j.integrationId)).toContain(id);
    await ctx.sql("UPDATE sync_jobs SET status = 'done', finished_at = now() WHERE status IN ('pending', 'running')");
  });

  it('when organizations wait with different numbers of jobs, then a claim takes one of each in turn', async () => {
    const a = await createWealthboxIntegration(ctx, fake);
    const b = await createWealthboxIntegration(ctx, fake);
    const c = await createWealthboxIntegration(ctx, fake);
    const d = await createWealthboxIntegration(ctx, fake);
    // One integration per CRM per organization: three of organization A's jobs are written as
    // A's directly (the claim reads organization_id from the job).
    for (const [i, id] of [a.id, b.id, c.id].entries()) {
      await ctx.sql(
        `INSERT INTO sync_jobs (integration_id, organization_id, mode, scheduled_for, not_before)
         VALUES ($1, $2, 'full', $3, now() - make_interval(secs => $4))`,
        [id, a.orgId, slot(10), 60 - i],
      );
    }
    // Organization D's only job is due last of all.
    await ctx.sql(
      `INSERT INTO sync_jobs (integration_id, organization_id, mode, scheduled_for, not_before) VALUES ($1, $2, 'full', $3, now())`,
      [d.id, d.orgId, slot(10)],
    );
    const claimed = await jobs.claim('w-test', 2, 60, 3);
    expect(claimed.map((j) => j.organizationId).sort()).toEqual([a.orgId, d.orgId].sort());
    await ctx.sql("UPDATE sync_jobs SET status = 'done', finished_at = now() WHERE status IN ('pending', 'running')");
  });

  it('when a job was claimed by a worker that stopped, then another takes it after its lock', async () => {
    const { id } = await createWealthboxIntegration(ctx, fake);
    await ctx.sql('UPDATE integrations SET is_active = false WHERE id <> $1', [id]);
    await jobs.enqueue('incremental', slot(20), 0);
    const [dead] = await jobs.claim('w-dead', 100, 60, 3);
    expect(dead.integrationId).toBe(id);
    expect(await jobs.claim('w-alive', 100, 60, 3)).toEqual([]);
    await ctx.sql("UPDATE sync_jobs SET locked_until = now() - interval '1 second' WHERE id = $1", [dead.id]);
    expect((await jobs.claim('w-alive', 100, 60, 3)).map((j) => j.id)).toEqual([dead.id]);
    // The first worker's late ending changes nothing: the job is the other's now.
    await jobs.finish(dead.id, 'w-dead', { status: 'failed', runId: null, reason: 'late' });
    expect(await ctx.sql('SELECT status, claimed_by, attempts FROM sync_jobs WHERE id = $1', [dead.id])).toEqual([
      { status: 'running', claimed_by: 'w-alive', attempts: 2 },
    ]);
    await ctx.sql("UPDATE sync_jobs SET status = 'done', finished_at = now() WHERE status IN ('pending', 'running')");
  });
});

describe('the worker of one instance', () => {
  it('when 10 integrations are due with SYNC_CONCURRENCY 2, then never more than 2 run at once and all are done', async () => {
    // Schedules that never fire during the test: the slot below is queued by hand.
    const ctx = await createTestContext({
      CRON_ENABLED: 'true',
      SYNC_NIGHTLY_CRON: '0 0 1 1 *',
      SYNC_INCREMENTAL_CRON: '0 0 1 1 *',
      SYNC_CONCURRENCY: '2',
      SYNC_JITTER_SECONDS: '0',
    });
    try {
      const ids: number[] = [];
      for (let i = 0; i < 10; i++) ids.push((await createWealthboxIntegration(ctx, fake)).id);
      // Slow pages make the runs overlap, were the worker to let them.
      fake.slowDown(25);
      const at = new Date(Math.floor(Date.now() / 1000) * 1000);
      expect((await createSyncJobRepository(ctx.prisma).enqueue('incremental', at, 0)).enqueued).toBe(10);
      ctx.services.jobs.start();

      const rows = await ended(ctx, at);
      expect(rows.map((r) => r.status)).toEqual(Array(10).fill('done'));
      expect(peakOverlap(rows)).toBe(2);
      expect(new Set(rows.map((r) => r.claimed_by))).toEqual(new Set([ctx.services.jobs.worker]));
      const runs = await ctx.sql<{ id: number; integration_id: number; trigger: string; status: string }>(
        'SELECT id, integration_id, trigger, status FROM sync_runs ORDER BY integration_id',
      );
      expect(runs.map((r) => r.integration_id)).toEqual(ids);
      expect(runs.every((r) => r.trigger === 'cron' && r.status === 'succeeded')).toBe(true);
      expect(rows.map((r) => r.run_id)).toEqual(runs.map((r) => r.id));

      const listed = (await ctx.http.get('/api/sync/jobs').set('x-api-key', 'test-admin-key-0123456789abcdef')).body.data;
      expect(listed.find((j: { name: string }) => j.name === 'incremental-sync')).toMatchObject({
        queue: { pending: 0, running: 0, nextDueAt: null },
        concurrencyPerInstance: 2,
      });
    } finally {
      fake.clearFaults();
      await ctx.close();
    }
  });

  it('when a sync of the integration is already running, then its job ends done with that reason', async () => {
    const ctx = await createTestContext({ SYNC_JITTER_SECONDS: '0' });
    try {
      const { id } = await createWealthboxIntegration(ctx, fake);
      await ctx.sql("UPDATE integrations SET sync_lease_owner = 'someone', sync_lease_until = now() + interval '1 hour' WHERE id = $1", [
        id,
      ]);
      const job = ctx.services.jobs.jobs.find((j) => j.mode === 'incremental');
      const result = await job?.run(slot(30));
      expect(result).toMatchObject({
        enqueued: 1,
        started: 0,
        skipped: [{ integrationId: id, reason: expect.stringContaining('already running') }],
      });
      expect(await ctx.sql('SELECT status, reason, run_id FROM sync_jobs WHERE integration_id = $1', [id])).toEqual([
        { status: 'done', reason: expect.stringMatching(/^sync_already_running: /), run_id: null },
      ]);
    } finally {
      await ctx.close();
    }
  });
});
