import axios, { type AxiosResponse } from 'axios';
import { FakeSendGrid } from './fake-sendgrid';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });

function call(fake: FakeSendGrid, key: string | null = fake.apiKey) {
  return (method: string, path: string, data?: unknown, params?: Record<string, string>): Promise<AxiosResponse<Json>> =>
    http.request({ method, url: fake.url + path, data, params, headers: key === null ? {} : { Authorization: `Bearer ${key}` } });
}

describe('FakeSendGrid', () => {
  let fake: FakeSendGrid;
  let sg: ReturnType<typeof call>;
  beforeAll(async () => {
    fake = await new FakeSendGrid().start();
    sg = call(fake);
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    fake.contacts.clear();
    fake.jobs.clear();
    fake.received.length = 0;
    fake.pollsToComplete = 1;
    fake.searchLag = 0;
    fake.rateLimit = null;
  });

  it('when the key is missing or wrong, then 401 with SendGrid’s errors array', async () => {
    expect((await call(fake, null)('GET', `/v3/marketing/lists/${fake.listId}`)).data).toEqual({
      errors: [{ field: null, message: 'authorization required' }],
    });
    const wrong = await call(fake, 'SG.nope')('GET', `/v3/marketing/lists/${fake.listId}`);
    expect([wrong.status, wrong.data.errors[0].message]).toEqual([401, 'The provided authorization grant is invalid, expired, or revoked']);
  });

  it('when a list is read, then its id, name and count; an unknown one is a 404', async () => {
    fake.addContact('a@x.io');
    expect((await sg('GET', `/v3/marketing/lists/${fake.listId}`)).data).toMatchObject({
      id: fake.listId,
      name: 'App users',
      contact_count: 1,
    });
    expect((await sg('GET', '/v3/marketing/lists/nope')).status).toBe(404);
  });

  it('when contacts are upserted, then 202 with a job id, and they exist only once the job has finished', async () => {
    fake.pollsToComplete = 2;
    fake.addContact('old@x.io', { first_name: 'Old', city: 'Paris' }, []);
    const put = await sg('PUT', '/v3/marketing/contacts', {
      list_ids: [fake.listId],
      contacts: [
        { email: 'New@X.io', first_name: 'Ñew', custom_fields: { e1_T: 'blue' } },
        { email: 'old@x.io', last_name: 'Timer' },
        { email: 'bad-field@x.io', custom_fields: { e9_T: 'unknown field' } },
      ],
    });
    expect(put.status).toBe(202);
    const jobId = put.data.job_id as string;
    expect(fake.contact('new@x.io')).toBeUndefined();
    expect((await sg('GET', `/v3/marketing/contacts/imports/${jobId}`)).data).toMatchObject({
      id: jobId,
      status: 'pending',
      job_type: 'upsert',
    });
    const done = await sg('GET', `/v3/marketing/contacts/imports/${jobId}`);
    expect(done.data).toMatchObject({
      status: 'errored',
      results: { requested_count: 3, created_count: 1, updated_count: 1, errored_count: 1, errors_url: expect.any(String) },
      finished_at: expect.any(String),
    });
    expect(fake.contact('new@x.io')).toMatchObject({
      fields: { first_name: 'Ñew' },
      custom_fields: { e1_T: 'blue' },
      list_ids: [fake.listId],
    });
    // Omitted fields remain as they were.
    expect(fake.contact('old@x.io')?.fields).toEqual({ first_name: 'Old', city: 'Paris', last_name: 'Timer' });
    expect(fake.contact('bad-field@x.io')).toBeUndefined();
    expect(fake.received).toHaveLength(3);
    expect((await sg('GET', '/v3/marketing/contacts/imports/nope')).status).toBe(404);
  });

  it('when an upsert has an invalid email, too long a field, too many contacts or an unknown list, then 4xx and nothing is queued', async () => {
    const bad = await sg('PUT', '/v3/marketing/contacts', {
      contacts: [{ email: 'ok@x.io' }, { email: 'nope' }, { email: 'x@x.io', first_name: 'x'.repeat(51) }],
    });
    expect([bad.status, bad.data.errors.map((e: Json) => e.field)]).toEqual([400, ['contacts[1].email', 'contacts[2].first_name']]);
    fake.maxContacts = 2;
    try {
      expect(
        (await sg('PUT', '/v3/marketing/contacts', { contacts: [{ email: 'a@x.io' }, { email: 'b@x.io' }, { email: 'c@x.io' }] })).status,
      ).toBe(400);
    } finally {
      fake.maxContacts = 30_000;
    }
    expect((await sg('PUT', '/v3/marketing/contacts', { list_ids: ['nope'], contacts: [{ email: 'a@x.io' }] })).status).toBe(404);
    expect(fake.jobs.size).toBe(0);
  });

  it('when emails are searched, then contacts by primary or alternate email, errors for the others, 404 when none', async () => {
    const c = fake.addContact('p@x.io', { alternate_emails: ['alt@x.io'] });
    const res = await sg('POST', '/v3/marketing/contacts/search/emails', { emails: ['P@x.io', 'alt@x.io', 'none@x.io'] });
    expect(res.data.result['p@x.io'].contact).toMatchObject({
      id: c.id,
      email: 'p@x.io',
      list_ids: [fake.listId],
      created_at: expect.any(String),
    });
    expect(res.data.result['alt@x.io'].contact.id).toBe(c.id);
    expect(res.data.result['none@x.io']).toEqual({ error: 'contact not found' });
    expect((await sg('POST', '/v3/marketing/contacts/search/emails', { emails: ['none@x.io'] })).status).toBe(404);
    expect((await sg('POST', '/v3/marketing/contacts/search/emails', { emails: ['not an email'] })).status).toBe(400);
    const many = Array.from({ length: 101 }, (_, i) => `u${i}@x.io`);
    expect((await sg('POST', '/v3/marketing/contacts/search/emails', { emails: many })).status).toBe(400);
  });

  it('when searchLag is set, then a just-imported contact is missed by that many searches', async () => {
    fake.searchLag = 1;
    const put = await sg('PUT', '/v3/marketing/contacts', { contacts: [{ email: 'lag@x.io' }] });
    await sg('GET', `/v3/marketing/contacts/imports/${put.data.job_id}`);
    expect((await sg('POST', '/v3/marketing/contacts/search/emails', { emails: ['lag@x.io'] })).status).toBe(404);
    expect((await sg('POST', '/v3/marketing/contacts/search/emails', { emails: ['lag@x.io'] })).status).toBe(200);
  });

  it('when contacts are removed from the list or deleted, then membership goes at once and contacts when the job ends', async () => {
    const a = fake.addContact('a@x.io');
    const b = fake.addContact('b@x.io');
    expect((await sg('DELETE', `/v3/marketing/lists/${fake.listId}/contacts`, undefined, { contact_ids: a.id })).status).toBe(202);
    expect(fake.contacts.get(a.id)?.list_ids).toEqual([]);
    const del = await sg('DELETE', '/v3/marketing/contacts', undefined, { ids: `${b.id},missing` });
    expect(del.status).toBe(202);
    expect(fake.contacts.has(b.id)).toBe(true);
    expect((await sg('GET', `/v3/marketing/contacts/imports/${del.data.job_id}`)).data).toMatchObject({
      status: 'errored',
      job_type: 'delete',
      results: { deleted_count: 1, errored_count: 1 },
    });
    expect(fake.contacts.has(b.id)).toBe(false);
    expect((await sg('POST', '/v3/marketing/contacts/batch', { ids: [a.id, b.id] })).data.result.map((c: Json) => c.id)).toEqual([a.id]);
    expect((await sg('POST', '/v3/marketing/contacts/batch', { ids: [b.id] })).status).toBe(404);
    expect((await sg('DELETE', '/v3/marketing/contacts')).status).toBe(400);
  });

  it('when a budget is set or a 429 injected, then X-RateLimit-* headers come with it; 5xx in SendGrid’s shape', async () => {
    fake.rateLimit = { limit: 2, windowMs: 60_000 };
    const first = await sg('GET', `/v3/marketing/lists/${fake.listId}`);
    expect([first.headers['x-ratelimit-limit'], first.headers['x-ratelimit-remaining']]).toEqual(['2', '1']);
    await sg('GET', `/v3/marketing/lists/${fake.listId}`);
    const over = await sg('GET', `/v3/marketing/lists/${fake.listId}`);
    expect([over.status, over.data.errors[0].message, over.headers['x-ratelimit-remaining']]).toEqual([429, 'too many requests', '0']);
    expect(Number(over.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
    fake.rateLimit = null;
    fake.rateLimitNext(1, 1);
    const injected = await sg('GET', `/v3/marketing/lists/${fake.listId}`);
    expect([injected.status, injected.headers['retry-after'], injected.headers['x-ratelimit-remaining']]).toEqual([429, '1', '0']);
    fake.failNext(1, 502);
    expect((await sg('GET', `/v3/marketing/lists/${fake.listId}`)).data).toEqual({
      errors: [{ field: null, message: 'internal server error' }],
    });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', token: fake.apiKey });
  });
});
