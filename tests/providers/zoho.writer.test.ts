import { FakeZoho, type ReceivedWrite } from '../../fake-crm/zoho/fake-zoho';
import { CrmAuthError, CrmBudgetError, CrmUnavailableError, type CrmConnector } from '../../src/providers/connector';
import type { CrmWriter, OutgoingPerson } from '../../src/providers/writer';
import { zoho } from '../../src/providers/zoho';
import { buildConnector, buildWriter, capturingLogger } from '../helpers/connector-harness';

const { logger } = capturingLogger('info');

function writer(fake: FakeZoho, config: Record<string, unknown> = {}, retries = 2): CrmWriter {
  const { writer: w } = buildWriter(zoho, { accessToken: fake.token, apiDomain: fake.url, ...config }, { logger, retries });
  if (!w) throw new Error('zoho has no writer');
  return w;
}

let nextUser = 1;
/** A person as the push worker hands it over, under the default mapping. */
function person(fields: Record<string, string | null>, externalId: string | null = null): OutgoingPerson {
  const email = fields.Email ?? null;
  return { userId: nextUser++, externalId, email: email?.toLowerCase() ?? null, fields, isActive: true };
}

const writes = (fake: FakeZoho, from: number): ReceivedWrite[] => fake.received.slice(from);
type Body = { data: Record<string, unknown>[]; duplicate_check_fields?: string[] };

describe('ZohoWriter: upsert', () => {
  let fake: FakeZoho;
  beforeAll(async () => {
    fake = await new FakeZoho({ contacts: 5, seed: 3 }).start();
  });
  afterAll(() => fake.stop());

  it('when the writer is built, then it links pushes under the connector’s identity provider, 100 records a call', () => {
    const w = writer(fake);
    const c = buildConnector(zoho, { accessToken: fake.token, apiDomain: fake.url }, { logger, pageSize: 200 });
    expect(w.identityProvider).toBe(c.identityProviders[0]);
    expect(w.maxBatch).toBe(100);
  });

  it('when new people are pushed, then one upsert call matched by Email creates them, Account_Name by name, and a listing sees them', async () => {
    const since = new Date(Date.now() - 1000);
    const from = fake.received.length;
    const people = [
      person({
        First_Name: 'Zoë',
        Last_Name: 'Ångström',
        Email: 'zoe@example.com',
        Phone: '+33 1 23',
        Account_Name: 'Globex',
        Title: 'CTO',
      }),
      person({ First_Name: '李', Last_Name: '小龍', Email: 'lee@example.com', Phone: null, Account_Name: 'Brand New Co', Title: null }),
    ];
    const results = await writer(fake).upsert(people);

    expect(results).toEqual(
      people.map((p) => ({ userId: p.userId, ok: true, externalId: expect.stringMatching(/^\d{19}$/), action: 'created' })),
    );
    const sent = writes(fake, from);
    expect(sent.map((w) => `${w.method} ${w.path}`)).toEqual(['POST /crm/v8/Contacts/upsert']);
    const body = sent[0].body as Body;
    expect(body.duplicate_check_fields).toEqual(['Email']);
    // Nulls are left out of a create; the lookup goes by name.
    expect(body.data[1]).toEqual({ First_Name: '李', Last_Name: '小龍', Email: 'lee@example.com', Account_Name: { name: 'Brand New Co' } });
    const created = fake.contact((results[0] as { externalId: string }).externalId);
    expect(created).toMatchObject({ First_Name: 'Zoë', Last_Name: 'Ångström', Phone: '+33 1 23', Title: 'CTO' });
    expect(created.Account_Name).toEqual({ name: 'Globex', id: '5725767000000330007' });
    expect(fake.contact((results[1] as { externalId: string }).externalId).Account_Name?.name).toBe('Brand New Co');

    const c: CrmConnector = buildConnector(zoho, { accessToken: fake.token, apiDomain: fake.url }, { logger, pageSize: 200 });
    const page = await c.listPeople('contacts', { cursor: null, updatedSince: since });
    expect(page.records.map((r) => r.email)).toEqual(['zoe@example.com', 'lee@example.com']);
  });

  it('when the same people are pushed again without their ids (a retried call), then Zoho matches them by email: updated, not duplicated', async () => {
    const people = [person({ First_Name: 'Zoë', Last_Name: 'Ångström', Email: 'ZOE@example.com', Title: 'CEO' })];
    const before = fake.contacts.size;
    const [result] = await writer(fake).upsert(people);
    expect(result).toMatchObject({ ok: true, action: 'updated' });
    expect(fake.contacts.size).toBe(before);
    expect(fake.contact((result as { externalId: string }).externalId).Title).toBe('CEO');
  });

  it('when linked people are pushed, then PUT carries their ids; a null clears a field, Last_Name is never cleared', async () => {
    const target = fake.addContact({ First_Name: 'Old', Last_Name: 'Name', Email: 'old@example.com', Phone: '+1 555 0100', Title: 'Boss' });
    const stamp = target.Modified_Time.getTime();
    const from = fake.received.length;
    const p = person(
      { First_Name: 'New', Last_Name: null, Email: 'old@example.com', Phone: null, Title: 'Chief', Mobile: '+1 555 0199' },
      target.id,
    );
    const [result] = await writer(fake).upsert([p]);

    expect(result).toEqual({ userId: p.userId, ok: true, externalId: target.id, action: 'updated' });
    const [put] = writes(fake, from);
    expect(`${put.method} ${put.path}`).toBe('PUT /crm/v8/Contacts');
    expect((put.body as Body).data).toEqual([
      { id: target.id, First_Name: 'New', Email: 'old@example.com', Phone: null, Title: 'Chief', Mobile: '+1 555 0199' },
    ]);
    expect(fake.contact(target.id)).toMatchObject({
      First_Name: 'New',
      Last_Name: 'Name',
      Phone: null,
      Title: 'Chief',
      more: { Mobile: '+1 555 0199' },
    });
    expect(fake.contact(target.id).Modified_Time.getTime()).toBeGreaterThan(stamp);
  });

  it('when a linked contact was deleted in Zoho, then the PUT’s invalid id sends that person through the upsert: created again', async () => {
    const gone = fake.addContact({ First_Name: 'Gone', Last_Name: 'Away', Email: 'gone@example.com' });
    fake.deleteContact(gone.id);
    const kept = fake.addContact({ First_Name: 'Kept', Last_Name: 'Here', Email: 'kept@example.com' });
    const from = fake.received.length;
    const people = [
      person({ First_Name: 'Gone', Last_Name: 'Away', Email: 'gone@example.com' }, gone.id),
      person({ First_Name: 'Kept', Last_Name: 'Here', Email: 'kept@example.com' }, kept.id),
    ];
    const results = await writer(fake).upsert(people);

    expect(writes(fake, from).map((w) => `${w.method} ${w.path}`)).toEqual(['PUT /crm/v8/Contacts', 'POST /crm/v8/Contacts/upsert']);
    expect(results[0]).toEqual({
      userId: people[0].userId,
      ok: true,
      externalId: expect.not.stringMatching(`^${gone.id}$`),
      action: 'created',
    });
    expect(fake.contact((results[0] as { externalId: string }).externalId).Email).toBe('gone@example.com');
    expect(results[1]).toEqual({ userId: people[1].userId, ok: true, externalId: kept.id, action: 'updated' });
  });

  it('when one record is refused (an invalid email), then it alone fails with Zoho’s code and field; the others are written', async () => {
    const people = [
      person({ First_Name: 'Bad', Last_Name: 'Mail', Email: 'not-an-email' }),
      person({ First_Name: 'Good', Last_Name: 'Mail', Email: 'good.mail@example.com' }),
    ];
    const results = await writer(fake).upsert(people);
    expect(results[0]).toEqual({ userId: people[0].userId, ok: false, error: expect.stringContaining('INVALID_DATA') });
    expect((results[0] as { error: string }).error).toContain('(Email)');
    expect(results[1]).toMatchObject({ ok: true, action: 'created' });
  });

  it('when every record is refused (Zoho’s 400 with one entry each), then each fails alone and nothing is thrown', async () => {
    const people = [person({ Last_Name: 'X', Email: 'bad-1' }), person({ Last_Name: 'Y', Email: 'bad-2' })];
    const results = await writer(fake).upsert(people);
    expect(results.map((r) => r.ok)).toEqual([false, false]);
  });

  it('when a user has no last name, then Last_Name is the local part of their email (Zoho requires one)', async () => {
    const from = fake.received.length;
    const [result] = await writer(fake).upsert([person({ First_Name: 'Solo', Last_Name: null, Email: 'solo.artist@example.com' })]);
    expect(((writes(fake, from)[0].body as Body).data[0] as { Last_Name: string }).Last_Name).toBe('solo.artist');
    expect(fake.contact((result as { externalId: string }).externalId).Last_Name).toBe('solo.artist');
  });

  it('when a user has no last name but a display name, then Last_Name is that name rather than the email’s local part', async () => {
    const from = fake.received.length;
    const p = { ...person({ First_Name: 'Cher', Last_Name: null, Email: 'cher.mononym@example.com' }), name: 'Cher Sarkisian' };
    const [result] = await writer(fake).upsert([p]);
    expect(((writes(fake, from)[0].body as Body).data[0] as { Last_Name: string }).Last_Name).toBe('Cher Sarkisian');
    expect(fake.contact((result as { externalId: string }).externalId).Last_Name).toBe('Cher Sarkisian');
  });

  it('when more than 100 people come in one call, then they go in upserts of 100', async () => {
    const from = fake.received.length;
    const people = Array.from({ length: 130 }, (_, i) => person({ Last_Name: `Bulk ${i}`, Email: `bulk.${i}@example.com` }));
    const results = await writer(fake).upsert(people);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(writes(fake, from).map((w) => (w.body as Body).data.length)).toEqual([100, 30]);
  });
});

describe('ZohoWriter: remove', () => {
  let fake: FakeZoho;
  beforeAll(async () => {
    fake = await new FakeZoho({ contacts: 4, seed: 5 }).start();
  });
  afterAll(() => fake.stop());

  it('when linked people are deleted, then one DELETE with their ids sends them to the recycle bin; an id Zoho lacks counts as deleted', async () => {
    const [a, b] = fake.contactsIn();
    fake.deleteContact(b.id, 'permanent');
    const from = fake.received.length;
    const results = await writer(fake).remove(
      [
        { userId: 1, externalId: a.id, email: null },
        { userId: 2, externalId: b.id, email: null },
        { userId: 3, externalId: 'not-a-zoho-id', email: null },
      ],
      'delete',
    );
    expect(results).toEqual([
      { userId: 1, ok: true, externalId: a.id, action: 'deleted' },
      { userId: 2, ok: true, externalId: b.id, action: 'deleted' },
      { userId: 3, ok: true, externalId: 'not-a-zoho-id', action: 'deleted' },
    ]);
    const [call] = writes(fake, from);
    expect(call).toMatchObject({ method: 'DELETE', path: '/crm/v8/Contacts', query: { ids: `${a.id},${b.id}` } });
    expect(fake.contacts.has(a.id)).toBe(false);
    expect(fake.deleted.find((d) => d.id === a.id)?.type).toBe('recycle');
  });

  it('when archiving is asked, then every record fails: Zoho contacts are deleted, not archived', async () => {
    const [c] = fake.contactsIn();
    const from = fake.received.length;
    const results = await writer(fake).remove([{ userId: 9, externalId: c.id, email: null }], 'archive');
    expect(results).toEqual([{ userId: 9, ok: false, error: expect.stringContaining('not archived') }]);
    expect(writes(fake, from)).toHaveLength(0);
  });
});

describe('ZohoWriter: failures of the whole call', () => {
  let fake: FakeZoho;
  beforeEach(async () => {
    fake = await new FakeZoho({ contacts: 1, seed: 9 }).start();
  });
  afterEach(() => fake.stop());

  it('when Zoho answers 500 twice, then the call is retried and the person is created once', async () => {
    fake.failNext(2, 500);
    const [result] = await writer(fake, {}, 3).upsert([person({ Last_Name: 'Retry', Email: 'retry@example.com' })]);
    expect(result).toMatchObject({ ok: true, action: 'created' });
    expect(fake.contactsIn().filter((c) => c.Email === 'retry@example.com')).toHaveLength(1);
  });

  it('when Zoho keeps answering 503, then upsert throws CrmUnavailableError (the batch is retried later)', async () => {
    fake.failNext(10, 503);
    await expect(writer(fake, {}, 1).upsert([person({ Last_Name: 'Down', Email: 'down@example.com' })])).rejects.toBeInstanceOf(
      CrmUnavailableError,
    );
  });

  it('when Zoho answers 429 with Retry-After, then the call waits and goes through', async () => {
    fake.rateLimitNext(1, 0);
    const [result] = await writer(fake).upsert([person({ Last_Name: 'Later', Email: 'later@example.com' })]);
    expect(result.ok).toBe(true);
  });

  it('when the token has expired and none can be refreshed, then CrmAuthError, without the token in its message', async () => {
    fake.expireToken();
    const err = await writer(fake)
      .upsert([person({ Last_Name: 'Auth', Email: 'auth@example.com' })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).not.toContain(fake.token);
  });

  it('when Zoho reports credits at or below the reserve, then the next write throws CrmBudgetError before calling', async () => {
    const f = await new FakeZoho({ creditLimit: 100 }).start();
    try {
      f.creditsUsed = 60;
      const w = writer(f, { creditReserve: 50 });
      expect((await w.upsert([person({ Last_Name: 'First', Email: 'first@example.com' })]))[0].ok).toBe(true);
      const calls = f.requests.length;
      await expect(w.upsert([person({ Last_Name: 'Second', Email: 'second@example.com' })])).rejects.toBeInstanceOf(CrmBudgetError);
      await expect(w.remove([{ userId: 1, externalId: '5725767000000200001', email: null }], 'delete')).rejects.toBeInstanceOf(
        CrmBudgetError,
      );
      expect(f.requests.length).toBe(calls);
    } finally {
      await f.stop();
    }
  });
});
