import axios, { type AxiosResponse } from 'axios';
import { FakeWealthbox } from './fake-wealthbox';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });
const WEALTHBOX_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} [AP]M [+-]\d{4}$/;

describe('FakeWealthbox', () => {
  let fake: FakeWealthbox;
  beforeAll(async () => {
    fake = await new FakeWealthbox({ contacts: 3, seed: 2 }).start();
  });
  afterAll(() => fake.stop());

  const call = (
    method: 'get' | 'post' | 'put' | 'delete',
    path: string,
    body?: unknown,
    params?: Json,
    token = fake.token,
  ): Promise<AxiosResponse<Json>> => http.request({ method, url: fake.url + path, data: body, params, headers: { ACCESS_TOKEN: token } });

  it('when the token is wrong, then 401; with ACCESS_TOKEN or a bearer it answers, contacts in their envelope with Wealthbox times', async () => {
    expect((await call('get', '/contacts', undefined, undefined, 'nope')).status).toBe(401);
    const bearer = await http.get(`${fake.url}/me`, { headers: { Authorization: `Bearer ${fake.token}` } });
    expect(bearer.status).toBe(200);
    const list = await call('get', '/contacts', undefined, { per_page: 2 });
    expect(list.data.meta).toEqual({ total_count: 3, total_pages: 2 });
    expect(list.data.contacts[0].updated_at).toMatch(WEALTHBOX_TIME);
  });

  it('when a Person is created, then POST answers the contact with entry ids, email= finds it, and the write is in `received`', async () => {
    const res = await call('post', '/contacts', {
      type: 'Person',
      first_name: 'Ada',
      last_name: 'Lovelace',
      prefix: 'Ms.',
      email_addresses: [{ address: 'ada@example.com', principal: true, kind: 'Work' }],
      phone_numbers: [{ address: '(555) 123-4567', principal: true, kind: 'Mobile' }],
    });
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({
      id: expect.any(Number),
      type: 'Person',
      first_name: 'Ada',
      prefix: 'Ms.',
      email_addresses: [{ id: expect.any(Number), address: 'ada@example.com', principal: true, kind: 'Work' }],
      phone_numbers: [{ address: '(555) 123-4567', principal: true, kind: 'Mobile' }],
    });
    const found = await call('get', '/contacts', undefined, { email: 'ADA@example.com', type: 'Person' });
    expect(found.data.contacts.map((c: Json) => c.id)).toEqual([res.data.id]);
    expect(fake.received.at(-1)).toMatchObject({ method: 'POST', path: '/v1/contacts' });
    expect((await call('post', '/contacts', { type: 'Person', job_title: 'x' })).status).toBe(422);
    expect((await call('post', '/contacts', { last_name: 'X', email_addresses: [{ address: 'bad' }] })).data.error).toContain('invalid');
  });

  it('when email_addresses are updated, then an entry without id is added, one with id changed, {id, destroy} removed', async () => {
    const created = (
      await call('post', '/contacts', { last_name: 'Entries', email_addresses: [{ address: 'one@example.com', principal: true }] })
    ).data;
    const firstId = created.email_addresses[0].id as number;
    const added = await call('put', `/contacts/${created.id}`, {
      email_addresses: [{ address: 'two@example.com', principal: true, kind: 'Personal' }],
    });
    expect(added.data.email_addresses.map((e: Json) => [e.address, e.principal])).toEqual([
      ['two@example.com', true],
      ['one@example.com', false],
    ]);
    const changed = await call('put', `/contacts/${created.id}`, { email_addresses: [{ id: firstId, address: 'uno@example.com' }] });
    expect(changed.data.email_addresses.find((e: Json) => e.id === firstId).address).toBe('uno@example.com');
    const destroyed = await call('put', `/contacts/${created.id}`, { email_addresses: [{ id: firstId, destroy: true }], job_title: '' });
    expect(destroyed.data.email_addresses.map((e: Json) => e.address)).toEqual(['two@example.com']);
    expect(destroyed.data.job_title).toBeNull();
    expect((await call('put', `/contacts/${created.id}`, { email_addresses: [{ id: 1, destroy: true }] })).status).toBe(422);
  });

  it('when a contact is deleted, then DELETE answers 200, GET and PUT 404, and it is listed with deleted=true', async () => {
    const c = (await call('post', '/contacts', { last_name: 'Doomed' })).data;
    expect((await call('delete', `/contacts/${c.id}`)).status).toBe(200);
    expect((await call('get', `/contacts/${c.id}`)).status).toBe(404);
    expect((await call('put', `/contacts/${c.id}`, { last_name: 'x' })).data).toEqual({ error: 'Record not found' });
    const deleted = await call('get', '/contacts', undefined, {
      deleted: 'true',
      deleted_since: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(deleted.data.contacts.map((x: Json) => x.id)).toContain(c.id);
  });
});
