import { FakeGoHighLevel } from '../../fake-crm/gohighlevel/fake-gohighlevel';
import { createBudgetStore } from '../../src/providers/budget-store';
import { createLimiter, createSharedLimiter, type RequestLimiter } from '../../src/providers/rate-limiter';
import { createLogger } from '../../src/lib/logger';
import { createOrganization } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * One rate budget per CRM account across instances: two service instances (two apps, two
 * Prisma clients, one database) pace one account together through crm_rate_budgets, share a
 * pause, and share HighLevel's daily quota: a run stops at the reserve, the other instance
 * makes no call while it is spent, and the queued resumption finishes the run after the reset.
 */
let a: TestContext;
let b: TestContext;
let fake: FakeGoHighLevel;

const RECHECK_SECONDS = 2;
const logger = createLogger({ level: 'error', json: true, silent: true });

beforeAll(async () => {
  const env = { CRM_BUDGET_RECHECK_SECONDS: String(RECHECK_SECONDS), SYNC_PAGE_SIZE: '50' };
  a = await createTestContext(env);
  b = await createTestContext({ ...env, DATABASE_URL: a.databaseUrl });
  fake = await new FakeGoHighLevel({ contacts: 500, seed: 31, dailyLimit: 8 }).start();
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await fake?.stop();
});

const as = (ctx: TestContext) => ({
  get: (p: string) => ctx.http.get(p).set('x-api-key', ADMIN_KEY),
  post: (p: string, body: object = {}) => ctx.http.post(p).set('x-api-key', ADMIN_KEY).send(body),
});

/** The most calls that fall in any `windowMs` (calls at or after a call, less than windowMs later). */
function busiestWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((x, y) => x - y);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** `n` acquisitions on each limiter at once; when each was let through. */
async function race(limiters: RequestLimiter[], n: number): Promise<number[]> {
  const times: number[] = [];
  await Promise.all(
    limiters.flatMap((l) =>
      Array.from({ length: n }, async () => {
        await l.acquire();
        times.push(Date.now());
      }),
    ),
  );
  return times;
}

describe('one request budget per CRM account, across instances', () => {
  let integrationId: number;
  beforeAll(async () => {
    const org = await createOrganization(a);
    // An integration row for the budget to belong to (its row is deleted with it).
    const res = await as(a).post('/api/integrations', {
      organizationId: org.id,
      provider: 'gohighlevel',
      name: 'HighLevel (pace)',
      config: { apiKey: fake.token, locationId: fake.locationId, baseUrl: fake.url, webhookPublicKey: fake.publicKeyPem },
    });
    expect(res.status).toBe(201);
    integrationId = res.body.data.id;
    // The create's connection test used a call of the fake's tiny daily quota: a new day.
    fake.resetDailyUsage();
  });
  // One integration per HighLevel location: the next describe connects the same one.
  afterAll(async () => {
    expect((await a.http.delete(`/api/integrations/${integrationId}`).set('x-api-key', ADMIN_KEY)).status).toBe(204);
  });

  it('when two instances call one account at 9/s each, then together they keep to 9/s (alone, each would: 18/s)', async () => {
    const shared = [a, b].map((ctx) => createSharedLimiter(createBudgetStore(ctx.prisma), integrationId, 9, logger));
    const together = await race(shared, 12);
    expect(together).toHaveLength(24);
    expect(busiestWindow(together, 1000)).toBeLessThanOrEqual(10);

    // The same two callers pacing only themselves: what the shared row prevents.
    const alone = await race([createLimiter(9), createLimiter(9)], 12);
    expect(busiestWindow(alone, 1000)).toBeGreaterThan(10);
  });

  it('when one instance hears "wait" (a 429, a spent window), then the other waits too', async () => {
    const [first, second] = [a, b].map((ctx) => createSharedLimiter(createBudgetStore(ctx.prisma), integrationId, 0, logger));
    await first.acquire();
    const told = Date.now();
    first.pauseUntil(told + 1500);
    // The pause reaches the row in the background; the other instance's next call finds it there.
    await new Promise((r) => setTimeout(r, 100));
    await second.acquire();
    expect(Date.now() - told).toBeGreaterThanOrEqual(1400);
  });
});

describe("HighLevel's daily quota, shared: a run stops at the reserve, nobody calls while it is spent, the run resumes after", () => {
  let orgId: number;
  let integrationId: number;
  beforeAll(async () => {
    orgId = (await createOrganization(a)).id;
    fake.resetDailyUsage();
    const res = await as(a).post('/api/integrations', {
      organizationId: orgId,
      provider: 'gohighlevel',
      name: 'HighLevel (daily quota)',
      config: {
        apiKey: fake.token,
        locationId: fake.locationId,
        baseUrl: fake.url,
        webhookPublicKey: fake.publicKeyPem,
        requestsPerSecond: 0,
        apiReservePercent: 10,
      },
    });
    expect(res.status).toBe(201);
    integrationId = res.body.data.id;
    expect((await as(a).post(`/api/integrations/${integrationId}/test`)).body.success).toBe(true);
  });

  it('when the calls left reach the reserve mid-sync, then the run ends partial and a resumption is queued; the other instance syncs nothing meanwhile; after the recheck the queued job finishes the run', async () => {
    // 8 a day, reserve 1 (10%): after the test's call, six pages of 50 are read and the next is not asked for.
    const first = await as(a).post(`/api/integrations/${integrationId}/sync?mode=full&wait=true`);
    expect(first.body.data).toMatchObject({ status: 'partial', created: 300 });
    expect(fake.answered[429] ?? 0).toBe(0);
    const run = (await as(a).get(`/api/sync/runs/${first.body.data.runId}`)).body.data;
    expect(run.details).toMatchObject({ stopped: 'api_budget', apiUsage: { used: 7, limit: 8 } });
    const resumeAfter = Date.parse(run.details.resumeAfter);
    expect(resumeAfter).toBeGreaterThan(Date.now());
    const queued = await a.sql<{ trigger: string; mode: string; status: string; not_before: Date }>(
      `SELECT trigger, mode, status, not_before FROM sync_jobs WHERE integration_id = $1`,
      [integrationId],
    );
    expect(queued).toEqual([{ trigger: 'budget', mode: 'full', status: 'pending', not_before: new Date(resumeAfter) }]);

    // The other instance, which never called this account: no call while the quota is spent.
    const calls = fake.calls;
    const meanwhile = await as(b).post(`/api/integrations/${integrationId}/sync?mode=full&wait=true`);
    expect(meanwhile.body.data).toMatchObject({ status: 'partial', created: 0 });
    expect(meanwhile.body.data.error).toMatch(/the HighLevel location has used 7 of its 8 daily API calls/);
    expect(fake.calls).toBe(calls);
    // A single read still goes (the reserve is for bulk work): the connection test takes the day's last call.
    expect((await as(b).post(`/api/integrations/${integrationId}/test`)).body.success).toBe(true);
    expect(fake.calls).toBe(calls + 1);
    // Now HighLevel itself refuses (429, none left today): not retried, and a test not made says nothing of the connection.
    const refused = await as(b).post(`/api/integrations/${integrationId}/test`);
    expect(refused.body).toMatchObject({
      success: false,
      message: expect.stringMatching(/^Not tested: the HighLevel location has used 8 of its 8/),
    });
    expect(fake.calls).toBe(calls + 2);
    expect((await as(b).get(`/api/integrations/${integrationId}`)).body.data.status).toBe('active');

    // A new day at HighLevel; once the recheck time passes, instance B's worker takes the queued job.
    fake.resetDailyUsage();
    // The quota was last seen spent just now (the refused test): a call looks again RECHECK_SECONDS after that.
    await new Promise((r) => setTimeout(r, RECHECK_SECONDS * 1000 + 50));
    const drained = await b.services.jobs.jobs.find((j) => j.mode === 'full')!.run();
    expect(drained.outcomes).toEqual([expect.objectContaining({ integrationId, status: 'succeeded', created: 200 })]);
    const resumed = (await as(b).get(`/api/sync/runs/${drained.outcomes[0].runId}`)).body.data;
    expect(resumed.details.resumedFromRunId).toBe(meanwhile.body.data.runId);
    const [job] = await a.sql<{ status: string; run_id: number }>(`SELECT status, run_id FROM sync_jobs WHERE trigger = 'budget'`);
    expect(job).toEqual({ status: 'done', run_id: drained.outcomes[0].runId });
    const [ids] = await a.sql<{ n: number; distinct_ids: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT external_id)::int AS distinct_ids FROM user_identities WHERE organization_id = $1 AND provider = 'gohighlevel'`,
      [orgId],
    );
    expect(ids).toEqual({ n: 500, distinct_ids: 500 });
  });
});
