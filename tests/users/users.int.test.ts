import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createOrganization, createUser, uniq } from '../helpers/fixtures';

let ctx: TestContext;
let orgId: number;
beforeAll(async () => {
  ctx = await createTestContext();
  orgId = (await createOrganization(ctx)).id;
  // 25 users with predictable names, emails and flags for the list tests below.
  for (let i = 1; i <= 25; i++) {
    await createUser(ctx, orgId, {
      email: `person${String(i).padStart(2, '0')}@list.test`,
      name: i === 7 ? 'Ännie Zimmermann' : `Person ${String(i).padStart(2, '0')}`,
      isActive: i % 5 !== 0,
      source: i <= 3 ? 'wealthbox' : 'api',
    });
  }
});
afterAll(() => ctx.close());

const get = (path: string) => ctx.http.get(path).set('x-api-key', ADMIN_KEY);

describe('/api/users', () => {
  describe('is protected', () => {
    it('when no key is sent, then every users route answers 401', async () => {
      for (const res of await Promise.all([
        ctx.http.get('/api/users'),
        ctx.http.get('/api/users/1'),
        ctx.http.post('/api/users').send({}),
        ctx.http.patch('/api/users/1').send({}),
        ctx.http.delete('/api/users/1'),
      ])) {
        expect(res.status).toBe(401);
      }
    });
  });

  describe('validates its input', () => {
    it('when a create body is wrong, then 400 lists every failing field', async () => {
      const res = await ctx.http
        .post('/api/users')
        .set('x-api-key', ADMIN_KEY)
        .send({ organizationId: orgId, email: 'nope', name: '', isActive: 'yes', roles: 'admin', unknown: 1 });
      expect(res.status).toBe(400);
      const paths = res.body.details.map((d: { path: string }) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['body.email', 'body.name', 'body.isActive', 'body.roles', 'body']));
      expect(res.body).toMatchObject({ success: false, code: 'validation_failed', error: 'Request validation failed' });
    });

    it('when an admin creates a user without organizationId, then 400 names it', async () => {
      const res = await ctx.http.post('/api/users').set('x-api-key', ADMIN_KEY).send({ email: 'a@b.co', name: 'A' });
      expect(res.status).toBe(400);
      expect(res.body.details[0].path).toBe('body.organizationId');
    });

    it('when the organization does not exist, then 404', async () => {
      const res = await ctx.http
        .post('/api/users')
        .set('x-api-key', ADMIN_KEY)
        .send({ organizationId: 999999, email: 'a@b.co', name: 'A' });
      expect(res.status).toBe(404);
    });

    it.each([
      ['limit=0', 'query.limit'],
      ['limit=1000', 'query.limit'],
      ['page=0', 'query.page'],
      ['page=abc', 'query.page'],
      ['isActive=maybe', 'query.isActive'],
      ['sort=password', 'query.sort'],
      ['organizationId=x', 'query.organizationId'],
      ['bogus=1', 'query'],
    ])('when the query has %s, then 400 names %s', async (qs, path) => {
      const res = await get(`/api/users?${qs}`);
      expect(res.status).toBe(400);
      expect(res.body.details.map((d: { path: string }) => d.path)).toContain(path);
    });

    it('when a user id is unknown, then 404', async () => {
      const res = await get('/api/users/999999');
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('user_not_found');
    });
  });

  describe('lists', () => {
    it('when no paging is given, then page 1 of 10 is returned with totals', async () => {
      const res = await get(`/api/users?organizationId=${orgId}`);
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(10);
      expect(res.body.pagination).toEqual({
        page: 1,
        limit: 10,
        total: 25,
        totalPages: 3,
        totalRelation: 'eq',
        nextCursor: expect.any(String),
      });
    });

    it('when the last page is asked for, then it holds the remainder; past the end is empty', async () => {
      const last = await get(`/api/users?organizationId=${orgId}&page=3`);
      expect(last.body.data).toHaveLength(5);
      const past = await get(`/api/users?organizationId=${orgId}&page=4`);
      expect(past.status).toBe(200);
      expect(past.body.data).toEqual([]);
      expect(past.body.pagination).toEqual({ page: 4, limit: 10, total: 25, totalPages: 3, totalRelation: 'eq', nextCursor: null });
    });

    it('when limit is 1 or 100, then those page sizes are used', async () => {
      expect((await get(`/api/users?organizationId=${orgId}&limit=1`)).body.data).toHaveLength(1);
      expect((await get(`/api/users?organizationId=${orgId}&limit=100`)).body.data).toHaveLength(25);
    });

    it('when pages are walked, then every user appears exactly once', async () => {
      const seen: number[] = [];
      for (let page = 1; page <= 4; page++) {
        const res = await get(`/api/users?organizationId=${orgId}&limit=7&page=${page}&sort=name`);
        seen.push(...res.body.data.map((u: { id: number }) => u.id));
      }
      expect(seen).toHaveLength(25);
      expect(new Set(seen).size).toBe(25);
    });

    it('when searching, then name or email substrings match case-insensitively', async () => {
      const byName = await get(`/api/users?organizationId=${orgId}&search=zIMMER`);
      expect(byName.body.data.map((u: { name: string }) => u.name)).toEqual(['Ännie Zimmermann']);
      const byEmail = await get(`/api/users?organizationId=${orgId}&search=PERSON1&limit=100`);
      expect(byEmail.body.pagination.total).toBe(10);
    });

    it('when searching for LIKE wildcards, then they match literally', async () => {
      const res = await get(`/api/users?organizationId=${orgId}&search=${encodeURIComponent('%')}`);
      expect(res.status).toBe(200);
      expect(res.body.pagination.total).toBe(0);
    });

    it('when filtering by isActive and source, then only matching users come back', async () => {
      const inactive = await get(`/api/users?organizationId=${orgId}&isActive=false&limit=100`);
      expect(inactive.body.pagination.total).toBe(5);
      expect(inactive.body.data.every((u: { isActive: boolean }) => !u.isActive)).toBe(true);
      const wb = await get(`/api/users?organizationId=${orgId}&source=wealthbox`);
      expect(wb.body.pagination.total).toBe(3);
    });

    it('when sorting by name ascending or descending, then the order follows', async () => {
      const asc = await get(`/api/users?organizationId=${orgId}&sort=name&limit=3`);
      expect(asc.body.data.map((u: { name: string }) => u.name)).toEqual(['Person 01', 'Person 02', 'Person 03']);
      const desc = await get(`/api/users?organizationId=${orgId}&sort=-email&limit=1`);
      expect(desc.body.data[0].email).toBe('person25@list.test');
    });
  });

  describe('writes', () => {
    it('when a user is created, then it is returned and readable with its identities', async () => {
      const email = `${uniq('new')}@Example.COM`;
      const res = await ctx.http
        .post('/api/users')
        .set('x-api-key', ADMIN_KEY)
        .send({ organizationId: orgId, email, name: 'New Person', roles: ['user'], department: 'Ops' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({
        email: email.toLowerCase(),
        name: 'New Person',
        roles: ['user'],
        isActive: true,
        source: 'api',
      });
      const one = await get(`/api/users/${res.body.data.id}`);
      expect(one.status).toBe(200);
      expect(one.body.data.identities).toEqual([]);
    });

    it('when an email is already used in the organization, then 409; in another organization it is fine', async () => {
      const email = `${uniq('dup')}@example.com`;
      await createUser(ctx, orgId, { email });
      const dup = await ctx.http.post('/api/users').set('x-api-key', ADMIN_KEY).send({ organizationId: orgId, email, name: 'X' });
      expect(dup.status).toBe(409);
      expect(dup.body.code).toBe('email_taken');
      const other = await createOrganization(ctx);
      expect(
        (await ctx.http.post('/api/users').set('x-api-key', ADMIN_KEY).send({ organizationId: other.id, email, name: 'X' })).status,
      ).toBe(201);
    });

    it('when a user is patched, then only the given fields change', async () => {
      const u = await createUser(ctx, orgId, { title: 'Keep', department: 'Old' });
      const res = await ctx.http.patch(`/api/users/${u.id}`).set('x-api-key', ADMIN_KEY).send({ department: 'New', isAdmin: true });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ title: 'Keep', department: 'New', isAdmin: true });
    });

    it('when a patch takes another user’s email, then 409 and nothing changes', async () => {
      const a = await createUser(ctx, orgId);
      const b = await createUser(ctx, orgId);
      const res = await ctx.http.patch(`/api/users/${b.id}`).set('x-api-key', ADMIN_KEY).send({ email: a.email, name: 'Changed' });
      expect(res.status).toBe(409);
      const [row] = await ctx.sql('SELECT name, email FROM users WHERE id = $1', [b.id]);
      expect(row).toEqual({ name: 'Some User', email: b.email });
    });

    it('when a user is deleted, then it is soft-deleted: gone from reads, kept in the table', async () => {
      const u = await createUser(ctx, orgId);
      expect((await ctx.http.delete(`/api/users/${u.id}`).set('x-api-key', ADMIN_KEY)).status).toBe(204);
      expect((await get(`/api/users/${u.id}`)).status).toBe(404);
      expect((await ctx.http.patch(`/api/users/${u.id}`).set('x-api-key', ADMIN_KEY).send({ name: 'x' })).status).toBe(404);
      const list = await get(`/api/users?organizationId=${orgId}&search=${encodeURIComponent(u.email)}`);
      expect(list.body.pagination.total).toBe(0);
      const [row] = await ctx.sql('SELECT deleted_at, is_active FROM users WHERE id = $1', [u.id]);
      expect(row.deleted_at).toBeInstanceOf(Date);
      expect(row.is_active).toBe(false);
    });

    it('when one user is deleted, erased or brought back by many requests at once, then each change happens once, with one event', async () => {
      const org = await createOrganization(ctx);
      const admin = { 'x-api-key': ADMIN_KEY };
      const sub = await ctx.http
        .post('/api/webhook-subscriptions')
        .set(admin)
        .send({ organizationId: org.id, url: 'http://127.0.0.1:9/hook', events: ['user.deleted', 'user.updated'] });
      expect(sub.status).toBe(201);
      const times = <T>(n: number, f: () => Promise<T>) => Promise.all(Array.from({ length: n }, f));
      const events = async (type: string, userId: number) =>
        (
          await ctx.sql<{ n: number }>(
            `SELECT count(*)::int AS n FROM webhook_events WHERE organization_id = $1 AND type = $2 AND (data->>'id')::int = $3`,
            [org.id, type, userId],
          )
        )[0].n;

      const deleted = await createUser(ctx, org.id);
      const statuses = (await times(10, () => ctx.http.delete(`/api/users/${deleted.id}`).set(admin))).map((r) => r.status);
      expect(statuses.sort()).toEqual([204, ...Array<number>(9).fill(404)]);
      expect(await events('user.deleted', deleted.id)).toBe(1);

      const revived = await times(10, () =>
        ctx.http.post('/api/users').set(admin).send({ organizationId: org.id, email: deleted.email, name: 'Back' }),
      );
      expect(revived.map((r) => r.status).sort()).toEqual([201, ...Array<number>(9).fill(409)]);
      expect(revived.filter((r) => r.status === 409).every((r) => r.body.code === 'email_taken')).toBe(true);
      expect(await events('user.updated', deleted.id)).toBe(1);

      const erased = await createUser(ctx, org.id);
      const answers = await times(8, () => ctx.http.delete(`/api/users/${erased.id}?erase=true`).set(admin));
      expect(answers.map((r) => r.status)).toEqual(Array<number>(8).fill(200));
      const [{ n }] = await ctx.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM webhook_events WHERE organization_id = $1 AND type = 'user.deleted'`,
        [org.id],
      );
      expect(n).toBe(2);
    });

    it('when a deleted user’s email is created again, then the same user comes back', async () => {
      const u = await createUser(ctx, orgId);
      await ctx.http.delete(`/api/users/${u.id}`).set('x-api-key', ADMIN_KEY);
      const res = await ctx.http
        .post('/api/users')
        .set('x-api-key', ADMIN_KEY)
        .send({ organizationId: orgId, email: u.email, name: 'Back' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ id: u.id, name: 'Back', isActive: true });
    });
  });
});
