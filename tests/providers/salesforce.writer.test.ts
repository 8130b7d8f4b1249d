import { FakeSalesforce } from '../../fake-crm/salesforce/fake-salesforce';
import { CrmAuthError, CrmBudgetError, CrmUnavailableError } from '../../src/providers/connector';
import { salesforce } from '../../src/providers/salesforce';
import { effectiveMapping, type CrmWriter, type OutgoingPerson, type PushResult } from '../../src/providers/writer';
import { buildConnector, buildWriter, capturingLogger } from '../helpers/connector-harness';

const { capture, logger } = capturingLogger('info');

function writerFor(fake: FakeSalesforce, o: { retries?: number; token?: string; config?: Record<string, unknown> } = {}): CrmWriter {
  const { writer, fileSink } = buildWriter(
    salesforce,
    { instanceUrl: fake.url, accessToken: o.token ?? fake.token, requestsPerSecond: 0, ...o.config },
    { logger, retries: o.retries },
  );
  expect(fileSink).toBeUndefined();
  if (!writer) throw new Error('Salesforce has no writer');
  return writer;
}

interface User {
  email?: string | null;
  first?: string | null;
  last?: string | null;
  phone?: string | null;
  company?: string | null;
  title?: string | null;
}

/** A person as the push worker builds one, with Salesforce's default mapping. */
function person(userId: number, user: User, externalId: string | null = null): OutgoingPerson {
  const mapping = effectiveMapping(salesforce.definition.push!, null);
  const values: Record<string, string | null> = {
    email: user.email ?? null,
    firstName: user.first ?? null,
    lastName: user.last ?? null,
    phone: user.phone ?? null,
    company: user.company ?? null,
    title: user.title ?? null,
  };
  const fields: Record<string, string | null> = {};
  for (const [ours, theirs] of Object.entries(mapping)) fields[theirs as string] = values[ours] ?? null;
  return { userId, externalId, email: user.email ?? null, fields, isActive: true };
}

const byUser = (results: PushResult[]) => new Map(results.map((r) => [r.userId, r]));
const okId = (r: PushResult | undefined) => {
  if (!r?.ok) throw new Error(`not ok: ${JSON.stringify(r)}`);
  return r.externalId;
};
const calls = (fake: FakeSalesforce, method: string, path: string) =>
  fake.requests.filter((r) => r.method === method && r.path.endsWith(path));
const queries = (fake: FakeSalesforce) => fake.requests.filter((r) => r.path.endsWith('/query')).map((r) => String(r.query.q));

describe('Salesforce writer: definition', () => {
  it('when the definition is read, then company maps to the Account name, custom fields end in __c, and deletion deletes', () => {
    const push = salesforce.definition.push!;
    expect(push.defaultMapping).toEqual({
      firstName: 'FirstName',
      lastName: 'LastName',
      email: 'Email',
      phone: 'Phone',
      company: 'Account.Name',
      title: 'Title',
    });
    expect(push.knownFields).toEqual(expect.arrayContaining(['MobilePhone', 'Department', 'MailingCity', 'LeadSource', 'Account.Name']));
    expect(new RegExp(push.customFieldPattern!).test('Favourite_Colour__c')).toBe(true);
    expect(new RegExp(push.customFieldPattern!).test('Favourite_Colour')).toBe(false);
    expect(push.deletePolicies).toEqual(['delete']);
    expect(push.defaultDirection).toBe('pull');
  });
});

describe('Salesforce writer: upserts against the fake', () => {
  let fake: FakeSalesforce;
  let writer: CrmWriter;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 5, seed: 4 }).start();
    writer = writerFor(fake);
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    fake.requests.length = 0;
    fake.received.length = 0;
    capture.entries = [];
  });

  it('when new people are pushed, then one Email lookup, Accounts found or created once, and one create call', async () => {
    expect(writer.identityProvider).toBe('salesforce');
    expect(writer.maxBatch).toBe(200);
    const accountsBefore = fake.accounts.size;
    const start = new Date(Math.floor(Date.now() / 1000) * 1000);
    const results = byUser(
      await writer.upsert([
        person(1, {
          email: 'zoë.åberg@example.com',
          first: 'Zoë',
          last: 'Åberg 🚀',
          phone: '+46 70 123',
          company: 'Müller & Söhne',
          title: 'CEO',
        }),
        person(2, { email: 'li.wei@example.com', first: '李', last: '伟', company: 'globex' }),
        person(3, { email: 'third@example.com', last: "O'Brien", company: ' müller & söhne ' }),
      ]),
    );
    for (const id of [1, 2, 3])
      expect(results.get(id)).toEqual({ userId: id, ok: true, externalId: expect.stringMatching(/^003\w{15}$/), action: 'created' });
    // One account created (Müller & Söhne, matched case-insensitively); Globex already exists.
    expect(fake.accounts.size).toBe(accountsBefore + 1);
    const globex = [...fake.accounts.values()].find((a) => a.Name === 'Globex')!;
    expect(queries(fake)).toEqual([
      "SELECT Id, Name FROM Account WHERE Name IN ('Müller & Söhne', 'globex') ORDER BY CreatedDate, Id",
      "SELECT Id, Email FROM Contact WHERE Email IN ('zoë.åberg@example.com', 'li.wei@example.com', 'third@example.com') ORDER BY CreatedDate, Id",
    ]);
    expect(calls(fake, 'POST', '/composite/sobjects')).toHaveLength(2); // the Account, then the Contacts
    const contacts = fake.received.filter((r) => r.type === 'Contact').map((r) => r.record);
    const muller = [...fake.accounts.values()].find((a) => a.Name === 'Müller & Söhne')!;
    expect(contacts).toEqual([
      {
        attributes: { type: 'Contact' },
        FirstName: 'Zoë',
        LastName: 'Åberg 🚀',
        Email: 'zoë.åberg@example.com',
        Phone: '+46 70 123',
        Title: 'CEO',
        AccountId: muller.Id,
      },
      // Nothing empty is sent to a new Contact.
      { attributes: { type: 'Contact' }, FirstName: '李', LastName: '伟', Email: 'li.wei@example.com', AccountId: globex.Id },
      { attributes: { type: 'Contact' }, LastName: "O'Brien", Email: 'third@example.com', AccountId: muller.Id },
    ]);
    expect(fake.contact(okId(results.get(1))).LastModifiedDate.getTime()).toBeGreaterThanOrEqual(start.getTime());

    // A pull sees them, with their Account names.
    const connector = buildConnector(
      salesforce,
      { instanceUrl: fake.url, accessToken: fake.token, requestsPerSecond: 0 },
      { logger, pageSize: 2000 },
    );
    const page = await connector.listPeople('contacts', { cursor: null, updatedSince: start });
    const pulled = new Map(page.records.map((r) => [r.externalId, r]));
    expect(pulled.get(okId(results.get(1)))).toMatchObject({
      email: 'zoë.åberg@example.com',
      lastName: 'Åberg 🚀',
      data: { company: 'Müller & Söhne' },
    });
    expect(pulled.get(okId(results.get(2)))).toMatchObject({ firstName: '李', data: { company: 'Globex' } });
  });

  it('when the same unlinked people are pushed again (a lost answer), then the Email lookup finds them: updated, not duplicated', async () => {
    const first = byUser(await writer.upsert([person(4, { email: 'again@example.com', first: 'Ann', last: 'Again' })]));
    const count = fake.contacts.size;
    const second = byUser(await writer.upsert([person(4, { email: 'again@example.com', first: 'Anne', last: null })]));
    expect(second.get(4)).toEqual({ userId: 4, ok: true, externalId: okId(first.get(4)), action: 'updated' });
    expect(fake.contacts.size).toBe(count);
    // Found by email, not linked: what we lack is left alone (LastName stays).
    expect(fake.contact(okId(first.get(4)))).toMatchObject({ FirstName: 'Anne', LastName: 'Again' });
    expect(calls(fake, 'PATCH', '/composite/sobjects')).toHaveLength(1);
  });

  it('when linked people are pushed, then PATCH by Id; a value we lack clears theirs, but never LastName or the Account', async () => {
    const [c] = fake.addContacts(1);
    fake.updateContact(c.Id, { Phone: '555-0100', Title: 'CTO', AccountId: [...fake.accounts.keys()][0] });
    const results = byUser(
      await writer.upsert([person(5, { email: 'linked@example.com', first: 'Lin', last: null, phone: null, title: null }, c.Id)]),
    );
    expect(results.get(5)).toEqual({ userId: 5, ok: true, externalId: c.Id, action: 'updated' });
    expect(fake.received.map((r) => [r.method, r.record])).toEqual([
      ['PATCH', { attributes: { type: 'Contact' }, FirstName: 'Lin', Email: 'linked@example.com', Phone: null, Title: null, id: c.Id }],
    ]);
    expect(fake.contact(c.Id)).toMatchObject({ FirstName: 'Lin', Phone: null, Title: null, Email: 'linked@example.com' });
    expect(fake.contact(c.Id).AccountId).not.toBeNull();
    expect(queries(fake)).toEqual([]);
  });

  it('when a linked Contact was deleted in Salesforce, then it is looked up by email and created again under a new Id', async () => {
    const [deleted, purged] = fake.addContacts(2);
    fake.deleteContact(deleted.Id);
    const unknown = purged.Id;
    fake.contacts.delete(purged.Id); // gone without a trace: Salesforce answers INVALID_CROSS_REFERENCE_KEY
    const results = byUser(
      await writer.upsert([
        person(6, { email: 'deleted@example.com', last: 'Deleted' }, deleted.Id),
        person(7, { email: null, last: 'Purged' }, unknown),
      ]),
    );
    expect(results.get(6)).toMatchObject({ ok: true, action: 'created' });
    expect(results.get(7)).toMatchObject({ ok: true, action: 'created' });
    expect(okId(results.get(6))).not.toBe(deleted.Id);
    expect(okId(results.get(7))).not.toBe(unknown);
    expect(fake.received.map((r) => r.method)).toEqual(['PATCH', 'PATCH', 'POST', 'POST']);
    expect(capture.entries.some((e) => e.message === 'salesforce: linked Contacts no longer exist; writing them again')).toBe(true);
  });

  it('when a user has no last name, then the email’s local part is sent; without an email either, that record alone fails', async () => {
    const results = byUser(
      await writer.upsert([
        person(8, { email: 'jane.doe@example.com', first: 'Jane' }),
        person(9, { email: null, first: 'Nameless' }),
        person(10, { email: 'bad-address', last: 'Bad' }),
        person(11, { email: 'fine@example.com', last: 'Fine' }),
      ]),
    );
    expect(fake.contact(okId(results.get(8)))).toMatchObject({ FirstName: 'Jane', LastName: 'jane.doe' });
    expect(results.get(9)).toEqual({ userId: 9, ok: false, error: 'REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]' });
    expect(results.get(10)).toEqual({ userId: 10, ok: false, error: 'INVALID_EMAIL_ADDRESS: Email: invalid email address: bad-address' });
    expect(results.get(11)).toMatchObject({ ok: true, action: 'created' });
    expect(calls(fake, 'POST', '/composite/sobjects')).toHaveLength(1);
  });

  it('when an Account cannot be created, then its people fail naming it, the others are written', async () => {
    const long = 'X'.repeat(300);
    const results = byUser(
      await writer.upsert([
        person(12, { email: 'a12@example.com', last: 'A', company: long }),
        person(13, { email: 'a13@example.com', last: 'B' }),
      ]),
    );
    expect(results.get(12)).toEqual({
      userId: 12,
      ok: false,
      error: expect.stringMatching(/^the Account "X+" is not available: STRING_TOO_LONG: Account Name: data value too large/),
    });
    expect(results.get(13)).toMatchObject({ ok: true });
  });

  it('when 250 people come, two with one email, then calls of at most 200 and the second of the email updates the first’s Contact', async () => {
    const many = Array.from({ length: 250 }, (_, i) => person(1000 + i, { email: `bulk${i}@example.com`, last: `Bulk ${i}` }));
    const twin = person(2000, { email: 'bulk7@example.com', last: 'Twin' });
    const results = byUser(await writer.upsert([...many, twin]));
    expect(results.size).toBe(251);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    const sizes = new Map<number, [string, number]>();
    for (const r of fake.received) sizes.set(r.call, [r.method, (sizes.get(r.call)?.[1] ?? 0) + 1]);
    expect([...sizes.values()]).toEqual([
      ['POST', 200],
      ['POST', 50],
      ['PATCH', 1],
    ]);
    expect(okId(results.get(2000))).toBe(okId(results.get(1007)));
    expect(fake.contact(okId(results.get(1007))).LastName).toBe('Twin');
    // Email lookups: the first round in two queries (URL length), the twin's round in one.
    expect(queries(fake).filter((q) => q.startsWith('SELECT Id, Email'))).toHaveLength(3);
  });

  it('when the mapping names a field the org lacks, then Salesforce refuses the call and every record fails with it', async () => {
    const people = [1, 2].map((i) => {
      const p = person(300 + i, { email: `custom${i}@example.com`, last: 'C' });
      return { ...p, fields: { ...p.fields, Favourite_Colour__c: 'teal' } };
    });
    const results = await writer.upsert(people);
    expect(results).toEqual(
      people.map((p) => ({
        userId: p.userId,
        ok: false,
        error: "Salesforce refused the call (400): INVALID_FIELD: No such column 'Favourite_Colour__c' on sobject of type Contact",
      })),
    );
    fake.defineField('Favourite_Colour__c');
    expect((await writer.upsert(people)).every((r) => r.ok)).toBe(true);
    expect(fake.extraFields.get(okId((await writer.upsert(people))[0]))).toMatchObject({ Favourite_Colour__c: 'teal' });
  });

  it('when a create fails with a 5xx, then it is not retried within the call; the next push creates it once', async () => {
    const count = fake.contacts.size;
    const p = person(400, { email: 'once@example.com', last: 'Once' });
    // The Email lookup (a GET) goes through; the create answers 500 once.
    fake.onRequest = (req) => {
      if (req.method !== 'POST') return;
      fake.onRequest = undefined;
      fake.failNext(1, 500);
    };
    await expect(writer.upsert([p])).rejects.toBeInstanceOf(CrmUnavailableError);
    expect(calls(fake, 'POST', '/composite/sobjects')).toHaveLength(1);
    expect(fake.contacts.size).toBe(count);
    expect((await writer.upsert([p]))[0]).toMatchObject({ ok: true, action: 'created' });
    expect(fake.contacts.size).toBe(count + 1);
  });

  it('when the token is refused, then CrmAuthError without the token', async () => {
    const err = await writerFor(fake, { token: '00Dsecret!session-value' })
      .upsert([person(500, { email: 'x@example.com', last: 'X' })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).not.toContain('session-value');
  });
});

describe('Salesforce writer: the daily API budget', () => {
  it('when the calls left reach the reserve, then the writer stops with CrmBudgetError before calling again; a 403 limit is one too', async () => {
    const fake = await new FakeSalesforce({ dailyLimit: 1000, apiUsed: 880 }).start();
    try {
      const writer = writerFor(fake, { config: { apiReservePercent: 10 } });
      // Calls 881 to 884 (Account lookup and create, Email lookup, create): under the reserve.
      const people = Array.from({ length: 3 }, (_, i) => person(i + 1, { email: `b${i}@example.com`, last: 'B', company: 'Initech' }));
      expect((await writer.upsert(people)).every((r) => r.ok)).toBe(true);
      fake.setApiUsage(897);
      expect((await writer.upsert([person(9, { email: 'b9@example.com', last: 'B' })]))[0]).toMatchObject({ ok: true });
      // The lookup's answer says 900 of 1000: 100 left is the reserve, so the create is not sent.
      const err = await writer.upsert([person(10, { email: 'b10@example.com', last: 'B' })]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CrmBudgetError);
      expect(err).toMatchObject({ used: 900, limit: 1000 });
      expect(fake.received.filter((r) => r.record?.Email === 'b10@example.com')).toEqual([]);
      const before = fake.requests.length;
      await expect(writer.upsert([person(11, { email: 'b11@example.com', last: 'B' })])).rejects.toBeInstanceOf(CrmBudgetError);
      await expect(writer.remove([{ userId: 1, externalId: [...fake.contacts.keys()][0], email: null }], 'delete')).rejects.toBeInstanceOf(
        CrmBudgetError,
      );
      expect(fake.requests.length).toBe(before);

      const spent = await new FakeSalesforce({ dailyLimit: 10, apiUsed: 10 }).start();
      try {
        const e2 = await writerFor(spent)
          .upsert([person(1, { email: 'z@example.com', last: 'Z' })])
          .catch((e: unknown) => e);
        expect(e2).toBeInstanceOf(CrmBudgetError);
        expect((e2 as Error).message).toContain('REQUEST_LIMIT_EXCEEDED');
      } finally {
        await spent.stop();
      }
    } finally {
      await fake.stop();
    }
  });
});

describe('Salesforce writer: removals', () => {
  it('when people are removed with delete, then one DELETE of their ids; already deleted or unknown ones count as deleted', async () => {
    const fake = await new FakeSalesforce({ contacts: 3, seed: 2 }).start();
    try {
      const writer = writerFor(fake);
      const [a, b, c] = [...fake.contacts.keys()];
      fake.deleteContact(c);
      const results = byUser(
        await writer.remove(
          [
            { userId: 1, externalId: a, email: null },
            { userId: 2, externalId: b.slice(0, 15), email: null },
            { userId: 3, externalId: c, email: null },
            { userId: 4, externalId: 'not-an-id', email: null },
          ],
          'delete',
        ),
      );
      expect([...results.values()].sort((x, y) => x.userId - y.userId)).toEqual([
        { userId: 1, ok: true, externalId: a, action: 'deleted' },
        { userId: 2, ok: true, externalId: b.slice(0, 15), action: 'deleted' },
        { userId: 3, ok: true, externalId: c, action: 'deleted' },
        { userId: 4, ok: true, externalId: 'not-an-id', action: 'deleted' },
      ]);
      const deletes = calls(fake, 'DELETE', '/composite/sobjects');
      expect(deletes).toHaveLength(1);
      expect(deletes[0].query).toEqual({ ids: `${a},${b.slice(0, 15)},${c}`, allOrNone: 'false' });
      expect(fake.contacts.size).toBe(0);
      expect(fake.deletedLog.map((d) => d.id)).toEqual([c, a, b]);
      const archive = await writer.remove([{ userId: 5, externalId: a, email: null }], 'archive');
      expect(archive).toEqual([{ userId: 5, ok: false, error: expect.stringContaining('"delete"') }]);
    } finally {
      await fake.stop();
    }
  });
});
