import { ADMIN_KEY, createTestContext, INTERNAL_KEY, type TestContext } from '../helpers/test-app';
import { push, pushBody, pushUser, uniq } from '../helpers/fixtures';

let ctx: TestContext;
beforeAll(async () => {
  // A small batch size makes every push here span several chunks.
  ctx = await createTestContext({ PUSH_MAX_USERS: '50', PUSH_MAX_BODY: '64kb', PUSH_BATCH_SIZE: '7' });
});
afterAll(() => ctx.close());

const statuses = (res: { body: { results: { status: string }[] } }) => res.body.results.map((r) => r.status);

describe('POST /api/internal/sync/users', () => {
  describe('is protected', () => {
    it('when X-Internal-API-Key is missing, then 401 and nothing is written', async () => {
      const tenant = uniq('T');
      const res = await ctx.http
        .post('/api/internal/sync/users')
        .set('X-Tenant-ID', tenant)
        .set('X-Sync-Source', 'wrapper')
        .send(pushBody(tenant, [pushUser(1)]));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ success: false, code: 'missing_api_key' });
      expect(await ctx.sql('SELECT 1 FROM organizations WHERE external_id = $1', [tenant])).toHaveLength(0);
    });

    it('when the internal key is wrong, then 401', async () => {
      const tenant = uniq('T');
      const res = await push(ctx, tenant, pushBody(tenant, [pushUser(1)]), { 'X-Internal-API-Key': `${INTERNAL_KEY}x` });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_api_key');
    });

    it('when an ordinary admin x-api-key is sent instead, then 401', async () => {
      const tenant = uniq('T');
      const res = await ctx.http
        .post('/api/internal/sync/users')
        .set({ 'x-api-key': ADMIN_KEY, 'X-Tenant-ID': tenant, 'X-Sync-Source': 'wrapper' })
        .send(pushBody(tenant, [pushUser(1)]));
      expect(res.status).toBe(401);
    });
  });

  describe('validates its input', () => {
    it('when the body is malformed JSON, then 400 malformed_json', async () => {
      const res = await ctx.http
        .post('/api/internal/sync/users')
        .set({ 'X-Internal-API-Key': INTERNAL_KEY, 'X-Tenant-ID': 't', 'X-Sync-Source': 'wrapper', 'Content-Type': 'application/json' })
        .send('{"operation": "user_sync", ');
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('malformed_json');
    });

    it('when the envelope is wrong, then 400 lists every failing field path', async () => {
      const res = await push(ctx, 't1', { operation: 5, tenant: { id: 't1' }, users: 'nope' });
      expect(res.status).toBe(400);
      const paths = res.body.details.map((d: { path: string }) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['body.operation', 'body.tenant.name', 'body.users']));
    });

    it('when X-Tenant-ID or X-Sync-Source is missing, then 400 names the header', async () => {
      const tenant = uniq('T');
      const res = await ctx.http
        .post('/api/internal/sync/users')
        .set('X-Internal-API-Key', INTERNAL_KEY)
        .send(pushBody(tenant, [pushUser(1)]));
      expect(res.status).toBe(400);
      const paths = res.body.details.map((d: { path: string }) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['headers.x-tenant-id', 'headers.x-sync-source']));
    });

    it('when X-Tenant-ID differs from tenant.id, then 400 tenant_mismatch and nothing is written', async () => {
      const tenant = uniq('T');
      const res = await push(ctx, 'other-tenant', pushBody(tenant, [pushUser(1)]));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('tenant_mismatch');
      expect(await ctx.sql('SELECT 1 FROM organizations WHERE external_id = $1', [tenant])).toHaveLength(0);
    });

    it('when the push has more users than PUSH_MAX_USERS, then 413 says the limit', async () => {
      const tenant = uniq('T');
      const users = Array.from({ length: 51 }, (_, i) => ({ email: `a${i}@x.io`, name: 'A' }));
      const res = await push(ctx, tenant, pushBody(tenant, users));
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('too_many_users');
      expect(res.body.error).toContain('at most 50 users');
    });

    it('when the body is larger than PUSH_MAX_BODY, then 413', async () => {
      const tenant = uniq('T');
      const res = await push(ctx, tenant, pushBody(tenant, [pushUser(1)], { metadata: { padding: 'p'.repeat(70_000) } }));
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('payload_too_large');
    });
  });

  describe('applies users', () => {
    it('when a push mixes valid and invalid users, then each gets its own result and the good ones are saved', async () => {
      const tenant = uniq('T');
      const users = [pushUser(1), pushUser(2, { email: 'not-an-email' }), pushUser(3), { id: 'u-4', name: 'No Email' }, 'garbage'];
      const res = await push(ctx, tenant, pushBody(tenant, users));
      expect(res.status).toBe(200);
      expect(res.body.success).toBe(true);
      expect(statuses(res)).toEqual(['created', 'failed', 'created', 'failed', 'failed']);
      expect(res.body.results[1]).toMatchObject({ userId: 'user-2', crmUserId: null, error: expect.stringContaining('email') });
      expect(res.body.results[0]).toMatchObject({
        userId: 'user-1',
        status: 'created',
        message: 'User created successfully',
        crmUserId: expect.any(Number),
      });
      expect(res.body.tenant).toEqual({ id: tenant, name: `Company ${tenant}` });
      expect(res.body.metadata).toMatchObject({
        operation: 'user_sync',
        totalUsers: 5,
        successful: 2,
        failed: 3,
        created: 2,
        updated: 0,
        unchanged: 0,
      });
      expect(Date.parse(res.body.metadata.syncedAt)).not.toBeNaN();

      const rows = await ctx.sql(
        'SELECT u.email, u.roles, u.department, u.source FROM users u JOIN organizations o ON o.id = u.organization_id WHERE o.external_id = $1 ORDER BY u.email',
        [tenant],
      );
      expect(rows).toEqual([
        { email: 'user1@company.com', roles: ['user'], department: 'Sales', source: 'wrapper' },
        { email: 'user3@company.com', roles: ['user'], department: 'Sales', source: 'wrapper' },
      ]);
    });

    it('when the tenant is new, then the organization is created from the tenant fields', async () => {
      const tenant = uniq('T');
      await push(ctx, tenant, pushBody(tenant, [pushUser(1)]));
      const rows = await ctx.sql('SELECT name, subdomain, metadata FROM organizations WHERE external_id = $1', [tenant]);
      expect(rows).toEqual([
        { name: `Company ${tenant}`, subdomain: tenant.toLowerCase(), metadata: { kindeOrgId: `kinde-org-${tenant}` } },
      ]);
    });

    it('when users carry an upstream id and kindeUserId, then both are stored as identities, with the extra fields', async () => {
      const tenant = uniq('T');
      const res = await push(ctx, tenant, pushBody(tenant, [pushUser(1, { allowedApplications: ['crm'], subscriptionTier: 'premium' })]));
      const rows = await ctx.sql('SELECT provider, external_id, data FROM user_identities WHERE user_id = $1 ORDER BY provider', [
        res.body.results[0].crmUserId,
      ]);
      expect(rows).toEqual([
        { provider: 'kinde', external_id: 'kinde-1', data: null },
        { provider: 'wrapper', external_id: 'user-1', data: { allowedApplications: ['crm'], subscriptionTier: 'premium' } },
      ]);
    });

    it('when the same payload is sent twice, then the second reports unchanged and the rows stay as they were', async () => {
      const tenant = uniq('T');
      const body = pushBody(
        tenant,
        Array.from({ length: 20 }, (_, i) => pushUser(i)),
      );
      const first = await push(ctx, tenant, body);
      const snapshot = await ctx.sql('SELECT id, email, name, updated_at FROM users ORDER BY id');
      const second = await push(ctx, tenant, body);
      expect(first.body.metadata).toMatchObject({ created: 20, updated: 0, unchanged: 0 });
      expect(second.body.metadata).toMatchObject({ created: 0, updated: 0, unchanged: 20, failed: 0 });
      const ids = (r: typeof first) => r.body.results.map((x: { crmUserId: number }) => x.crmUserId);
      expect(ids(second)).toEqual(ids(first));
      expect(await ctx.sql('SELECT id, email, name, updated_at FROM users ORDER BY id')).toEqual(snapshot);
    });

    it('when users change, then they are reported updated; absent fields keep their values and null clears', async () => {
      const tenant = uniq('T');
      await push(ctx, tenant, pushBody(tenant, [pushUser(1), pushUser(2), pushUser(3)]));
      const changed = [{ id: 'user-1', email: 'USER1@company.com', name: 'Renamed' }, pushUser(2, { department: null }), pushUser(3)];
      const res = await push(ctx, tenant, pushBody(tenant, changed));
      expect(statuses(res)).toEqual(['updated', 'updated', 'unchanged']);
      const rows = await ctx.sql(
        'SELECT u.email, u.name, u.department, u.title FROM users u JOIN organizations o ON o.id = u.organization_id WHERE o.external_id = $1 ORDER BY u.email',
        [tenant],
      );
      expect(rows[0]).toEqual({ email: 'user1@company.com', name: 'Renamed', department: 'Sales', title: 'Sales Manager' });
      expect(rows[1]).toMatchObject({ email: 'user2@company.com', department: null });
    });

    it('when only the kindeUserId of a user changes, then it is reported updated and the identity moves', async () => {
      const tenant = uniq('T');
      await push(ctx, tenant, pushBody(tenant, [pushUser(1)]));
      const res = await push(ctx, tenant, pushBody(tenant, [pushUser(1, { kindeUserId: 'kinde-new' })]));
      expect(statuses(res)).toEqual(['updated']);
      const rows = await ctx.sql("SELECT external_id FROM user_identities WHERE user_id = $1 AND provider = 'kinde' ORDER BY external_id", [
        res.body.results[0].crmUserId,
      ]);
      expect(rows.map((r) => r.external_id)).toContain('kinde-new');
    });

    it('when the same email appears twice in one push, then the repeat fails and the first is applied', async () => {
      const tenant = uniq('T');
      const res = await push(ctx, tenant, pushBody(tenant, [pushUser(1), pushUser(2, { email: 'user1@company.com' })]));
      expect(res.body.results[0].status).toBe('created');
      expect(res.body.results[1]).toMatchObject({ status: 'failed', error: expect.stringContaining('users[0]') });
    });

    it('when a soft-deleted user is pushed again, then it comes back and is reported updated', async () => {
      const tenant = uniq('T');
      const first = await push(ctx, tenant, pushBody(tenant, [pushUser(1)]));
      const id = first.body.results[0].crmUserId;
      expect((await ctx.http.delete(`/api/users/${id}`).set('x-api-key', ADMIN_KEY)).status).toBe(204);
      const again = await push(ctx, tenant, pushBody(tenant, [pushUser(1)]));
      expect(again.body.results[0]).toMatchObject({ status: 'updated', crmUserId: id });
      expect((await ctx.http.get(`/api/users/${id}`).set('x-api-key', ADMIN_KEY)).status).toBe(200);
    });

    it('when the organization was soft-deleted, then 409 and no user is written', async () => {
      const tenant = uniq('T');
      const first = await push(ctx, tenant, pushBody(tenant, [pushUser(1)]));
      const orgId = first.body.metadata.organizationId;
      expect((await ctx.http.delete(`/api/organizations/${orgId}`).set('x-api-key', ADMIN_KEY)).status).toBe(204);
      const res = await push(ctx, tenant, pushBody(tenant, [pushUser(2)]));
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('organization_deleted');
      expect(await ctx.sql('SELECT 1 FROM users WHERE organization_id = $1', [orgId])).toHaveLength(1);
    });

    it('when a push is applied, then a SyncRun records its counts and failures', async () => {
      const tenant = uniq('T');
      const res = await push(ctx, tenant, pushBody(tenant, [pushUser(1), pushUser(2, { email: 'bad' })]));
      const [run] = await ctx.sql(
        'SELECT operation, trigger, source, status, total, successful, failed, created, details, finished_at FROM sync_runs WHERE id = $1',
        [res.body.metadata.syncRunId],
      );
      expect(run).toMatchObject({
        operation: 'user_sync',
        trigger: 'push',
        source: 'wrapper',
        status: 'partial',
        total: 2,
        successful: 1,
        failed: 1,
        created: 1,
      });
      expect((run.details as { failures: unknown[] }).failures).toHaveLength(1);
      expect(run.finished_at).toBeInstanceOf(Date);
    });

    it('when two overlapping pushes run at once, then there are no duplicate users and no 500', async () => {
      const tenant = uniq('T');
      const a = pushBody(
        tenant,
        Array.from({ length: 40 }, (_, i) => pushUser(i)),
      );
      const b = pushBody(
        tenant,
        Array.from({ length: 40 }, (_, i) => pushUser(i + 20, { name: `Other ${i}` })),
      );
      const results = await Promise.all([push(ctx, tenant, a), push(ctx, tenant, b), push(ctx, tenant, a), push(ctx, tenant, b)]);
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const [row] = await ctx.sql(
        'SELECT count(*)::int AS count, count(DISTINCT u.email)::int AS distinct FROM users u JOIN organizations o ON o.id = u.organization_id WHERE o.external_id = $1',
        [tenant],
      );
      expect(row).toEqual({ count: 60, distinct: 60 });
      expect(await ctx.sql('SELECT 1 FROM organizations WHERE external_id = $1', [tenant])).toHaveLength(1);
    });

    it('when pushes for a brand-new tenant race, then exactly one organization is created', async () => {
      const tenant = uniq('T');
      const results = await Promise.all([1, 2, 3].map((i) => push(ctx, tenant, pushBody(tenant, [pushUser(i)]))));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await ctx.sql('SELECT 1 FROM organizations WHERE external_id = $1', [tenant])).toHaveLength(1);
    });
  });
});
