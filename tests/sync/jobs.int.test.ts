import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createWealthboxIntegration } from '../helpers/fixtures';
import { createServices } from '../../src/app';
import { createPrismaClient } from '../../src/db/prisma';
import { createLogger } from '../../src/lib/logger';

let ctx: TestContext;
let fake: FakeWealthbox;
beforeAll(async () => {
  ctx = await createTestContext();
  fake = await new FakeWealthbox({ contacts: 120 }).start();
});
afterAll(async () => {
  await fake.stop();
  await ctx.close();
});

const integration = async () => (await createWealthboxIntegration(ctx, fake)).id;

describe('scheduled sync jobs', () => {
  it('when two app instances fire the same tick at once, then each integration gets one job and is synced once', async () => {
    const ids = [await integration(), await integration()];
    fake.slowDown(20);
    const prisma = createPrismaClient(ctx.databaseUrl, ctx.config.database);
    const second = createServices({ config: ctx.config, prisma, logger: createLogger({ level: 'error', json: true, silent: true }) });
    try {
      const job = (s: typeof second) => s.jobs.jobs.find((j) => j.name === 'incremental-sync') as (typeof second.jobs.jobs)[number];
      // The same cron slot, as two instances' timers name it.
      const at = new Date(Math.floor(Date.now() / 60_000) * 60_000);
      const [a, b] = await Promise.all([job(ctx.services).run(at), job(second).run(at)]);
      expect(a.enqueued + b.enqueued).toBe(ids.length);
      expect(a.started + b.started).toBe(ids.length);
      expect([...a.skipped, ...b.skipped]).toEqual([]);
      for (const id of ids) {
        const runs = await ctx.sql('SELECT id, trigger, status FROM sync_runs WHERE integration_id = $1', [id]);
        expect(runs).toEqual([{ id: expect.any(Number), trigger: 'cron', status: 'succeeded' }]);
        expect(await ctx.sql('SELECT status, run_id FROM sync_jobs WHERE integration_id = $1', [id])).toEqual([
          { status: 'done', run_id: runs[0].id },
        ]);
      }
    } finally {
      fake.clearFaults();
      await second.pull.stop();
      await prisma.$disconnect();
    }
  });

  it('when GET /api/sync/jobs is asked, then each schedule shows with its last run and its queue', async () => {
    expect((await ctx.http.get('/api/sync/jobs')).status).toBe(401);
    const res = await ctx.http.get('/api/sync/jobs').set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(200);
    // Other jobs (the keep-alive, retention) follow the two syncs.
    expect(res.body.data).toEqual([
      expect.objectContaining({
        name: 'nightly-full-sync',
        mode: 'full',
        schedule: '0 0 * * *',
        timezone: 'UTC',
        enabled: false,
        nextRunAt: null,
      }),
      expect.objectContaining({
        name: 'incremental-sync',
        mode: 'incremental',
        schedule: '*/15 * * * *',
        lastRun: expect.objectContaining({ status: 'succeeded' }),
        queue: { pending: 0, running: 0, nextDueAt: null },
        concurrencyPerInstance: 2,
        jitterSeconds: 30,
      }),
      ...res.body.data.slice(2),
    ]);
    expect(res.body.data).toContainEqual(
      expect.objectContaining({ name: 'oauth-keepalive', schedule: '30 3 * * *', idleDays: 30, failures: [] }),
    );
    expect(res.body.data).toContainEqual(expect.objectContaining({ name: 'webhook-channels', schedule: '*/10 * * * *', enabled: false }));
  });

  it('when cron is enabled, then the jobs are scheduled with their next run time, and stop on shutdown', async () => {
    const on = await createTestContext({ CRON_ENABLED: 'true', SYNC_NIGHTLY_CRON: '30 2 * * *', SYNC_TIMEZONE: 'America/New_York' });
    try {
      on.services.jobs.start();
      const jobs = (await on.http.get('/api/sync/jobs').set('x-api-key', ADMIN_KEY)).body.data;
      const nightly = jobs.find((j: { name: string }) => j.name === 'nightly-full-sync');
      expect(nightly).toMatchObject({ enabled: true, schedule: '30 2 * * *', timezone: 'America/New_York' });
      const next = new Date(nightly.nextRunAt);
      expect(next.getTime()).toBeGreaterThan(Date.now());
      expect(
        new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', minute: 'numeric', hour12: false }).format(next),
      ).toBe('02:30');
      await on.services.jobs.stop();
      expect((await on.http.get('/api/sync/jobs').set('x-api-key', ADMIN_KEY)).body.data[0].nextRunAt).toBeNull();
    } finally {
      await on.close();
    }
  });
});
