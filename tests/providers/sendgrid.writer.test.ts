import { FakeSendGrid } from '../../fake-crm/sendgrid/fake-sendgrid';
import { ConfigValidator } from '../../src/modules/integrations/config-schema';
import { CrmAuthError, CrmUnavailableError } from '../../src/providers/connector';
import { sendgrid } from '../../src/providers/sendgrid';
import { pushConfigProperties, type CrmWriter, type OutgoingPerson } from '../../src/providers/writer';
import { buildConnector, buildWriter, capturingLogger } from '../helpers/connector-harness';

const { capture, logger } = capturingLogger('info');

function writerFor(fake: FakeSendGrid, config: Record<string, unknown> = {}, retries = 2): CrmWriter {
  const { writer } = buildWriter(
    sendgrid,
    { apiKey: fake.apiKey, listId: fake.listId, baseUrl: fake.url, requestsPerSecond: 0, jobTimeoutSeconds: 5, ...config },
    { logger, retries },
  );
  if (!writer) throw new Error('sendgrid has no writer');
  return writer;
}

let nextId = 1;
function person(email: string | null, fields: Record<string, string | null> = {}, o: Partial<OutgoingPerson> = {}): OutgoingPerson {
  return {
    userId: nextId++,
    externalId: null,
    email,
    fields: { first_name: 'Ada', last_name: 'Lovelace', ...fields },
    isActive: true,
    ...o,
  };
}

const calls = (fake: FakeSendGrid, method: string, path: string) =>
  fake.requests.filter((r) => r.method === method && r.path.startsWith(path));

describe('SendGrid provider: definition and connection', () => {
  let fake: FakeSendGrid;
  beforeAll(async () => {
    fake = await new FakeSendGrid({ listName: 'Newsletter' }).start();
  });
  afterAll(() => fake.stop());

  it('when a config is validated, then custom field ids pass, other names and unknown fields do not; defaults are filled', () => {
    const d = sendgrid.definition;
    const schema = { ...d.configSchema, properties: { ...(d.configSchema.properties as object), ...pushConfigProperties(d.push!) } };
    const v = new ConfigValidator();
    const ok = v.validate('sg', schema, {
      apiKey: 'SG.abc.def',
      listId: fake.listId,
      pushMapping: { title: 'e1_T', phone: 'phone_number' },
    });
    expect(ok.errors).toEqual([]);
    expect(ok.value).toMatchObject({
      jobTimeoutSeconds: 60,
      baseUrl: 'https://api.sendgrid.com',
      direction: 'push',
      onUserDeleted: 'none',
    });
    const bad = v.validate('sg', schema, {
      apiKey: 'SG.abc.def',
      listId: 'x',
      pushMapping: { title: 'Job Title' },
      jobTimeoutSeconds: 0,
      extra: true,
    });
    expect(bad.errors.map((e) => e.path)).toEqual(
      expect.arrayContaining(['body.config.pushMapping.title', 'body.config.jobTimeoutSeconds', 'body.config.extra']),
    );
    expect(d).toMatchObject({ category: 'Email Marketing', authModes: ['api_key'], pulls: false, webhooks: false, routingKeyField: null });
    expect(d.push).toMatchObject({ directions: ['push'], defaultDirection: 'push', deletePolicies: ['archive', 'delete'] });
  });

  it('when the connection is tested, then the list is read; a wrong key is an auth error that does not show the key', async () => {
    const config = { apiKey: fake.apiKey, listId: fake.listId, baseUrl: fake.url, requestsPerSecond: 0 };
    const info = await buildConnector(sendgrid, config, { logger, pageSize: 10 }).testConnection();
    expect(info).toMatchObject({ account: 'Newsletter', details: { listId: fake.listId, contactCount: 0 } });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', path: `/v3/marketing/lists/${fake.listId}`, token: fake.apiKey });
    const err = await buildConnector(sendgrid, { ...config, apiKey: 'SG.wrong.key' }, { logger, pageSize: 10 })
      .testConnection()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).not.toContain('SG.wrong.key');
    const c = buildConnector(sendgrid, config, { logger, pageSize: 10 });
    await expect(c.listPeople('contacts', { cursor: null, updatedSince: null })).rejects.toThrow(/no people/);
  });
});

describe('SendGridWriter (fake SendGrid)', () => {
  let fake: FakeSendGrid;
  beforeAll(async () => {
    fake = await new FakeSendGrid().start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    fake.contacts.clear();
    fake.jobs.clear();
    fake.received.length = 0;
    fake.requests.length = 0;
    fake.pollsToComplete = 1;
    fake.searchLag = 0;
    fake.rateLimit = null;
    capture.entries = [];
  });

  it('when new users are pushed, then they are upserted onto the list with mapped fields only, and come back with their contact ids', async () => {
    const w = writerFor(fake);
    expect([w.identityProvider, w.maxBatch]).toEqual(['sendgrid', 1000]);
    const a = person('Ada@Example.com', { last_name: null, city: 'Zürich 🏔', e1_T: 'Engineer', alternate_emails: 'a1@x.io, a2@x.io' });
    const res = await w.upsert([a]);
    const c = fake.contact('ada@example.com');
    expect(res).toEqual([{ userId: a.userId, ok: true, externalId: c?.id, action: 'created' }]);
    expect(calls(fake, 'PUT', '/v3/marketing/contacts')[0].body).toEqual({
      list_ids: [fake.listId],
      contacts: [
        {
          email: 'ada@example.com',
          first_name: 'Ada',
          city: 'Zürich 🏔',
          alternate_emails: ['a1@x.io', 'a2@x.io'],
          custom_fields: { e1_T: 'Engineer' },
        },
      ],
    });
    expect(c).toMatchObject({ list_ids: [fake.listId], custom_fields: { e1_T: 'Engineer' } });
  });

  it('when users are pushed again, then the same contacts are updated, never duplicated', async () => {
    const w = writerFor(fake);
    const people = [person('a@x.io'), person('b@x.io')];
    const first = await w.upsert(people);
    const again = await w.upsert(
      people.map((p, i) => ({
        ...p,
        externalId: first[i].ok ? (first[i] as { externalId: string }).externalId : null,
        fields: { first_name: 'New' },
      })),
    );
    expect(again.map((r) => r.ok && r.action)).toEqual(['updated', 'updated']);
    expect(fake.contacts.size).toBe(2);
    expect(fake.contact('a@x.io')?.fields).toEqual({ first_name: 'New', last_name: 'Lovelace' });
  });

  it('when the import job takes a few polls, then the writer follows it, backing off, until it is done', async () => {
    fake.pollsToComplete = 3;
    const res = await writerFor(fake).upsert([person('slow@x.io')]);
    expect(res[0].ok).toBe(true);
    const polls = calls(fake, 'GET', '/v3/marketing/contacts/imports/');
    expect(polls).toHaveLength(3);
    expect(polls[2].at - polls[1].at).toBeGreaterThan(polls[1].at - polls[0].at);
  });

  it('when the job does not finish within jobTimeoutSeconds, then the batch throws (retried later)', async () => {
    fake.pollsToComplete = 1000;
    const err = await writerFor(fake, { jobTimeoutSeconds: 1 })
      .upsert([person('stuck@x.io')])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmUnavailableError);
    expect((err as Error).message).toMatch(/not finished within 1 s/);
  });

  it('when SendGrid refuses a request for one contact, then the batch is split until that contact fails alone', async () => {
    const people = [person(null), ...Array.from({ length: 6 }, (_, i) => person(i === 4 ? 'not-an-email' : `u${i}@x.io`))];
    const res = await writerFor(fake).upsert(people);
    expect(res.map((r) => r.ok)).toEqual([false, true, true, true, true, false, true]);
    expect(res[0]).toMatchObject({ error: expect.stringContaining('no email') });
    expect(res[5]).toMatchObject({ error: expect.stringContaining('contacts[0].email: email is invalid') });
    expect(fake.contacts.size).toBe(5);
    expect(calls(fake, 'PUT', '/v3/marketing/contacts').length).toBeLessThanOrEqual(7);
  });

  it('when the import job reports errors, then the contacts it did not import fail alone, pointing at errors_url', async () => {
    const res = await writerFor(fake).upsert([person('ok@x.io'), person('badfield@x.io', { e9_T: 'no such field' })]);
    expect(res.map((r) => r.ok)).toEqual([true, false]);
    expect(res[1]).toMatchObject({ error: expect.stringContaining('errors_url') });
    // A job where every contact failed is "failed", not a reason to retry the batch.
    const alone = await writerFor(fake).upsert([person('alone@x.io', { e9_T: 'x' })]);
    expect(alone[0]).toMatchObject({ ok: false });
    expect(capture.entries.some((e) => e.message === 'sendgrid: an import job reported errors')).toBe(true);
  });

  it('when a just-imported contact is not searchable yet, then the search is retried', async () => {
    fake.searchLag = 1;
    const res = await writerFor(fake).upsert([person('lag@x.io')]);
    expect(res[0].ok).toBe(true);
    expect(calls(fake, 'POST', '/v3/marketing/contacts/search/emails')).toHaveLength(2);
  });

  it('when users are inactive, then their contacts leave the list (kept in the account); unknown ones are not added', async () => {
    const on = fake.addContact('on@x.io');
    const off = fake.addContact('off@x.io', {}, []);
    const res = await writerFor(fake).upsert([
      person('on@x.io', {}, { isActive: false }),
      person('off@x.io', {}, { isActive: false }),
      person('never@x.io', {}, { isActive: false }),
    ]);
    expect(res.map((r) => r.ok && [r.externalId, r.action])).toEqual([[on.id, 'updated'], [off.id, 'unchanged'], false]);
    expect(res[2]).toMatchObject({ error: expect.stringContaining('not added') });
    expect(fake.contacts.get(on.id)?.list_ids).toEqual([]);
    expect(fake.contact('never@x.io')).toBeUndefined();
    expect(calls(fake, 'PUT', '/v3/marketing/contacts')).toEqual([]);
  });

  it('when a user’s email changed, then the new contact joins the list and the old one leaves it', async () => {
    const old = fake.addContact('before@x.io');
    const res = await writerFor(fake).upsert([person('after@x.io', {}, { externalId: old.id })]);
    const now = fake.contact('after@x.io');
    expect(res[0]).toMatchObject({ ok: true, externalId: now?.id, action: 'created' });
    expect(fake.onList().map((c) => c.email)).toEqual(['after@x.io']);
    expect(fake.contacts.has(old.id)).toBe(true);
  });

  it('when more users than one request takes are pushed, then 1,000 contacts a request and 100 emails a search', async () => {
    const people = Array.from({ length: 1500 }, (_, i) => person(`bulk${i}@x.io`));
    const res = await writerFor(fake).upsert(people);
    expect(res.filter((r) => r.ok)).toHaveLength(1500);
    expect(calls(fake, 'PUT', '/v3/marketing/contacts').map((r) => (r.body as { contacts: unknown[] }).contacts.length)).toEqual([
      1000, 500,
    ]);
    const searches = calls(fake, 'POST', '/v3/marketing/contacts/search/emails');
    expect(searches).toHaveLength(15);
    expect(searches.every((r) => (r.body as { emails: unknown[] }).emails.length <= 100)).toBe(true);
  });

  it('when SendGrid rate-limits or fails a few times, then calls are retried; when it keeps failing, the batch throws', async () => {
    fake.rateLimitNext(1, 0);
    fake.failNext(1, 503);
    expect((await writerFor(fake).upsert([person('r@x.io')]))[0].ok).toBe(true);
    fake.rateLimit = null;
    fake.failNext(10, 500);
    await expect(writerFor(fake, {}, 1).upsert([person('s@x.io')])).rejects.toBeInstanceOf(CrmUnavailableError);
  });

  it('when X-RateLimit-Remaining reaches 0, then the writer waits instead of running into a 429', async () => {
    fake.rateLimit = { limit: 2, windowMs: 500 };
    expect((await writerFor(fake).upsert([person('paced@x.io')])).every((r) => r.ok)).toBe(true);
    // PUT, job status (the budget's last call), then a pause, and the search in the next window: no 429, no retry.
    const [put, job, search] = fake.requests;
    expect([fake.requests.length, put.method, job.method, search.method]).toEqual([3, 'PUT', 'GET', 'POST']);
    expect(search.at - job.at).toBeGreaterThanOrEqual(900);
  });

  it('when the import completed but its contacts stay unsearchable past the timeout, then the batch throws (retried later)', async () => {
    fake.searchLag = 100;
    const err = await writerFor(fake, { jobTimeoutSeconds: 1 })
      .upsert([person('hidden@x.io')])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmUnavailableError);
    expect((err as Error).message).toMatch(/not searchable yet/);
  });

  it('when the key is refused, then an auth error that shows the key nowhere', async () => {
    const err = await writerFor(fake, { apiKey: 'SG.revoked.key' })
      .upsert([person('k@x.io')])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).not.toContain('SG.revoked.key');
    expect(JSON.stringify(capture.entries)).not.toContain('SG.revoked.key');
  });

  it('when removed users are archived, then their contacts leave the list; when deleted, they are gone (a missing one counts as deleted)', async () => {
    const a = fake.addContact('a@x.io');
    const d = fake.addContact('d@x.io');
    const w = writerFor(fake);
    expect(await w.remove([{ userId: 1, externalId: a.id, email: 'a@x.io' }], 'archive')).toEqual([
      { userId: 1, ok: true, externalId: a.id, action: 'archived' },
    ]);
    expect(fake.contacts.get(a.id)?.list_ids).toEqual([]);
    const deleted = await w.remove(
      [
        { userId: 2, externalId: d.id, email: 'd@x.io' },
        { userId: 3, externalId: 'gone-already', email: null },
      ],
      'delete',
    );
    expect(deleted).toEqual([
      { userId: 2, ok: true, externalId: d.id, action: 'deleted' },
      { userId: 3, ok: true, externalId: 'gone-already', action: 'deleted' },
    ]);
    expect(fake.contacts.has(d.id)).toBe(false);
    expect(calls(fake, 'DELETE', '/v3/marketing/contacts')[0].query).toEqual({ ids: `${d.id},gone-already` });
  });

  it('when an archived batch holds a contact deleted at SendGrid, then the others still leave the list; a missing list is an error', async () => {
    const a = fake.addContact('a@x.io');
    const b = fake.addContact('b@x.io');
    const w = writerFor(fake);
    const removed = await w.remove(
      [
        { userId: 1, externalId: a.id, email: 'a@x.io' },
        { userId: 2, externalId: 'deleted-at-sendgrid', email: 'gone@x.io' },
        { userId: 3, externalId: b.id, email: 'b@x.io' },
      ],
      'archive',
    );
    expect(removed.map((r) => [r.userId, r.ok])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
    expect([fake.contacts.get(a.id)?.list_ids, fake.contacts.get(b.id)?.list_ids]).toEqual([[], []]);
    // SendGrid refused the first call (404: one id unknown); the second asked for the two it still has.
    const removals = calls(fake, 'DELETE', `/v3/marketing/lists/${fake.listId}/contacts`);
    expect(removals.map((r) => r.query)).toEqual([
      { contact_ids: `${a.id},deleted-at-sendgrid,${b.id}` },
      { contact_ids: `${a.id},${b.id}` },
    ]);

    fake.lists.delete(fake.listId);
    await expect(w.remove([{ userId: 1, externalId: a.id, email: 'a@x.io' }], 'archive')).rejects.toThrow(
      /sendgrid answered 404 on a list removal: id: list ID does not exist/,
    );
  });
});
