import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeHubSpot, type HubSpotWebhookEvent } from '../../fake-crm/hubspot/fake-hubspot';
import { createOrganization } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * HubSpot end to end, over HTTP: the service against the fake HubSpot (connection test,
 * syncs), and the fake delivering signed webhooks to the service listening on 127.0.0.1.
 * The service stands behind a "proxy": HubSpot calls (and signs) PUBLIC_BASE_URL, the
 * request lands on the local port; the service rebuilds the signed URL from PUBLIC_BASE_URL.
 */
const PUBLIC_BASE_URL = 'https://hooks.example.test';
const PATH = '/api/webhooks/hubspot';

let fake: FakeHubSpot;
let ctx: TestContext;
let server: Server;
let local: string;
let orgId: number;
let id: number;

const admin = {
  get: (path: string) => ctx.http.get(path).set('x-api-key', ADMIN_KEY),
  post: (path: string, body?: object) => ctx.http.post(path).set('x-api-key', ADMIN_KEY).send(body),
};
const sync = (mode: 'full' | 'incremental') => admin.post(`/api/integrations/${id}/sync?mode=${mode}&wait=true`);

/** HubSpot's delivery: signed for the public URL (unless told otherwise), landing on the local port. */
const deliver = (events: HubSpotWebhookEvent[], o: Parameters<FakeHubSpot['deliver']>[2] & { query?: string } = {}) =>
  fake.deliver(`${local}${PATH}${o.query ?? ''}`, events, { signedUrl: `${PUBLIC_BASE_URL}${PATH}${o.query ?? ''}`, ...o });

/** The user a HubSpot contact became (through its identity, or the tombstone once deleted). */
async function user(externalId: string) {
  const rows = await ctx.sql<{ name: string; email: string | null; title: string | null; deleted_at: Date | null }>(
    `SELECT u.name, u.email, u.title, u.deleted_at FROM users u
     WHERE u.id = COALESCE(
       (SELECT user_id FROM user_identities WHERE organization_id = $1 AND provider = 'hubspot' AND external_id = $2),
       (SELECT user_id FROM tombstones WHERE organization_id = $1 AND provider = 'hubspot' AND external_id = $2))`,
    [orgId, externalId],
  );
  return rows[0];
}
const linked = async () =>
  (
    await ctx.sql<{ external_id: string }>(
      `SELECT external_id FROM user_identities WHERE organization_id = $1 AND provider = 'hubspot' ORDER BY external_id::bigint`,
      [orgId],
    )
  ).map((r) => r.external_id);
const live = () => [...fake.contacts.values()].filter((c) => c.archivedAt === null).map((c) => c.id);
const stored = () =>
  ctx.sql<{ dedupe_key: string; event_type: string; status: string; outcome: string | null }>(
    'SELECT dedupe_key, event_type, status, outcome FROM inbound_events WHERE integration_id = $1 ORDER BY id',
    [id],
  );

beforeAll(async () => {
  fake = await new FakeHubSpot({ contacts: 150, seed: 31, portalId: 62515 }).start();
  ctx = await createTestContext({ PUBLIC_BASE_URL });
  server = ctx.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await ctx.close();
  await fake.stop();
});

describe('HubSpot integration through the API', () => {
  it('when the integration is created, then hubspot is a built-in template and the secrets are masked', async () => {
    const templates = (await admin.get('/api/integration-templates')).body.data as { name: string }[];
    expect(templates.find((t) => t.name === 'hubspot')).toMatchObject({ webhookUrl: PATH, apiVersion: 'v3' });
    orgId = (await createOrganization(ctx)).id;
    const res = await admin.post('/api/integrations', {
      organizationId: orgId,
      provider: 'hubspot',
      name: 'HubSpot',
      config: { accessToken: fake.token, appSecret: fake.appSecret, baseUrl: fake.url },
    });
    expect(res.status).toBe(201);
    id = res.body.data.id;
    expect(res.body.data.config).toMatchObject({ baseUrl: fake.url, searchRequestsPerSecond: 4 });
    expect(res.body.data.config.accessToken).not.toContain(fake.token);
    expect(res.body.data.config.appSecret).not.toContain(fake.appSecret);
    expect(res.body.data.config.portalId).toBeUndefined();
  });

  it('when a webhook names a portal no integration has, then 404', async () => {
    // Not our portal before its connection test: the service caches a miss for a few seconds,
    // and this file's webhooks would then wait that out.
    const res = await deliver([{ ...fake.webhookEvents({ type: 'contact.creation', objectId: 101 })[0], portalId: 424242 }]);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'integration_not_found' });
  });

  it('when the connection is tested, then the portalId is learned and kept in the config', async () => {
    const res = await admin.post(`/api/integrations/${id}/test`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { account: 'HubSpot portal 62515', details: { portalId: '62515' } } });
    const after = (await admin.get(`/api/integrations/${id}`)).body.data;
    expect(after).toMatchObject({ status: 'active', config: { portalId: '62515' } });
  });

  it('when a full sync runs, then every contact becomes a user', async () => {
    const res = await sync('full');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'succeeded', total: 150, created: 150, failed: 0 });
    expect(await linked()).toEqual(live());
    const c = fake.contact(live()[0]);
    expect(await user(c.id)).toMatchObject({
      name: `${c.properties.firstname} ${c.properties.lastname}`,
      email: c.properties.email,
      title: c.properties.jobtitle,
      deleted_at: null,
    });
  });

  it('when contacts change and are added, then an incremental sync brings exactly those through the search API', async () => {
    const [a, b] = live();
    fake.updateContact(a, { jobtitle: 'Chief Incremental Officer' });
    fake.updateContact(b, { email: 'Renamed.B@Example.com', firstname: 'Renamed' });
    const [added] = fake.addContacts(1);
    const searchesBefore = fake.requests.filter((r) => r.path.endsWith('/search')).length;
    const res = await sync('incremental');
    expect(res.body.data).toMatchObject({ status: 'succeeded', failed: 0 });
    expect(res.body.data.created).toBe(1);
    expect(res.body.data.updated).toBe(2);
    expect(fake.requests.filter((r) => r.path.endsWith('/search')).length).toBeGreaterThan(searchesBefore);
    expect(await user(a)).toMatchObject({ title: 'Chief Incremental Officer' });
    expect(await user(b)).toMatchObject({ email: 'renamed.b@example.com', name: `Renamed ${fake.contact(b).properties.lastname}` });
    expect(await user(added.id)).toMatchObject({ deleted_at: null });
  });

  it('when contacts are archived at HubSpot, then an incremental sync deletes their users', async () => {
    const [, , c, d] = live();
    fake.archiveContact(c);
    fake.archiveContact(d);
    const res = await sync('incremental');
    expect(res.body.data).toMatchObject({ status: 'succeeded', deleted: 2 });
    expect(await linked()).toEqual(live());
    expect((await user(c)).deleted_at).not.toBeNull();
  });

  it('when a contact is archived and a full sync runs, then the batch read confirms it is gone and its user is deleted', async () => {
    const [e] = live();
    fake.archiveContact(e);
    const res = await sync('full');
    expect(res.body.data).toMatchObject({ status: 'succeeded', deleted: 1 });
    expect(await linked()).toEqual(live());
  });
});

describe('HubSpot webhooks to POST /api/webhooks/hubspot', () => {
  beforeAll(() => {
    fake.takeWebhookEvents(); // the changes made by the sync tests are not news here
  });

  it('when HubSpot delivers signed changes, then they are stored, and the worker reads the contacts and applies them', async () => {
    const [a, b] = live();
    fake.updateContact(a, { firstname: 'Hooked' });
    fake.updateContact(b, { hs_lead_status: 'NEW' }); // a property we do not keep
    const [created] = fake.addContacts(1);
    const [gone] = live().slice(5, 6);
    fake.archiveContact(gone);
    const events = fake.takeWebhookEvents();
    const sentAt = Date.now();
    const res = await deliver(events);
    expect(res.status).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ received: true, duplicate: false, events: expect.any(Array) });
    await ctx.services.inboxWorker.drain();
    // The contacts to read were read in batches (one, unless the background worker claimed
    // part of the request first); the one whose unkept property changed was not read.
    const reads = fake.requests.filter((r) => r.path.endsWith('/batch/read') && r.at >= sentAt);
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(reads.length).toBeLessThanOrEqual(2);
    const read = reads.flatMap((r) => (r.body as { inputs: { id: string }[] }).inputs.map((i) => i.id));
    expect(read.sort()).toEqual([a, created.id].sort());
    expect(await user(a)).toMatchObject({ name: `Hooked ${fake.contact(a).properties.lastname}`, deleted_at: null });
    expect(await user(created.id)).toMatchObject({ email: created.properties.email, deleted_at: null });
    expect((await user(gone)).deleted_at).not.toBeNull();
    const rows = await stored();
    expect(rows.slice(-events.length).map((r) => [r.event_type, r.status])).toEqual(events.map((e) => [e.subscriptionType, 'processed']));
    expect(rows.find((r) => r.dedupe_key === `id:${events[1].eventId}:${events[1].objectId}:${events[1].occurredAt}`)?.outcome).toBe(
      'ignored',
    );
  });

  it('when the target URL has a query with escapes HubSpot decodes before signing, then it verifies', async () => {
    const [a] = live();
    fake.updateContact(a, { jobtitle: 'Queried' });
    const res = await deliver(fake.takeWebhookEvents(), { query: '?tenant=acme%3Aeu&x=%2Fy' });
    expect(res.status).toBe(202);
  });

  it.each([
    ['signed with another secret', { appSecret: 'not-the-app-secret' }, 'invalid_signature'],
    ['changed after signing', { tamperBody: 'tampered' }, 'invalid_signature'],
    ['signed for the URL it landed on, not the public one', { signedUrl: `http://127.0.0.1${PATH}` }, 'invalid_signature'],
    ['signed over 5 minutes ago', { timestamp: Date.now() - 6 * 60_000 }, 'stale_signature'],
  ])('when a delivery is %s, then 401 and nothing is stored', async (_what, opts, code) => {
    const before = (await stored()).length;
    const events = fake.webhookEvents({ type: 'contact.creation', objectId: live()[0] });
    const o = { ...opts } as Parameters<FakeHubSpot['deliver']>[2] & { tamperBody?: string };
    if (o.tamperBody) o.tamperBody = JSON.stringify([{ ...events[0], objectId: 1 }]);
    const res = await deliver(events, o);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ code });
    expect((await stored()).length).toBe(before);
  });

  it('when HubSpot delivers the same events again, then 200 duplicate and nothing new is stored', async () => {
    const [a] = live();
    fake.updateContact(a, { phone: '+1 555 0199' });
    const events = fake.takeWebhookEvents();
    const first = await deliver(events);
    const again = await deliver(events.map((e) => ({ ...e, attemptNumber: 1 })));
    expect([first.status, again.status]).toEqual([202, 200]);
    expect(JSON.parse(again.body)).toMatchObject({ duplicate: true, eventId: JSON.parse(first.body).eventId });
    expect(
      (await stored()).filter((r) => r.dedupe_key === `id:${events[0].eventId}:${events[0].objectId}:${events[0].occurredAt}`),
    ).toHaveLength(1);
    await ctx.services.inboxWorker.drain();
    expect(
      (await stored()).find((r) => r.dedupe_key === `id:${events[0].eventId}:${events[0].objectId}:${events[0].occurredAt}`)?.status,
    ).toBe('processed');
  });

  it('when events arrive out of order, then the contact ends as HubSpot has it now', async () => {
    const [a, b] = live().slice(10, 12);
    fake.updateContact(a, { firstname: 'First' });
    fake.updateContact(a, { firstname: 'Second' });
    fake.updateContact(b, { jobtitle: 'About to go' });
    fake.archiveContact(b);
    const [aFirst, aSecond, bChange, bDeleted] = fake.takeWebhookEvents();
    // Later ones first, each in its own request.
    for (const e of [aSecond, bDeleted, aFirst, bChange]) expect((await deliver([e])).status).toBe(202);
    await ctx.services.inboxWorker.drain();
    expect(await user(a)).toMatchObject({ name: `Second ${fake.contact(a).properties.lastname}`, deleted_at: null });
    expect((await user(b)).deleted_at).not.toBeNull();
  });

  it('when one request carries events of several portals, then ours are stored and the unknown portal’s dropped', async () => {
    const [a] = live().slice(20, 21);
    fake.updateContact(a, { company: 'Hooli' });
    const ours = fake.takeWebhookEvents();
    const theirs = { ...fake.webhookEvents({ type: 'contact.creation', objectId: 5 })[0], portalId: 777 };
    const before = (await stored()).length;
    const res = await deliver([...ours, theirs]);
    expect(res.status).toBe(202);
    expect((await stored()).length).toBe(before + ours.length);
    await ctx.services.inboxWorker.drain();
    const [identity] = await ctx.sql<{ data: Record<string, unknown> }>(
      `SELECT data FROM user_identities WHERE organization_id = $1 AND provider = 'hubspot' AND external_id = $2`,
      [orgId, a],
    );
    expect(identity?.data).toMatchObject({ company: 'Hooli' });
  });

  it('when the body is not HubSpot’s array, then 400 naming the problem', async () => {
    const good = fake.webhookEvents({ type: 'contact.creation', objectId: live()[0] })[0];
    const { objectId: _o, ...noObject } = good;
    const res = await deliver([noObject as HubSpotWebhookEvent]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'invalid_payload', details: [{ path: 'body.0.objectId' }] });
  });
});
