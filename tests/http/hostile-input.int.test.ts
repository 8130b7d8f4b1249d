import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { FakeHubSpot } from '../../fake-crm/hubspot/fake-hubspot';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createOrganization, createOrganizationKey, createWealthboxIntegration, push, pushBody, pushUser, uniq } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, createTestDatabase, INTERNAL_KEY, type TestContext } from '../helpers/test-app';

/**
 * Each class of input that once answered 500 (issue: "Defects found by trying the service as
 * its users and attackers would"): now a 4xx naming the field, and nothing half-written.
 */
const admin = { 'x-api-key': ADMIN_KEY };
const SECRET = 'hostile-webhook-secret';
const sign = (raw: string) => createHmac('sha256', SECRET).update(raw).digest('hex');
/** Raw JSON text nested `depth` levels, without building (or stringifying) a deep object. */
const nested = (depth: number, leaf = '1') => '['.repeat(depth) + leaf + ']'.repeat(depth);

function expectNamedError(res: { status: number; body: Record<string, unknown> }, status: number, path?: string) {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ success: false, code: expect.any(String), error: expect.any(String) });
  if (path) expect((res.body.details as { path: string }[]).map((d) => d.path)).toContain(path);
}

describe('hostile input', () => {
  let ctx: TestContext;
  let fake: FakeWealthbox;
  let wb: { orgId: number; id: number };

  beforeAll(async () => {
    ctx = await createTestContext();
    fake = await new FakeWealthbox({ contacts: 2 }).start();
    wb = await createWealthboxIntegration(ctx, fake, { webhookSecret: SECRET });
  });
  afterAll(async () => {
    await ctx.close();
    await fake.stop();
  });

  const signedWebhook = (raw: string) =>
    ctx.http
      .post(`/api/webhooks/wealthbox/${wb.id}`)
      .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': sign(raw) })
      .send(raw);

  describe('malformed percent-encoding in a path', () => {
    it.each([
      ['POST', '/api/webhooks/%ff', {}],
      ['POST', '/api/webhooks/wealthbox/%E0%A4%A', {}],
      ['GET', '/api/users/%ff', admin],
      ['GET', '/api/organizations/%', admin],
    ])('%s %s answers 400 malformed_path', async (method, path, headers) => {
      const res = await (method === 'GET' ? ctx.http.get(path) : ctx.http.post(path)).set(headers);
      expectNamedError(res, 400);
      expect(res.body.code).toBe('malformed_path');
    });
  });

  describe('Content-Encoding that does not match the body', () => {
    it.each([
      ['/api/users', admin],
      ['/api/webhook', {}],
      ['/api/webhooks/wealthbox', {}],
    ])('gzip on a body that is not gzip: POST %s answers 400', async (path, headers) => {
      const res = await ctx.http
        .post(path)
        .set({ ...headers, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' })
        .send('{}');
      expectNamedError(res, 400);
      expect(res.body.code).toBe('malformed_body');
    });

    it('an unknown encoding answers 415, an unknown charset 415, and real gzip is read', async () => {
      const unknown = await ctx.http
        .post('/api/organizations')
        .set({ ...admin, 'Content-Type': 'application/json', 'Content-Encoding': 'x-zip' })
        .send('{}');
      expectNamedError(unknown, 415);
      expect(unknown.body.code).toBe('unsupported_encoding');
      const charset = await ctx.http
        .post('/api/organizations')
        .set({ ...admin, 'Content-Type': 'application/json; charset=latin1' })
        .send('{}');
      expectNamedError(charset, 415);
      // Real gzip is read (sent with fetch: supertest would serialise a Buffer as JSON).
      const server = ctx.app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      try {
        const zipped = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/organizations`, {
          method: 'POST',
          headers: { ...admin, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
          body: gzipSync(JSON.stringify({ name: uniq('Zipped') })),
        });
        expect(zipped.status).toBe(201);
      } finally {
        server.close();
      }
    });
  });

  describe('bodies that are not UTF-8', () => {
    it('a JSON body with bytes that are not UTF-8 is a 400 on the API, the push and the console, and writes nothing', async () => {
      // The bytes as they are (superagent would send a Buffer as JSON of its own).
      const raw = (b: unknown) => b as string;
      const bad = (json: string) =>
        Buffer.concat([Buffer.from(json.split('@@')[0]), Buffer.from([0xff, 0xfe]), Buffer.from(json.split('@@')[1])]);
      const before = await ctx.sql<{ n: number }>(
        'SELECT (SELECT count(*) FROM organizations)::int + (SELECT count(*) FROM users)::int AS n',
      );
      const sent = [
        ctx.http
          .post('/api/organizations')
          .set(admin)
          .set('Content-Type', 'application/json')
          .serialize(raw)
          .send(bad(`{"name":"Bad @@ byte"}`)),
        ctx.http
          .post('/api/internal/sync/users')
          .set({ 'X-Internal-API-Key': INTERNAL_KEY, 'X-Tenant-ID': uniq('t'), 'X-Sync-Source': 'w', 'Content-Type': 'application/json' })
          .serialize(raw)
          .send(bad(`{"tenant":{"name":"T @@"},"users":[]}`)),
        ctx.http.post('/api/console/sessions').set('Content-Type', 'application/json').serialize(raw).send(bad(`{"token":"@@"}`)),
      ];
      for (const res of await Promise.all(sent)) {
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({
          success: false,
          code: 'malformed_body',
          error: 'The request body is not valid UTF-8; send JSON as UTF-8',
        });
      }
      expect(await ctx.sql('SELECT (SELECT count(*) FROM organizations)::int + (SELECT count(*) FROM users)::int AS n')).toEqual(before);
      // Real UTF-8 beyond ASCII is of course fine.
      expect(
        (
          await ctx.http
            .post('/api/organizations')
            .set(admin)
            .send({ name: uniq('Zoë 日本') })
        ).status,
      ).toBe(201);
    });
  });

  describe('NUL characters and unpaired surrogates', () => {
    it.each(['search', 'department', 'source'])('GET /api/users?%s=a%%00b answers 400 naming the parameter', async (name) => {
      const res = await ctx.http.get(`/api/users?${name}=a%00b`).set(admin);
      expectNamedError(res, 400, `query.${name}`);
    });

    it.each(['provider', 'operation'])('filters of other lists (%s) too', async (name) => {
      const path = name === 'provider' ? `/api/integrations?provider=a%00b` : `/api/sync/runs?operation=a%00b`;
      expectNamedError(await ctx.http.get(path).set(admin), 400, `query.${name}`);
    });

    it('a NUL in a name, a metadata key or a metadata value, or a lone surrogate, is a 400 and creates nothing', async () => {
      const before = await ctx.sql<{ n: number }>('SELECT count(*)::int AS n FROM organizations');
      const cases: [Record<string, unknown>, string][] = [
        [{ name: 'a\u0000b' }, 'body.name'],
        [{ name: uniq('Org'), metadata: { 'k\u0000': 1 } }, 'body.metadata.k\u0000'],
        [{ name: uniq('Org'), metadata: { k: 'v\u0000' } }, 'body.metadata.k'],
        [{ name: uniq('Org'), metadata: { k: '\ud800' } }, 'body.metadata.k'],
        [{ name: uniq('Org'), metadata: { k: ['ok', 'x\udfff'] } }, 'body.metadata.k.1'],
        // Kept by JSON.parse, lost by any object rebuilt from it: refused rather than dropped.
        [JSON.parse(`{"name":"${uniq('Org')}","metadata":{"__proto__":{"x":1}}}`) as Record<string, unknown>, 'body.metadata.__proto__'],
      ];
      for (const [body, path] of cases) expectNamedError(await ctx.http.post('/api/organizations').set(admin).send(body), 400, path);
      expect(await ctx.sql('SELECT count(*)::int AS n FROM organizations')).toEqual(before);
    });

    it('in a push, a user with a NUL or a lone surrogate fails alone; the others are written', async () => {
      const tenant = uniq('T');
      const res = await push(
        ctx,
        tenant,
        pushBody(tenant, [
          pushUser(1),
          pushUser(2, { name: 'Bad\u0000Name' }),
          pushUser(3, { title: '\ud800' }),
          pushUser(4, { extra: { 'k\u0000': 1 } }),
        ]),
      );
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['created', 'failed', 'failed', 'failed']);
      expect(res.body.results[1].error).toContain('name');
      const rows = await ctx.sql<{ email: string }>(
        'SELECT u.email FROM users u JOIN organizations o ON o.id = u.organization_id WHERE o.external_id = $1',
        [tenant],
      );
      expect(rows.map((r) => r.email)).toEqual(['user1@company.com']);
    });

    it('a signed inbound webhook with a NUL or a lone surrogate in a contact field is a 400 naming it, and nothing is stored', async () => {
      for (const bad of ['Ke\\u0000vin', '\\ud800']) {
        const raw = `{"id":"${uniq('e')}","event":"contact.updated","contact":{"id":7,"type":"Person","first_name":"${bad}"}}`;
        const res = await signedWebhook(raw);
        expectNamedError(res, 400, 'body.contact.first_name');
      }
      expect(await ctx.sql('SELECT id FROM inbound_events WHERE integration_id = $1', [wb.id])).toEqual([]);
    });
  });

  describe('times outside the years 1 to 9999', () => {
    // Year 0 in UTC ("0001-01-01T00:00:00+01:00" too) and past 9999 are times JavaScript
    // writes and PostgreSQL refuses: each was a 500.
    const EDGES = ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-12:00'];

    it.each(EDGES)('GET /api/webhooks/events?from=%s answers 400 naming it', async (t) => {
      expectNamedError(await ctx.http.get('/api/webhooks/events').query({ from: t }).set(admin), 400, 'query.from');
    });

    it('a user given such a lastActiveAt is a 400 naming it, and keeps the one it had', async () => {
      const org = await createOrganization(ctx);
      const made = await ctx.http
        .post('/api/users')
        .set(admin)
        .send({ organizationId: org.id, email: `${uniq('t')}@example.com`, name: 'Timely' });
      expect(made.status).toBe(201);
      for (const t of EDGES) {
        expectNamedError(
          await ctx.http.patch(`/api/users/${made.body.data.id}`).set(admin).send({ lastActiveAt: t }),
          400,
          'body.lastActiveAt',
        );
      }
      expect((await ctx.http.get(`/api/users/${made.body.data.id}`).set(admin)).body.data.lastActiveAt).toBeNull();
      expect(
        (await ctx.http.patch(`/api/users/${made.body.data.id}`).set(admin).send({ lastActiveAt: '0001-01-01T00:00:00Z' })).status,
      ).toBe(200);
    });

    it('in a push, a user with such a lastActiveAt fails alone; the others are written', async () => {
      const tenant = uniq('T');
      const res = await push(
        ctx,
        tenant,
        pushBody(tenant, [pushUser(1), pushUser(2, { lastActiveAt: EDGES[0] }), pushUser(3, { lastActiveAt: EDGES[2] })]),
      );
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['created', 'failed', 'failed']);
      expect(res.body.results[1].error).toContain('lastActiveAt');
    });

    it('a signed inbound webhook whose contact changed in year 0 is stored, and fails alone in processing, naming the field', async () => {
      const raw = (id: number, updatedAt: string) =>
        JSON.stringify({
          id: uniq('e'),
          event: 'contact.updated',
          contact: { id, type: 'Person', first_name: 'Old', last_name: `N${id}`, updated_at: updatedAt },
        });
      const bad = await signedWebhook(raw(9001, '0000-06-01T00:00:00Z'));
      const good = await signedWebhook(raw(9002, '2026-06-01T00:00:00Z'));
      expect([bad.status, good.status]).toEqual([202, 202]);
      await ctx.services.inboxWorker.drain();
      const rows = await ctx.sql<{ id: number; status: string; outcome: string; last_error: string | null }>(
        'SELECT id, status, outcome, last_error FROM inbound_events WHERE id = ANY($1::int[]) ORDER BY id',
        [[bad.body.eventId, good.body.eventId]],
      );
      expect(rows.map((r) => [r.status, r.outcome])).toEqual([
        ['failed', 'invalid'],
        ['processed', 'created'],
      ]);
      expect(rows[0].last_error).toMatch(/updatedAt is a time outside the years 1 to 9999/);
    });
  });

  describe('integers past PostgreSQL int4', () => {
    it.each(['/api/users', '/api/api-keys', '/api/integrations', '/api/sync/runs', '/api/webhook-subscriptions', '/api/webhooks/events'])(
      'GET %s?organizationId=2147483648 answers 400 naming it',
      async (path) => {
        expectNamedError(await ctx.http.get(`${path}?organizationId=2147483648`).set(admin), 400, 'query.organizationId');
      },
    );

    it.each([
      ['/api/api-keys', { name: 'k', scope: 'organization' }],
      ['/api/integrations', { provider: 'wealthbox', name: 'x', config: { apiKey: 'abcdefgh1' } }],
      ['/api/users', { email: 'big@example.com', name: 'Big' }],
      ['/api/webhook-subscriptions', { url: 'https://example.com/hook', events: ['user.created'] }],
    ])('POST %s with organizationId 2147483648 answers 400 naming it', async (path, body) => {
      expectNamedError(
        await ctx.http
          .post(path)
          .set(admin)
          .send({ ...body, organizationId: 2147483648 }),
        400,
        'body.organizationId',
      );
    });
  });

  describe('deep nesting', () => {
    it('metadata, a config and a push user field nested 5,000 levels answer 400', async () => {
      const org = `{"name":"${uniq('Deep')}","metadata":{"x":${nested(5000)}}}`;
      expectNamedError(
        await ctx.http
          .post('/api/organizations')
          .set({ ...admin, 'Content-Type': 'application/json' })
          .send(org),
        400,
      );
      const integration = `{"provider":"wealthbox","name":"d","organizationId":${wb.orgId},"config":{"apiKey":"abcdefgh1","x":${nested(5000)}}}`;
      expectNamedError(
        await ctx.http
          .post('/api/integrations')
          .set({ ...admin, 'Content-Type': 'application/json' })
          .send(integration),
        400,
      );
      const tenant = uniq('T');
      const user = JSON.stringify(pushUser(1)).replace(/}$/, `,"extra":${nested(5000)}}`);
      const raw = JSON.stringify(pushBody(tenant, [])).replace('"users":[]', `"users":[${user}]`);
      const res = await ctx.http
        .post('/api/internal/sync/users')
        .set({ 'X-Internal-API-Key': INTERNAL_KEY, 'X-Tenant-ID': tenant, 'X-Sync-Source': 'w' })
        .set('Content-Type', 'application/json')
        .send(raw);
      expectNamedError(res, 400);
      expect(res.body.details[0].message).toContain('nested deeper than');
    });

    it('a signed inbound webhook nested 200,000 levels (under the body limit) answers 400', async () => {
      const raw = `{"id":"${uniq('e')}","event":"contact.updated","contact":{"id":8,"type":"Person","x":${nested(200_000)}}}`;
      expectNamedError(await signedWebhook(raw), 400);
    });
  });
});

describe('a hostile or changing CRM', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ CRM_MAX_RETRIES: '0' });
  });
  afterAll(() => ctx.close());

  it('a contact whose text PostgreSQL cannot store fails alone in the pull; the others are written', async () => {
    const fake = await new FakeWealthbox({ contacts: 5 }).start();
    try {
      fake.updateContact(2, { firstName: 'Nul\u0000Name' });
      fake.updateContact(3, { lastName: '\ud800' });
      const { id } = await createWealthboxIntegration(ctx, fake);
      const res = await ctx.http.post(`/api/integrations/${id}/sync?wait=true`).set(admin);
      // The other 3 contacts and the firm's staff are written.
      expect(res.body.data).toMatchObject({ status: 'partial', created: 3 + fake.staff.length, failed: 2 });
      const [run] = await ctx.sql<{ details: { failures: { externalId: string }[] } }>('SELECT details FROM sync_runs WHERE id = $1', [
        res.body.data.runId,
      ]);
      expect(run.details.failures.map((f) => f.externalId).sort()).toEqual(['wealthbox:2', 'wealthbox:3']);
    } finally {
      await fake.stop();
    }
  });

  /** A HubSpot integration of a new organization, on `fake`; its id. */
  async function hubspotIntegration(fake: FakeHubSpot): Promise<number> {
    const org = await createOrganization(ctx);
    const config = { accessToken: fake.token, appSecret: fake.appSecret, baseUrl: fake.url };
    const made = await ctx.http
      .post('/api/integrations')
      .set(admin)
      .send({ organizationId: org.id, provider: 'hubspot', name: 'HubSpot', config });
    expect(made.status).toBe(201);
    return made.body.data.id as number;
  }

  it('a contact whose change time PostgreSQL cannot store (year 0) fails alone in the pull; the others are written', async () => {
    const fake = await new FakeHubSpot({ contacts: 5, seed: 7 }).start();
    try {
      const [odd] = [...fake.contacts.values()];
      odd.updatedAt = new Date('0000-06-01T00:00:00.000Z');
      const res = await ctx.http.post(`/api/integrations/${await hubspotIntegration(fake)}/sync?wait=true`).set(admin);
      expect(res.body.data).toMatchObject({ status: 'partial', created: 4, failed: 1 });
      const [run] = await ctx.sql<{ details: { failures: { externalId: string; reason: string }[] } }>(
        'SELECT details FROM sync_runs WHERE id = $1',
        [res.body.data.runId],
      );
      expect(run.details.failures).toEqual([
        { externalId: `hubspot:${odd.id}`, reason: 'record.updatedAt is a time outside the years 1 to 9999 (UTC), which cannot be stored' },
      ]);
    } finally {
      await fake.stop();
    }
  });

  it('a contact stamped in the future does not move the incremental mark past the run; a mark already there counts as none', async () => {
    const fake = await new FakeHubSpot({ contacts: 4, seed: 8 }).start();
    try {
      const [ahead, other] = [...fake.contacts.values()];
      ahead.updatedAt = new Date('2099-01-01T00:00:00.000Z');
      const id = await hubspotIntegration(fake);
      const cursor = async () =>
        (await ctx.sql<{ c: { updatedSince: string } }>('SELECT sync_cursor AS c FROM integrations WHERE id = $1', [id]))[0].c.updatedSince;
      const sync = (mode: string) => ctx.http.post(`/api/integrations/${id}/sync?wait=true&mode=${mode}`).set(admin);
      expect((await sync('full')).body.data).toMatchObject({ status: 'succeeded', created: 4 });
      expect(Date.parse(await cursor())).toBeLessThanOrEqual(Date.now());
      // The ordering guard keeps no time for it (more than five minutes ahead), so its later
      // changes are not stale until 2099.
      const [held] = await ctx.sql<{ at: string | null }>(
        `SELECT data->>'sourceUpdatedAt' AS at FROM user_identities WHERE provider = 'hubspot' AND external_id = $1`,
        [ahead.id],
      );
      expect(held.at).toBeNull();
      // A change after that run is found by the next incremental one.
      fake.updateContact(other.id, { jobtitle: 'Changed after the mark' });
      expect((await sync('incremental')).body.data).toMatchObject({ status: 'succeeded', updated: 1 });
      // A mark written in the future before this fix: the next run reads everything.
      await ctx.sql(
        `UPDATE integrations SET sync_cursor = jsonb_set(sync_cursor, '{updatedSince}', '"2099-01-01T00:00:00.000Z"') WHERE id = $1`,
        [id],
      );
      fake.updateContact(other.id, { jobtitle: 'Changed behind a future mark' });
      const after = await sync('incremental');
      expect(after.body.data).toMatchObject({ status: 'succeeded', updated: 1 });
      const [run] = await ctx.sql<{ operation: string }>('SELECT operation FROM sync_runs WHERE id = $1', [after.body.data.runId]);
      expect(run.operation).toBe('full');
      expect(Date.parse(await cursor())).toBeLessThanOrEqual(Date.now());
    } finally {
      await fake.stop();
    }
  });

  it('an integration deleted while its run fails leaves a failed outcome, not an unhandled rejection', async () => {
    const fake = await new FakeWealthbox({ contacts: 5 }).start();
    try {
      const { id } = await createWealthboxIntegration(ctx, fake);
      fake.slowDown(300);
      fake.failNext(10, 500);
      const { done } = await ctx.services.pull.start(id, { mode: 'full', trigger: 'manual' });
      await ctx.sql('DELETE FROM integrations WHERE id = $1', [id]);
      await expect(done).resolves.toMatchObject({ status: 'failed' });
    } finally {
      await fake.stop();
    }
  });
});

describe('webhook routing keys (locationId) are unique per provider', () => {
  let ctx: TestContext;
  const template = uniq('routed').replace(/-/g, '_');

  beforeAll(async () => {
    ctx = await createTestContext();
    const res = await ctx.http
      .post('/api/integration-templates')
      .set(admin)
      .send({
        name: template,
        displayName: 'Routed CRM',
        category: 'CRM',
        configSchema: {
          type: 'object',
          required: ['apiKey', 'locationId'],
          properties: { apiKey: { type: 'string', format: 'password' }, locationId: { type: 'string' }, webhookSecret: { type: 'string' } },
        },
      });
    expect(res.status).toBe(201);
  });
  afterAll(() => ctx.close());

  const create = (organizationId: number, locationId: string) =>
    ctx.http
      .post('/api/integrations')
      .set(admin)
      .send({ organizationId, provider: template, name: 'r', config: { apiKey: 'k'.repeat(10), locationId, webhookSecret: SECRET } });

  it('a second claim of a locationId is 409 at create and at PATCH; the first tenant keeps its events', async () => {
    const a = await createOrganization(ctx);
    const b = await createOrganization(ctx);
    const loc = uniq('loc');
    const first = await create(a.id, loc);
    expect(first.status).toBe(201);
    const clash = await create(b.id, loc);
    expectNamedError(clash, 409);
    expect(clash.body.code).toBe('routing_key_in_use');
    const other = await create(b.id, uniq('loc'));
    expect(other.status).toBe(201);
    const patched = await ctx.http
      .patch(`/api/integrations/${other.body.data.id}`)
      .set(admin)
      .send({ config: { locationId: loc } });
    expect(patched.status).toBe(409);
    expect(patched.body.code).toBe('routing_key_in_use');

    // A's correctly signed event reaches A, whatever else exists.
    const raw = JSON.stringify({
      id: uniq('e'),
      type: 'contact.created',
      source: template,
      payload: { id: 'c1', locationId: loc, email: 'a@example.com' },
    });
    const res = await ctx.http
      .post('/api/webhook')
      .set({ 'Content-Type': 'application/json', 'x-webhook-signature': sign(raw) })
      .send(raw);
    expect(res.status).toBe(202);
    const [stored] = await ctx.sql<{ integration_id: number }>('SELECT integration_id FROM inbound_events WHERE id = $1', [
      res.body.eventId,
    ]);
    expect(stored.integration_id).toBe(first.body.data.id);

    // Once A's organization is deleted, B may claim it.
    expect((await ctx.http.delete(`/api/organizations/${a.id}`).set(admin)).status).toBe(204);
    expect(
      (
        await ctx.http
          .patch(`/api/integrations/${other.body.data.id}`)
          .set(admin)
          .send({ config: { locationId: loc } })
      ).status,
    ).toBe(200);
  });

  it('ten concurrent creates for one organization and provider: one 201, the rest 409 integration_exists', async () => {
    // Over real sockets, all at once: the check-then-insert window is a few milliseconds.
    const server = ctx.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/integrations`;
      for (let round = 0; round < 3; round++) {
        const org = await createOrganization(ctx);
        const answers = await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const res = await fetch(url, {
              method: 'POST',
              headers: { ...admin, 'Content-Type': 'application/json' },
              body: JSON.stringify({
                organizationId: org.id,
                provider: template,
                name: 'r',
                config: { apiKey: 'k'.repeat(10), locationId: uniq(`loc${i}`) },
              }),
            });
            return { status: res.status, body: (await res.json()) as { code?: string } };
          }),
        );
        expect(answers.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(409)]);
        expect(new Set(answers.filter((r) => r.status === 409).map((r) => r.body.code))).toEqual(new Set(['integration_exists']));
        expect(await ctx.sql('SELECT count(*)::int AS n FROM integrations WHERE organization_id = $1', [org.id])).toEqual([{ n: 1 }]);
      }
    } finally {
      server.close();
    }
  });

  it('credentials named as secrets are sealed and masked even when the schema does not mark them', async () => {
    const name = uniq('named').replace(/-/g, '_');
    await ctx.http
      .post('/api/integration-templates')
      .set(admin)
      .send({
        name,
        displayName: 'Named secrets',
        category: 'CRM',
        configSchema: {
          type: 'object',
          properties: {
            clientId: { type: 'string' },
            clientSecret: { type: 'string' },
            accessToken: { type: 'string' },
            region: { type: 'string' },
          },
        },
      });
    const org = await createOrganization(ctx);
    const values = { clientId: 'client-id-1234567', clientSecret: 'client-secret-7654321', accessToken: 'access-token-abcdef' };
    const res = await ctx.http
      .post('/api/integrations')
      .set(admin)
      .send({ organizationId: org.id, provider: name, name: 'n', config: { ...values, region: 'eu' } });
    expect(res.status).toBe(201);
    const shown = JSON.stringify(res.body);
    for (const v of Object.values(values)) expect(shown).not.toContain(v);
    expect(res.body.data.config.region).toBe('eu');
    const [row] = await ctx.sql<{ config: string; secrets: string }>('SELECT config::text, secrets::text FROM integrations WHERE id = $1', [
      res.body.data.id,
    ]);
    for (const v of Object.values(values)) expect(row.config + row.secrets).not.toContain(v);
    expect(Object.keys(JSON.parse(row.secrets)).sort()).toEqual(['accessToken', 'clientId', 'clientSecret']);
  });
});

describe('SSRF through integration URLs', () => {
  let strict: TestContext;
  let target: http.Server;
  let hits = 0;
  let targetUrl = '';

  beforeAll(async () => {
    strict = await createTestContext({ ALLOW_PRIVATE_URLS: 'false' });
    target = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: 1, name: 'internal admin', email: 'secret@internal' }));
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    await strict.close();
    await new Promise((r) => target.close(r));
  });

  it.each([
    ['loopback', () => targetUrl],
    ['cloud metadata', () => 'http://169.254.169.254/latest'],
    ['private range', () => 'http://10.1.2.3/v1'],
    ['IPv6 loopback', () => 'http://[::1]:8080/v1'],
    ['not http', () => 'file:///etc/passwd'],
  ])('a %s baseUrl is refused at create (400 naming body.config.baseUrl)', async (_what, url) => {
    const org = await createOrganization(strict);
    const res = await strict.http
      .post('/api/integrations')
      .set(admin)
      .send({ organizationId: org.id, provider: 'wealthbox', name: 'w', config: { apiKey: 'abcdefgh12', baseUrl: url() } });
    expectNamedError(res, 400, 'body.config.baseUrl');
  });

  it('and at PATCH; one stored before the guard is never called: the test fails without a request', async () => {
    // Stored through an instance that allows private URLs (as before this guard existed).
    const permissive = await createTestContext({ DATABASE_URL: strict.databaseUrl, ALLOW_PRIVATE_URLS: 'true' });
    let id: number;
    try {
      const org = await createOrganization(permissive);
      const made = await permissive.http
        .post('/api/integrations')
        .set(admin)
        .send({ organizationId: org.id, provider: 'wealthbox', name: 'w', config: { apiKey: 'abcdefgh12', baseUrl: targetUrl } });
      expect(made.status).toBe(201);
      id = made.body.data.id;
    } finally {
      await permissive.close();
    }
    const patched = await strict.http
      .patch(`/api/integrations/${id}`)
      .set(admin)
      .send({ config: { baseUrl: 'http://169.254.169.254/' } });
    expectNamedError(patched, 400, 'body.config.baseUrl');
    const before = hits;
    const tested = await strict.http.post(`/api/integrations/${id}/test`).set(admin);
    expect(tested.status).toBe(200);
    expect(tested.body.success).toBe(false);
    expect(JSON.stringify(tested.body)).not.toContain('internal admin');
    expect(hits).toBe(before);
  });

  it('a CRM that redirects to another host is not followed', async () => {
    const permissive = await createTestContext({ ALLOW_PRIVATE_URLS: 'true' });
    const redirector = http.createServer((_req, res) => {
      res.writeHead(302, { Location: `${targetUrl}/me` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', () => r()));
    try {
      const org = await createOrganization(permissive);
      const made = await permissive.http
        .post('/api/integrations')
        .set(admin)
        .send({
          organizationId: org.id,
          provider: 'wealthbox',
          name: 'w',
          config: { apiKey: 'abcdefgh12', baseUrl: `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/v1` },
        });
      const before = hits;
      const tested = await permissive.http.post(`/api/integrations/${made.body.data.id}/test`).set(admin);
      expect(tested.body.success).toBe(false);
      expect(tested.body.message).toContain('redirect');
      expect(hits).toBe(before);
    } finally {
      await permissive.close();
      await new Promise((r) => redirector.close(r));
    }
  });
});

describe('tenants and instances', () => {
  it('GET /api/sync/jobs shows each job its own last run, and an organization key only its own', async () => {
    const ctx = await createTestContext();
    const fakeA = await new FakeWealthbox({ contacts: 2 }).start();
    const fakeB = await new FakeWealthbox({ contacts: 2 }).start();
    try {
      const a = await createWealthboxIntegration(ctx, fakeA);
      const b = await createWealthboxIntegration(ctx, fakeB);
      const incremental = ctx.services.jobs.jobs.find((j) => j.name === 'incremental-sync');
      const result = await incremental?.run();
      const runOf = (integrationId: number) => result?.outcomes.find((o) => o.integrationId === integrationId)?.runId;
      expect(runOf(a.id)).toBeLessThan(runOf(b.id) as number);
      const jobs = async (key: string) =>
        (await ctx.http.get('/api/sync/jobs').set('x-api-key', key)).body.data as { name: string; lastRun: { id: number } | null }[];
      const asA = await jobs(await createOrganizationKey(ctx, a.orgId));
      expect(asA.find((j) => j.name === 'incremental-sync')?.lastRun?.id).toBe(runOf(a.id));
      // No nightly run happened: the incremental one is not the nightly job's last run.
      expect(asA.find((j) => j.name === 'nightly-full-sync')?.lastRun).toBeNull();
      const asAdmin = await jobs(ADMIN_KEY);
      expect(asAdmin.find((j) => j.name === 'incremental-sync')?.lastRun?.id).toBe(runOf(b.id));
    } finally {
      await ctx.close();
      await fakeA.stop();
      await fakeB.stop();
    }
  });

  it("two instances starting at once in seed 000's single-tenant mode make one default organization with one integration", async () => {
    // A fresh database each round: both instances bootstrap it together.
    for (let round = 0; round < 3; round++) {
      const db = await createTestDatabase();
      const env = { DATABASE_URL: db, WEALTHBOX_API_KEY: 'wb-token-123456' };
      const both = await Promise.all([createTestContext(env), createTestContext(env)]);
      try {
        const rows = await both[0].sql<{ slug: string; n: number }>(
          "SELECT o.slug, count(i.id)::int AS n FROM organizations o LEFT JOIN integrations i ON i.organization_id = o.id WHERE o.slug LIKE 'default%' GROUP BY o.slug",
        );
        expect(rows).toEqual([{ slug: 'default', n: 1 }]);
      } finally {
        await Promise.all(both.map((c) => c.close()));
      }
    }
  });
});
