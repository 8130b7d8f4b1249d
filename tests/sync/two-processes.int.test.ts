import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { ADMIN_KEY, createTestContext, createTestDatabase, ENCRYPTION_KEY, type TestContext } from '../helpers/test-app';
import { createWealthboxIntegration } from '../helpers/fixtures';

/**
 * Two real service processes (not two apps in one process) on one database, both firing the
 * same incremental ticks: each integration is synced once per scheduled time. Before the job
 * table, an instance whose timer fired after the other's run had ended ran the tick again.
 */
const root = path.resolve(__dirname, '../..');
const INTEGRATIONS = 5;
// Three ticks, a few seconds apart, once the processes have had time to start.
const FIRST_TICK_AFTER_S = 18;
const TICK_GAP_S = 4;

interface Instance {
  child: ChildProcess;
  port: number;
  /** The scheduled times this process's ticks named. */
  ticks: { scheduledFor: string; enqueued: number }[];
  exited: Promise<void>;
}

let fake: FakeWealthbox;
let ctx: TestContext;
let databaseUrl: string;
const instances: Instance[] = [];

function start(port: number, incrementalCron: string): Instance {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    // Node itself with tsx's loader: the tsx wrapper would leave its child running on a kill.
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      API_KEY: ADMIN_KEY,
      ENCRYPTION_KEY,
      LOG_LEVEL: 'info',
      ALLOW_PRIVATE_URLS: 'true',
      METRICS_ENABLED: 'false',
      WEBHOOK_WORKERS_ENABLED: 'false',
      CRON_ENABLED: 'true',
      SYNC_INCREMENTAL_CRON: incrementalCron,
      // Never during the test.
      SYNC_NIGHTLY_CRON: '0 0 1 1 *',
      OAUTH_KEEPALIVE_CRON: '0 0 1 1 *',
      SYNC_JITTER_SECONDS: '0',
      SYNC_CONCURRENCY: '2',
      SYNC_OVERLAP_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const instance: Instance = { child, port, ticks: [], exited: new Promise((resolve) => child.once('exit', () => resolve())) };
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const tick = /sync tick (\{.*\})/.exec(line);
      if (tick) instance.ticks.push(JSON.parse(tick[1]) as { scheduledFor: string; enqueued: number });
    }
  });
  instances.push(instance);
  return instance;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  fake = await new FakeWealthbox({ contacts: 30 }).start();
  ctx = await createTestContext({ DATABASE_URL: databaseUrl });
});
afterAll(async () => {
  for (const i of instances) {
    if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
  }
  await Promise.all(instances.map((i) => i.exited));
  await ctx.close();
  await fake.stop();
});

it('when two service processes fire the same ticks, then each integration is synced once per scheduled time', async () => {
  const ids: number[] = [];
  for (let i = 0; i < INTEGRATIONS; i++) ids.push((await createWealthboxIntegration(ctx, fake)).id);

  // A six-field cron (node-cron's seconds field) naming three seconds soon after the start.
  const base = Math.ceil(Date.now() / 1000) + FIRST_TICK_AFTER_S;
  const slots = [0, 1, 2].map((k) => new Date((base + k * TICK_GAP_S) * 1000));
  const cron = `${slots.map((s) => s.getUTCSeconds()).join(',')} * * * * *`;
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const [a, b] = [start(port, cron), start(port + 1, cron)];
  for (const i of [a, b])
    await until(`port ${i.port}`, async () => ((await fetch(`http://127.0.0.1:${i.port}/health`)).ok ? true : undefined));

  const wanted = slots.map((s) => s.toISOString());
  const ticked = (i: Instance) => wanted.every((w) => i.ticks.some((t) => t.scheduledFor === w));
  await until('both processes to fire the three ticks', async () => (ticked(a) && ticked(b) ? true : undefined), 40_000);
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
    const enqueued = [a, b].flatMap((i) => i.ticks.filter((t) => t.scheduledFor === w)).map((t) => t.enqueued);
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
}, 90_000);
