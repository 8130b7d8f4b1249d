import axios, { type AxiosResponse } from 'axios';
import { FakeZoho, zohoTime } from './fake-zoho';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });

function client(fake: FakeZoho, auth: string | null = `Zoho-oauthtoken ${fake.token}`) {
  return (path: string, params?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<AxiosResponse<Json>> =>
    http.get(fake.url + path, { params, headers: { ...(auth === null ? {} : { Authorization: auth }), ...headers } });
}

const FIELDS = 'First_Name,Last_Name,Email,Phone,Account_Name,Title,Modified_Time';
const ZOHO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;

describe('FakeZoho: auth, org and errors', () => {
  let fake: FakeZoho;
  beforeAll(async () => {
    fake = await new FakeZoho({ contacts: 3, seed: 1 }).start();
  });
  afterAll(() => fake.stop());

  it('when the token is missing, of another scheme, wrong or expired, then 401 with Zoho’s body', async () => {
    expect((await client(fake, null)('/crm/v8/org')).data).toMatchObject({ code: 'AUTHENTICATION_FAILURE', status: 'error' });
    for (const auth of [`Bearer ${fake.token}`, 'Zoho-oauthtoken nope']) {
      const res = await client(fake, auth)('/crm/v8/org');
      expect(res.status).toBe(401);
      expect(res.data).toEqual({ code: 'INVALID_TOKEN', details: {}, message: 'invalid oauth token', status: 'error' });
    }
    const f = await new FakeZoho({ token: 'old-token' }).start();
    try {
      f.expireToken();
      expect((await client(f, 'Zoho-oauthtoken old-token')('/crm/v8/org')).status).toBe(401);
      f.addToken('new-token');
      expect((await client(f, 'Zoho-oauthtoken new-token')('/crm/v8/org')).status).toBe(200);
    } finally {
      await f.stop();
    }
  });

  it('when the org and the current user are asked, then they come in Zoho’s envelopes', async () => {
    const org = await client(fake)('/crm/v8/org');
    expect(org.data.org[0]).toMatchObject({ id: expect.stringMatching(/^\d{19}$/), company_name: expect.any(String), type: 'production' });
    const me = await client(fake)('/crm/v8/users', { type: 'CurrentUser' });
    expect(me.data.users[0]).toMatchObject({ status: 'active', email: expect.any(String) });
  });

  it('when a list call has no fields, or asks another module or path, then Zoho’s 400/404 bodies', async () => {
    expect((await client(fake)('/crm/v8/Contacts')).data).toEqual({
      code: 'REQUIRED_PARAM_MISSING',
      details: { param: 'fields' },
      message: 'One of the expected parameter is missing',
      status: 'error',
    });
    expect((await client(fake)('/crm/v8/Widgets', { fields: 'Name' })).data.code).toBe('INVALID_MODULE');
    expect((await client(fake)('/crm/v8/Contacts/nothing/here')).status).toBe(404);
    const both = await client(fake)('/crm/v8/Contacts', { fields: FIELDS, page: 1, page_token: 'x' });
    expect(both.data.code).toBe('AMBIGUITY_DURING_PROCESSING');
  });

  it('when a fault is injected, then the next call answers it in Zoho’s shape', async () => {
    fake.rateLimitNext(1, 1);
    const limited = await client(fake)('/crm/v8/org');
    expect([limited.status, limited.data.code, limited.headers['retry-after']]).toEqual([429, 'TOO_MANY_REQUESTS', '1']);
    fake.failNext(1, 503);
    expect((await client(fake)('/crm/v8/org')).data.code).toBe('INTERNAL_ERROR');
    expect((await client(fake)('/crm/v8/org')).status).toBe(200);
  });
});

describe('FakeZoho: Contacts listing', () => {
  let fake: FakeZoho;
  beforeAll(async () => {
    fake = await new FakeZoho({ contacts: 2300, seed: 2, offset: '-08:00' }).start();
  });
  afterAll(() => fake.stop());

  it('when the first page is read, then 200 records with the fields asked, id, times with the org’s offset, and a next_page_token', async () => {
    const res = await client(fake)('/crm/v8/Contacts', {
      fields: 'Last_Name,Account_Name,Modified_Time',
      sort_by: 'id',
      sort_order: 'asc',
    });
    expect(res.status).toBe(200);
    expect(res.data.data).toHaveLength(200);
    const first = fake.contactsIn()[0];
    expect(Object.keys(res.data.data[0]).sort()).toEqual(['Account_Name', 'Last_Name', 'Modified_Time', 'id']);
    expect(res.data.data[0]).toMatchObject({ id: first.id, Modified_Time: zohoTime(first.Modified_Time, '-08:00') });
    expect(res.data.data[0].Modified_Time).toMatch(ZOHO_TIME);
    expect(res.data.data[0].Modified_Time.endsWith('-08:00')).toBe(true);
    expect(res.data.info).toMatchObject({
      per_page: 200,
      count: 200,
      page: 1,
      more_records: true,
      next_page_token: expect.any(String),
      previous_page_token: null,
      page_token_expiry: expect.stringMatching(ZOHO_TIME),
    });
  });

  it('when page numbers would pass the 2,000th record, then 400 DISCRETE_PAGINATION_LIMIT_EXCEEDED; page_token goes on to the end', async () => {
    const params = { fields: FIELDS, per_page: 200, sort_by: 'id', sort_order: 'asc' };
    const tenth = await client(fake)('/crm/v8/Contacts', { ...params, page: 10 });
    expect(tenth.status).toBe(200);
    const eleventh = await client(fake)('/crm/v8/Contacts', { ...params, page: 11 });
    expect([eleventh.status, eleventh.data.code]).toEqual([400, 'DISCRETE_PAGINATION_LIMIT_EXCEEDED']);
    const next = await client(fake)('/crm/v8/Contacts', { ...params, page_token: tenth.data.info.next_page_token });
    expect(next.data.data[0].id).toBe(fake.contactsIn()[2000].id);
    const last = await client(fake)('/crm/v8/Contacts', { ...params, page_token: next.data.info.next_page_token });
    expect(last.data.data).toHaveLength(100);
    expect(last.data.info).toMatchObject({ more_records: false, next_page_token: null });
  });

  it('when a page_token is reused with other parameters, is unknown or has expired, then Zoho’s 400s', async () => {
    const params = { fields: FIELDS, sort_by: 'id', sort_order: 'asc' };
    const first = await client(fake)('/crm/v8/Contacts', params);
    const token = first.data.info.next_page_token as string;
    const altered = await client(fake)('/crm/v8/Contacts', { ...params, sort_order: 'desc', page_token: token });
    expect(altered.data.code).toBe('TOKEN_BOUND_DATA_MISMATCH');
    expect((await client(fake)('/crm/v8/Contacts', { ...params, page_token: 'made-up' })).data.code).toBe('INVALID_DATA');
    fake.expirePageTokens();
    expect((await client(fake)('/crm/v8/Contacts', { ...params, page_token: token })).data.code).toBe('EXPIRED_VALUE');
  });

  it('when If-Modified-Since is sent, then only contacts modified after it come; none: 304 without a body', async () => {
    const since = fake.now();
    const changed = fake.contactsIn().slice(5, 8);
    for (const c of changed) fake.updateContact(c.id, { Title: 'Changed' });
    const header = { 'If-Modified-Since': zohoTime(since, '+05:30') };
    const res = await client(fake)('/crm/v8/Contacts', { fields: FIELDS, sort_by: 'Modified_Time', sort_order: 'asc' }, header);
    expect(res.data.data.map((c: Json) => c.id)).toEqual(changed.map((c) => c.id));
    const none = await client(fake)('/crm/v8/Contacts', { fields: FIELDS }, { 'If-Modified-Since': zohoTime(fake.now()) });
    expect([none.status, none.data]).toEqual([304, '']);
    expect((await client(fake)('/crm/v8/Contacts', { fields: FIELDS }, { 'If-Modified-Since': 'yesterday' })).data.code).toBe(
      'INVALID_DATA',
    );
  });

  it('when records are read by ids, then those that exist come in the order asked; none: 204; more than 100: 400', async () => {
    const [a, b] = fake.contactsIn();
    const res = await client(fake)('/crm/v8/Contacts', { ids: `${b.id},9999999999999999999,${a.id}`, fields: 'Last_Name' });
    expect(res.data.data).toEqual([
      { Last_Name: b.Last_Name, id: b.id },
      { Last_Name: a.Last_Name, id: a.id },
    ]);
    expect((await client(fake)('/crm/v8/Contacts', { ids: '9999999999999999999' })).status).toBe(204);
    const many = Array.from({ length: 101 }, (_, i) => String(5725767000000100000n + BigInt(i))).join(',');
    expect((await client(fake)('/crm/v8/Contacts', { ids: many })).data.code).toBe('LIMIT_EXCEEDED');
  });

  it('when the count is asked, then it is the number of contacts', async () => {
    expect((await client(fake)('/crm/v8/Contacts/actions/count')).data).toEqual({ count: fake.contacts.size });
  });
});

describe('FakeZoho: deletions, credits and notifications', () => {
  it('when contacts are deleted, then /deleted lists them (recycle and permanent), filtered by type and If-Modified-Since; none: 204', async () => {
    const fake = await new FakeZoho({ contacts: 10, seed: 4 }).start();
    try {
      expect((await client(fake)('/crm/v8/Contacts/deleted', { type: 'all' })).status).toBe(204);
      const [a, b, c] = fake.contactsIn();
      fake.deleteContact(a.id);
      const since = fake.now();
      fake.deleteContact(b.id, 'permanent');
      fake.deleteContact(c.id);
      const all = await client(fake)('/crm/v8/Contacts/deleted', { type: 'all' });
      expect(all.data.data.map((d: Json) => [d.id, d.type])).toEqual([
        [c.id, 'recycle'],
        [b.id, 'permanent'],
        [a.id, 'recycle'],
      ]);
      expect(all.data.data[0]).toMatchObject({
        display_name: c.Last_Name,
        deleted_time: expect.stringMatching(ZOHO_TIME),
        deleted_by: { id: expect.any(String) },
      });
      expect(all.data.data[1]).toMatchObject({ display_name: null, deleted_by: null });
      expect(all.data.info).toEqual({ per_page: 200, count: 3, page: 1, more_records: false });
      const recent = await client(fake)('/crm/v8/Contacts/deleted', { type: 'all' }, { 'If-Modified-Since': zohoTime(since) });
      expect(recent.data.data.map((d: Json) => d.id)).toEqual([c.id, b.id]);
      expect((await client(fake)('/crm/v8/Contacts/deleted', { type: 'permanent' })).data.data.map((d: Json) => d.id)).toEqual([b.id]);
      expect((await client(fake)('/crm/v8/Contacts/deleted', { type: 'gone' })).data.code).toBe('PATTERN_NOT_MATCHED');
      expect((await client(fake)('/crm/v8/Contacts', { ids: a.id })).status).toBe(204);
    } finally {
      await fake.stop();
    }
  });

  it('when half the day’s credits are spent, then X-API-CREDITS-REMAINING says how many are left; none left: 429', async () => {
    const fake = await new FakeZoho({ creditLimit: 4 }).start();
    try {
      const headers = [];
      for (let i = 0; i < 4; i++) headers.push((await client(fake)('/crm/v8/org')).headers['x-api-credits-remaining']);
      expect(headers).toEqual([undefined, '2', '1', '0']);
      const spent = await client(fake)('/crm/v8/org');
      expect([spent.status, spent.data.code]).toEqual([429, 'TOO_MANY_REQUESTS']);
    } finally {
      await fake.stop();
    }
  });

  it('when a notification is built, then it has the body Zoho posts, with the channel’s token unless told otherwise', () => {
    const fake = new FakeZoho({ contacts: 1, webhookToken: 'channel-token-1234567890' });
    const [c] = fake.contactsIn();
    const body = fake.notification([c.id], 'update', undefined, { serverTime: 1718117126473 });
    expect(body).toEqual({
      server_time: 1718117126473,
      query_params: {},
      module: 'Contacts',
      resource_uri: 'https://www.zohoapis.com/crm/v8/Contacts',
      ids: [c.id],
      affected_fields: [],
      operation: 'update',
      channel_id: '1000000068001',
      token: 'channel-token-1234567890',
    });
    expect(fake.notification([c.id], 'delete', null)).not.toHaveProperty('token');
  });

  it('when contacts are changed, then Modified_Time moves to a later second each time, never before now', () => {
    const fake = new FakeZoho({ contacts: 2 });
    const [a, b] = fake.contactsIn();
    const before = Date.now();
    const t1 = fake.updateContact(a.id, { Title: 'One' }).Modified_Time.getTime();
    const t2 = fake.updateContact(b.id, { Title: 'Two' }).Modified_Time.getTime();
    expect(t1).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(t2 - t1).toBeGreaterThanOrEqual(1000);
    expect(t2 % 1000).toBe(0);
    expect(fake.addContact({ Last_Name: 'Added' }).id).toMatch(/^\d{19}$/);
  });
});

describe('FakeZoho: writes', () => {
  let fake: FakeZoho;
  beforeAll(async () => {
    fake = await new FakeZoho({ contacts: 2, seed: 4, customFields: ['Customer_Tier'] }).start();
  });
  afterAll(() => fake.stop());

  const send = (method: 'post' | 'put' | 'delete', path: string, body?: unknown, params?: Record<string, unknown>) =>
    http.request<Json>({ method, url: fake.url + path, data: body, params, headers: { Authorization: `Zoho-oauthtoken ${fake.token}` } });

  it('when a record is upserted twice by Email, then it is inserted (200, action insert) and then updated (duplicate_field Email)', async () => {
    const first = await send('post', '/crm/v8/Contacts/upsert', {
      data: [{ Last_Name: 'Upsert', Email: 'Up.Sert@example.com', Customer_Tier: 'Gold', Unknown_Field: 'x' }],
      duplicate_check_fields: ['Email'],
    });
    expect(first.status).toBe(200);
    expect(first.data.data[0]).toMatchObject({
      code: 'SUCCESS',
      action: 'insert',
      duplicate_field: null,
      message: 'record added',
      status: 'success',
    });
    const id = first.data.data[0].details.id as string;
    expect(first.data.data[0].details).toMatchObject({
      id: expect.stringMatching(/^\d{19}$/),
      Modified_Time: expect.stringMatching(ZOHO_TIME),
    });
    const again = await send('post', '/crm/v8/Contacts/upsert', { data: [{ Last_Name: 'Upsert 2', Email: 'up.sert@example.com' }] });
    expect(again.data.data[0]).toMatchObject({ action: 'update', duplicate_field: 'Email', details: { id } });
    expect(fake.contact(id)).toMatchObject({ Last_Name: 'Upsert 2', more: { Customer_Tier: 'Gold' } });
    expect(fake.contact(id).more).not.toHaveProperty('Unknown_Field');
    expect(fake.received.at(-1)).toMatchObject({ method: 'POST', path: '/crm/v8/Contacts/upsert' });
    const listed = await client(fake)('/crm/v8/Contacts', { fields: 'Last_Name,Customer_Tier', ids: id });
    expect(listed.data.data[0]).toEqual({ id, Last_Name: 'Upsert 2', Customer_Tier: 'Gold' });
  });

  it('when some records are refused, then 207 with each record’s error in place; all refused: 400 with the same shape', async () => {
    const mixed = await send('post', '/crm/v8/Contacts/upsert', { data: [{ Last_Name: 'Fine' }, { Email: 'no-last@example.com' }] });
    expect(mixed.status).toBe(207);
    expect(mixed.data.data[1]).toEqual({
      code: 'MANDATORY_NOT_FOUND',
      details: { api_name: 'Last_Name', json_path: '$.data[1].Last_Name' },
      message: 'required field not found',
      status: 'error',
    });
    const none = await send('post', '/crm/v8/Contacts/upsert', { data: [{ Last_Name: 'X', Email: 'nope' }] });
    expect(none.status).toBe(400);
    expect(none.data.data[0]).toMatchObject({ code: 'INVALID_DATA', details: { expected_data_type: 'email', api_name: 'Email' } });
  });

  it('when a write body is malformed or too large, then Zoho’s whole-request 400', async () => {
    expect((await send('post', '/crm/v8/Contacts/upsert', { data: [] })).data.code).toBe('MANDATORY_NOT_FOUND');
    const big = await send('post', '/crm/v8/Contacts/upsert', { data: Array.from({ length: 101 }, (_, i) => ({ Last_Name: `N${i}` })) });
    expect(big.status).toBe(400);
    expect(big.data.code).toBe('LIMIT_EXCEEDED');
    expect((await send('post', '/crm/v8/Contacts', { data: [{ Last_Name: 'x' }] })).data.code).toBe('INVALID_REQUEST_METHOD');
  });

  it('when records are updated by id, then nulls clear fields, an unknown id is INVALID_DATA about id, Last_Name cannot be emptied', async () => {
    const [c] = fake.contactsIn();
    const res = await send('put', '/crm/v8/Contacts', {
      data: [
        { id: c.id, Phone: null, Title: 'Updated' },
        { id: '5725767999999999999', Title: 'x' },
        { id: c.id, Last_Name: null },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.data.data[0]).toMatchObject({ code: 'SUCCESS', message: 'record updated', details: { id: c.id } });
    expect(res.data.data[0]).not.toHaveProperty('action');
    expect(res.data.data[1]).toEqual({
      code: 'INVALID_DATA',
      details: { api_name: 'id', json_path: '$.data[1].id' },
      message: 'the id given seems to be invalid',
      status: 'error',
    });
    expect(res.data.data[2].code).toBe('MANDATORY_NOT_FOUND');
    expect(fake.contact(c.id)).toMatchObject({ Phone: null, Title: 'Updated' });
  });

  it('when records are deleted by ids, then they go to the recycle bin; an unknown id is "record not deleted"', async () => {
    const c = fake.addContact({ Last_Name: 'Doomed' });
    const res = await send('delete', '/crm/v8/Contacts', undefined, { ids: `${c.id},5725767999999999999` });
    expect(res.status).toBe(207);
    expect(res.data.data).toEqual([
      { code: 'SUCCESS', details: { id: c.id }, message: 'record deleted', status: 'success' },
      { code: 'INVALID_DATA', details: { id: '5725767999999999999' }, message: 'record not deleted', status: 'error' },
    ]);
    expect(fake.deleted.at(-1)).toMatchObject({ id: c.id, type: 'recycle' });
    expect((await send('delete', '/crm/v8/Contacts')).data.code).toBe('REQUIRED_PARAM_MISSING');
  });
});

describe('FakeZoho: watch channels', () => {
  let fake: FakeZoho;
  beforeAll(async () => {
    fake = await new FakeZoho({ seed: 5 }).start();
  });
  afterAll(() => fake.stop());

  const send = (method: 'post' | 'patch' | 'delete' | 'get', body?: unknown, params?: Record<string, unknown>) =>
    http.request<Json>({
      method,
      url: `${fake.url}/crm/v8/actions/watch`,
      data: body === undefined ? undefined : JSON.stringify(body),
      params,
      headers: { Authorization: `Zoho-oauthtoken ${fake.token}`, 'Content-Type': 'application/json' },
    });
  const inDays = (d: number) => zohoTime(new Date(Date.now() + d * 86_400_000), '+00:00');
  const channel = (id: string, extra: Json = {}) => ({
    channel_id: id,
    events: ['Contacts.all'],
    token: 'a-token-of-twenty-chars',
    notify_url: 'https://hooks.example/zoho/1',
    channel_expiry: inDays(3),
    ...extra,
  });

  it('when a channel is enabled, then 201 with the expiry granted per module, and GET lists it with its token and URL', async () => {
    const res = await send('post', { watch: [channel('1001')] });
    expect(res.status).toBe(201);
    expect(res.data.watch[0]).toMatchObject({
      code: 'SUCCESS',
      status: 'success',
      details: { events: [{ channel_id: '1001', resource_name: 'Contacts' }] },
    });
    const granted = Date.parse(res.data.watch[0].details.events[0].channel_expiry);
    expect(Math.abs(granted - (Date.now() + 3 * 86_400_000))).toBeLessThan(5000);
    const listed = await send('get', undefined, { channel_id: '1001' });
    expect(listed.status).toBe(200);
    expect(listed.data.watch).toEqual([
      expect.objectContaining({
        channel_id: '1001',
        token: 'a-token-of-twenty-chars',
        notify_url: 'https://hooks.example/zoho/1',
        events: ['Contacts.all'],
      }),
    ]);
    expect(fake.received.at(-1)).toMatchObject({ method: 'POST', path: '/crm/v8/actions/watch' });
  });

  it('when no expiry is given or one past a week, then Zoho grants its default hour; a past one is refused', async () => {
    for (const extra of [{ channel_expiry: undefined }, { channel_expiry: inDays(8) }]) {
      const res = await send('post', { watch: [channel('1002', extra)] });
      expect(res.status).toBe(201);
      const granted = Date.parse(res.data.watch[0].details.events[0].channel_expiry);
      expect(Math.abs(granted - (Date.now() + 3_600_000))).toBeLessThan(5000);
    }
    const past = await send('post', { watch: [channel('1003', { channel_expiry: inDays(-1) })] });
    expect(past.status).toBe(400);
    expect(past.data.watch[0]).toMatchObject({ code: 'INVALID_DATA', details: { api_name: 'channel_expiry' }, status: 'error' });
  });

  it('when a channel id is enabled again, then it is replaced (new token and expiry), not doubled', async () => {
    await send('post', { watch: [channel('1004')] });
    const again = await send('post', { watch: [channel('1004', { token: 'another-token-value-x', channel_expiry: inDays(6) })] });
    expect(again.status).toBe(201);
    const listed = await send('get', undefined, { channel_id: '1004' });
    expect(listed.data.watch).toHaveLength(1);
    expect(listed.data.watch[0].token).toBe('another-token-value-x');
    expect(fake.watch.active('1004')?.channel_expiry.getTime()).toBeGreaterThan(Date.now() + 5 * 86_400_000);
  });

  it('when entries are malformed, then each gets its own error in place: 207 beside a good one, 400 alone', async () => {
    const res = await send('post', {
      watch: [
        channel('1005'),
        channel('not-a-number'),
        channel('1006', { events: ['Widgets.all'] }),
        channel('1007', { token: 'x'.repeat(51) }),
        channel('1008', { notify_url: 'ftp://nope' }),
        { events: ['Contacts.all'], notify_url: 'https://hooks.example/x' },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.data.watch.map((w: Json) => [w.code, w.details.api_name])).toEqual([
      ['SUCCESS', undefined],
      ['INVALID_DATA', 'channel_id'],
      ['INVALID_DATA', 'events'],
      ['INVALID_DATA', 'token'],
      ['INVALID_DATA', 'notify_url'],
      ['MANDATORY_NOT_FOUND', 'channel_id'],
    ]);
    expect((await send('post', { watch: [] })).data.code).toBe('MANDATORY_NOT_FOUND');
  });

  it('when a channel expires, then GET no longer lists it (204) and PATCH refuses it; enabling it again works', async () => {
    await send('post', { watch: [channel('1009')] });
    const patched = await send('patch', { watch: [{ channel_id: '1009', channel_expiry: inDays(5) }] });
    expect(patched.status).toBe(200);
    expect(fake.watch.active('1009')?.token).toBe('a-token-of-twenty-chars');
    fake.watch.expire('1009');
    expect((await send('get', undefined, { channel_id: '1009' })).status).toBe(204);
    const late = await send('patch', { watch: [{ channel_id: '1009', channel_expiry: inDays(5) }] });
    expect(late.status).toBe(400);
    expect(late.data.watch[0]).toMatchObject({ code: 'INVALID_DATA', details: { api_name: 'channel_id' } });
    expect((await send('post', { watch: [channel('1009')] })).status).toBe(201);
    expect(fake.watch.active('1009')).toBeDefined();
  });

  it('when the token was granted no notifications scope, then watch calls are 401 OAUTH_SCOPE_MISMATCH while Contacts still answer', async () => {
    fake.addToken('contacts-only-token', ['ZohoCRM.modules.contacts.ALL', 'ZohoCRM.org.READ']);
    const res = await http.post(`${fake.url}/crm/v8/actions/watch`, JSON.stringify({ watch: [channel('1011')] }), {
      headers: { Authorization: 'Zoho-oauthtoken contacts-only-token', 'Content-Type': 'application/json' },
    });
    expect(res.status).toBe(401);
    expect(res.data).toEqual({ code: 'OAUTH_SCOPE_MISMATCH', message: 'Unauthorized', status: 'error' });
    expect(fake.watch.channels.has('1011')).toBe(false);
    expect((await client(fake, 'Zoho-oauthtoken contacts-only-token')('/crm/v8/org')).status).toBe(200);
    fake.addToken('contacts-only-token', ['ZohoCRM.notifications.ALL']);
    expect((await send('post', { watch: [channel('1011')] })).status).toBe(201);
  });

  it('when channels are disabled, then each is un-subscribed; an unknown one is an error in place', async () => {
    await send('post', { watch: [channel('1010')] });
    const res = await send('delete', undefined, { channel_ids: '1010,999999' });
    expect(res.status).toBe(207);
    expect(res.data.watch[0]).toMatchObject({
      code: 'SUCCESS',
      message: 'Successfully un-subscribed from actions-watch',
      details: { channel_id: '1010' },
    });
    expect(res.data.watch[1]).toMatchObject({ code: 'INVALID_DATA', status: 'error' });
    expect(fake.watch.channels.has('1010')).toBe(false);
    expect((await send('delete')).data.code).toBe('REQUIRED_PARAM_MISSING');
  });
});
