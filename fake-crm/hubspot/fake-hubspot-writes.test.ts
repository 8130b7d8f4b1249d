import axios, { type AxiosResponse } from 'axios';
import { FakeHubSpot } from './fake-hubspot';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });
const post = (fake: FakeHubSpot, endpoint: string, body: unknown): Promise<AxiosResponse<Json>> =>
  http.post(`${fake.url}/crm/v3/objects/contacts/batch/${endpoint}`, body, {
    headers: { Authorization: `Bearer ${fake.token}`, 'Content-Type': 'application/json' },
  });

describe('FakeHubSpot: batch writes', () => {
  let fake: FakeHubSpot;
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 3, seed: 5 }).start();
  });
  afterAll(() => fake.stop());

  it('when contacts are created, then 201 with HubSpot’s batch answer, and list and search show them modified now', async () => {
    const before = Date.now();
    const res = await post(fake, 'create', {
      inputs: [{ objectWriteTraceId: 't1', properties: { email: 'New.One@Example.com', firstname: 'Nøe' }, associations: [] }],
    });
    expect(res.status).toBe(201);
    expect(res.data).toEqual({
      status: 'COMPLETE',
      results: [
        expect.objectContaining({
          id: expect.stringMatching(/^\d+$/),
          objectWriteTraceId: 't1',
          archived: false,
          properties: expect.objectContaining({ email: 'new.one@example.com', firstname: 'Nøe' }),
        }),
      ],
      startedAt: expect.any(String),
      completedAt: expect.any(String),
    });
    const id = res.data.results[0].id as string;
    expect(fake.contact(id).updatedAt.getTime()).toBeGreaterThanOrEqual(before);
    const list = await http.get(`${fake.url}/crm/v3/objects/contacts`, {
      headers: { Authorization: `Bearer ${fake.token}` },
      params: { limit: 100 },
    });
    expect(list.data.results.map((r: Json) => r.id)).toContain(id);
    const search = await http.post(
      `${fake.url}/crm/v3/objects/contacts/search`,
      { filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(before) }] }] },
      { headers: { Authorization: `Bearer ${fake.token}` } },
    );
    expect(search.data.results.map((r: Json) => r.id)).toEqual([id]);
    expect(fake.received.at(-1)).toMatchObject({ endpoint: 'create', input: { objectWriteTraceId: 't1' } });
    expect(fake.takeWebhookEvents().map((e) => [e.subscriptionType, e.changeSource])).toEqual([['contact.creation', 'INTEGRATION']]);
  });

  it('when upserted by email, then an existing contact is updated (new: false) and an unknown email created (new: true)', async () => {
    const existing = [...fake.contacts.values()].find((c) => c.properties.email)!;
    const res = await post(fake, 'upsert', {
      inputs: [
        { id: existing.properties.email!.toUpperCase(), idProperty: 'email', properties: { jobtitle: 'CTO' } },
        { id: 'fresh@example.com', idProperty: 'email', properties: { firstname: 'Fresh' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.data.results.map((r: Json) => [r.id === existing.id, r.new])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(fake.contact(existing.id).properties.jobtitle).toBe('CTO');
    expect((await post(fake, 'upsert', { inputs: [{ id: 'x@example.com', idProperty: 'phone', properties: {} }] })).data.message).toBe(
      'Unable to perform update/upsert by non-unique 0-1 property',
    );
  });

  it('when an update names missing ids, then 207 with one OBJECT_NOT_FOUND naming them; an empty string clears a property', async () => {
    const c = [...fake.contacts.values()].find((x) => x.properties.firstname)!;
    const res = await post(fake, 'update', {
      inputs: [
        { id: c.id, properties: { firstname: '' } },
        { id: '999999', properties: { firstname: 'Ghost' } },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.data.results.map((r: Json) => r.id)).toEqual([c.id]);
    expect(res.data.errors).toEqual([
      {
        status: 'error',
        category: 'OBJECT_NOT_FOUND',
        message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
        context: { ids: ['999999'] },
      },
    ]);
    expect(fake.contact(c.id).properties.firstname).toBeNull();
  });

  it('when a record is invalid, then traced inputs get a 207 naming it; untraced ones fail the whole call (409 here) and nothing is written', async () => {
    const taken = [...fake.contacts.values()].find((x) => x.properties.email && !x.archivedAt)!;
    const traced = await post(fake, 'create', {
      inputs: [
        { objectWriteTraceId: 'a', properties: { email: 'bad@' } },
        { objectWriteTraceId: 'b', properties: { email: taken.properties.email } },
        { objectWriteTraceId: 'c', properties: { nope: '1' } },
        { objectWriteTraceId: 'd', properties: { firstname: 'Fine' } },
      ],
    });
    expect(traced.status).toBe(207);
    expect(traced.data.results.map((r: Json) => r.objectWriteTraceId)).toEqual(['d']);
    expect(traced.data.errors).toEqual([
      expect.objectContaining({
        category: 'VALIDATION_ERROR',
        context: { objectWriteTraceId: ['a'] },
        message: expect.stringContaining('INVALID_EMAIL'),
      }),
      {
        status: 'error',
        category: 'CONFLICT',
        message: `Contact already exists. Existing ID: ${taken.id}`,
        context: { existingId: [taken.id], objectWriteTraceId: ['b'] },
      },
      expect.objectContaining({ category: 'VALIDATION_ERROR', message: expect.stringContaining('PROPERTY_DOESNT_EXIST') }),
    ]);
    const count = fake.contacts.size;
    const whole = await post(fake, 'create', {
      inputs: [{ properties: { firstname: 'Ok' } }, { properties: { email: taken.properties.email } }],
    });
    expect([whole.status, whole.data.category]).toEqual([409, 'CONFLICT']);
    expect(fake.contacts.size).toBe(count);
  });

  it('when a call breaks the batch rules, then 400 VALIDATION_ERROR (over 100 inputs, duplicate ids)', async () => {
    const many = await post(fake, 'upsert', {
      inputs: Array.from({ length: 101 }, (_, i) => ({ id: `m${i}@example.com`, idProperty: 'email', properties: {} })),
    });
    expect([many.status, many.data.category, many.data.context]).toEqual([400, 'VALIDATION_ERROR', { maxInputs: ['100'] }]);
    const id = [...fake.contacts.keys()][0];
    const dup = await post(fake, 'update', {
      inputs: [
        { id, properties: {} },
        { id, properties: {} },
      ],
    });
    expect([dup.status, dup.data.message, dup.data.context]).toEqual([
      400,
      `Duplicate IDs found in batch input: [${id}]. IDs must be unique`,
      { ids: [id] },
    ]);
  });

  it('when contacts are archived, then 204 and they are archived; unknown ids are ignored', async () => {
    const id = [...fake.contacts.values()].find((c) => !c.archivedAt)!.id;
    const res = await post(fake, 'archive', { inputs: [{ id }, { id: '123456789' }] });
    expect(res.status).toBe(204);
    expect(fake.contact(id).archivedAt).not.toBeNull();
    expect(fake.received.filter((r) => r.endpoint === 'archive').map((r) => r.input)).toEqual([{ id }, { id: '123456789' }]);
  });

  it('when the fake’s own limit is hit, then rateLimitViolations counts it; injected 429s are not counted', async () => {
    const f = await new FakeHubSpot({ rateLimitMax: 1 }).start();
    try {
      f.rateLimitNext(1);
      expect((await post(f, 'create', { inputs: [] })).status).toBe(429);
      expect(f.rateLimitViolations).toBe(0);
      expect((await post(f, 'create', { inputs: [] })).status).toBe(201);
      expect((await post(f, 'create', { inputs: [] })).status).toBe(429);
      expect(f.rateLimitViolations).toBe(1);
    } finally {
      await f.stop();
    }
  });
});
