import { FakeMailchimp, subscriberHash } from '../../fake-crm/mailchimp/fake-mailchimp';
import { ConfigValidator } from '../../src/modules/integrations/config-schema';
import { CrmAuthError, CrmUnavailableError } from '../../src/providers/connector';
import { mailchimp } from '../../src/providers/mailchimp';
import { mailchimpBaseUrl } from '../../src/providers/mailchimp/mailchimp.definition';
import { pushConfigProperties, type CrmWriter, type OutgoingPerson } from '../../src/providers/writer';
import { buildConnector, buildWriter, capturingLogger } from '../helpers/connector-harness';

const { capture, logger } = capturingLogger('info');

function writerFor(fake: FakeMailchimp, config: Record<string, unknown> = {}, retries = 2): CrmWriter {
  const { writer } = buildWriter(
    mailchimp,
    { apiKey: fake.apiKey, audienceId: fake.audienceId, baseUrl: fake.url, requestsPerSecond: 0, ...config },
    { logger, retries },
  );
  if (!writer) throw new Error('mailchimp has no writer');
  return writer;
}

let nextId = 1;
function person(email: string | null, fields: Record<string, string | null> = {}, o: Partial<OutgoingPerson> = {}): OutgoingPerson {
  return { userId: nextId++, externalId: null, email, fields: { FNAME: 'Ada', LNAME: 'Lovelace', ...fields }, isActive: true, ...o };
}

const batches = (fake: FakeMailchimp) => fake.requests.filter((r) => r.method === 'POST' && r.path === `/3.0/lists/${fake.audienceId}`);

describe('Mailchimp provider: definition and connection', () => {
  let fake: FakeMailchimp;
  beforeAll(async () => {
    fake = await new FakeMailchimp({ audienceName: 'App users' }).start();
  });
  afterAll(() => fake.stop());

  it('when a config is validated, then a key without a data centre, unknown fields and bad merge tags are refused', () => {
    const d = mailchimp.definition;
    const schema = { ...d.configSchema, properties: { ...(d.configSchema.properties as object), ...pushConfigProperties(d.push!) } };
    const v = new ConfigValidator();
    const check = (config: Record<string, unknown>) => v.validate('mc', schema, config).errors.map((e) => e.path);
    expect(
      check({ apiKey: '0123456789abcdef0123456789abcdef-us21', audienceId: 'a1b2c3', pushMapping: { phone: 'PHONE', title: 'JOBTITLE' } }),
    ).toEqual([]);
    expect(check({ apiKey: '0123456789abcdef0123456789abcdef', audienceId: 'a1b2c3' })).toEqual(['body.config.apiKey']);
    expect(check({ apiKey: 'k0123456789-us2', audienceId: 'a1b2c3', pushMapping: { title: 'job title' }, other: 1 })).toEqual(
      expect.arrayContaining(['body.config.other', 'body.config.pushMapping.title']),
    );
    expect(d).toMatchObject({ category: 'Email Marketing', authModes: ['api_key'], pulls: false, webhooks: false, routingKeyField: null });
    expect(d.push).toMatchObject({
      directions: ['push'],
      defaultDirection: 'push',
      defaultMapping: { firstName: 'FNAME', lastName: 'LNAME' },
    });
  });

  it('when no base URL is set, then the key’s data centre picks the host; an override gets /3.0', () => {
    expect(mailchimpBaseUrl({ apiKey: 'abcdef0123-us21' })).toBe('https://us21.api.mailchimp.com/3.0');
    expect(mailchimpBaseUrl({ apiKey: 'abcdef0123-us21', baseUrl: 'http://127.0.0.1:9/' })).toBe('http://127.0.0.1:9/3.0');
    expect(mailchimpBaseUrl({ apiKey: 'x', baseUrl: 'http://127.0.0.1:9/3.0' })).toBe('http://127.0.0.1:9/3.0');
  });

  it('when the connection is tested, then the audience is read; a wrong key is an auth error that does not show the key', async () => {
    const config = { apiKey: fake.apiKey, audienceId: fake.audienceId, baseUrl: fake.url, requestsPerSecond: 0 };
    const info = await buildConnector(mailchimp, config, { logger, pageSize: 10 }).testConnection();
    expect(info).toMatchObject({ account: 'App users', details: { audienceId: fake.audienceId } });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', path: `/3.0/lists/${fake.audienceId}`, apiKey: fake.apiKey });
    const badKey = 'ffffffffffffffffffffffffffffffff-us21';
    const err = await buildConnector(mailchimp, { ...config, apiKey: badKey }, { logger, pageSize: 10 })
      .testConnection()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect(String((err as Error).message)).not.toContain(badKey);
    const missing = await buildConnector(mailchimp, { ...config, audienceId: 'nope' }, { logger, pageSize: 10 })
      .testConnection()
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(CrmUnavailableError);
  });

  it('when a pull is asked of it, then it is refused: there is nothing to pull', async () => {
    const c = buildConnector(mailchimp, { apiKey: fake.apiKey, audienceId: fake.audienceId, baseUrl: fake.url }, { logger, pageSize: 10 });
    expect(c.streams).toEqual([]);
    await expect(c.listPeople('contacts', { cursor: null, updatedSince: null })).rejects.toThrow(/no people/);
  });
});

describe('MailchimpWriter (fake Mailchimp)', () => {
  let fake: FakeMailchimp;
  beforeAll(async () => {
    fake = await new FakeMailchimp().start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    fake.members.clear();
    fake.forgotten.clear();
    fake.received.length = 0;
    fake.requests.length = 0;
    capture.entries = [];
  });

  it('when new users are pushed, then members are created subscribed under their email’s MD5, with the mapped merge fields only', async () => {
    const w = writerFor(fake);
    expect([w.identityProvider, w.maxBatch]).toEqual(['mailchimp', 500]);
    const a = person('ada@example.com', { FNAME: 'Åda 🚀', LNAME: null, PHONE: '+44 20 7946 0958' });
    const res = await w.upsert([a]);
    expect(res).toEqual([{ userId: a.userId, ok: true, externalId: subscriberHash('ada@example.com'), action: 'created' }]);
    expect(fake.member('ada@example.com')).toMatchObject({
      status: 'subscribed',
      merge_fields: { FNAME: 'Åda 🚀', PHONE: '+44 20 7946 0958' },
    });
    // The null LNAME is not sent at all: an empty value would wipe what Mailchimp holds.
    expect(fake.received[0].member).toEqual({
      email_address: 'ada@example.com',
      status: 'subscribed',
      status_if_new: 'subscribed',
      merge_fields: { FNAME: 'Åda 🚀', PHONE: '+44 20 7946 0958' },
    });
    expect(batches(fake)[0].body).toMatchObject({ update_existing: true });
  });

  it('when users are pushed again, then the same members are updated, never duplicated', async () => {
    const w = writerFor(fake);
    const people = [person('a@x.io'), person('b@x.io')];
    await w.upsert(people);
    const again = await w.upsert(people.map((p) => ({ ...p, externalId: subscriberHash(p.email!), fields: { FNAME: 'New' } })));
    expect(again.map((r) => r.ok && r.action)).toEqual(['updated', 'updated']);
    expect(fake.members.size).toBe(2);
    expect(fake.member('a@x.io')?.merge_fields).toEqual({ FNAME: 'New', LNAME: 'Lovelace' });
  });

  it('when double opt-in is on, then new members are pending and an already subscribed one is never downgraded', async () => {
    fake.addMember('old@x.io', 'subscribed');
    const w = writerFor(fake, { doubleOptIn: true });
    const res = await w.upsert([person('old@x.io'), person('new@x.io')]);
    expect(res.map((r) => r.ok && r.action)).toEqual(['updated', 'created']);
    expect([fake.member('old@x.io')?.status, fake.member('new@x.io')?.status]).toEqual(['subscribed', 'pending']);
    expect(fake.received.map((r) => [r.member.status, r.member.status_if_new])).toEqual([
      [undefined, 'pending'],
      [undefined, 'pending'],
    ]);
  });

  it('when a user is inactive, then their member is unsubscribed (and added unsubscribed when new)', async () => {
    fake.addMember('gone@x.io', 'subscribed');
    const res = await writerFor(fake).upsert([person('gone@x.io', {}, { isActive: false }), person('never@x.io', {}, { isActive: false })]);
    expect(res.every((r) => r.ok)).toBe(true);
    expect([fake.member('gone@x.io')?.status, fake.member('never@x.io')?.status]).toEqual(['unsubscribed', 'unsubscribed']);
  });

  it('when some records cannot be taken, then only those fail, each with its reason, and results keep input order', async () => {
    const people = [person(null), person('fine@x.io'), person('not-an-email'), person('bday@x.io', { BIRTHDAY: 'soon' })];
    const res = await writerFor(fake).upsert(people);
    expect(res.map((r) => r.userId)).toEqual(people.map((p) => p.userId));
    expect(res.map((r) => r.ok)).toEqual([false, true, false, false]);
    expect(res[0]).toMatchObject({ error: expect.stringContaining('no email') });
    expect(res[2]).toMatchObject({ error: expect.stringContaining('looks fake or invalid') });
    expect(res[3]).toMatchObject({ error: expect.stringContaining('BIRTHDAY') });
    expect(batches(fake)).toHaveLength(1);
  });

  it('when Mailchimp refuses a whole batch for one member, then the batch is split until that member fails alone', async () => {
    fake.invalidResource = (m) =>
      (m.merge_fields as Record<string, string> | undefined)?.FNAME === 'BAD' ? 'Schema describes string' : null;
    try {
      const people = Array.from({ length: 8 }, (_, i) => person(`u${i}@x.io`, { FNAME: i === 5 ? 'BAD' : `U${i}` }));
      const res = await writerFor(fake).upsert(people);
      expect(res.map((r) => r.ok)).toEqual([true, true, true, true, true, false, true, true]);
      expect(res[5]).toMatchObject({ error: expect.stringContaining('Invalid Resource') });
      expect(fake.members.size).toBe(7);
      // 8 → 4+4 → 2+2 → 1+1: a handful of calls, not one per member.
      expect(batches(fake).length).toBeLessThanOrEqual(7);
    } finally {
      fake.invalidResource = undefined;
    }
  });

  it('when more members than one batch takes are pushed, then they go in batches of at most 500', async () => {
    const people = Array.from({ length: 1100 }, (_, i) => person(`bulk${i}@x.io`));
    const res = await writerFor(fake).upsert(people);
    expect(res.filter((r) => r.ok)).toHaveLength(1100);
    expect(batches(fake).map((r) => (r.body as { members: unknown[] }).members.length)).toEqual([500, 500, 100]);
  });

  it('when tags are configured, then each pushed member gets them; without tags no tag call is made', async () => {
    await writerFor(fake, { tags: ['app', 'beta'] }).upsert([person('t@x.io'), person('broken')]);
    expect(fake.member('t@x.io')?.tags).toEqual(['app', 'beta']);
    const tagCalls = fake.requests.filter((r) => r.path.endsWith('/tags'));
    expect(tagCalls.map((r) => r.path)).toEqual([`/3.0/lists/${fake.audienceId}/members/${subscriberHash('t@x.io')}/tags`]);
    expect(tagCalls[0].body).toEqual({
      tags: [
        { name: 'app', status: 'active' },
        { name: 'beta', status: 'active' },
      ],
    });
    fake.requests.length = 0;
    await writerFor(fake).upsert([person('u@x.io')]);
    expect(fake.requests.filter((r) => r.path.endsWith('/tags'))).toEqual([]);
  });

  it('when a user’s email changed, then the old member takes the new email and keeps its history', async () => {
    const oldId = fake.addMember('before@x.io', 'subscribed', { FNAME: 'Ada' }, ['vip']).id;
    const res = await writerFor(fake).upsert([person('after@x.io', {}, { externalId: oldId })]);
    expect(res[0]).toMatchObject({ ok: true, externalId: subscriberHash('after@x.io'), action: 'updated' });
    expect(fake.member('before@x.io')).toBeUndefined();
    expect(fake.member('after@x.io')?.tags).toEqual(['vip']);
    expect(fake.requests.find((r) => r.method === 'PATCH')).toMatchObject({
      path: `/3.0/lists/${fake.audienceId}/members/${oldId}`,
      body: { email_address: 'after@x.io' },
    });
  });

  it('when the member we knew is gone (deleted at Mailchimp), then it is created again under the new id', async () => {
    const res = await writerFor(fake).upsert([person('back@x.io', {}, { externalId: subscriberHash('vanished@x.io') })]);
    expect(res[0]).toMatchObject({ ok: true, externalId: subscriberHash('back@x.io'), action: 'created' });
    fake.addMember('archived@x.io', 'archived');
    const again = await writerFor(fake).upsert([person('archived@x.io', {}, { externalId: subscriberHash('archived@x.io') })]);
    expect(again[0]).toMatchObject({ ok: true, action: 'created' });
    expect(fake.member('archived@x.io')?.status).toBe('subscribed');
  });

  it('when Mailchimp fails a few times or rate-limits, then the call is retried; when it keeps failing, the batch throws', async () => {
    fake.failNext(1, 503);
    fake.rateLimitNext(1, 0);
    expect((await writerFor(fake).upsert([person('r@x.io')]))[0].ok).toBe(true);
    fake.failNext(10, 500);
    await expect(writerFor(fake, {}, 1).upsert([person('s@x.io')])).rejects.toBeInstanceOf(CrmUnavailableError);
  });

  it('when the key is refused mid-push, then an auth error without the key; a missing audience is unavailable', async () => {
    const bad = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-us21';
    const err = await writerFor(fake, { apiKey: bad })
      .upsert([person('k@x.io')])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).not.toContain(bad);
    expect(JSON.stringify(capture.entries)).not.toContain(bad);
    await expect(writerFor(fake, { audienceId: 'nope' }).upsert([person('k@x.io')])).rejects.toMatchObject({ status: 404 });
  });

  it('when removed users are archived or deleted, then Mailchimp does so; a member already gone counts as removed', async () => {
    const a = fake.addMember('arch@x.io');
    const d = fake.addMember('del@x.io');
    const w = writerFor(fake);
    const archived = await w.remove(
      [
        { userId: 1, externalId: a.id, email: 'arch@x.io' },
        { userId: 2, externalId: subscriberHash('nobody@x.io'), email: 'nobody@x.io' },
      ],
      'archive',
    );
    expect(archived).toEqual([
      { userId: 1, ok: true, externalId: a.id, action: 'archived' },
      { userId: 2, ok: true, externalId: subscriberHash('nobody@x.io'), action: 'archived' },
    ]);
    expect(fake.member('arch@x.io')?.status).toBe('archived');
    const deleted = await w.remove([{ userId: 3, externalId: d.id, email: 'del@x.io' }], 'delete');
    expect(deleted).toEqual([{ userId: 3, ok: true, externalId: d.id, action: 'deleted' }]);
    expect(fake.member('del@x.io')).toBeUndefined();
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: `/3.0/lists/${fake.audienceId}/members/${d.id}/actions/delete-permanent`,
    });
  });
});
