import { FakeGoHighLevel } from '../../fake-crm/gohighlevel/fake-gohighlevel';
import { CrmAuthError, CrmUnavailableError } from '../../src/providers/connector';
import { gohighlevel } from '../../src/providers/gohighlevel';
import type { CrmWriter, OutgoingPerson, PushResult } from '../../src/providers/writer';
import { buildConnector, buildWriter, capturingLogger } from '../helpers/connector-harness';

const { logger } = capturingLogger('warn');

let fake: FakeGoHighLevel;
beforeAll(async () => {
  fake = await new FakeGoHighLevel({ contacts: 5, seed: 21 }).start();
});
afterAll(() => fake.stop());
afterEach(() => fake.clearFaults());

function writer(config: Record<string, unknown> = {}, retries = 2): CrmWriter {
  const { writer: w } = buildWriter(
    gohighlevel,
    { apiKey: fake.token, locationId: fake.locationId, baseUrl: fake.url, ...config },
    { logger, retries },
  );
  if (!w) throw new Error('gohighlevel has no writer');
  return w;
}

let nextUser = 1;
function person(fields: Record<string, string | null>, externalId: string | null = null): OutgoingPerson {
  return { userId: nextUser++, externalId, email: fields.email?.toLowerCase() ?? null, fields, isActive: true };
}

const writes = (from: number) => fake.requests.slice(from).filter((r) => r.method !== 'GET' && r.path !== '/contacts/search');
const idOf = (r: PushResult): string => {
  if (!r.ok) throw new Error(`not written: ${r.error}`);
  return r.externalId;
};

describe('GoHighLevelWriter: upsert', () => {
  it('when the writer is built, then it links pushes under the connector’s identity provider, 10 people a call', () => {
    const c = buildConnector(
      gohighlevel,
      { apiKey: fake.token, locationId: fake.locationId, baseUrl: fake.url },
      { logger, pageSize: 100 },
    );
    expect(writer().identityProvider).toBe(c.identityProviders[0]);
    expect(writer().maxBatch).toBe(10);
  });

  it('when new people are pushed, then one POST /contacts/upsert each, with locationId, the Version header and the mapped fields; search sees them', async () => {
    const since = new Date(Date.now() - 1000);
    const from = fake.requests.length;
    const people = [
      person({
        firstName: 'Zoë',
        lastName: 'Ångström',
        name: 'Zoë Ångström',
        email: 'zoe@example.com',
        phone: '+15550100',
        companyName: 'Acme',
      }),
      person({ firstName: 'Émile', lastName: null, name: 'Émile', email: 'emile@example.com', phone: null, companyName: null }),
    ];
    const results = await writer().upsert(people);

    expect(results).toEqual(
      people.map((p) => ({ userId: p.userId, ok: true, externalId: expect.stringMatching(/^[A-Za-z0-9]{20}$/), action: 'created' })),
    );
    const sent = writes(from);
    expect(sent.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /contacts/upsert', 'POST /contacts/upsert']);
    expect(sent.every((r) => r.version === '2021-07-28' && r.token === fake.token)).toBe(true);
    // Nulls are left out of an upsert.
    expect(sent[1].body).toEqual({ firstName: 'Émile', name: 'Émile', email: 'emile@example.com', locationId: fake.locationId });
    expect(fake.contact(idOf(results[0]))).toMatchObject({
      firstName: 'Zoë',
      lastName: 'Ångström',
      companyName: 'Acme',
      phone: '+15550100',
    });

    const c = buildConnector(
      gohighlevel,
      { apiKey: fake.token, locationId: fake.locationId, baseUrl: fake.url },
      { logger, pageSize: 100 },
    );
    const page = await c.listPeople('contacts', { cursor: null, updatedSince: since });
    expect(page.records.map((r) => r.email)).toEqual(['zoe@example.com', 'emile@example.com']);
  });

  it('when a person is pushed again without an id (a retried call), then HighLevel matches the email: updated, not duplicated', async () => {
    const before = fake.contactsIn().length;
    const [result] = await writer().upsert([person({ firstName: 'Zoé', email: 'ZOE@example.com' })]);
    expect(result).toMatchObject({ ok: true, action: 'updated' });
    expect(fake.contactsIn()).toHaveLength(before);
    expect(fake.contact(idOf(result)).firstName).toBe('Zoé');
  });

  it('when a linked person is pushed, then PUT /contacts/{id} without locationId; nulls clear names but never email or phone', async () => {
    const [target] = fake.addContacts(1);
    fake.updateContact(target.id, {
      firstName: 'Old',
      lastName: 'Last',
      email: 'linked@example.com',
      phone: '+15550111',
      companyName: 'Before',
    });
    const from = fake.requests.length;
    const p = person(
      { firstName: 'New', lastName: null, email: null, phone: null, companyName: 'After', tags: 'vip, newsletter', dnd: 'true' },
      target.id,
    );
    const [result] = await writer().upsert([p]);

    expect(result).toEqual({ userId: p.userId, ok: true, externalId: target.id, action: 'updated' });
    const [put] = writes(from);
    expect(`${put.method} ${put.path}`).toBe(`PUT /contacts/${target.id}`);
    expect(put.body).toEqual({ firstName: 'New', lastName: null, companyName: 'After', tags: ['vip', 'newsletter'], dnd: true });
    expect(fake.contact(target.id)).toMatchObject({
      firstName: 'New',
      lastName: null,
      email: 'linked@example.com',
      phone: '+15550111',
      companyName: 'After',
      tags: ['vip', 'newsletter'],
      dnd: true,
    });
  });

  it('when a linked contact was deleted in HighLevel, then the 404 sends the person through the upsert: created again', async () => {
    const [gone] = fake.addContacts(1);
    fake.deleteContact(gone.id);
    const from = fake.requests.length;
    const [result] = await writer().upsert([person({ firstName: 'Back', email: 'back.again@example.com' }, gone.id)]);
    expect(writes(from).map((r) => `${r.method} ${r.path}`)).toEqual([`PUT /contacts/${gone.id}`, 'POST /contacts/upsert']);
    expect(result).toMatchObject({ ok: true, action: 'created' });
    expect(idOf(result)).not.toBe(gone.id);
  });

  it('when HighLevel answers a deleted contact with 400 "Contact with id … not found", then that too sends the person through the upsert', async () => {
    const [gone] = fake.addContacts(1);
    fake.deleteContact(gone.id);
    fake.missingContactStatus = 400;
    try {
      const from = fake.requests.length;
      const [result] = await writer().upsert([person({ firstName: 'Again', email: 'again.400@example.com' }, gone.id)]);
      expect(writes(from).map((r) => `${r.method} ${r.path}`)).toEqual([`PUT /contacts/${gone.id}`, 'POST /contacts/upsert']);
      expect(result).toMatchObject({ ok: true, action: 'created' });
      const [removed] = await writer().remove([{ userId: 1, externalId: gone.id, email: null }], 'delete');
      expect(removed).toEqual({ userId: 1, ok: true, externalId: gone.id, action: 'deleted' });
    } finally {
      fake.missingContactStatus = 404;
    }
  });

  it('when one person is refused (an invalid email: 422), then that person alone fails with HighLevel’s message; the next is written', async () => {
    const people = [person({ firstName: 'Bad', email: 'not-an-email' }), person({ firstName: 'Good', email: 'good@example.com' })];
    const results = await writer().upsert(people);
    expect(results[0]).toEqual({ userId: people[0].userId, ok: false, error: expect.stringContaining('email must be an email') });
    expect(results[1]).toMatchObject({ ok: true });
  });

  it('when an update would duplicate another contact’s email (400), then it fails alone', async () => {
    const [a, b] = fake.addContacts(2);
    fake.updateContact(a.id, { email: 'taken@example.com' });
    const [result] = await writer().upsert([person({ email: 'taken@example.com' }, b.id)]);
    expect(result).toEqual({ userId: expect.any(Number), ok: false, error: expect.stringContaining('does not allow duplicated contacts') });
  });

  it('when a new person has neither email nor phone, then nothing is sent: the upsert could not find them again', async () => {
    const from = fake.requests.length;
    const [result] = await writer().upsert([person({ firstName: 'Nobody', email: null, phone: null })]);
    expect(result).toEqual({ userId: expect.any(Number), ok: false, error: expect.stringContaining('neither') });
    expect(writes(from)).toHaveLength(0);
  });
});

describe('GoHighLevelWriter: remove', () => {
  it('when linked people are deleted, then DELETE /contacts/{id} each; one already gone counts as deleted; archive is refused', async () => {
    const [a, b] = fake.addContacts(2);
    fake.deleteContact(b.id);
    const from = fake.requests.length;
    const results = await writer().remove(
      [
        { userId: 1, externalId: a.id, email: null },
        { userId: 2, externalId: b.id, email: null },
      ],
      'delete',
    );
    expect(results).toEqual([
      { userId: 1, ok: true, externalId: a.id, action: 'deleted' },
      { userId: 2, ok: true, externalId: b.id, action: 'deleted' },
    ]);
    expect(writes(from).map((r) => `${r.method} ${r.path}`)).toEqual([`DELETE /contacts/${a.id}`, `DELETE /contacts/${b.id}`]);
    expect(fake.contact(a.id).deletedAt).not.toBeNull();
    const archived = await writer().remove([{ userId: 3, externalId: a.id, email: null }], 'archive');
    expect(archived).toEqual([{ userId: 3, ok: false, error: expect.stringContaining('not archived') }]);
  });
});

describe('GoHighLevelWriter: failures of the whole call', () => {
  it('when HighLevel answers 502 once, then the call is retried and the person is written once', async () => {
    fake.failNext(1, 502);
    const [result] = await writer().upsert([person({ email: 'flaky@example.com' })]);
    expect(result).toMatchObject({ ok: true, action: 'created' });
    expect(fake.contactsIn().filter((c) => c.email === 'flaky@example.com')).toHaveLength(1);
  });

  it('when HighLevel keeps failing, then upsert throws CrmUnavailableError (the worker retries the batch)', async () => {
    fake.failNext(10, 500);
    await expect(writer({}, 1).upsert([person({ email: 'down@example.com' })])).rejects.toBeInstanceOf(CrmUnavailableError);
  });

  it('when HighLevel answers 429 with Retry-After, then the call waits (the location’s interval) and goes through', async () => {
    // Its rate-limit headers say 0 left: the client waits the interval they name, short here.
    fake.burstIntervalMs = 300;
    try {
      fake.rateLimitNext(1, 0);
      const started = Date.now();
      const [result] = await writer().upsert([person({ email: 'patient@example.com' })]);
      expect(result.ok).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      fake.burstIntervalMs = 10_000;
    }
  });

  it('when the token is refused, then CrmAuthError without the token in its message', async () => {
    const err = await writer({ apiKey: 'pit-unknown-secret-token-value' })
      .upsert([person({ email: 'auth@example.com' })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).not.toContain('pit-unknown-secret-token-value');
  });
});
