import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGoHighLevel, type FakeGhlContact } from '../../fake-crm/gohighlevel/fake-gohighlevel';
import { createOrganization } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/** The GoHighLevel provider through the HTTP API, against the fake HighLevel. */
let ctx: TestContext;
let fake: FakeGoHighLevel;
let server: Server;
let hookUrl: string;
let orgId: number;
let id: number;

const admin = {
  get: (p: string) => ctx.http.get(p).set('x-api-key', ADMIN_KEY),
  post: (p: string, body: object = {}) => ctx.http.post(p).set('x-api-key', ADMIN_KEY).send(body),
  patch: (p: string, body: object) => ctx.http.patch(p).set('x-api-key', ADMIN_KEY).send(body),
};

beforeAll(async () => {
  ctx = await createTestContext();
  fake = await new FakeGoHighLevel({ contacts: 120, seed: 5 }).start();
  server = await new Promise<Server>((resolve) => {
    const s = ctx.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks/gohighlevel`;
  orgId = (await createOrganization(ctx)).id;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await fake?.stop();
  await ctx?.close();
});

const ghlConfig = () => ({ apiKey: fake.token, locationId: fake.locationId, baseUrl: fake.url, webhookPublicKey: fake.publicKeyPem });

/** The user a HighLevel contact became in our organization (through its identity), if any. */
async function userOf(externalId: string) {
  const [row] = await ctx.sql<{ id: number; name: string; email: string | null; source: string; data: Record<string, unknown> }>(
    `SELECT u.id, u.name, u.email, u.source, ui.data FROM users u JOIN user_identities ui ON ui.user_id = u.id
      WHERE ui.organization_id = $1 AND ui.provider = 'gohighlevel' AND ui.external_id = $2`,
    [orgId, externalId],
  );
  return row;
}

const identities = async () =>
  (
    await ctx.sql<{ n: number }>(`SELECT count(*)::int AS n FROM user_identities WHERE organization_id = $1 AND provider = 'gohighlevel'`, [
      orgId,
    ])
  )[0].n;

const sync = async (mode: 'full' | 'incremental') => {
  const res = await admin.post(`/api/integrations/${id}/sync?mode=${mode}&wait=true`);
  expect(res.status).toBe(200);
  return res.body.data as { status: string; created: number; updated: number; unchanged: number; deleted: number; error: string | null };
};

/** A webhook body for `c` stamped now (the fake stamps creations with their dateAdded, weeks ago). */
const event = (
  type: 'ContactCreate' | 'ContactUpdate' | 'ContactDelete',
  c: FakeGhlContact,
  opts: { timestamp?: Date; webhookId?: string } = {},
) => fake.contactEvent(type, c, { timestamp: new Date(), ...opts });

const inbound = (status?: string) =>
  ctx.sql<{ id: number; event_type: string; status: string; outcome: string | null }>(
    `SELECT id, event_type, status, outcome FROM inbound_events WHERE integration_id = $1 ${status ? 'AND status = $2' : ''} ORDER BY id`,
    status ? [id, status] : [id],
  );

describe('GoHighLevel through the API', () => {
  it('when the service starts, then the built-in gohighlevel template has seed 002’s schema on API v2', async () => {
    const res = await admin.get('/api/integration-templates');
    const t = res.body.data.find((x: { name: string }) => x.name === 'gohighlevel');
    expect(t).toMatchObject({ displayName: 'GoHighLevel CRM', category: 'CRM', builtIn: true, apiVersion: '2021-07-28' });
    expect(t.webhookUrl).toBe('/api/webhooks/gohighlevel');
    expect(t.configSchema.required).toEqual(['apiKey', 'locationId']);
    expect(t.configSchema.properties).toMatchObject({
      apiKey: { format: 'password' },
      clientSecret: { format: 'password' },
      apiVersion: { default: '2021-07-28' },
      baseUrl: { default: 'https://services.leadconnectorhq.com', format: 'uri' },
      webhookPublicKey: { type: 'string' },
    });
  });

  it('when the integration is created and tested, then GET /locations/{id} names the location and it becomes active', async () => {
    const created = await admin.post('/api/integrations', {
      organizationId: orgId,
      provider: 'gohighlevel',
      name: 'GHL',
      config: ghlConfig(),
    });
    expect(created.status).toBe(201);
    id = created.body.data.id;
    expect(created.body.data.config).toMatchObject({
      locationId: fake.locationId,
      apiVersion: '2021-07-28',
      apiKey: expect.stringMatching(/^••••/),
    });
    expect(JSON.stringify(created.body)).not.toContain(fake.token);
    const tested = await admin.post(`/api/integrations/${id}/test`);
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({
      success: true,
      message: expect.stringContaining('Fake Dental Studio'),
      data: { account: 'Fake Dental Studio' },
    });
    expect((await admin.get(`/api/integrations/${id}`)).body.data.status).toBe('active');
  });

  it('when the config is not HighLevel’s (a webhook key that is no key, seed 002’s old apiVersion "v1"), then 400', async () => {
    const other = await createOrganization(ctx);
    const res = await admin.post('/api/integrations', {
      organizationId: other.id,
      provider: 'gohighlevel',
      name: 'GHL bad',
      config: { ...ghlConfig(), locationId: 'AnotherLocation00001', webhookPublicKey: 'not a key', apiVersion: 'v1' },
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'body.config.apiVersion',
      'body.config.webhookPublicKey',
    ]);
  });

  it('when a second integration claims the same locationId, then 409', async () => {
    const other = await createOrganization(ctx);
    const res = await admin.post('/api/integrations', {
      organizationId: other.id,
      provider: 'gohighlevel',
      name: 'GHL 2',
      config: ghlConfig(),
    });
    expect(res.status).toBe(409);
  });

  it('when a full sync runs, then every contact becomes a user', async () => {
    const run = await sync('full');
    expect(run).toMatchObject({ status: 'succeeded', created: 120, deleted: 0, error: null });
    expect(await identities()).toBe(120);
    const c = fake.contactsIn().find((x) => x.email) as FakeGhlContact;
    expect(await userOf(c.id)).toMatchObject({
      name: `${c.firstName} ${c.lastName}`,
      email: (c.email as string).toLowerCase(),
      source: 'gohighlevel',
    });
  });

  it('when an incremental sync runs, then the edited and added contacts are applied', async () => {
    const [edited] = fake.contactsIn().slice(3, 4);
    fake.updateContact(edited.id, { firstName: 'Renamed' });
    const [added] = fake.addContacts(1);
    fake.takeWebhookEvents();
    const run = await sync('incremental');
    expect(run).toMatchObject({ status: 'succeeded', created: 1, updated: 1, deleted: 0 });
    expect((await userOf(edited.id))?.name).toBe(`Renamed ${edited.lastName}`);
    expect(await userOf(added.id)).toBeDefined();
  });

  it('when a contact is deleted in HighLevel, then the next full sync finds it gone (GET 404) and removes it', async () => {
    const [gone] = fake.contactsIn().slice(7, 8);
    fake.deleteContact(gone.id);
    fake.takeWebhookEvents();
    const run = await sync('full');
    expect(run).toMatchObject({ status: 'succeeded', deleted: 1 });
    expect(await userOf(gone.id)).toBeUndefined();
    expect(await identities()).toBe(120);
  });

  describe('webhooks at POST /api/webhooks/gohighlevel', () => {
    it('when a signed ContactCreate arrives, then it is stored (202) and the worker creates the user', async () => {
      const [c] = fake.addContacts(1);
      const res = await fake.deliver(hookUrl, event('ContactCreate', c));
      expect(res.status).toBe(202);
      await ctx.services.inboxWorker.drain();
      expect(await userOf(c.id)).toMatchObject({ email: c.email?.toLowerCase() ?? null, name: `${c.firstName} ${c.lastName}` });
    });

    it.each([
      ['signed with another key', { signature: 'bad' as const }, 'invalid_signature'],
      ['unsigned', { signature: 'none' as const }, 'missing_signature'],
      ['"N/A"', { signature: 'N/A' as const }, 'invalid_signature'],
      ['tampered after signing', { tamperBody: '' }, 'invalid_signature'],
    ])('when a delivery is %s, then 401 and nothing is stored', async (_what, opts, code) => {
      const before = (await inbound()).length;
      const c = fake.contactsIn()[10];
      const body = event('ContactUpdate', c);
      const res = await fake.deliver(
        hookUrl,
        body,
        'tamperBody' in opts ? { tamperBody: JSON.stringify({ ...body, email: 'evil@example.com' }) } : opts,
      );
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).code).toBe(code);
      expect((await inbound()).length).toBe(before);
    });

    it('when the signed timestamp is older than 5 minutes, then 401 stale_signature', async () => {
      const res = await fake.deliver(hookUrl, event('ContactUpdate', fake.contactsIn()[11]), {
        timestamp: new Date(Date.now() - 10 * 60_000),
      });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).code).toBe('stale_signature');
    });

    it('when a signed body has no contact id, then 400; an unknown location, 404', async () => {
      const { id: _id, ...noId } = event('ContactUpdate', fake.contactsIn()[12]);
      expect((await fake.deliver(hookUrl, noId)).status).toBe(400);
      expect(
        (await fake.deliver(hookUrl, { ...event('ContactUpdate', fake.contactsIn()[12]), locationId: 'UnknownLocation00000' })).status,
      ).toBe(404);
    });

    it('when the same webhookId arrives twice, then the second is a duplicate and changes nothing', async () => {
      const c = fake.updateContact(fake.contactsIn()[13].id, { lastName: 'Twice' });
      const body = fake.takeWebhookEvents().find((e) => e.id === c.id && e.type === 'ContactUpdate') as Record<string, unknown>;
      const first = await fake.deliver(hookUrl, body);
      const again = await fake.deliver(hookUrl, body);
      expect([first.status, again.status]).toEqual([202, 200]);
      expect(JSON.parse(again.body)).toMatchObject({ duplicate: true });
      await ctx.services.inboxWorker.drain();
      expect((await userOf(c.id))?.name).toBe(`${c.firstName} Twice`);
      expect((await inbound()).filter((e) => e.event_type === 'ContactUpdate' && e.status === 'processed').length).toBeGreaterThan(0);
    });

    it('when an older ContactUpdate arrives after a newer one, then the newer data stays', async () => {
      const target = fake.contactsIn()[14];
      fake.updateContact(target.id, { firstName: 'Older' });
      fake.updateContact(target.id, { firstName: 'Newer' });
      const [older, newer] = fake.takeWebhookEvents().filter((e) => e.id === target.id);
      expect(Date.parse(older.timestamp)).toBeLessThan(Date.parse(newer.timestamp));
      expect((await fake.deliver(hookUrl, newer)).status).toBe(202);
      await ctx.services.inboxWorker.drain();
      expect((await fake.deliver(hookUrl, older)).status).toBe(202);
      await ctx.services.inboxWorker.drain();
      expect((await userOf(target.id))?.name).toBe(`Newer ${target.lastName}`);
      const [last] = (await inbound()).slice(-1);
      expect(last).toMatchObject({ status: 'processed', outcome: 'stale' });
    });

    it('when a ContactDelete arrives, then the contact’s identity is removed', async () => {
      const target = fake.contactsIn()[15];
      expect(await userOf(target.id)).toBeDefined();
      fake.deleteContact(target.id);
      const [body] = fake.takeWebhookEvents().filter((e) => e.type === 'ContactDelete');
      expect((await fake.deliver(hookUrl, body)).status).toBe(202);
      await ctx.services.inboxWorker.drain();
      expect(await userOf(target.id)).toBeUndefined();
    });

    it('when seed 002’s envelope (POST /api/webhook, contact.created) names the location, then it still reaches this integration', async () => {
      const secret = 'ghl-envelope-secret-1';
      expect((await admin.patch(`/api/integrations/${id}`, { config: { webhookSecret: secret } })).status).toBe(200);
      const raw = JSON.stringify({
        type: 'contact.created',
        source: 'gohighlevel',
        payload: { id: 'envelope-contact-1', locationId: fake.locationId, firstName: 'Enve', lastName: 'Lope', email: 'Enve@Example.com' },
      });
      const res = await ctx.http
        .post('/api/webhook')
        .set({ 'Content-Type': 'application/json', 'x-webhook-signature': createHmac('sha256', secret).update(raw).digest('hex') })
        .send(raw);
      expect(res.status).toBe(202);
      await ctx.services.inboxWorker.drain();
      expect(await userOf('envelope-contact-1')).toMatchObject({ name: 'Enve Lope', email: 'enve@example.com' });
    });

    it('when another event type arrives signed, then it is accepted and ignored', async () => {
      const res = await fake.deliver(hookUrl, {
        type: 'OpportunityCreate',
        locationId: fake.locationId,
        id: 'opp00000000000000001',
        timestamp: new Date().toISOString(),
        webhookId: 'opp-event-1',
      });
      expect(res.status).toBe(202);
      await ctx.services.inboxWorker.drain();
      const [last] = (await inbound()).slice(-1);
      expect(last).toMatchObject({ event_type: 'OpportunityCreate', status: 'processed' });
    });
  });
});
