import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { CrmAuthError, CrmUnavailableError } from '../../src/providers/connector';
import { wealthbox } from '../../src/providers/wealthbox';
import type { CrmWriter, OutgoingPerson, PushResult } from '../../src/providers/writer';
import { buildConnector, buildWriter, capturingLogger } from '../helpers/connector-harness';

const { logger } = capturingLogger('warn');

let fake: FakeWealthbox;
beforeAll(async () => {
  fake = await new FakeWealthbox({ contacts: 5, seed: 13 }).start();
});
afterAll(() => fake.stop());
afterEach(() => fake.clearFaults());

function writer(config: Record<string, unknown> = {}, retries = 2): CrmWriter {
  const { writer: w } = buildWriter(wealthbox, { apiKey: fake.token, baseUrl: fake.url, ...config }, { logger, retries });
  if (!w) throw new Error('wealthbox has no writer');
  return w;
}

let nextUser = 1;
function person(fields: Record<string, string | null>, externalId: string | null = null): OutgoingPerson {
  return { userId: nextUser++, externalId, email: fields.email?.toLowerCase() ?? null, fields, isActive: true };
}

const calls = (from: number) => fake.requests.slice(from).map((r) => `${r.method} ${r.path}`);
const idOf = (r: PushResult): number => {
  if (!r.ok) throw new Error(`not written: ${r.error}`);
  return Number(r.externalId);
};
type Json = Record<string, unknown>;

describe('WealthboxWriter: upsert', () => {
  it('when the writer is built, then it links pushes under the connector’s contact provider, 10 people a call', () => {
    const c = buildConnector(wealthbox, { apiKey: fake.token, baseUrl: fake.url }, { logger, pageSize: 100 });
    expect(writer().identityProvider).toBe(c.provider);
    expect(c.identityProviders).toContain(writer().identityProvider);
    expect(writer().maxBatch).toBe(10);
  });

  it('when a new person is pushed, then a lookup by email finds nobody and POST /contacts creates a Person with principal entries; a listing sees it', async () => {
    const since = new Date(Date.now() - 1000);
    const from = fake.requests.length;
    const p = person({
      first_name: 'Zoë',
      last_name: 'Ångström',
      email: 'zoe@example.com',
      phone: '(555) 010-0000',
      job_title: 'CFO',
      company_name: null,
    });
    const [result] = await writer().upsert([p]);

    expect(result).toEqual({ userId: p.userId, ok: true, externalId: expect.stringMatching(/^\d+$/), action: 'created' });
    expect(calls(from)).toEqual(['GET /v1/contacts', 'POST /v1/contacts']);
    expect(fake.requests[from].query).toMatchObject({ email: 'zoe@example.com', type: 'Person' });
    expect(fake.received.at(-1)?.body).toEqual({
      type: 'Person',
      first_name: 'Zoë',
      last_name: 'Ångström',
      email_addresses: [{ address: 'zoe@example.com', principal: true, kind: 'Work' }],
      phone_numbers: [{ address: '(555) 010-0000', principal: true, kind: 'Work' }],
      job_title: 'CFO',
    });
    expect(fake.contacts.get(idOf(result))).toMatchObject({ type: 'Person', firstName: 'Zoë', email: 'zoe@example.com', jobTitle: 'CFO' });

    const c = buildConnector(wealthbox, { apiKey: fake.token, baseUrl: fake.url, includeUsers: false }, { logger, pageSize: 100 });
    const page = await c.listPeople('contacts', { cursor: null, updatedSince: since });
    expect(page.records.map((r) => r.email)).toEqual(['zoe@example.com']);
  });

  it('when the same person is pushed again without an id (a retried create), then the lookup finds the contact: no second one', async () => {
    const before = fake.contacts.size;
    const from = fake.requests.length;
    const [result] = await writer().upsert([
      person({ first_name: 'Zoë', last_name: 'Ångström', email: 'ZOE@example.com', job_title: 'CEO' }),
    ]);
    expect(result).toMatchObject({ ok: true, action: 'updated' });
    expect(calls(from)).toEqual(['GET /v1/contacts', `PUT /v1/contacts/${idOf(result)}`]);
    expect(fake.contacts.size).toBe(before);
    // Only what differs is sent.
    expect(fake.received.at(-1)?.body).toEqual({ job_title: 'CEO' });
  });

  it('when a linked person’s email changes, then the principal entry is replaced by its id (not added); empty title and company are cleared', async () => {
    const [c] = fake.addContacts(1);
    fake.updateContact(c.id, {
      firstName: 'Lin',
      lastName: 'Ked',
      email: 'old.address@example.com',
      jobTitle: 'Boss',
      companyName: 'Acme',
    });
    const before = await fakeGet(c.id);
    const principalId = (before.email_addresses as { id: number }[])[0].id;
    const from = fake.requests.length;
    const p = person(
      { first_name: 'Lin', last_name: null, email: 'new.address@example.com', phone: null, job_title: null, company_name: null },
      String(c.id),
    );
    const [result] = await writer().upsert([p]);

    expect(result).toEqual({ userId: p.userId, ok: true, externalId: String(c.id), action: 'updated' });
    expect(calls(from)).toEqual([`GET /v1/contacts/${c.id}`, `PUT /v1/contacts/${c.id}`]);
    expect(fake.received.at(-1)?.body).toEqual({
      email_addresses: [{ id: principalId, address: 'new.address@example.com', principal: true }],
      job_title: '',
      company_name: '',
    });
    const after = await fakeGet(c.id);
    expect(after.email_addresses).toEqual([{ id: principalId, address: 'new.address@example.com', principal: true, kind: 'Work' }]);
    expect(after).toMatchObject({ last_name: 'Ked', job_title: null, company_name: null });
  });

  it('when a linked contact already says what would be sent, then nothing is written: unchanged', async () => {
    const [c] = fake.addContacts(1);
    fake.updateContact(c.id, { firstName: 'Same', lastName: 'Again', email: 'same@example.com', jobTitle: 'Clerk' });
    const from = fake.requests.length;
    const [result] = await writer().upsert([
      person({ first_name: 'Same', last_name: 'Again', email: 'same@example.com', job_title: 'Clerk' }, String(c.id)),
    ]);
    expect(result).toMatchObject({ ok: true, externalId: String(c.id), action: 'unchanged' });
    expect(calls(from)).toEqual([`GET /v1/contacts/${c.id}`]);
  });

  it('when a linked contact was deleted in Wealthbox, then the 404 leads to the lookup and a create', async () => {
    const [gone] = fake.addContacts(1);
    fake.deleteContact(gone.id);
    const from = fake.requests.length;
    const [result] = await writer().upsert([person({ first_name: 'Re', last_name: 'Born', email: 'reborn@example.com' }, String(gone.id))]);
    expect(calls(from)).toEqual([`GET /v1/contacts/${gone.id}`, 'GET /v1/contacts', 'POST /v1/contacts']);
    expect(result).toMatchObject({ ok: true, action: 'created' });
    expect(idOf(result)).not.toBe(gone.id);
  });

  it('when a person has no last name, then the local part of their email stands in (Wealthbox people need a name)', async () => {
    const [result] = await writer().upsert([person({ first_name: null, last_name: null, email: 'nameless.one@example.com' })]);
    expect(result).toMatchObject({ ok: true, action: 'created' });
    expect((fake.received.at(-1)?.body as Json).last_name).toBe('nameless.one');
  });

  it('when a person has no last name but a display name, then that name stands in rather than the email’s local part', async () => {
    const p = { ...person({ first_name: null, last_name: null, email: 'mono.nym@example.com' }), name: 'Prince Nelson' };
    const [result] = await writer().upsert([p]);
    expect(result).toMatchObject({ ok: true, action: 'created' });
    expect((fake.received.at(-1)?.body as Json).last_name).toBe('Prince Nelson');
  });

  it('when one person is refused (422: an invalid email), then that person alone fails with Wealthbox’s message', async () => {
    const people = [person({ last_name: 'Bad', email: 'not-an-email' }), person({ last_name: 'Good', email: 'good@example.com' })];
    const results = await writer().upsert(people);
    expect(results[0]).toEqual({ userId: people[0].userId, ok: false, error: expect.stringContaining('is invalid') });
    expect(results[1]).toMatchObject({ ok: true, action: 'created' });
  });
});

describe('WealthboxWriter: remove', () => {
  it('when linked people are deleted, then DELETE /contacts/{id} each; one already gone counts as deleted; archive is refused', async () => {
    const [a, b] = fake.addContacts(2);
    fake.deleteContact(b.id);
    const from = fake.requests.length;
    const results = await writer().remove(
      [
        { userId: 1, externalId: String(a.id), email: null },
        { userId: 2, externalId: String(b.id), email: null },
      ],
      'delete',
    );
    expect(results).toEqual([
      { userId: 1, ok: true, externalId: String(a.id), action: 'deleted' },
      { userId: 2, ok: true, externalId: String(b.id), action: 'deleted' },
    ]);
    expect(calls(from)).toEqual([`DELETE /v1/contacts/${a.id}`, `DELETE /v1/contacts/${b.id}`]);
    expect(fake.contacts.get(a.id)?.deletedAt).not.toBeNull();
    expect(await writer().remove([{ userId: 3, externalId: String(a.id), email: null }], 'archive')).toEqual([
      { userId: 3, ok: false, error: expect.stringContaining('not archived') },
    ]);
  });
});

describe('WealthboxWriter: failures of the whole call', () => {
  it('when Wealthbox answers 500 once, then the call is retried and the person is created once', async () => {
    fake.failNext(1, 500);
    const [result] = await writer().upsert([person({ last_name: 'Flaky', email: 'flaky@example.com' })]);
    expect(result.ok).toBe(true);
    expect([...fake.contacts.values()].filter((c) => c.email === 'flaky@example.com' && !c.deletedAt)).toHaveLength(1);
  });

  it('when a create is carried out but its answer is lost (502), then it is not sent again: the next push finds the contact by email', async () => {
    fake.loseAnswerOf('POST', '/v1/contacts');
    const p = person({ last_name: 'Lost', email: 'lost-answer@example.com' });
    await expect(writer().upsert([p])).rejects.toBeInstanceOf(CrmUnavailableError);
    const made = () => [...fake.contacts.values()].filter((c) => c.email === 'lost-answer@example.com' && !c.deletedAt);
    expect(made()).toHaveLength(1);
    const [again] = await writer().upsert([{ ...p }]);
    expect(again).toMatchObject({ ok: true, externalId: String(made()[0].id) });
    expect(made()).toHaveLength(1);
  });

  it('when Wealthbox answers 429 with Retry-After, then the call waits and goes through', async () => {
    fake.rateLimitNext(1, 0);
    const [result] = await writer().upsert([person({ last_name: 'Patient', email: 'patient@example.com' })]);
    expect(result.ok).toBe(true);
  });

  it('when Wealthbox keeps failing, then upsert throws CrmUnavailableError (the worker retries the batch)', async () => {
    fake.failNext(10, 503);
    await expect(writer({}, 1).upsert([person({ last_name: 'Down', email: 'down@example.com' })])).rejects.toBeInstanceOf(
      CrmUnavailableError,
    );
  });

  it('when the token is refused, then CrmAuthError without the token in its message', async () => {
    const err = await writer({ apiKey: 'wrong-secret-token-value' })
      .upsert([person({ last_name: 'Auth', email: 'auth@example.com' })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).not.toContain('wrong-secret-token-value');
  });
});

async function fakeGet(id: number): Promise<Json> {
  const res = await fetch(`${fake.url}/contacts/${id}`, { headers: { ACCESS_TOKEN: fake.token } });
  return (await res.json()) as Json;
}
