import { FakeHubSpot } from '../../fake-crm/hubspot/fake-hubspot';
import { CrmAuthError, CrmUnavailableError } from '../../src/providers/connector';
import { hubspot } from '../../src/providers/hubspot';
import { effectiveMapping, type CrmWriter, type OutgoingPerson, type PushResult } from '../../src/providers/writer';
import { buildConnector, buildWriter, capturingLogger } from '../helpers/connector-harness';

const { capture, logger } = capturingLogger('warn');

function writerFor(fake: FakeHubSpot, o: { retries?: number; token?: string } = {}): CrmWriter {
  const { writer, fileSink } = buildWriter(
    hubspot,
    { accessToken: o.token ?? fake.token, baseUrl: fake.url, requestsPerSecond: 0 },
    { logger, retries: o.retries },
  );
  expect(fileSink).toBeUndefined();
  if (!writer) throw new Error('HubSpot has no writer');
  return writer;
}

/** A person as the push worker builds one, with HubSpot's default mapping. */
function person(
  userId: number,
  user: { email?: string | null; first?: string | null; last?: string | null; phone?: string | null },
  externalId: string | null = null,
): OutgoingPerson {
  const mapping = effectiveMapping(hubspot.definition.push!, null);
  const values: Record<string, string | null> = {
    email: user.email ?? null,
    firstName: user.first ?? null,
    lastName: user.last ?? null,
    phone: user.phone ?? null,
    company: 'Acme GmbH',
    title: null,
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
const writes = (fake: FakeHubSpot, endpoint: string) =>
  fake.requests.filter((r) => r.path === `/crm/v3/objects/contacts/batch/${endpoint}`);

describe('HubSpot writer: definition and wiring', () => {
  it('when the definition is read, then it pushes with seed 003’s mapping, archives, and asks for the write scope', () => {
    const push = hubspot.definition.push!;
    expect(push.defaultMapping).toEqual({
      firstName: 'firstname',
      lastName: 'lastname',
      email: 'email',
      phone: 'phone',
      company: 'company',
      title: 'jobtitle',
    });
    expect(push.deletePolicies).toEqual(['archive']);
    expect(push.directions).toEqual(['pull', 'push', 'both']);
    expect(push.defaultDirection).toBe('pull');
    expect(push.knownFields).toEqual(expect.arrayContaining(['firstname', 'mobilephone', 'lifecyclestage', 'hs_lead_status']));
    expect(new RegExp(push.customFieldPattern!).test('favourite_colour_2')).toBe(true);
    expect(new RegExp(push.customFieldPattern!).test('Favourite')).toBe(false);
    expect(hubspot.definition.oauth!.scopes).toContain('crm.objects.contacts.write');
    expect(hubspot.definition.setupInstructions).toContain('crm.objects.contacts.write');
  });
});

describe('HubSpot writer: upserts against the fake', () => {
  let fake: FakeHubSpot;
  let writer: CrmWriter;
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 5, seed: 3 }).start();
    // A 429 says the ten-second window is spent (Remaining 0): the client waits out the interval.
    fake.rateLimitIntervalMs = 50;
    writer = writerFor(fake);
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    fake.wholeBatchErrors = false;
    fake.requests.length = 0;
    fake.received.length = 0;
    capture.entries = [];
  });

  it('when new people with emails are pushed, then one batch upsert by email creates them with the mapped properties', async () => {
    expect(writer.identityProvider).toBe('hubspot');
    expect(writer.maxBatch).toBe(100);
    const before = fake.now();
    const results = byUser(
      await writer.upsert([
        person(1, { email: 'zoë.åberg@example.com', first: 'Zoë', last: 'Åberg 🚀', phone: '+46 70 123 45 67' }),
        person(2, { email: 'li.wei@example.com', first: '李', last: '伟', phone: null }),
      ]),
    );
    expect(results.get(1)).toEqual({ userId: 1, ok: true, externalId: expect.stringMatching(/^\d+$/), action: 'created' });
    expect(results.get(2)).toMatchObject({ ok: true, action: 'created' });
    expect(writes(fake, 'upsert')).toHaveLength(1);
    expect(fake.received.map((r) => r.input)).toEqual([
      {
        id: 'zoë.åberg@example.com',
        idProperty: 'email',
        objectWriteTraceId: '1',
        properties: {
          firstname: 'Zoë',
          lastname: 'Åberg 🚀',
          email: 'zoë.åberg@example.com',
          phone: '+46 70 123 45 67',
          company: 'Acme GmbH',
        },
      },
      // No value is no property: nothing of a contact we never linked is wiped.
      {
        id: 'li.wei@example.com',
        idProperty: 'email',
        objectWriteTraceId: '2',
        properties: { firstname: '李', lastname: '伟', email: 'li.wei@example.com', company: 'Acme GmbH' },
      },
    ]);
    const stored = fake.contact(okId(results.get(1)));
    expect(stored.properties).toMatchObject({ firstname: 'Zoë', lastname: 'Åberg 🚀', email: 'zoë.åberg@example.com' });
    expect(stored.updatedAt.getTime()).toBeGreaterThan(before.getTime());

    // A pull sees them, with the time of the write.
    const connector = buildConnector(
      hubspot,
      { accessToken: fake.token, baseUrl: fake.url, searchRequestsPerSecond: 0 },
      { logger, pageSize: 100 },
    );
    const page = await connector.listPeople('contacts', { cursor: null, updatedSince: new Date(before.getTime() + 1) });
    expect(page.records.map((r) => [r.externalId, r.email, r.lastName])).toEqual([
      [okId(results.get(1)), 'zoë.åberg@example.com', 'Åberg 🚀'],
      [okId(results.get(2)), 'li.wei@example.com', '伟'],
    ]);
  });

  it('when the same unlinked people are pushed again (a retried call), then the upsert finds them: no duplicate', async () => {
    const count = fake.contacts.size;
    const first = byUser(await writer.upsert([person(3, { email: 'again@example.com', first: 'Ann', last: 'Again' })]));
    const second = byUser(await writer.upsert([person(3, { email: 'again@example.com', first: 'Anne', last: 'Again' })]));
    expect(first.get(3)).toMatchObject({ ok: true, action: 'created' });
    expect(second.get(3)).toEqual({ userId: 3, ok: true, externalId: okId(first.get(3)), action: 'updated' });
    expect(fake.contacts.size).toBe(count + 1);
    expect(fake.contact(okId(first.get(3))).properties.firstname).toBe('Anne');
  });

  it('when linked people are pushed, then batch/update by id writes them, and a value we lack clears theirs', async () => {
    const [a, b] = [...fake.contacts.values()].filter((c) => c.properties.email && c.properties.phone);
    expect(a && b).toBeTruthy();
    const results = byUser(
      await writer.upsert([
        person(10, { email: a.properties.email, first: 'Renée', last: 'Linked', phone: null }, a.id),
        person(11, { email: b.properties.email, first: 'Bo', last: 'Linked', phone: '+1 555 0100' }, b.id),
      ]),
    );
    expect(results.get(10)).toEqual({ userId: 10, ok: true, externalId: a.id, action: 'updated' });
    expect(results.get(11)).toEqual({ userId: 11, ok: true, externalId: b.id, action: 'updated' });
    expect(writes(fake, 'update')).toHaveLength(1);
    expect(writes(fake, 'upsert')).toHaveLength(0);
    expect(fake.received[0].input).toEqual({
      id: a.id,
      objectWriteTraceId: '10',
      properties: { firstname: 'Renée', lastname: 'Linked', email: a.properties.email, phone: '', company: 'Acme GmbH', jobtitle: '' },
    });
    expect(fake.contact(a.id).properties.phone).toBeNull();
    expect(fake.contact(b.id).properties.phone).toBe('+1 555 0100');
  });

  it('when a linked contact was deleted in HubSpot, then it is written again by email (or created without one) under a new id', async () => {
    const [gone] = fake.addContacts(1);
    const [goneNoEmail] = fake.addContacts(1);
    fake.archiveContact(gone.id);
    fake.archiveContact(goneNoEmail.id);
    const results = byUser(
      await writer.upsert([
        person(20, { email: 'back@example.com', first: 'Back', last: 'Again' }, gone.id),
        person(21, { email: null, first: 'No', last: 'Mail' }, goneNoEmail.id),
      ]),
    );
    expect(writes(fake, 'update')).toHaveLength(1);
    expect(writes(fake, 'upsert')).toHaveLength(1);
    expect(writes(fake, 'create')).toHaveLength(1);
    expect(results.get(20)).toMatchObject({ ok: true, action: 'created' });
    expect(okId(results.get(20))).not.toBe(gone.id);
    expect(results.get(21)).toMatchObject({ ok: true, action: 'created' });
    expect(okId(results.get(21))).not.toBe(goneNoEmail.id);
    expect(fake.contact(okId(results.get(21))).properties).toMatchObject({ firstname: 'No', lastname: 'Mail' });
    expect(fake.contact(okId(results.get(21))).properties.email ?? null).toBeNull();
    // The create carries no empty values and no email.
    expect(fake.received.find((r) => r.endpoint === 'create')?.input).toEqual({
      objectWriteTraceId: '21',
      properties: { firstname: 'No', lastname: 'Mail', company: 'Acme GmbH' },
      associations: [],
    });
  });

  it('when one record is invalid, then HubSpot’s 207 fails it alone and the others are written', async () => {
    const results = byUser(
      await writer.upsert([
        person(30, { email: 'good.one@example.com', first: 'Good' }),
        person(31, { email: 'not-an-email', first: 'Bad' }),
        person(32, { email: 'good.two@example.com', first: 'Good' }),
      ]),
    );
    expect(writes(fake, 'upsert')).toHaveLength(1);
    expect(results.get(30)).toMatchObject({ ok: true });
    expect(results.get(32)).toMatchObject({ ok: true });
    expect(results.get(31)).toEqual({
      userId: 31,
      ok: false,
      error: expect.stringMatching(/^VALIDATION_ERROR: .*Email address not-an-email is invalid/),
    });
  });

  it('when HubSpot refuses a batch whole, then it is halved until the bad record is alone', async () => {
    fake.wholeBatchErrors = true;
    const people = Array.from({ length: 8 }, (_, i) =>
      person(40 + i, { email: i === 5 ? 'broken@' : `half${i}@example.com`, first: `H${i}` }),
    );
    const results = byUser(await writer.upsert(people));
    expect(results.size).toBe(8);
    expect(results.get(45)).toEqual({ userId: 45, ok: false, error: expect.stringContaining('INVALID_EMAIL') });
    for (const p of people.filter((x) => x.userId !== 45)) expect(results.get(p.userId)).toMatchObject({ ok: true });
    // 8 → 4 + 4 → 2 + 2 → 1 + 1: seven calls, not eight.
    expect(writes(fake, 'upsert')).toHaveLength(7);
    expect(capture.entries.some((e) => String(e.message).includes('halving'))).toBe(true);
  });

  it('when every record is refused the same way (a property HubSpot lacks), then all fail with it after three calls', async () => {
    fake.wholeBatchErrors = true;
    const people = Array.from({ length: 6 }, (_, i) => {
      const p = person(60 + i, { email: `prop${i}@example.com`, first: 'P' });
      return { ...p, fields: { ...p.fields, favourite_colour: 'teal' } };
    });
    const results = await writer.upsert(people);
    expect(results).toHaveLength(6);
    for (const r of results)
      expect(r).toMatchObject({ ok: false, error: expect.stringContaining('Property \\"favourite_colour\\" does not exist') });
    expect(writes(fake, 'upsert')).toHaveLength(3);
    fake.defineProperty('favourite_colour');
    expect((await writer.upsert(people)).every((r) => r.ok)).toBe(true);
  });

  it('when more than 100 people come, or two share an email, then calls hold at most 100 and each email once', async () => {
    const many = Array.from({ length: 150 }, (_, i) => person(1000 + i, { email: `bulk${i}@example.com`, first: 'Bulk' }));
    const twin = person(2000, { email: 'bulk3@example.com', first: 'Twin' });
    const results = await writer.upsert([...many, twin]);
    expect(results).toHaveLength(151);
    expect(results.every((r) => r.ok)).toBe(true);
    const sizes = writes(fake, 'upsert').map((r) => (r.body as { inputs: unknown[] }).inputs.length);
    expect(sizes).toEqual([100, 50, 1]);
    expect(okId(byUser(results).get(2000))).toBe(okId(byUser(results).get(1003)));
  });

  it('when the token is refused, then CrmAuthError without the token in its message', async () => {
    const bad = writerFor(fake, { token: 'pat-na1-secret-value-123' });
    const err = await bad.upsert([person(70, { email: 'x@example.com' })]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect(String((err as Error).message)).not.toContain('secret-value');
  });

  it('when HubSpot fails for a moment (5xx, 429), then the call is retried; when it keeps failing, then CrmUnavailableError', async () => {
    fake.failNext(1, 502);
    fake.rateLimitNext(1);
    expect((await writer.upsert([person(80, { email: 'flaky@example.com' })]))[0]).toMatchObject({ ok: true });
    expect(writes(fake, 'upsert')).toHaveLength(3);
    fake.failNext(3, 503);
    await expect(writerFor(fake, { retries: 2 }).upsert([person(81, { email: 'down@example.com' })])).rejects.toBeInstanceOf(
      CrmUnavailableError,
    );
  });

  it('when a create fails with a 5xx, then it is not retried within the call (no second contact); the call fails', async () => {
    const count = fake.contacts.size;
    fake.failNext(1, 500);
    await expect(writer.upsert([person(90, { email: null, first: 'Once' })])).rejects.toBeInstanceOf(CrmUnavailableError);
    expect(writes(fake, 'create')).toHaveLength(1);
    expect(fake.contacts.size).toBe(count);
    fake.rateLimitNext(1);
    expect((await writer.upsert([person(90, { email: null, first: 'Once' })]))[0]).toMatchObject({ ok: true, action: 'created' });
    expect(writes(fake, 'create')).toHaveLength(3);
  });
});

describe('HubSpot writer: removals', () => {
  let fake: FakeHubSpot;
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 4, seed: 9 }).start();
  });
  afterAll(() => fake.stop());

  it('when people are removed with archive, then batch/archive archives them; unknown ids count as archived', async () => {
    const writer = writerFor(fake);
    const [a, b] = [...fake.contacts.keys()];
    const results = byUser(
      await writer.remove(
        [
          { userId: 1, externalId: a, email: null },
          { userId: 2, externalId: b, email: null },
          { userId: 3, externalId: '999999999', email: null },
          { userId: 4, externalId: 'not-hubspot', email: null },
        ],
        'archive',
      ),
    );
    expect([...results.values()].sort((x, y) => x.userId - y.userId)).toEqual([
      { userId: 1, ok: true, externalId: a, action: 'archived' },
      { userId: 2, ok: true, externalId: b, action: 'archived' },
      { userId: 3, ok: true, externalId: '999999999', action: 'archived' },
      { userId: 4, ok: true, externalId: 'not-hubspot', action: 'archived' },
    ]);
    expect(fake.received.filter((r) => r.endpoint === 'archive').map((r) => r.input)).toEqual([{ id: a }, { id: b }, { id: '999999999' }]);
    expect(fake.contact(a).archivedAt).not.toBeNull();
    expect(fake.contact(b).archivedAt).not.toBeNull();
  });

  it('when delete is asked, then every record fails with a message naming archive (HubSpot’s API archives)', async () => {
    const [c] = [...fake.contacts.values()].filter((x) => !x.archivedAt);
    const results = await writerFor(fake).remove([{ userId: 5, externalId: c.id, email: null }], 'delete');
    expect(results).toEqual([{ userId: 5, ok: false, error: expect.stringContaining('archive') }]);
    expect(fake.contact(c.id).archivedAt).toBeNull();
  });
});
