import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createOrganization, createOrganizationKey, createUser, push, pushBody, pushUser, uniq } from '../helpers/fixtures';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('/api/organizations', () => {
  describe('is protected', () => {
    it('when no key is sent, then every organization route answers 401', async () => {
      for (const res of await Promise.all([
        ctx.http.get('/api/organizations'),
        ctx.http.get('/api/organizations/1'),
        ctx.http.post('/api/organizations').send({ name: 'x' }),
        ctx.http.patch('/api/organizations/1').send({ name: 'x' }),
        ctx.http.delete('/api/organizations/1'),
        ctx.http.get('/api/organizations/1/users'),
        ctx.http.get('/api/organizations/1/stats'),
      ])) {
        expect(res.status).toBe(401);
      }
    });
  });

  describe('validates its input', () => {
    it('when the body has wrong types and unknown fields, then 400 names each', async () => {
      const res = await ctx.http
        .post('/api/organizations')
        .set('x-api-key', ADMIN_KEY)
        .send({ name: 42, slug: 'Bad Slug!', colour: 'red' });
      expect(res.status).toBe(400);
      const paths = res.body.details.map((d: { path: string }) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.slug', 'body']));
    });

    it('when the id is not a positive integer, then 400', async () => {
      for (const id of ['abc', '0', '-1', '1.5', '99999999999']) {
        const res = await ctx.http.get(`/api/organizations/${id}`).set('x-api-key', ADMIN_KEY);
        expect(res.status).toBe(400);
        expect(res.body.details[0].path).toBe('params.id');
      }
    });

    it('when a PATCH has no fields, then 400', async () => {
      const org = await createOrganization(ctx);
      expect((await ctx.http.patch(`/api/organizations/${org.id}`).set('x-api-key', ADMIN_KEY).send({})).status).toBe(400);
    });

    it('when the id is unknown, then 404', async () => {
      const res = await ctx.http.get('/api/organizations/999999').set('x-api-key', ADMIN_KEY);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('organization_not_found');
    });
  });

  it('when an organization is created without a slug, then one is derived; a taken slug is 409', async () => {
    const name = `Acme ${uniq()}`;
    const res = await ctx.http
      .post('/api/organizations')
      .set('x-api-key', ADMIN_KEY)
      .send({ name, metadata: { plan: 'pro' } });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ name, slug: name.toLowerCase().replace(/\s+/g, '-'), metadata: { plan: 'pro' } });
    const dup = await ctx.http.post('/api/organizations').set('x-api-key', ADMIN_KEY).send({ name: 'Other', slug: res.body.data.slug });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('slug_taken');
  });

  it('when an external id is reused, then 409 (not 500)', async () => {
    const externalId = uniq('ext');
    await createOrganization(ctx, { externalId });
    const res = await ctx.http.post('/api/organizations').set('x-api-key', ADMIN_KEY).send({ name: 'Dup', externalId });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'external_id_taken', details: [{ path: 'body.externalId', message: 'already taken' }] });
    const other = await createOrganization(ctx);
    const patched = await ctx.http.patch(`/api/organizations/${other.id}`).set('x-api-key', ADMIN_KEY).send({ externalId });
    expect([patched.status, patched.body.code]).toEqual([409, 'external_id_taken']);
  });

  it('when organizations are created without a slug under one name, then each gets a free derived slug; a given slug is never changed', async () => {
    const name = `Twin ${uniq()}`;
    const slugs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await ctx.http.post('/api/organizations').set('x-api-key', ADMIN_KEY).send({ name });
      expect(res.status).toBe(201);
      slugs.push(res.body.data.slug);
    }
    const base = name.toLowerCase().replace(/\s+/g, '-');
    expect(slugs).toEqual([base, `${base}-2`, `${base}-3`]);
    // A name with no Latin letters or digits: the fallback slug, numbered too.
    const unlatin = await Promise.all(
      ['日本語', 'Ωμέγα'].map((n) => ctx.http.post('/api/organizations').set('x-api-key', ADMIN_KEY).send({ name: n })),
    );
    expect(unlatin.map((r) => r.status)).toEqual([201, 201]);
    expect(new Set(unlatin.map((r) => r.body.data.slug)).size).toBe(2);
    const given = await ctx.http.post('/api/organizations').set('x-api-key', ADMIN_KEY).send({ name: 'Given', slug: base });
    expect([given.status, given.body.code]).toEqual([409, 'slug_taken']);
  });

  it('when an organization is patched, then only the given fields change', async () => {
    const org = await createOrganization(ctx, { subdomain: 'keep' });
    const res = await ctx.http.patch(`/api/organizations/${org.id}`).set('x-api-key', ADMIN_KEY).send({ name: 'New Name' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'New Name', subdomain: 'keep', slug: org.slug });
  });

  it('when an organization is deleted, then it disappears from reads but stays in the database', async () => {
    const org = await createOrganization(ctx);
    expect((await ctx.http.delete(`/api/organizations/${org.id}`).set('x-api-key', ADMIN_KEY)).status).toBe(204);
    expect((await ctx.http.get(`/api/organizations/${org.id}`).set('x-api-key', ADMIN_KEY)).status).toBe(404);
    expect((await ctx.http.delete(`/api/organizations/${org.id}`).set('x-api-key', ADMIN_KEY)).status).toBe(404);
    const list = await ctx.http.get('/api/organizations?limit=100').set('x-api-key', ADMIN_KEY);
    expect(list.body.data.map((o: { id: number }) => o.id)).not.toContain(org.id);
    const [row] = await ctx.sql('SELECT deleted_at FROM organizations WHERE id = $1', [org.id]);
    expect(row.deleted_at).toBeInstanceOf(Date);
  });

  it('when organizations are searched, then name matches case-insensitively', async () => {
    const marker = uniq('Zebra');
    const org = await createOrganization(ctx, { name: `The ${marker} Company` });
    const res = await ctx.http.get(`/api/organizations?search=${marker.toUpperCase()}`).set('x-api-key', ADMIN_KEY);
    expect(res.body.data.map((o: { id: number }) => o.id)).toEqual([org.id]);
    expect(res.body.pagination).toEqual({ page: 1, limit: 10, total: 1, totalPages: 1, totalRelation: 'eq', nextCursor: null });
  });

  it('when organizations are asked for by ids, then those come back, within the key’s scope; a bad list is 400', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => createOrganization(ctx)));
    const res = await ctx.http.get(`/api/organizations?ids=${c.id},${a.id},2147483647`).set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(200);
    expect(res.body.data.map((o: { id: number }) => o.id)).toEqual([a.id, c.id]);
    // An organization key sees its own organization only, whatever ids it names.
    const key = await createOrganizationKey(ctx, b.id);
    const scoped = await ctx.http.get(`/api/organizations?ids=${a.id},${b.id}`).set('x-api-key', key);
    expect(scoped.body.data.map((o: { id: number }) => o.id)).toEqual([b.id]);
    expect((await ctx.http.get(`/api/organizations?ids=${a.id}`).set('x-api-key', key)).body.data).toEqual([]);
    const tooMany = Array.from({ length: 101 }, (_, i) => i + 1).join(',');
    for (const ids of ['', 'abc', '1,,2', '0', '99999999999', tooMany]) {
      const bad = await ctx.http.get('/api/organizations').query({ ids }).set('x-api-key', ADMIN_KEY);
      expect([ids, bad.status, bad.body.details?.[0]?.path]).toEqual([ids, 400, expect.stringMatching(/^query\.ids/)]);
    }
  });

  it('when users are listed through the organization, then only its users come back', async () => {
    const a = await createOrganization(ctx);
    const b = await createOrganization(ctx);
    const ua = await createUser(ctx, a.id);
    await createUser(ctx, b.id);
    const res = await ctx.http.get(`/api/organizations/${a.id}/users`).set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(200);
    expect(res.body.data.map((u: { id: number }) => u.id)).toEqual([ua.id]);
    expect((await ctx.http.get('/api/organizations/999999/users').set('x-api-key', ADMIN_KEY)).status).toBe(404);
  });

  it('when stats are asked for, then they count users by state, department, role and source', async () => {
    const tenant = uniq('T');
    const pushed = await push(
      ctx,
      tenant,
      pushBody(tenant, [
        pushUser(1, { roles: ['user', 'manager'], isAdmin: true }),
        pushUser(2, { department: 'Support', isActive: false }),
        pushUser(3, { department: null, roles: [] }),
      ]),
    );
    const orgId = pushed.body.metadata.organizationId;
    const manual = await createUser(ctx, orgId, { department: 'Sales', roles: ['user'] });
    const res = await ctx.http.get(`/api/organizations/${orgId}/stats`).set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(200);
    const s = res.body.data;
    expect(s.users).toEqual({ total: 4, active: 3, inactive: 1, admins: 1 });
    expect(s.byDepartment).toEqual([
      { department: 'Sales', count: 2 },
      { department: 'Support', count: 1 },
      { department: null, count: 1 },
    ]);
    expect(s.byRole).toEqual([
      { role: 'user', count: 3 },
      { role: 'manager', count: 1 },
    ]);
    expect(s.bySource).toEqual([
      { source: 'api', count: 1 },
      { source: 'wrapper', count: 3 },
    ]);
    expect(s.lastSyncRun).toMatchObject({ id: pushed.body.metadata.syncRunId, trigger: 'push' });
    expect(s.newestUser.id).toBe(manual.id);
    expect(s.oldestUser.id).toBe(pushed.body.results[0].crmUserId);
  });

  it('when an admin lists organizations, then pagination reports totals', async () => {
    await createOrganization(ctx);
    await createOrganization(ctx);
    const res = await ctx.http.get('/api/organizations?limit=1&page=2').set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.pagination.limit).toBe(1);
    expect(res.body.pagination.totalPages).toBe(res.body.pagination.total);
  });
});
