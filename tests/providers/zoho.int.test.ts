import { FakeZoho, type ZohoNotification } from '../../fake-crm/zoho/fake-zoho';
import { createOrganization } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * Zoho CRM end to end, over HTTP: the service against the fake Zoho (connection test, syncs,
 * deletions) and Zoho's notifications posted to the integration's own webhook URL.
 */
let fake: FakeZoho;
let ctx: TestContext;
let orgId: number;
let id: number;

const admin = {
  get: (path: string) => ctx.http.get(path).set('x-api-key', ADMIN_KEY),
  post: (path: string, body?: object) => ctx.http.post(path).set('x-api-key', ADMIN_KEY).send(body),
};
const sync = async (mode: 'full' | 'incremental') => {
  const res = await admin.post(`/api/integrations/${id}/sync?mode=${mode}&wait=true`);
  expect(res.status).toBe(200);
  return res.body.data as {
    status: string;
    total: number;
    created: number;
    updated: number;
    unchanged: number;
    deleted: number;
    failed: number;
  };
};

/** Zoho's POST to the notify_url: JSON, no header of its own. */
const notify = (body: ZohoNotification | Record<string, unknown> | unknown[], path = `/api/webhooks/zoho/${id}`) =>
  ctx.http.post(path).set('Content-Type', 'application/json').send(JSON.stringify(body));

/** The user a Zoho contact became (through its identity, or the tombstone once deleted). */
async function user(externalId: string) {
  const rows = await ctx.sql<{ name: string; email: string | null; title: string | null; deleted_at: Date | null }>(
    `SELECT u.name, u.email, u.title, u.deleted_at FROM users u
     WHERE u.id = COALESCE(
       (SELECT user_id FROM user_identities WHERE organization_id = $1 AND provider = 'zoho' AND external_id = $2),
       (SELECT user_id FROM tombstones WHERE organization_id = $1 AND provider = 'zoho' AND external_id = $2))`,
    [orgId, externalId],
  );
  return rows[0];
}
const linked = async () =>
  (
    await ctx.sql<{ external_id: string }>(
      `SELECT external_id FROM user_identities WHERE organization_id = $1 AND provider = 'zoho' ORDER BY external_id::numeric`,
      [orgId],
    )
  ).map((r) => r.external_id);
const live = () => fake.contactsIn().map((c) => c.id);
const stored = () =>
  ctx.sql<{ dedupe_key: string; event_type: string; status: string; outcome: string | null; payload: string }>(
    'SELECT dedupe_key, event_type, status, outcome, payload::text AS payload FROM inbound_events WHERE integration_id = $1 ORDER BY id',
    [id],
  );
const idsRead = (from: number) =>
  fake.requests
    .slice(from)
    .filter((r) => r.path === '/crm/v8/Contacts' && r.query.ids !== undefined)
    .flatMap((r) => String(r.query.ids).split(','));

beforeAll(async () => {
  fake = await new FakeZoho({ contacts: 150, seed: 31 }).start();
  ctx = await createTestContext();
  orgId = (await createOrganization(ctx)).id;
});
afterAll(async () => {
  await ctx.close();
  await fake.stop();
});

describe('Zoho CRM integration through the API', () => {
  it('when the service starts, then zoho is a built-in template on v8 with its webhook URL', async () => {
    const templates = (await admin.get('/api/integration-templates')).body.data as { name: string }[];
    expect(templates.find((t) => t.name === 'zoho')).toMatchObject({
      displayName: 'Zoho CRM',
      category: 'CRM',
      apiVersion: 'v8',
      webhookUrl: '/api/webhooks/zoho',
    });
  });

  it.each([
    ['no access token', { apiDomain: 'https://www.zohoapis.eu' }, 'body.config.accessToken'],
    ['an API domain that is not a URL', { accessToken: 'x'.repeat(20), apiDomain: 'zohoapis.eu' }, 'body.config.apiDomain'],
    [
      'a webhook token longer than Zoho takes (50)',
      { accessToken: 'x'.repeat(20), webhookToken: 't'.repeat(51) },
      'body.config.webhookToken',
    ],
    ['an API version Zoho does not have', { accessToken: 'x'.repeat(20), apiVersion: 'v1' }, 'body.config.apiVersion'],
    [
      // Any other host is stored but never posted to (see zoho.definition's accountsServerOf).
      'an accounts server that is not a URL',
      { accessToken: 'x'.repeat(20), accountsServer: 'accounts.zoho.eu' },
      'body.config.accountsServer',
    ],
    ['a field Zoho integrations do not have', { accessToken: 'x'.repeat(20), baseUrl: 'https://www.zohoapis.com' }, 'body.config.baseUrl'],
  ])('when the config has %s, then 400 naming the field', async (_what, config, path) => {
    const res = await admin.post('/api/integrations', { organizationId: orgId, provider: 'zoho', name: 'Zoho', config });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
  });

  it('when the integration is created, then the defaults are filled in and the secrets masked', async () => {
    const res = await admin.post('/api/integrations', {
      organizationId: orgId,
      provider: 'zoho',
      name: 'Zoho',
      config: { accessToken: fake.token, apiDomain: fake.url, webhookToken: fake.webhookToken },
    });
    expect(res.status).toBe(201);
    id = res.body.data.id;
    expect(res.body.data.config).toMatchObject({ apiDomain: fake.url, apiVersion: 'v8' });
    expect(JSON.stringify(res.body.data.config)).not.toContain(fake.token);
    expect(JSON.stringify(res.body.data.config)).not.toContain(fake.webhookToken);
  });

  it('when the connection is tested, then it succeeds and names the Zoho org', async () => {
    const res = await admin.post(`/api/integrations/${id}/test`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { account: 'Zylker Fake Co', details: { orgId: '5725767000000020005' } } });
    expect((await admin.get(`/api/integrations/${id}`)).body.data.status).toBe('active');
  });

  it('when a full sync runs, then every contact becomes a user', async () => {
    const run = await sync('full');
    expect(run).toMatchObject({ status: 'succeeded', total: 150, created: 150, failed: 0 });
    expect(await linked()).toEqual(live());
    const c = fake.contactsIn().find((x) => x.First_Name && x.Email && x.Title) as NonNullable<ReturnType<FakeZoho['contactsIn']>[number]>;
    expect(await user(c.id)).toMatchObject({ name: `${c.First_Name} ${c.Last_Name}`, email: c.Email, title: c.Title, deleted_at: null });
  });

  it('when contacts change and one is added, then an incremental sync brings those (If-Modified-Since) and creates the new one', async () => {
    const [a, b] = live();
    fake.updateContact(a, { Title: 'Chief Incremental Officer' });
    fake.updateContact(b, { Email: 'Renamed.B@Example.com', First_Name: 'Renamed' });
    const added = fake.addContact({ First_Name: 'New', Last_Name: 'Person', Email: 'new.person@example.com' });
    const before = fake.requests.length;
    const run = await sync('incremental');
    expect(run).toMatchObject({ status: 'succeeded', created: 1, updated: 2, failed: 0 });
    expect(fake.requests.slice(before).some((r) => r.path === '/crm/v8/Contacts' && r.ifModifiedSince !== null)).toBe(true);
    expect(await user(a)).toMatchObject({ title: 'Chief Incremental Officer' });
    expect(await user(b)).toMatchObject({ email: 'renamed.b@example.com', name: `Renamed ${fake.contact(b).Last_Name}` });
    expect(await user(added.id)).toMatchObject({ name: 'New Person', deleted_at: null });
  });

  it('when contacts are deleted at Zoho (recycle bin, and for good), then an incremental sync deletes their users', async () => {
    const [, , c, d] = live();
    fake.deleteContact(c);
    fake.deleteContact(d, 'permanent');
    const run = await sync('incremental');
    expect(run).toMatchObject({ status: 'succeeded', deleted: 2 });
    expect(await linked()).toEqual(live());
    expect((await user(c)).deleted_at).not.toBeNull();
    expect((await user(d)).deleted_at).not.toBeNull();
  });

  it('when a contact is deleted and a full sync runs, then the ids= read confirms it is gone and its user is deleted', async () => {
    const [e] = live();
    fake.deleteContact(e);
    const run = await sync('full');
    expect(run).toMatchObject({ status: 'succeeded', deleted: 1 });
    expect(await linked()).toEqual(live());
  });
});

describe('Zoho notifications to POST /api/webhooks/zoho/:integrationId', () => {
  it('when Zoho notifies an update, an insert and a delete with the channel’s token, then each is stored and applied (records read by id)', async () => {
    const [a, gone] = live();
    fake.updateContact(a, { First_Name: 'Hooked' });
    const created = fake.addContact({ First_Name: 'Notified', Last_Name: 'Insert', Email: 'notified.insert@example.com' });
    fake.deleteContact(gone);
    const before = fake.requests.length;
    const responses = [
      await notify(fake.notification([a], 'update')),
      await notify(fake.notification([created.id], 'insert')),
      await notify(fake.notification([gone], 'delete')),
    ];
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(responses[0].body).toMatchObject({ received: true, duplicate: false });
    await ctx.services.inboxWorker.drain();
    expect(idsRead(before).sort()).toEqual([a, created.id].sort());
    expect(await user(a)).toMatchObject({ name: `Hooked ${fake.contact(a).Last_Name}`, deleted_at: null });
    expect(await user(created.id)).toMatchObject({ name: 'Notified Insert', email: 'notified.insert@example.com', deleted_at: null });
    expect((await user(gone)).deleted_at).not.toBeNull();
    const rows = (await stored()).slice(-3);
    expect(rows.map((r) => [r.event_type, r.status])).toEqual([
      ['Contacts.update', 'processed'],
      ['Contacts.insert', 'processed'],
      ['Contacts.delete', 'processed'],
    ]);
    // The channel's token is a secret: never stored with the event.
    expect(rows.some((r) => r.payload.includes(fake.webhookToken))).toBe(false);
  });

  it('when one notification names several contacts, then one event each, read in one batch', async () => {
    const three = live().slice(5, 8);
    for (const c of three) fake.updateContact(c, { Title: 'Batched' });
    const before = fake.requests.length;
    const res = await notify(fake.notification(three, 'update'));
    expect(res.status).toBe(202);
    expect(res.body.events).toHaveLength(3);
    await ctx.services.inboxWorker.drain();
    expect(idsRead(before).sort()).toEqual([...three].sort());
    for (const c of three) expect(await user(c)).toMatchObject({ title: 'Batched' });
  });

  it.each([
    ['a wrong token', (ids: string[]) => fake.notification(ids, 'update', 'not-the-channel-token-000')],
    ['no token', (ids: string[]) => fake.notification(ids, 'update', null)],
  ])('when a notification carries %s, then 401 and nothing is stored or changed', async (_what, build) => {
    const [a] = live();
    const title = (await user(a)).title;
    fake.updateContact(a, { Title: 'Should not arrive' });
    const before = (await stored()).length;
    const res = await notify(build([a]));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'invalid_signature' });
    expect((await stored()).length).toBe(before);
    await ctx.services.inboxWorker.drain();
    expect((await user(a)).title).toBe(title);
  });

  it('when Zoho posts the same notification again, then 200 duplicate, stored once, applied once', async () => {
    const [, b] = live();
    fake.updateContact(b, { Phone: '+1 555 0199' });
    const body = fake.notification([b], 'update');
    const first = await notify(body);
    const again = await notify(body);
    expect([first.status, again.status]).toEqual([202, 200]);
    expect(again.body).toMatchObject({ duplicate: true, eventId: first.body.eventId });
    const key = `id:${body.channel_id}:${body.server_time}:${b}:update`;
    expect((await stored()).filter((r) => r.dedupe_key === key)).toHaveLength(1);
    const before = fake.requests.length;
    await ctx.services.inboxWorker.drain();
    expect(idsRead(before)).toEqual([b]);
    expect((await stored()).find((r) => r.dedupe_key === key)?.status).toBe('processed');
  });

  it('when a notification is about another module, then it is accepted and ignored', async () => {
    const res = await notify(fake.notification(['5725767000000999001'], 'insert', fake.webhookToken, { module: 'Leads' }));
    expect(res.status).toBe(202);
    await ctx.services.inboxWorker.drain();
    expect((await stored()).at(-1)).toMatchObject({ event_type: 'Leads.insert', status: 'processed', outcome: 'ignored' });
  });

  it('when the body is not Zoho’s shape but carries the token, then 400 naming the problem', async () => {
    const res = await notify({ ...fake.notification([], 'update') });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'invalid_payload', details: [{ path: 'body.ids' }] });
  });

  it('when a notification is posted without the integration id, then 404 saying to use the integration’s own URL', async () => {
    const res = await notify(fake.notification(live().slice(0, 1), 'update'), '/api/webhooks/zoho');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'integration_not_found', error: expect.stringContaining('/api/webhooks/zoho/<integrationId>') });
  });

  it('when a request names this integration under another provider’s path, then 404: one CRM’s verifier never judges another’s integration', async () => {
    const hubspotEvent = [{ eventId: 5, portalId: 62515, occurredAt: Date.now(), subscriptionType: 'contact.creation', objectId: 101 }];
    const res = await notify(hubspotEvent, `/api/webhooks/hubspot/${id}`)
      .set('x-hubspot-signature-v3', 'anything')
      .set('x-hubspot-request-timestamp', String(Date.now()));
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('integration_not_found');
  });

  it('when the integration has no webhookToken, then its notifications are refused as not configured', async () => {
    const other = await admin.post('/api/integrations', {
      organizationId: (await createOrganization(ctx)).id,
      provider: 'zoho',
      name: 'Zoho without notifications',
      config: { accessToken: fake.token, apiDomain: fake.url },
    });
    expect(other.status).toBe(201);
    const res = await notify(fake.notification(live().slice(0, 1), 'update'), `/api/webhooks/zoho/${other.body.data.id}`);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'webhook_secret_not_configured' });
  });
});
