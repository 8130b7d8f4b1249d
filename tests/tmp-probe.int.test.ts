import { createOrganization, createUser } from './helpers/fixtures';
import { ADMIN_KEY, createTestContext, INTERNAL_KEY, type TestContext } from './helpers/test-app';
let ctx: TestContext;
beforeAll(async () => { ctx = await createTestContext(); });
afterAll(() => ctx.close());
it('probe', async () => {
  const org = await createOrganization(ctx);
  const u = await createUser(ctx, org.id, { email: 'p@example.com', name: 'P' });
  const out: unknown[] = [];
  for (const t of ['0000-01-01T00:00:00Z', '0000-06-01T00:00:00+14:00', '9999-12-31T23:59:59-12:00', '0001-01-01T00:00:00+01:00']) {
    out.push(['events from', t, (await ctx.http.get('/api/webhooks/events').query({ from: t }).set('x-api-key', ADMIN_KEY)).status]);
    out.push(['patch lastActiveAt', t, (await ctx.http.patch(`/api/users/${u.id}`).send({ lastActiveAt: t }).set('x-api-key', ADMIN_KEY)).status]);
    const push = await ctx.http.post('/api/internal/sync/users').set('X-Internal-API-Key', INTERNAL_KEY)
      .send({ organization: { externalId: 'probe-org', name: 'Probe' }, users: [{ externalId: 'pu1', email: 'pu1@example.com', name: 'PU', lastActiveAt: t }] });
    out.push(['push lastActiveAt', t, push.status, JSON.stringify(push.body).slice(0, 200)]);
  }
  for (const o of out) console.log('PROBE ' + JSON.stringify(o));
});
