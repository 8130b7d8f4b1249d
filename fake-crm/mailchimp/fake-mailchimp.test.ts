import axios, { type AxiosResponse } from 'axios';
import { FakeMailchimp, subscriberHash } from './fake-mailchimp';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });

function call(fake: FakeMailchimp, key: string | null = fake.apiKey) {
  const auth = key === null ? {} : { Authorization: `Basic ${Buffer.from(`anystring:${key}`).toString('base64')}` };
  return (method: string, path: string, data?: unknown, params?: Record<string, string>): Promise<AxiosResponse<Json>> =>
    http.request({ method, url: fake.url + path, data, params, headers: auth });
}

describe('FakeMailchimp', () => {
  let fake: FakeMailchimp;
  let mc: ReturnType<typeof call>;
  beforeAll(async () => {
    fake = await new FakeMailchimp().start();
    mc = call(fake);
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    fake.members.clear();
    fake.forgotten.clear();
    fake.received.length = 0;
  });

  it('when the key is missing or wrong, then 401 problem+json naming which', async () => {
    const missing = await call(fake, null)('GET', '/ping');
    expect([missing.status, missing.data.title]).toEqual([401, 'API Key Missing']);
    const wrong = await call(fake, 'nope-us21')('GET', '/ping');
    expect(wrong.status).toBe(401);
    expect(wrong.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(wrong.data).toMatchObject({
      type: expect.stringContaining('mailchimp.com'),
      title: 'API Key Invalid',
      status: 401,
      instance: expect.any(String),
    });
    expect(fake.url).toMatch(/\/3\.0$/);
    expect((await mc('GET', '/ping')).data).toEqual({ health_status: "Everything's Chimpy!" });
  });

  it('when the audience is read, then its name and stats; another id is a 404 problem', async () => {
    fake.addMember('a@x.io');
    const list = await mc('GET', `/lists/${fake.audienceId}`);
    expect(list.data).toMatchObject({ id: fake.audienceId, name: 'Fake Audience', stats: { member_count: 1 } });
    const other = await mc('GET', '/lists/nope');
    expect([other.status, other.data.title]).toEqual([404, 'Resource Not Found']);
  });

  it('when a batch subscribes new and existing members, then created, updated and per-member errors come back', async () => {
    fake.addMember('old@x.io', 'subscribed', { FNAME: 'Old' });
    const res = await mc('POST', `/lists/${fake.audienceId}`, {
      update_existing: true,
      members: [
        { email_address: 'New@X.io', status_if_new: 'pending', merge_fields: { FNAME: 'Ñew', NOPE: 'ignored' } },
        { email_address: 'old@x.io', status_if_new: 'pending', merge_fields: { LNAME: 'Timer' } },
        { email_address: 'not-an-email', status: 'subscribed' },
        { email_address: 'bday@x.io', status: 'subscribed', merge_fields: { BIRTHDAY: '1990-01-01' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.data.new_members.map((m: Json) => [m.email_address, m.status, m.id])).toEqual([
      ['new@x.io', 'pending', subscriberHash('new@x.io')],
    ]);
    // status_if_new leaves an existing member's status alone; merge fields merge.
    expect(res.data.updated_members[0]).toMatchObject({
      email_address: 'old@x.io',
      status: 'subscribed',
      merge_fields: { FNAME: 'Old', LNAME: 'Timer' },
    });
    expect(res.data.errors.map((e: Json) => [e.email_address, e.error_code, e.field])).toEqual([
      ['not-an-email', 'ERROR_GENERIC', 'email_address'],
      ['bday@x.io', 'ERROR_GENERIC', 'BIRTHDAY'],
    ]);
    expect(res.data).toMatchObject({ total_created: 1, total_updated: 1, error_count: 2 });
    expect(fake.member('new@x.io')?.merge_fields).toEqual({ FNAME: 'Ñew' });
    expect(fake.received).toHaveLength(4);
  });

  it('when update_existing is off, then an existing member is ERROR_CONTACT_EXISTS; duplicates are errors', async () => {
    fake.addMember('old@x.io');
    const res = await mc('POST', `/lists/${fake.audienceId}`, {
      members: [
        { email_address: 'old@x.io', status: 'unsubscribed' },
        { email_address: 'd@x.io', status: 'subscribed' },
        { email_address: 'D@x.io', status: 'subscribed' },
      ],
    });
    expect(res.data.errors.map((e: Json) => e.error_code)).toEqual(['ERROR_CONTACT_EXISTS', 'ERROR_GENERIC']);
    expect(fake.member('old@x.io')?.status).toBe('subscribed');
  });

  it('when a batch has more than 500 members or a schema problem, then 400 Invalid Resource for all of it', async () => {
    const many = Array.from({ length: 501 }, (_, i) => ({ email_address: `u${i}@x.io`, status: 'subscribed' }));
    const res = await mc('POST', `/lists/${fake.audienceId}`, { members: many });
    expect([res.status, res.data.title, res.data.errors[0].field]).toEqual([400, 'Invalid Resource', 'members']);
    fake.invalidResource = (m) => (m.email_address === 'bad@x.io' ? 'Schema describes string' : null);
    try {
      const bad = await mc('POST', `/lists/${fake.audienceId}`, {
        members: [
          { email_address: 'ok@x.io', status: 'subscribed' },
          { email_address: 'bad@x.io', status: 'subscribed' },
        ],
      });
      expect([bad.status, bad.data.errors]).toEqual([400, [{ field: 'members.1', message: 'Schema describes string' }]]);
      expect(fake.members.size).toBe(0);
    } finally {
      fake.invalidResource = undefined;
    }
    expect(
      (
        await http.post(`${fake.url}/lists/${fake.audienceId}`, '{nope', {
          headers: { Authorization: `Basic ${Buffer.from(`x:${fake.apiKey}`).toString('base64')}`, 'Content-Type': 'application/json' },
        })
      ).data.title,
    ).toBe('JSON Parse Error');
  });

  it('when members are put, patched (email change), tagged, archived and deleted for good, then the store follows', async () => {
    const hash = subscriberHash('p@x.io');
    const put = await mc('PUT', `/lists/${fake.audienceId}/members/${hash}`, { email_address: 'p@x.io', status_if_new: 'subscribed' });
    expect(put.data.status).toBe('subscribed');
    expect(
      (await mc('PUT', `/lists/${fake.audienceId}/members/${hash}`, { email_address: 'other@x.io', status_if_new: 'subscribed' })).status,
    ).toBe(400);
    const patched = await mc('PATCH', `/lists/${fake.audienceId}/members/${hash}`, { email_address: 'q@x.io' });
    expect(patched.data.id).toBe(subscriberHash('q@x.io'));
    expect(fake.member('p@x.io')).toBeUndefined();
    fake.addMember('taken@x.io');
    const clash = await mc('PATCH', `/lists/${fake.audienceId}/members/${subscriberHash('q@x.io')}`, { email_address: 'taken@x.io' });
    expect([clash.status, clash.data.title]).toEqual([400, 'Member Exists']);
    const q = subscriberHash('q@x.io');
    expect((await mc('POST', `/lists/${fake.audienceId}/members/${q}/tags`, { tags: [{ name: 'app', status: 'active' }] })).status).toBe(
      204,
    );
    expect(fake.member('q@x.io')?.tags).toEqual(['app']);
    expect((await mc('DELETE', `/lists/${fake.audienceId}/members/${q}`)).status).toBe(204);
    expect(fake.member('q@x.io')?.status).toBe('archived');
    expect((await mc('POST', `/lists/${fake.audienceId}/members/${q}/actions/delete-permanent`)).status).toBe(204);
    expect(fake.member('q@x.io')).toBeUndefined();
    expect((await mc('DELETE', `/lists/${fake.audienceId}/members/${q}`)).status).toBe(404);
    const again = await mc('POST', `/lists/${fake.audienceId}`, { members: [{ email_address: 'q@x.io', status: 'subscribed' }] });
    expect(again.data.errors[0].error).toContain('permanently deleted');
  });

  it('when faults are injected, then 429 and 5xx come in problem+json, Retry-After only when asked', async () => {
    fake.rateLimitNext(1, 2);
    const limited = await mc('GET', '/ping');
    expect([limited.status, limited.data.title, limited.headers['retry-after']]).toEqual([429, 'Too Many Requests', '2']);
    fake.failNext(1, 503);
    const down = await mc('GET', '/ping');
    expect([down.status, down.data.status]).toEqual([503, 503]);
    expect((await mc('GET', '/ping')).status).toBe(200);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', path: '/3.0/ping', apiKey: fake.apiKey });
  });
});
