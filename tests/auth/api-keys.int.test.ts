import { createHash } from 'node:crypto';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createOrganization, createOrganizationKey } from '../helpers/fixtures';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('/api/api-keys', () => {
  describe('is protected', () => {
    it('when no key is sent, then 401 for every /api route', async () => {
      for (const [method, path] of [
        ['get', '/api/api-keys'],
        ['get', '/api/users'],
        ['get', '/api/organizations'],
        ['post', '/api/users'],
        ['get', '/api/does-not-exist'],
      ] as const) {
        const res = await ctx.http[method](path);
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({
          success: false,
          code: 'missing_api_key',
          requestId: expect.any(String),
          timestamp: expect.any(String),
        });
      }
    });

    it('when an unknown key is sent, then 401 invalid_api_key', async () => {
      const res = await ctx.http.get('/api/api-keys').set('x-api-key', 'crm_not-a-real-key');
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_api_key');
    });

    it('when an organization key manages keys, then 403', async () => {
      const org = await createOrganization(ctx);
      const key = await createOrganizationKey(ctx, org.id);
      expect((await ctx.http.get('/api/api-keys').set('x-api-key', key)).status).toBe(403);
      const res = await ctx.http.post('/api/api-keys').set('x-api-key', key).send({ name: 'x', scope: 'admin' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('admin_key_required');
    });
  });

  describe('validates its input', () => {
    it('when fields are missing or wrong, then 400 names them', async () => {
      const res = await ctx.http.post('/api/api-keys').set('x-api-key', ADMIN_KEY).send({ scope: 'root', extra: 1 });
      expect(res.status).toBe(400);
      const paths = res.body.details.map((d: { path: string }) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.scope']));
    });

    it('when an organization key names no organization, then 400', async () => {
      const res = await ctx.http.post('/api/api-keys').set('x-api-key', ADMIN_KEY).send({ name: 'k', scope: 'organization' });
      expect(res.status).toBe(400);
      expect(res.body.details[0].path).toBe('body.organizationId');
    });

    it('when the organization does not exist, then 404', async () => {
      const res = await ctx.http
        .post('/api/api-keys')
        .set('x-api-key', ADMIN_KEY)
        .send({ name: 'k', scope: 'organization', organizationId: 999999 });
      expect(res.status).toBe(404);
    });

    it('when the id to revoke is not a number, then 400', async () => {
      expect((await ctx.http.delete('/api/api-keys/abc').set('x-api-key', ADMIN_KEY)).status).toBe(400);
    });
  });

  it('when a key is created, then it is shown once, stored only as a hash, and works', async () => {
    const created = await ctx.http.post('/api/api-keys').set('x-api-key', ADMIN_KEY).send({ name: 'ops', scope: 'admin' });
    expect(created.status).toBe(201);
    const { key, id, prefix } = created.body.data;
    expect(key).toMatch(/^crm_/);
    expect(key.startsWith(prefix)).toBe(true);

    const [row] = await ctx.sql('SELECT * FROM api_keys WHERE id = $1', [id]);
    expect(JSON.stringify(row)).not.toContain(key);
    expect(row.key_hash).toBe(createHash('sha256').update(key).digest('hex'));

    const list = await ctx.http.get('/api/api-keys').set('x-api-key', key);
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).not.toContain(key);
    expect(list.body.data.find((k: { id: number }) => k.id === id)).toMatchObject({ name: 'ops', prefix, scope: 'admin' });
    expect(list.body.data[0]).not.toHaveProperty('keyHash');
  });

  it('when a key is used, then lastUsedAt is recorded', async () => {
    const created = await ctx.http.post('/api/api-keys').set('x-api-key', ADMIN_KEY).send({ name: 'used', scope: 'admin' });
    await ctx.http.get('/api/users').set('x-api-key', created.body.data.key);
    // The touch is written in the background; give it a moment.
    for (let i = 0; i < 50; i++) {
      const [row] = await ctx.sql('SELECT last_used_at FROM api_keys WHERE id = $1', [created.body.data.id]);
      if (row.last_used_at) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('last_used_at was never set');
  });

  it('when a key is revoked, then it stops working at once and disappears from the default list', async () => {
    const created = await ctx.http.post('/api/api-keys').set('x-api-key', ADMIN_KEY).send({ name: 'temp', scope: 'admin' });
    const { key, id } = created.body.data;
    expect((await ctx.http.get('/api/users').set('x-api-key', key)).status).toBe(200);
    const revoked = await ctx.http.delete(`/api/api-keys/${id}`).set('x-api-key', ADMIN_KEY);
    // As the OpenAPI document says: 204, no body.
    expect(revoked.status).toBe(204);
    expect(revoked.text).toBe('');
    expect((await ctx.http.get('/api/users').set('x-api-key', key)).status).toBe(401);
    const list = await ctx.http.get('/api/api-keys').set('x-api-key', ADMIN_KEY);
    expect(list.body.data.map((k: { id: number }) => k.id)).not.toContain(id);
    const all = await ctx.http.get('/api/api-keys?includeRevoked=true').set('x-api-key', ADMIN_KEY);
    expect(all.body.data.map((k: { id: number }) => k.id)).toContain(id);
    expect(all.body.data.find((k: { id: number }) => k.id === id).revokedAt).not.toBeNull();
  });

  it('when an unknown key id is revoked, then 404', async () => {
    const res = await ctx.http.delete('/api/api-keys/999999').set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(404);
  });

  it('when the organization of a key is deleted, then the key stops working', async () => {
    const org = await createOrganization(ctx);
    const key = await createOrganizationKey(ctx, org.id);
    expect((await ctx.http.get('/api/users').set('x-api-key', key)).status).toBe(200);
    await ctx.http.delete(`/api/organizations/${org.id}`).set('x-api-key', ADMIN_KEY);
    expect((await ctx.http.get('/api/users').set('x-api-key', key)).status).toBe(401);
  });
});

describe('bootstrap key', () => {
  it('when no admin key exists and creation is allowed, then one is made once and works', async () => {
    const fresh = await createTestContext({ API_KEY: '' });
    try {
      const key = await fresh.services.apiKeys.ensureBootstrapKey(true);
      expect(key).toMatch(/^crm_/);
      expect(await fresh.services.apiKeys.ensureBootstrapKey(true)).toBeUndefined();
      expect((await fresh.http.get('/api/users').set('x-api-key', key as string)).status).toBe(200);
    } finally {
      await fresh.close();
    }
  });

  it('when creation is not allowed (production), then no key is made', async () => {
    const fresh = await createTestContext({ API_KEY: '' });
    try {
      expect(await fresh.services.apiKeys.ensureBootstrapKey(false)).toBeUndefined();
      expect(await fresh.sql('SELECT 1 FROM api_keys')).toHaveLength(0);
    } finally {
      await fresh.close();
    }
  });
});
