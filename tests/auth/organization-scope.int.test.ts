import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createOrganization, createOrganizationKey, createUser } from '../helpers/fixtures';

/**
 * The organization-scope matrix: a key of organization A can read, change and count only
 * A's data. Everything of B answers exactly as if it did not exist.
 */
let ctx: TestContext;
let a: { id: number };
let b: { id: number };
let keyA: string;
let userA: { id: number };
let userB: { id: number; email: string };

beforeAll(async () => {
  ctx = await createTestContext();
  a = await createOrganization(ctx);
  b = await createOrganization(ctx);
  keyA = await createOrganizationKey(ctx, a.id);
  userA = await createUser(ctx, a.id);
  userB = await createUser(ctx, b.id);
  await createUser(ctx, b.id);
});
afterAll(() => ctx.close());

const asA = {
  get: (p: string) => ctx.http.get(p).set('x-api-key', keyA),
  post: (p: string, body: object) => ctx.http.post(p).set('x-api-key', keyA).send(body),
  patch: (p: string, body: object) => ctx.http.patch(p).set('x-api-key', keyA).send(body),
  delete: (p: string) => ctx.http.delete(p).set('x-api-key', keyA),
};

describe('organization-scoped keys', () => {
  it('when A lists users, then only A’s users are counted and returned', async () => {
    const res = await asA.get('/api/users?limit=100');
    expect(res.status).toBe(200);
    expect(res.body.data.map((u: { id: number }) => u.id)).toEqual([userA.id]);
    expect(res.body.pagination.total).toBe(1);
  });

  it('when A searches for B’s user by email, then nothing is found', async () => {
    const res = await asA.get(`/api/users?search=${encodeURIComponent(userB.email)}`);
    expect(res.body.pagination.total).toBe(0);
  });

  it('when A filters users by B’s organizationId, then 404', async () => {
    expect((await asA.get(`/api/users?organizationId=${b.id}`)).status).toBe(404);
  });

  it.each([
    ['GET /api/users/:idB', () => asA.get(`/api/users/${userB.id}`)],
    ['PATCH /api/users/:idB', () => asA.patch(`/api/users/${userB.id}`, { name: 'hijacked' })],
    ['DELETE /api/users/:idB', () => asA.delete(`/api/users/${userB.id}`)],
    ['GET /api/organizations/:idB', () => asA.get(`/api/organizations/${b.id}`)],
    ['PATCH /api/organizations/:idB', () => asA.patch(`/api/organizations/${b.id}`, { name: 'hijacked' })],
    ['GET /api/organizations/:idB/users', () => asA.get(`/api/organizations/${b.id}/users`)],
    ['GET /api/organizations/:idB/stats', () => asA.get(`/api/organizations/${b.id}/stats`)],
    ['POST /api/users into B', () => asA.post('/api/users', { organizationId: b.id, email: 'x@y.zz', name: 'X' })],
  ])('when A calls %s, then 404 and B is untouched', async (_name, call) => {
    const res = await call();
    expect(res.status).toBe(404);
    const [user] = await ctx.sql('SELECT name, deleted_at FROM users WHERE id = $1', [userB.id]);
    expect(user).toEqual({ name: 'Some User', deleted_at: null });
    const [org] = await ctx.sql('SELECT name FROM organizations WHERE id = $1', [b.id]);
    expect(org.name).not.toBe('hijacked');
    expect(await ctx.sql("SELECT 1 FROM users WHERE email = 'x@y.zz'")).toHaveLength(0);
  });

  it('when A lists organizations, then only A is there', async () => {
    const res = await asA.get('/api/organizations');
    expect(res.body.data.map((o: { id: number }) => o.id)).toEqual([a.id]);
    expect(res.body.pagination.total).toBe(1);
  });

  it('when A creates a user without organizationId, then it lands in A', async () => {
    const res = await asA.post('/api/users', { email: 'mine@a.test', name: 'Mine' });
    expect(res.status).toBe(201);
    expect(res.body.data.organizationId).toBe(a.id);
  });

  it('when A reads and changes its own data, then it works', async () => {
    expect((await asA.get(`/api/users/${userA.id}`)).status).toBe(200);
    expect((await asA.patch(`/api/organizations/${a.id}`, { name: 'A renamed' })).status).toBe(200);
    expect((await asA.get(`/api/organizations/${a.id}/stats`)).status).toBe(200);
  });

  it('when A tries admin-only operations, then 403', async () => {
    expect((await asA.post('/api/organizations', { name: 'New' })).status).toBe(403);
    expect((await asA.delete(`/api/organizations/${a.id}`)).status).toBe(403);
    expect((await asA.get('/api/api-keys')).status).toBe(403);
  });

  it('when an admin key asks, then both organizations are visible', async () => {
    const res = await ctx.http.get('/api/users?limit=100').set('x-api-key', ADMIN_KEY);
    const orgs = new Set(res.body.data.map((u: { organizationId: number }) => u.organizationId));
    expect(orgs).toEqual(new Set([a.id, b.id]));
  });
});
