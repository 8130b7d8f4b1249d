import axios, { type AxiosResponse } from 'axios';
import { FakeSalesforce, idChecksum } from './fake-salesforce';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });
const V = '/services/data/v67.0';
const SF_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$/;
const ID18 = /^003[A-Za-z0-9]{15}$/;
const FIELDS = 'Id, FirstName, LastName, Email, Phone, Title, AccountId, Account.Name, LastModifiedDate';

function client(fake: FakeSalesforce, token: string | null = fake.token, headers: Record<string, string> = {}) {
  const auth: Record<string, string> = token === null ? {} : { Authorization: `Bearer ${token}` };
  return {
    get: (path: string, params?: Record<string, string>): Promise<AxiosResponse<Json>> =>
      http.get(fake.url + path, { headers: { ...auth, ...headers }, params }),
    query: (q: string): Promise<AxiosResponse<Json>> =>
      http.get(`${fake.url}${V}/query`, { headers: { ...auth, ...headers }, params: { q } }),
  };
}

const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, '+00:00');

describe('FakeSalesforce: sessions, the API budget, the connection query', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 3, dailyLimit: 1000, apiUsed: 10, acceptToken: (t) => t === 'issued-by-oauth' }).start();
  });
  afterAll(() => fake.stop());

  it('when the token is missing, unknown or expired, then 401 with the INVALID_SESSION_ID array, not counted', async () => {
    const before = fake.apiUsed;
    for (const token of [null, 'not-a-session']) {
      const res = await client(fake, token).query('SELECT Id FROM Contact');
      expect(res.status).toBe(401);
      expect(res.data).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
      expect(res.headers['sforce-limit-info']).toBeUndefined();
    }
    fake.addToken('short-lived');
    expect((await client(fake, 'short-lived').query('SELECT Id FROM Contact')).status).toBe(200);
    fake.expireToken('short-lived');
    expect((await client(fake, 'short-lived').query('SELECT Id FROM Contact')).status).toBe(401);
    expect((await client(fake, 'issued-by-oauth').query('SELECT Id FROM Contact')).status).toBe(200);
    expect(fake.apiUsed).toBe(before + 2);
  });

  it('when calls are made, then each answer carries Sforce-Limit-Info; past the limit, 403 REQUEST_LIMIT_EXCEEDED', async () => {
    fake.setApiUsage(998);
    const ok = await client(fake).query('SELECT Id FROM Contact');
    expect(ok.headers['sforce-limit-info']).toBe('api-usage=999/1000');
    expect((await client(fake).query('SELECT Id FROM Contact')).headers['sforce-limit-info']).toBe('api-usage=1000/1000');
    const refused = await client(fake).query('SELECT Id FROM Contact');
    expect(refused.status).toBe(403);
    expect(refused.data).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    expect(refused.headers['sforce-limit-info']).toBe('api-usage=1000/1000');
    fake.setApiUsage(0);
  });

  it('when the Organization is queried, then the org’s id and name come back as a record', async () => {
    const res = await client(fake).query('SELECT Id, Name, OrganizationType, IsSandbox, InstanceName FROM Organization');
    expect(res.status).toBe(200);
    expect(res.data).toEqual({
      totalSize: 1,
      done: true,
      records: [
        {
          attributes: { type: 'Organization', url: `${V}/sobjects/Organization/${fake.orgId}` },
          Id: fake.orgId,
          Name: 'Fake Industries',
          OrganizationType: 'Enterprise Edition',
          IsSandbox: false,
          InstanceName: 'NA224',
        },
      ],
    });
  });

  it('when an unknown version or resource is asked for, then 404 NOT_FOUND', async () => {
    expect((await client(fake).get('/services/data/v99.0/query', { q: 'SELECT Id FROM Contact' })).data).toEqual([
      { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
    ]);
    expect((await client(fake).get(`${V}/sobjects/Lead/describe`)).status).toBe(404);
  });

  it('when ids are made, then their checksum is Salesforce’s (15-character id + 3)', () => {
    // Known pair: 001A0000006Vm9r → 001A0000006Vm9rIAC (Salesforce's own example id).
    expect(idChecksum('001A0000006Vm9r')).toBe('001A0000006Vm9rIAC');
  });
});

describe('FakeSalesforce: queries, paging and locators (2,500 contacts)', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 2500, seed: 3 }).start();
  });
  afterAll(() => fake.stop());

  it('when Contacts are queried, then 2,000 come first with a nextRecordsUrl, then the rest, in the fields asked for', async () => {
    const first = await client(fake).query(`SELECT ${FIELDS} FROM Contact ORDER BY LastModifiedDate, Id`);
    expect(first.status).toBe(200);
    expect(first.data).toMatchObject({
      totalSize: 2500,
      done: false,
      nextRecordsUrl: expect.stringMatching(/^\/services\/data\/v67\.0\/query\/01g[A-Za-z0-9]+-2000$/),
    });
    expect(first.data.records).toHaveLength(2000);
    const r = first.data.records[0];
    expect(Object.keys(r)).toEqual([
      'attributes',
      'Id',
      'FirstName',
      'LastName',
      'Email',
      'Phone',
      'Title',
      'AccountId',
      'Account',
      'LastModifiedDate',
    ]);
    expect(r.Id).toMatch(ID18);
    expect(r.attributes).toEqual({ type: 'Contact', url: `${V}/sobjects/Contact/${r.Id}` });
    expect(r.LastModifiedDate).toMatch(SF_TIME);
    const withAccount = first.data.records.find((c: Json) => c.AccountId);
    expect(withAccount.Account).toEqual({
      attributes: { type: 'Account', url: `${V}/sobjects/Account/${withAccount.AccountId}` },
      Name: expect.any(String),
    });
    expect(first.data.records.find((c: Json) => !c.AccountId).Account).toBeNull();
    const second = await client(fake).get(first.data.nextRecordsUrl);
    expect(second.data).toMatchObject({ totalSize: 2500, done: true });
    expect(second.data.nextRecordsUrl).toBeUndefined();
    expect(second.data.records).toHaveLength(500);
    const ids = [...first.data.records, ...second.data.records].map((c: Json) => c.Id);
    expect(new Set(ids).size).toBe(2500);
    // Ordered by LastModifiedDate then Id.
    const keys = [...first.data.records, ...second.data.records].map((c: Json) => `${c.LastModifiedDate}|${c.Id}`);
    expect(keys).toEqual([...keys].sort());
    expect(fake.openLocators).toBe(0);
  });

  it('when Sforce-Query-Options asks a batch size, then it is used within 200..2,000', async () => {
    const small = await client(fake, fake.token, { 'Sforce-Query-Options': 'batchSize=500' }).query('SELECT Id FROM Contact');
    expect(small.data.records).toHaveLength(500);
    expect(small.data.nextRecordsUrl).toMatch(/-500$/);
    const tiny = await client(fake, fake.token, { 'Sforce-Query-Options': 'batchSize=10' }).query('SELECT Id FROM Contact');
    expect(tiny.data.records).toHaveLength(200);
    expect(fake.requests[fake.requests.length - 1].batchSize).toBe(10);
    fake.expireLocators();
  });

  it('when a locator is expired, idle too long, or followed by another session, then INVALID_QUERY_LOCATOR or INVALID_SESSION_ID', async () => {
    const open = await client(fake).query('SELECT Id FROM Contact');
    fake.expireLocators();
    const dead = await client(fake).get(open.data.nextRecordsUrl);
    expect(dead.status).toBe(400);
    expect(dead.data).toEqual([{ message: 'invalid query locator', errorCode: 'INVALID_QUERY_LOCATOR' }]);

    const again = await client(fake).query('SELECT Id FROM Contact');
    fake.addToken('another-session');
    const other = await client(fake, 'another-session').get(again.data.nextRecordsUrl);
    expect(other.status).toBe(401);
    expect(other.data[0].errorCode).toBe('INVALID_SESSION_ID');
    expect((await client(fake).get(again.data.nextRecordsUrl)).status).toBe(200);

    const idle = await new FakeSalesforce({ contacts: 250, locatorIdleMs: -1 }).start();
    try {
      const page = await client(idle, idle.token, { 'Sforce-Query-Options': 'batchSize=200' }).query('SELECT Id FROM Contact');
      expect((await client(idle).get(page.data.nextRecordsUrl)).data[0].errorCode).toBe('INVALID_QUERY_LOCATOR');
    } finally {
      await idle.stop();
    }
  });

  it('when WHERE filters by LastModifiedDate, keyset or Id IN, then exactly the matching Contacts come back', async () => {
    const all = [...fake.contacts.values()].sort(
      (a, b) => a.LastModifiedDate.getTime() - b.LastModifiedDate.getTime() || (a.Id < b.Id ? -1 : 1),
    );
    const pivot = all[2400];
    const literal = pivot.LastModifiedDate.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const since = await client(fake).query(`SELECT Id FROM Contact WHERE LastModifiedDate >= ${literal} ORDER BY LastModifiedDate, Id`);
    expect(since.data.records.map((c: Json) => c.Id)).toEqual(all.slice(2400).map((c) => c.Id));

    // Two contacts share the pivot's second: the keyset form continues after the first of them.
    const [a, b] = all.slice(100, 102);
    fake.updateContact(a.Id, { Title: 'Tied' }, pivot.LastModifiedDate);
    fake.updateContact(b.Id, { Title: 'Tied' }, pivot.LastModifiedDate);
    const tied = [pivot, a, b].sort((x, y) => (x.Id < y.Id ? -1 : 1));
    const keyset = await client(fake).query(
      `SELECT Id FROM Contact WHERE (LastModifiedDate > ${literal}) OR (LastModifiedDate = ${literal} AND Id > '${tied[0].Id}') ORDER BY LastModifiedDate, Id`,
    );
    const later = all.slice(2401).map((c) => c.Id);
    expect(keyset.data.records.map((c: Json) => c.Id)).toEqual([tied[1].Id, tied[2].Id, ...later]);

    const some = [all[5].Id, all[6].Id.slice(0, 15), '003000000000000AAA'];
    const found = await client(fake).query(`SELECT Id FROM Contact WHERE Id IN ('${some.join("', '")}')`);
    expect(found.data.records.map((c: Json) => c.Id).sort()).toEqual([all[5].Id, all[6].Id].sort());
    const limited = await client(fake).query('SELECT Id FROM Contact ORDER BY LastModifiedDate DESC LIMIT 3');
    expect(limited.data).toMatchObject({ totalSize: 3, done: true });
  });

  it('when a query is not SOQL the fake knows, then 400 MALFORMED_QUERY, INVALID_FIELD or INVALID_TYPE as Salesforce words them', async () => {
    const cases: [string, string, RegExp][] = [
      ['SELEC Id FROM Contact', 'MALFORMED_QUERY', /unexpected token: 'SELEC'/],
      ['SELECT Id FROM Contact WHERE', 'MALFORMED_QUERY', /ERROR at Row:1:Column:29\nunexpected token: '<EOF>'/],
      ['SELECT Id FROM Contact WHERE Email = null AND Phone = null OR Title = null', 'MALFORMED_QUERY', /unexpected token: 'OR'/],
      ['SELECT Nope FROM Contact', 'INVALID_FIELD', /No such column 'Nope' on entity 'Contact'/],
      [
        "SELECT Id FROM Contact WHERE LastModifiedDate > '2024-01-01T00:00:00Z'",
        'INVALID_FIELD',
        /must be of type dateTime and should not be enclosed in quotes/,
      ],
      ["SELECT Id FROM Contact WHERE Id IN ('x')", 'INVALID_QUERY_FILTER_OPERATOR', /invalid ID field: x/],
      ['SELECT Id FROM Widget', 'INVALID_TYPE', /sObject type 'Widget' is not supported/],
    ];
    for (const [q, code, message] of cases) {
      const res = await client(fake).query(q);
      expect(res.status).toBe(400);
      expect(res.data).toEqual([{ message: expect.stringMatching(message), errorCode: code }]);
    }
  });
});

describe('FakeSalesforce: the delete log', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 10 }).start();
  });
  afterAll(() => fake.stop());
  const deleted = (start: number, end: number) => client(fake).get(`${V}/sobjects/Contact/deleted/`, { start: iso(start), end: iso(end) });

  it('when Contacts are deleted, then they leave queries and the window lists them with Salesforce’s shape', async () => {
    const [a, b] = [...fake.contacts.keys()];
    const now = Date.now();
    fake.deleteContact(a, new Date(now - 3_600_000));
    fake.deleteContact(b, new Date(now - 10 * 86_400_000));
    const q = await client(fake).query(`SELECT Id FROM Contact WHERE Id IN ('${a}', '${b}')`);
    expect(q.data.totalSize).toBe(0);
    const res = await deleted(now - 2 * 3_600_000, now);
    expect(res.status).toBe(200);
    expect(res.data).toEqual({
      deletedRecords: [{ id: a, deletedDate: expect.stringMatching(SF_TIME) }],
      earliestDateAvailable: expect.stringMatching(SF_TIME),
      latestDateCovered: expect.stringMatching(SF_TIME),
    });
    expect(Date.parse(res.data.earliestDateAvailable.replace('+0000', 'Z'))).toBeLessThan(now - 14 * 86_400_000);
    expect(res.headers['sforce-limit-info']).toMatch(/^api-usage=\d+\/100000$/);
    expect((await deleted(now - 11 * 86_400_000, now)).data.deletedRecords.map((d: Json) => d.id)).toEqual([a, b].reverse());
  });

  it('when the window is shorter than a minute, starts before the log, or after an emptied recycle bin, then 400 INVALID_REPLICATION_DATE', async () => {
    const now = Date.now();
    for (const [start, end] of [
      [now - 30_000, now],
      [now, now - 5 * 60_000],
      [now - 16 * 86_400_000, now],
    ]) {
      const res = await deleted(start, end);
      expect(res.status).toBe(400);
      expect(res.data[0].errorCode).toBe('INVALID_REPLICATION_DATE');
    }
    const bad = await client(fake).get(`${V}/sobjects/Contact/deleted/`, { start: 'yesterday', end: iso(now) });
    expect(bad.data[0].errorCode).toBe('INVALID_REPLICATION_DATE');
    fake.purgeDeleted(new Date(now - 3_600_000));
    expect((await deleted(now - 2 * 3_600_000, now)).data[0].errorCode).toBe('INVALID_REPLICATION_DATE');
    const after = await deleted(now - 30 * 60_000, now);
    expect(after.status).toBe(200);
    expect(Date.parse(after.data.earliestDateAvailable.replace('+0000', 'Z'))).toBe(Math.floor((now - 3_600_000) / 60_000) * 60_000);
  });
});

describe('FakeSalesforce: injected failures', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 1 }).start();
  });
  afterAll(() => fake.stop());

  it('when failures are injected, then they answer in Salesforce’s array shape, with Retry-After when given', async () => {
    fake.failNext(1, 503);
    const down = await client(fake).query('SELECT Id FROM Contact');
    expect(down.status).toBe(503);
    expect(down.data).toEqual([{ message: expect.any(String), errorCode: 'SERVER_UNAVAILABLE' }]);
    fake.rateLimitNext(1, 2);
    const limited = await client(fake).query('SELECT Id FROM Contact');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    expect((await client(fake).query('SELECT Id FROM Contact')).status).toBe(200);
  });
});
