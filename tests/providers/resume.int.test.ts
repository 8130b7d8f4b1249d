import { KIT_PROVIDERS, startFakeKit, type FakeKit } from '../../fake-crm/kits';
import { createOrganization } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * Every provider, through HTTP against its fake: a process that dies in the middle of a full
 * sync leaves its run behind; the next run resumes it from the checkpoint and finishes with
 * every contact once.
 */
describe.each(KIT_PROVIDERS)('%s: a crash mid-sync', (provider) => {
  let ctx: TestContext;
  let kit: FakeKit;
  const CONTACTS = 350;

  beforeAll(async () => {
    ctx = await createTestContext({ CRM_MAX_RETRIES: '1' });
    kit = await startFakeKit(provider, CONTACTS);
  });
  afterAll(async () => {
    await ctx.close();
    await kit.stop();
  });

  const sync = (id: number) => ctx.http.post(`/api/integrations/${id}/sync?mode=full&wait=true`).set('x-api-key', ADMIN_KEY);

  it('when the process dies after the first page, then the next run resumes from the checkpoint without duplicates', async () => {
    const org = await createOrganization(ctx);
    const made = await ctx.http
      .post('/api/integrations')
      .set('x-api-key', ADMIN_KEY)
      .send({ organizationId: org.id, provider, name: provider, config: kit.config });
    expect(made.status).toBe(201);
    const id = made.body.data.id as number;

    // The first page is read; then the CRM fails until the run gives up.
    const before = kit.requestCount();
    const watcher = setInterval(() => {
      if (kit.requestCount() > before) {
        kit.failNext(50, 503);
        clearInterval(watcher);
      }
    }, 1);
    const first = await sync(id);
    clearInterval(watcher);
    expect(first.body.data.status).toBe('failed');
    const [progress] = await ctx.sql<{ pages: number }>('SELECT pages FROM sync_runs WHERE id = $1', [first.body.data.runId]);
    expect(progress.pages).toBeGreaterThanOrEqual(1);
    kit.clearFaults();
    // As a process that died there would leave it: the run "running", the lease expired.
    await ctx.sql("UPDATE sync_runs SET status = 'running', finished_at = NULL WHERE id = $1", [first.body.data.runId]);
    await ctx.sql(
      "UPDATE integrations SET status = 'active', sync_lease_owner = 'dead:instance', sync_lease_until = now() - interval '1 second' WHERE id = $1",
      [id],
    );

    const second = await sync(id);
    expect(second.body.data.status).toBe('succeeded');
    const [dead] = await ctx.sql<{ status: string }>('SELECT status FROM sync_runs WHERE id = $1', [first.body.data.runId]);
    expect(dead.status).toBe('abandoned');
    const run = (await ctx.http.get(`/api/sync/runs/${second.body.data.runId}`).set('x-api-key', ADMIN_KEY)).body.data;
    expect(run.details.resumedFromRunId).toBe(first.body.data.runId);
    const [counts] = await ctx.sql<{ n: number; distinct_ids: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT (provider, external_id))::int AS distinct_ids FROM user_identities WHERE organization_id = $1',
      [org.id],
    );
    expect(counts).toEqual({ n: CONTACTS + kit.extraPeople, distinct_ids: CONTACTS + kit.extraPeople });
  });
});
