import winston from 'winston';
import { FakeGoHighLevel } from '../../fake-crm/gohighlevel/fake-gohighlevel';
import { FakeMailchimp, subscriberHash } from '../../fake-crm/mailchimp/fake-mailchimp';
import { FakeSalesforce } from '../../fake-crm/salesforce/fake-salesforce';
import { FakeSendGrid } from '../../fake-crm/sendgrid/fake-sendgrid';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { FakeZoho } from '../../fake-crm/zoho/fake-zoho';
import { allProviders } from '../../src/providers';
import { effectiveMapping } from '../../src/providers/writer';
import { buildWriter } from '../helpers/connector-harness';
import { createOrganization, createUser } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * The push of every pushing provider but HubSpot (tests/push/crm-push.int.test.ts) end to end,
 * through the API and the worker, against each provider's fake: a user created, changed,
 * pushed under an overridden mapping, deleted, and refused alone by the CRM; for the CRMs that
 * also pull, a full pull after the push changes nothing and sends nothing back. Each provider
 * has its own organization (users reach only their organization's integrations), and the
 * worker is driven by drain() (the background loop is off: WEBHOOK_WORKERS_ENABLED false).
 */

let ctx: TestContext;

const admin = {
  get: (path: string) => ctx.http.get(path).set('x-api-key', ADMIN_KEY),
  post: (path: string, body?: object) => ctx.http.post(path).set('x-api-key', ADMIN_KEY).send(body),
  patch: (path: string, body: object) => ctx.http.patch(path).set('x-api-key', ADMIN_KEY).send(body),
  delete: (path: string) => ctx.http.delete(path).set('x-api-key', ADMIN_KEY),
};
const drain = () => ctx.services.crmPush.worker.drain();

beforeAll(async () => {
  ctx = await createTestContext({ WEBHOOK_WORKERS_ENABLED: 'false', CRM_PUSH_RETRY_BASE_MS: '10', CRM_PUSH_RETRY_MAX_MS: '50' });
});
afterAll(async () => {
  await ctx.close();
});

/** A user as the API takes it. */
interface UserBody {
  email: string;
  name: string;
  firstName?: string | null;
  lastName?: string | null;
  title?: string | null;
  phone?: string | null;
  department?: string | null;
}

/** A record as a fake holds it: its id, and its fields under the CRM's names. */
interface Held {
  id: string;
  fields: Record<string, unknown>;
}

/** One provider's fake, seen the same way for every provider. */
interface Fake {
  config: Record<string, unknown>;
  stop(): Promise<void>;
  /** The live records (not deleted, archived or off the list) of an email. */
  held(email: string): Held[];
  /** The live record of an id. */
  byId(id: string): Held | undefined;
  /** The last record a write call carried for an email, as sent (under the CRM's names). */
  sent(email: string): Record<string, unknown> | undefined;
  /** The record is gone as the integration's deletion policy asks (deleted, archived, off the list). */
  removed(id: string): boolean;
  /** What the fake holds of a user pushed under seed 003's mapping (company: the organization's name). */
  expected(u: UserBody, company: string): Record<string, unknown>;
  /** A mapping override (title to another field, a field left out): what is sent for `u`, and what is not. */
  override: { pushMapping: Record<string, string | null>; sent(u: UserBody): Record<string, unknown>; absent: string[] };
  /** Makes a user the CRM refuses alone (through the API); the reason it gives. */
  refuse(orgId: number, integrationId: number): Promise<{ userId: number; error: RegExp }>;
}

interface Case {
  provider: string;
  /** A CRM we also pull from (direction both). */
  pulls: boolean;
  deletePolicy: 'delete' | 'archive';
  start(): Promise<Fake>;
}

const long = (n: number) => 'x'.repeat(n);
const text = (v: string | null | undefined) => v ?? null;

async function patchUser(id: number, body: object): Promise<void> {
  const res = await admin.patch(`/api/users/${id}`, body);
  if (res.status !== 200) throw new Error(`PATCH user: ${res.status} ${JSON.stringify(res.body)}`);
}

async function setConfig(integrationId: number, config: object): Promise<void> {
  const res = await admin.patch(`/api/integrations/${integrationId}`, { config });
  if (res.status !== 200) throw new Error(`PATCH integration: ${res.status} ${JSON.stringify(res.body)}`);
}

const salesforceCase: Case = {
  provider: 'salesforce',
  pulls: true,
  deletePolicy: 'delete',
  async start() {
    const fake = await new FakeSalesforce({ contacts: 0, seed: 31 }).start();
    const view = (id: string): Held | undefined => {
      const c = fake.contacts.get(id);
      if (!c) return undefined;
      const account = c.AccountId ? fake.accounts.get(c.AccountId)?.Name : undefined;
      const { FirstName, LastName, Email, Phone, Title } = c;
      return { id, fields: { FirstName, LastName, Email, Phone, Title, 'Account.Name': account ?? null, ...fake.extraFields.get(id) } };
    };
    return {
      config: { instanceUrl: fake.url, accessToken: fake.token, requestsPerSecond: 0 },
      stop: () => fake.stop(),
      held: (email) => [...fake.contacts.values()].filter((c) => c.Email === email).map((c) => view(c.Id) as Held),
      byId: view,
      sent: (email) => fake.received.filter((r) => r.type === 'Contact' && r.record?.Email === email).at(-1)?.record ?? undefined,
      removed: (id) => !fake.contacts.has(id) && fake.deletedLog.some((d) => d.id === id),
      expected: (u, company) => ({
        FirstName: text(u.firstName),
        LastName: text(u.lastName),
        Email: u.email,
        Phone: text(u.phone),
        Title: text(u.title),
        'Account.Name': company,
      }),
      override: {
        pushMapping: { title: 'Department', phone: null },
        sent: (u) => ({ Department: u.title, FirstName: u.firstName }),
        absent: ['Title', 'Phone'],
      },
      // Title is 128 characters at most in Salesforce (200 here).
      async refuse(orgId) {
        const u = await createUser(ctx, orgId, { email: 'too.long.sf@example.com', name: 'Too Long', lastName: 'Long', title: long(150) });
        return { userId: u.id, error: /STRING_TOO_LONG/ };
      },
    };
  },
};

const zohoCase: Case = {
  provider: 'zoho',
  pulls: true,
  deletePolicy: 'delete',
  async start() {
    const fake = await new FakeZoho({ contacts: 0, seed: 32 }).start();
    const view = (id: string): Held | undefined => {
      const c = fake.contacts.get(id);
      if (!c) return undefined;
      const { First_Name, Last_Name, Email, Phone, Title } = c;
      return { id, fields: { First_Name, Last_Name, Email, Phone, Title, Account_Name: c.Account_Name?.name ?? null, ...c.more } };
    };
    const records = () =>
      fake.received.flatMap((w) => {
        const data = (w.body as { data?: unknown } | null)?.data;
        return Array.isArray(data) ? (data as Record<string, unknown>[]) : [];
      });
    return {
      config: { accessToken: fake.token, apiDomain: fake.url, requestsPerSecond: 0 },
      stop: () => fake.stop(),
      held: (email) =>
        fake
          .contactsIn()
          .filter((c) => c.Email === email)
          .map((c) => view(c.id) as Held),
      byId: view,
      sent: (email) =>
        records()
          .filter((r) => r.Email === email)
          .at(-1),
      removed: (id) => !fake.contacts.has(id) && fake.deleted.some((d) => d.id === id),
      expected: (u, company) => ({
        First_Name: text(u.firstName),
        Last_Name: text(u.lastName),
        Email: u.email,
        Phone: text(u.phone),
        Title: text(u.title),
        Account_Name: company,
      }),
      override: {
        pushMapping: { title: 'Department', phone: null },
        sent: (u) => ({ Department: u.title, First_Name: u.firstName }),
        absent: ['Title', 'Phone'],
      },
      // Title is 100 characters at most in Zoho's layout (200 here).
      async refuse(orgId) {
        const u = await createUser(ctx, orgId, {
          email: 'too.long.zoho@example.com',
          name: 'Too Long',
          lastName: 'Long',
          title: long(150),
        });
        return { userId: u.id, error: /INVALID_DATA.*Title/ };
      },
    };
  },
};

const goHighLevelCase: Case = {
  provider: 'gohighlevel',
  pulls: true,
  deletePolicy: 'delete',
  async start() {
    // Its own location: routing keys (locationId) are unique per provider across integrations.
    const fake = await new FakeGoHighLevel({ contacts: 0, seed: 33, locationId: 'PushProvidersLoc0001' }).start();
    const view = (id: string): Held | undefined => {
      const c = fake.contacts.get(id);
      if (!c || c.deletedAt) return undefined;
      const { firstName, lastName, email, phone, companyName, source } = c;
      return { id, fields: { firstName, lastName, email, phone, companyName, source } };
    };
    return {
      config: { apiKey: fake.token, locationId: fake.locationId, baseUrl: fake.url, requestsPerSecond: 0 },
      stop: () => fake.stop(),
      held: (email) =>
        fake
          .contactsIn(fake.locationId)
          .filter((c) => c.email === email)
          .map((c) => view(c.id) as Held),
      byId: view,
      sent: (email) =>
        fake.received.filter((r) => (r.body as Record<string, unknown> | undefined)?.email === email).at(-1)?.body as
          Record<string, unknown> | undefined,
      removed: (id) => fake.contacts.get(id)?.deletedAt != null,
      expected: (u, company) => ({
        firstName: text(u.firstName),
        lastName: text(u.lastName),
        email: u.email,
        phone: text(u.phone),
        companyName: company,
      }),
      // Title is not in seed 002's mapping; it may be sent as the contact's source.
      override: {
        pushMapping: { title: 'source', company: null },
        sent: (u) => ({ source: u.title, firstName: u.firstName }),
        absent: ['companyName'],
      },
      // A linked user takes an email another contact of the location has: HighLevel refuses duplicates.
      async refuse(orgId) {
        const u = await createUser(ctx, orgId, { email: 'moving.ghl@example.com', name: 'Moving Soon' });
        await drain();
        const [twin] = fake.addContacts(1, fake.locationId);
        fake.updateContact(twin.id, { email: 'taken.ghl@example.com' });
        await patchUser(u.id, { email: 'taken.ghl@example.com' });
        return { userId: u.id, error: /does not allow duplicated contacts/ };
      },
    };
  },
};

const wealthboxCase: Case = {
  provider: 'wealthbox',
  pulls: true,
  deletePolicy: 'delete',
  async start() {
    // No staff: the pull would make them users too, and this test counts the organization's users.
    const fake = await new FakeWealthbox({ contacts: 0, staff: 0, seed: 34 }).start();
    const view = (id: string): Held | undefined => {
      const c = fake.contacts.get(Number(id));
      if (!c || c.deletedAt) return undefined;
      return {
        id,
        fields: {
          first_name: c.firstName,
          last_name: c.lastName,
          email: c.email,
          phone: c.phone,
          job_title: c.jobTitle,
          company_name: c.companyName,
          ...c.more,
        },
      };
    };
    const emailOf = (body: unknown) => (body as { email_addresses?: { address?: string }[] } | null)?.email_addresses?.[0]?.address;
    return {
      config: { apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 0 },
      stop: () => fake.stop(),
      held: (email) => [...fake.contacts.values()].filter((c) => !c.deletedAt && c.email === email).map((c) => view(String(c.id)) as Held),
      byId: view,
      sent: (email) => fake.received.filter((r) => emailOf(r.body) === email).at(-1)?.body as Record<string, unknown> | undefined,
      removed: (id) => fake.contacts.get(Number(id))?.deletedAt != null,
      expected: (u, company) => ({
        first_name: text(u.firstName),
        last_name: text(u.lastName),
        email: u.email,
        phone: text(u.phone),
        job_title: text(u.title),
        company_name: company,
      }),
      override: {
        pushMapping: { title: 'background_information', phone: null },
        sent: (u) => ({ background_information: u.title, first_name: u.firstName }),
        absent: ['job_title', 'phone_numbers'],
      },
      // Every email our API takes is one Wealthbox takes: a mapping that sends the department as
      // the email is what gets a person refused alone (422 "Email address … is invalid").
      async refuse(orgId, integrationId) {
        await setConfig(integrationId, { pushMapping: { email: null, department: 'email' } });
        const u = await createUser(ctx, orgId, { email: 'misfiled.wb@example.com', name: 'Mis Filed', department: 'Sales' });
        return { userId: u.id, error: /Email address Sales is invalid/ };
      },
    };
  },
};

const mailchimpCase: Case = {
  provider: 'mailchimp',
  pulls: false,
  deletePolicy: 'archive',
  async start() {
    const fake = await new FakeMailchimp({ audienceId: 'pushaudience01' }).start();
    const view = (id: string): Held | undefined => {
      const m = fake.members.get(id);
      return m && m.status !== 'archived' ? { id, fields: { ...m.merge_fields, status: m.status } } : undefined;
    };
    return {
      config: { apiKey: fake.apiKey, audienceId: fake.audienceId, baseUrl: fake.url, requestsPerSecond: 0 },
      stop: () => fake.stop(),
      held: (email) => [view(subscriberHash(email))].filter((h): h is Held => h !== undefined),
      byId: view,
      sent: (email) => {
        const m = fake.received.filter((r) => r.member.email_address === email).at(-1)?.member;
        return m && { ...(m.merge_fields as Record<string, unknown>), status: m.status };
      },
      removed: (id) => fake.members.get(id)?.status === 'archived',
      expected: (u) => ({ FNAME: u.firstName, LNAME: u.lastName, status: 'subscribed' }),
      override: {
        pushMapping: { phone: 'PHONE', lastName: null },
        sent: (u) => ({ PHONE: u.phone, FNAME: u.firstName }),
        absent: ['LNAME'],
      },
      // Mailchimp will not re-import an email deleted permanently (a per-member error of the batch).
      async refuse(orgId) {
        fake.forgotten.add(subscriberHash('forgotten.mc@example.com'));
        const u = await createUser(ctx, orgId, { email: 'forgotten.mc@example.com', name: 'Long Gone' });
        return { userId: u.id, error: /permanently deleted/ };
      },
    };
  },
};

const sendgridCase: Case = {
  provider: 'sendgrid',
  pulls: false,
  deletePolicy: 'delete',
  async start() {
    const fake = await new FakeSendGrid().start();
    const view = (id: string): Held | undefined => {
      const c = fake.contacts.get(id);
      return c && c.list_ids.includes(fake.listId) ? { id, fields: { ...c.fields, email: c.email } } : undefined;
    };
    return {
      config: { apiKey: fake.apiKey, listId: fake.listId, baseUrl: fake.url, requestsPerSecond: 0 },
      stop: () => fake.stop(),
      held: (email) =>
        fake
          .onList()
          .filter((c) => c.email === email)
          .map((c) => view(c.id) as Held),
      byId: view,
      sent: (email) => fake.received.filter((c) => c.email === email).at(-1),
      removed: (id) => !fake.contacts.has(id),
      expected: (u) => ({ first_name: u.firstName, last_name: u.lastName, email: u.email }),
      override: {
        pushMapping: { phone: 'phone_number', lastName: null },
        sent: (u) => ({ phone_number: u.phone, first_name: u.firstName }),
        absent: ['last_name'],
      },
      // first_name is 50 characters at most in SendGrid (100 here).
      async refuse(orgId) {
        const u = await createUser(ctx, orgId, { email: 'too.long.sg@example.com', name: 'Too Long', firstName: long(60) });
        return { userId: u.id, error: /first_name/ };
      },
    };
  },
};

const cases: Case[] = [salesforceCase, zohoCase, goHighLevelCase, wealthboxCase, mailchimpCase, sendgridCase];
const silent = winston.createLogger({ silent: true });

describe.each(cases)('pushing users to $provider', ({ provider, pulls, deletePolicy, start }) => {
  const module = allProviders.find((m) => m.definition.name === provider);
  const facts = module?.definition.push;
  /** The field seed 003 maps firstName to. */
  const firstNameField = facts ? effectiveMapping(facts, null).firstName : undefined;
  let fake: Fake;
  let orgId: number;
  let id: number;
  let identityProvider: string;
  const company = `Ünïcode ${provider} GmbH`;
  const zoe: UserBody = {
    email: `zoe.${provider}@example.com`,
    name: 'Zoë Ångström',
    firstName: 'Zoë',
    lastName: 'Ångström',
    title: 'Ingénieure',
    phone: '+33 1 23 45 67 89',
  };
  let zoeId: number;
  let zoeRecord: string;

  const identity = async (userId: number) =>
    (
      await ctx.sql<{ external_id: string }>(`SELECT external_id FROM user_identities WHERE user_id = $1 AND provider = $2`, [
        userId,
        identityProvider,
      ])
    )[0]?.external_id;
  const queueRow = async (userId: number) =>
    (
      await ctx.sql<{ status: string; version: number; last_action: string | null; last_error: string | null }>(
        'SELECT status, version, last_action, last_error FROM crm_push_queue WHERE integration_id = $1 AND user_id = $2',
        [id, userId],
      )
    )[0];
  const one = (email: string): Held => {
    const held = fake.held(email);
    expect(held).toHaveLength(1);
    return held[0];
  };

  beforeAll(async () => {
    if (!module || !facts) throw new Error(`${provider} pushes nothing`);
    fake = await start();
    identityProvider = buildWriter(module, fake.config, { logger: silent }).writer?.identityProvider as string;
    orgId = (await createOrganization(ctx, { name: company })).id;
    const res = await admin.post('/api/integrations', {
      organizationId: orgId,
      provider,
      name: provider,
      config: { ...fake.config, direction: pulls ? 'both' : 'push', onUserDeleted: deletePolicy },
    });
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 });
    id = res.body.data.id;
    expect((await admin.post(`/api/integrations/${id}/test`)).body).toMatchObject({ success: true });
  });
  afterAll(async () => {
    await fake?.stop();
  });

  it('when a user is created, then it appears with seed 003’s mapped fields, linked on its identity', async () => {
    expect(identityProvider).toEqual(expect.any(String));
    zoeId = (await createUser(ctx, orgId, { ...zoe })).id;
    await drain();
    const record = one(zoe.email);
    expect(record.fields).toMatchObject(fake.expected(zoe, company));
    zoeRecord = record.id;
    expect(await identity(zoeId)).toBe(zoeRecord);
    expect(await queueRow(zoeId)).toMatchObject({ status: 'done', last_action: 'created' });
  });

  it('when the user changes, then the same record is updated, and no second one made', async () => {
    const changed = { ...zoe, firstName: 'Zoé', title: 'Ingénieure en chef' };
    await patchUser(zoeId, { firstName: changed.firstName, title: changed.title });
    await drain();
    const record = one(zoe.email);
    expect(record.id).toBe(zoeRecord);
    expect(record.fields).toMatchObject(fake.expected(changed, company));
    // The field seed 003 maps firstName to carries the change, whichever provider this is.
    expect(record.fields[firstNameField as string]).toBe('Zoé');
    expect(await identity(zoeId)).toBe(zoeRecord);
    expect(await queueRow(zoeId)).toMatchObject({ status: 'done', last_action: 'updated' });
  });

  if (pulls) {
    it('when a full pull reads what was pushed, then the user is unchanged and nothing is queued back (no echo)', async () => {
      const users = async () =>
        ctx.sql<{ id: number; updated_at: Date }>('SELECT id, updated_at FROM users WHERE organization_id = $1 ORDER BY id', [orgId]);
      const queue = async () =>
        ctx.sql<{ user_id: number; version: number; status: string }>(
          'SELECT user_id, version, status FROM crm_push_queue WHERE integration_id = $1 ORDER BY user_id',
          [id],
        );
      const [usersBefore, queueBefore] = [await users(), await queue()];
      const res = await admin.post(`/api/integrations/${id}/sync?mode=full&wait=true`);
      // It read the one record pushed, and made no user of it.
      expect({ status: res.status, run: res.body.data }).toMatchObject({ status: 200, run: { status: 'succeeded', total: 1, created: 0 } });
      expect(await users()).toEqual(usersBefore);
      expect(await queue()).toEqual(queueBefore);
      expect(await identity(zoeId)).toBe(zoeRecord);
      expect(fake.held(zoe.email)).toHaveLength(1);
    });
  }

  it('when the mapping is overridden in config, then the fields it names are what the CRM receives', async () => {
    await setConfig(id, { pushMapping: fake.override.pushMapping });
    const grace: UserBody = {
      email: `grace.${provider}@example.com`,
      name: 'Grace Hopper',
      firstName: 'Grace',
      lastName: 'Hopper',
      title: 'Rear Admiral',
      phone: '+1 202 555 0147',
    };
    const u = await createUser(ctx, orgId, { ...grace });
    await drain();
    const sent = fake.sent(grace.email);
    expect(sent).toMatchObject(fake.override.sent(grace));
    for (const field of fake.override.absent) expect(sent).not.toHaveProperty(field);
    const record = one(grace.email);
    expect(record.fields).toMatchObject(fake.override.sent(grace));
    expect(await identity(u.id)).toBe(record.id);
    // Back to seed 003's mapping (null removes the override).
    await setConfig(id, { pushMapping: null });
  });

  it(`when a user is deleted, then onUserDeleted "${deletePolicy}" removes the record at the CRM`, async () => {
    expect((await admin.delete(`/api/users/${zoeId}`)).status).toBe(204);
    await drain();
    expect(fake.removed(zoeRecord)).toBe(true);
    expect(fake.held(zoe.email)).toHaveLength(0);
    expect(await queueRow(zoeId)).toMatchObject({ status: 'done', last_action: deletePolicy === 'archive' ? 'archived' : 'deleted' });
    expect(await identity(zoeId)).toBeUndefined();
  });

  it('when the CRM refuses one record alone, then that user is parked with its reason, the others delivered, and retry puts it back', async () => {
    const { userId: bad, error } = await fake.refuse(orgId, id);
    const good = await createUser(ctx, orgId, { email: `good.${provider}@example.com`, name: 'Good Person', lastName: 'Person' });
    await drain();

    const row = await queueRow(bad);
    expect(row).toMatchObject({ status: 'parked' });
    expect(row.last_error).toMatch(error);
    expect(await queueRow(good.id)).toMatchObject({ status: 'done', last_action: 'created' });
    const goodRecord = await identity(good.id);
    expect(fake.byId(goodRecord as string)).toBeDefined();

    const parked = await admin.get(`/api/integrations/${id}/push-queue?status=parked`);
    expect(parked.status).toBe(200);
    expect(parked.body.data).toEqual([expect.objectContaining({ userId: bad, status: 'parked', lastError: expect.stringMatching(error) })]);

    const retry = await admin.post(`/api/integrations/${id}/push-queue/retry`, { userIds: [bad] });
    expect(retry.body).toEqual({ data: { requeued: 1 } });
    expect(await queueRow(bad)).toMatchObject({ status: 'pending', last_error: null });
    // Nothing was fixed: the CRM refuses it again, and it is parked again.
    await drain();
    expect(await queueRow(bad)).toMatchObject({ status: 'parked', last_error: expect.stringMatching(error) });
  });
});
