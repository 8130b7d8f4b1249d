import { FakeSalesforce } from '../../fake-crm/salesforce/fake-salesforce';
import { CrmAuthError, CrmBudgetError, CrmUnavailableError, type PersonRecord } from '../../src/providers/connector';
import { salesforce } from '../../src/providers/salesforce';
import { SalesforceApiError, type SalesforceConnector } from '../../src/providers/salesforce/salesforce.connector';
import { buildConnector, capturingLogger } from '../helpers/connector-harness';

/** What the connector logs, to check what it says about the budget and deletions. */
const { capture, logger } = capturingLogger('info');

const CONTACT_SOQL =
  'SELECT Id, FirstName, LastName, Email, Phone, Title, AccountId, Account.Name, LastModifiedDate FROM Contact ORDER BY LastModifiedDate, Id';

function connector(
  fake: FakeSalesforce,
  config: Record<string, unknown> = {},
  o: { pageSize?: number; reauthorize?: () => Promise<string | null>; retries?: number } = {},
): SalesforceConnector {
  return buildConnector(
    salesforce,
    { instanceUrl: fake.url, accessToken: fake.token, requestsPerSecond: 0, ...config },
    {
      logger,
      pageSize: o.pageSize ?? 2000,
      // No test here is about timeouts: a query over the 4,500-contact fake on a busy machine
      // must not time out and be retried, which the tests would count as a second request.
      timeoutMs: 15_000,
      retries: o.retries,
      binding: { reauthorize: o.reauthorize },
    },
  ) as SalesforceConnector;
}

async function readAll(c: SalesforceConnector, updatedSince: Date | null = null, cursor: string | null = null) {
  const all: PersonRecord[] = [];
  const pages: { size: number; totalPages: number | null }[] = [];
  do {
    const page = await c.listPeople('contacts', { cursor, updatedSince });
    all.push(...page.records);
    pages.push({ size: page.records.length, totalPages: page.totalPages });
    cursor = page.nextCursor;
    if (pages.length > 500) throw new Error('paging does not end');
  } while (cursor);
  return { all, pages };
}

const ids = (records: { externalId: string }[]) => records.map((r) => r.externalId);
const sorted = (list: string[]) => [...list].sort();
const queries = (fake: FakeSalesforce, from = 0) => fake.requests.slice(from).filter((r) => r.path.startsWith('/services/data/'));
const byModified = (fake: FakeSalesforce) =>
  [...fake.contacts.values()].sort((a, b) => a.LastModifiedDate.getTime() - b.LastModifiedDate.getTime() || (a.Id < b.Id ? -1 : 1));

describe('SalesforceConnector: connection, listings, mapping (fake Salesforce, 4,500 contacts)', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 4500, seed: 11 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    capture.entries = [];
  });

  it('when the connection is tested, then the Organization query names the org and the day’s API use is reported', async () => {
    const before = fake.requests.length;
    const info = await connector(fake).testConnection();
    expect(info).toEqual({
      account: `Salesforce org Fake Industries (${fake.orgId})`,
      user: null,
      details: {
        organizationId: fake.orgId,
        name: 'Fake Industries',
        organizationType: 'Enterprise Edition',
        isSandbox: false,
        instanceName: 'NA224',
        apiVersion: 'v67.0',
        apiUsage: { used: fake.apiUsed, limit: 100_000 },
      },
    });
    const [req] = queries(fake, before);
    expect(req).toMatchObject({ path: '/services/data/v67.0/query', token: fake.token });
    expect(req.query.q).toBe('SELECT Id, Name, OrganizationType, IsSandbox, InstanceName FROM Organization');
  });

  it('when Contacts are listed in full, then 2,000-record pages follow nextRecordsUrl to the end, each Contact once', async () => {
    const before = fake.requests.length;
    const { all, pages } = await readAll(connector(fake));
    expect(pages.map((p) => p.size)).toEqual([2000, 2000, 500]);
    expect(pages[0].totalPages).toBe(3);
    expect(pages.slice(1).map((p) => p.totalPages)).toEqual([null, null]);
    expect(sorted(ids(all))).toEqual(sorted([...fake.contacts.keys()]));
    const asked = queries(fake, before);
    expect(asked).toHaveLength(3);
    expect(asked[0].query.q).toBe(CONTACT_SOQL);
    // The natural batch: no Sforce-Query-Options at the service's page size of 2,000.
    expect(asked.map((r) => r.batchSize)).toEqual([null, null, null]);
    expect(asked[1].path).toMatch(/^\/services\/data\/v67\.0\/query\/01g[A-Za-z0-9]+-2000$/);
    expect(asked[2].path).toMatch(/-4000$/);
  });

  it('when the service pages smaller, then Sforce-Query-Options asks for it, never below Salesforce’s 200', async () => {
    const before = fake.requests.length;
    const page = await connector(fake, {}, { pageSize: 100 }).listPeople('contacts', { cursor: null, updatedSince: null });
    expect(page.records).toHaveLength(200);
    expect(page.totalPages).toBe(23);
    expect(queries(fake, before)[0].batchSize).toBe(200);
    fake.expireLocators();
  });

  it('when Contacts are mapped, then names, email, phone, title and the Account name come through', async () => {
    const { all } = await readAll(connector(fake));
    const source = [...fake.contacts.values()].find((c) => c.AccountId && c.FirstName && c.Email) as NonNullable<
      ReturnType<FakeSalesforce['contact']>
    >;
    const account = fake.accounts.get(source.AccountId as string) as { Name: string };
    expect(all.find((p) => p.externalId === source.Id)).toEqual({
      externalId: source.Id,
      provider: 'salesforce',
      email: source.Email,
      name: `${source.FirstName} ${source.LastName}`,
      firstName: source.FirstName,
      lastName: source.LastName,
      phone: source.Phone,
      title: source.Title,
      isActive: true,
      updatedAt: source.LastModifiedDate,
      data: { company: account.Name, accountId: source.AccountId },
    });
    const lone = fake.addContact({ LastName: ' ', Email: ' Mixed.Case@Example.COM ', Title: 'CTO' });
    const bare = fake.addContact({ LastName: ' ' });
    const again = (await readAll(connector(fake))).all;
    expect(again.find((p) => p.externalId === lone.Id)).toMatchObject({
      email: 'mixed.case@example.com',
      name: 'mixed.case@example.com',
      firstName: null,
      lastName: null,
      title: 'CTO',
      data: { company: null, accountId: null },
    });
    expect(again.find((p) => p.externalId === bare.Id)?.name).toBe(`Salesforce contact ${bare.Id}`);
    fake.deleteContact(lone.Id);
    fake.deleteContact(bare.Id);
  });

  it('when an incremental run asks for changes, then one query filters LastModifiedDate ≥ the unquoted second', async () => {
    const list = byModified(fake);
    const since = new Date(Math.floor((Date.now() - 60_000) / 1000) * 1000);
    const changed = [list[10], list[2000], list[4000]];
    for (const [i, c] of changed.entries())
      fake.updateContact(c.Id, { Title: `Changed ${i}` }, new Date(since.getTime() + 1000 + i * 1000));
    const before = fake.requests.length;
    const { all, pages } = await readAll(connector(fake), new Date(since.getTime() + 456));
    expect(ids(all)).toEqual(changed.map((c) => c.Id));
    expect(all.map((p) => p.title)).toEqual(['Changed 0', 'Changed 1', 'Changed 2']);
    expect(pages).toEqual([{ size: 3, totalPages: 1 }]);
    const literal = since.toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(queries(fake, before)[0].query.q).toBe(CONTACT_SOQL.replace(' ORDER BY', ` WHERE LastModifiedDate >= ${literal} ORDER BY`));
  });

  it('when a full sync asks which people still exist, then Id IN queries of 200 say; other providers and non-ids count as existing', async () => {
    const live = byModified(fake).slice(0, 260);
    const gone = live.slice(20, 25);
    for (const c of gone) fake.deleteContact(c.Id);
    const asked = [
      ...live.map((c, i) => ({ provider: 'salesforce', externalId: i === 0 ? c.Id.slice(0, 15) : c.Id })),
      { provider: 'salesforce', externalId: '003000000000000AAA' },
      { provider: 'salesforce', externalId: "x') OR Id != ('" },
      { provider: 'hubspot', externalId: '1' },
    ];
    const before = fake.requests.length;
    const existing = await connector(fake).stillExisting(asked);
    const missing = new Set([...gone.map((c) => c.Id), '003000000000000AAA']);
    expect(existing).toEqual(asked.filter((p) => !missing.has(p.externalId)));
    const sent = queries(fake, before);
    expect(sent).toHaveLength(2);
    expect(String(sent[0].query.q)).toMatch(/^SELECT Id FROM Contact WHERE Id IN \('003[A-Za-z0-9]{12}', '003/);
    expect(String(sent[0].query.q)).not.toContain('OR Id');
  });

  it('when the stream is not contacts or the version is unknown, then it fails naming why', async () => {
    await expect(connector(fake).listPeople('staff', { cursor: null, updatedSince: null })).rejects.toThrow(
      'Salesforce has no stream staff',
    );
    const err = await connector(fake, { apiVersion: 'v99.0' })
      .listPeople('contacts', { cursor: null, updatedSince: null })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SalesforceApiError);
    expect(err).toMatchObject({ status: 404, errorCode: 'NOT_FOUND' });
  });
});

describe('SalesforceConnector: query cursors that die, and where nextRecordsUrl may point', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 1000, seed: 5 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.nextRecordsUrlPrefix = '';
    capture.entries = [];
  });

  it('when the locator dies between pages (idle, or a resume later), then the listing goes on by keyset, through ties, each Contact once', async () => {
    // 60 Contacts share one second across the first page boundary (200): the keyset needs the Id.
    const tieAt = byModified(fake)[199].LastModifiedDate;
    for (const c of byModified(fake).slice(170, 230)) fake.updateContact(c.Id, { Title: 'Tied' }, tieAt);
    const first = await connector(fake, {}, { pageSize: 200 }).listPeople('contacts', { cursor: null, updatedSince: null });
    expect(first.records).toHaveLength(200);
    fake.expireLocators();
    const before = fake.requests.length;
    // A new connector, as in a run resumed after a crash, with the checkpoint's cursor.
    const { all } = await readAll(connector(fake, {}, { pageSize: 200 }), null, first.nextCursor);
    const every = [...ids(first.records), ...ids(all)];
    expect(every).toHaveLength(1000);
    expect(sorted(every)).toEqual(sorted([...fake.contacts.keys()]));
    const [dead, restart] = queries(fake, before);
    expect(dead.path).toMatch(/\/query\/01g/);
    const last = first.records[first.records.length - 1];
    const t = (last.updatedAt as Date).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(restart.query.q).toBe(
      CONTACT_SOQL.replace(
        ' ORDER BY',
        ` WHERE (LastModifiedDate > ${t}) OR (LastModifiedDate = ${t} AND Id > '${last.externalId}') ORDER BY`,
      ),
    );
    expect(capture.entries.some((e) => e.level === 'warn' && String(e.message).includes('query cursor gone'))).toBe(true);
  });

  it('when nextRecordsUrl is an absolute URL on the instance, then it is followed; on another host, then it is refused', async () => {
    fake.nextRecordsUrlPrefix = fake.url;
    expect((await readAll(connector(fake, {}, { pageSize: 400 }))).all).toHaveLength(1000);
    fake.nextRecordsUrlPrefix = 'http://169.254.169.254';
    const c = connector(fake, {}, { pageSize: 400 });
    await expect(c.listPeople('contacts', { cursor: null, updatedSince: null })).rejects.toThrow(
      'Salesforce gave a nextRecordsUrl on another host (http://169.254.169.254); not followed',
    );
    fake.nextRecordsUrlPrefix = '';
    const forged = JSON.stringify({ n: 'https://evil.example/services/data/v67.0/query/01gABC-400', t: null, i: null, s: null });
    const before = fake.requests.length;
    await expect(c.listPeople('contacts', { cursor: forged, updatedSince: null })).rejects.toBeInstanceOf(CrmUnavailableError);
    const notLocator = JSON.stringify({ n: '/services/data/v67.0/sobjects/User', t: null, i: null, s: null });
    await expect(c.listPeople('contacts', { cursor: notLocator, updatedSince: null })).rejects.toThrow(/not a query locator/);
    expect(fake.requests.length).toBe(before);
    fake.expireLocators();
  });

  it('when the session expires mid-listing, then reauthorize runs once, the new token is used from then on, and the listing restarts by keyset', async () => {
    const reauthorize = jest.fn(async () => {
      fake.addToken('00DFAKE!refreshed-session');
      return '00DFAKE!refreshed-session';
    });
    fake.addToken('00DFAKE!old-session');
    const c = connector(fake, { accessToken: '00DFAKE!old-session' }, { pageSize: 300, reauthorize });
    const first = await c.listPeople('contacts', { cursor: null, updatedSince: null });
    fake.expireToken('00DFAKE!old-session');
    const before = fake.requests.length;
    const { all } = await readAll(c, null, first.nextCursor);
    expect(reauthorize).toHaveBeenCalledTimes(1);
    expect(sorted([...ids(first.records), ...ids(all)])).toEqual(sorted([...fake.contacts.keys()]));
    const sent = queries(fake, before).map((r) => r.token);
    // The old token's 401, the locator refusing the new session, then the new token only.
    expect(sent.slice(0, 2)).toEqual(['00DFAKE!old-session', '00DFAKE!refreshed-session']);
    expect(new Set(sent.slice(1))).toEqual(new Set(['00DFAKE!refreshed-session']));
    await c.testConnection();
    expect(reauthorize).toHaveBeenCalledTimes(1);
  });

  it('when a pasted token expires (nothing to refresh), then CrmAuthError after one try', async () => {
    fake.addToken('00DFAKE!pasted');
    fake.expireToken('00DFAKE!pasted');
    const before = fake.requests.length;
    await expect(connector(fake, { accessToken: '00DFAKE!pasted' }).testConnection()).rejects.toThrow(
      /salesforce rejected the credentials \(401 on GET \/services\/data\/v67\.0\/query\): INVALID_SESSION_ID: Session expired or invalid/,
    );
    expect(fake.requests.length - before).toBe(1);
    await expect(connector(fake, { accessToken: '00DFAKE!pasted' }).testConnection()).rejects.toBeInstanceOf(CrmAuthError);
  });
});

describe('SalesforceConnector: the daily API budget, retries', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 2000, seed: 9, dailyLimit: 1000 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    fake.setApiUsage(0);
    capture.entries = [];
  });

  it('when the calls left reach the reserve, then listPeople throws CrmBudgetError before calling again', async () => {
    fake.setApiUsage(897);
    const c = connector(fake, { apiReservePercent: 10 }, { pageSize: 200 });
    let cursor: string | null = null;
    for (let i = 0; i < 3; i++) cursor = (await c.listPeople('contacts', { cursor, updatedSince: null })).nextCursor;
    expect(fake.apiUsed).toBe(900);
    const before = fake.requests.length;
    const err = await c.listPeople('contacts', { cursor, updatedSince: null }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmBudgetError);
    expect(err).toMatchObject({ used: 900, limit: 1000 });
    expect((err as Error).message).toBe(
      'the Salesforce org has used 900 of its 1000 daily API calls; 100 left is at or below the reserve of 100 (10%) kept for its other tools',
    );
    expect(fake.requests.length).toBe(before);
    const budgetLines = capture.entries.filter((e) => e.message === 'salesforce: daily API use');
    expect(budgetLines[0]).toMatchObject({ level: 'info', used: 898, limit: 1000, remaining: 102, reservePercent: 10 });
    // One line per 5% step of the limit (85-90%, then 90%), not one per page.
    expect(budgetLines.map((l) => l.used)).toEqual([898, 900]);
    // A connector with a smaller reserve may go on.
    expect(
      (await connector(fake, { apiReservePercent: 5 }, { pageSize: 200 }).listPeople('contacts', { cursor, updatedSince: null })).records,
    ).toHaveLength(200);
  });

  it('when Salesforce answers 403 REQUEST_LIMIT_EXCEEDED, then CrmBudgetError (not an authentication failure), with the usage', async () => {
    fake.setApiUsage(1000);
    const err = await connector(fake)
      .listPeople('contacts', { cursor: null, updatedSince: null })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmBudgetError);
    expect(err).not.toBeInstanceOf(CrmAuthError);
    expect(err).toMatchObject({ used: 1000, limit: 1000 });
    expect((err as Error).message).toMatch(/REQUEST_LIMIT_EXCEEDED \(TotalRequests Limit exceeded\.\); 1000 of 1000 daily API calls used/);
  });

  it('when Salesforce answers 503 or 429 with Retry-After, then the call is retried and succeeds', async () => {
    fake.failNext(2, 503);
    let before = fake.requests.length;
    expect((await connector(fake).listPeople('contacts', { cursor: null, updatedSince: null })).records).toHaveLength(2000);
    expect(fake.requests.length - before).toBe(3);
    fake.rateLimitNext(1, 1);
    before = fake.requests.length;
    expect((await connector(fake).testConnection()).details.organizationId).toBe(fake.orgId);
    expect(fake.requests.length - before).toBe(2);
    fake.failNext(10, 500);
    await expect(connector(fake, {}, { retries: 1 }).testConnection()).rejects.toThrow(
      /salesforce answered 500 on GET \/services\/data\/v67\.0\/query: UNKNOWN_EXCEPTION: An unexpected error occurred/,
    );
  });
});

describe('SalesforceConnector: deleted Contacts', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 50, seed: 13 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    capture.entries = [];
  });

  it('when Contacts were deleted since the last run, then the delete log lists them, in whole minutes ending now', async () => {
    const [a, b, old] = [...fake.contacts.keys()];
    const now = Date.now();
    fake.deleteContact(a, new Date(now - 10 * 60_000));
    fake.deleteContact(b, new Date(now - 5 * 60_000));
    fake.deleteContact(old, new Date(now - 3 * 3_600_000));
    const c = connector(fake);
    const before = fake.requests.length;
    expect(await c.listDeletedSince(new Date(now - 3_600_000))).toEqual([
      { provider: 'salesforce', externalId: a },
      { provider: 'salesforce', externalId: b },
    ]);
    expect(c.lastDeletedWindowNote).toBeNull();
    const [req] = queries(fake, before);
    expect(req.path).toBe('/services/data/v67.0/sobjects/Contact/deleted/');
    expect(req.query.start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\+00:00$/);
    expect(req.query.end).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\+00:00$/);
    // A `since` seconds ago still makes a valid window (end more than a minute after start).
    expect(await c.listDeletedSince(new Date(Date.now() - 5_000))).toEqual([]);
  });

  it('when `since` is older than the delete log, then what it still has comes back and a note says the next full sync reconciles', async () => {
    const [d] = [...fake.contacts.keys()];
    fake.deleteContact(d, new Date(Date.now() - 2 * 86_400_000));
    const c = connector(fake);
    const before = fake.requests.length;
    const gone = await c.listDeletedSince(new Date(Date.now() - 20 * 86_400_000));
    expect(ids(gone)).toContain(d);
    // Refused, the last minutes read for earliestDateAvailable, then from there.
    expect(queries(fake, before).map((r) => r.path)).toEqual(Array(3).fill('/services/data/v67.0/sobjects/Contact/deleted/'));
    expect(c.lastDeletedWindowNote).toMatch(
      /^Salesforce refused deletions since .*INVALID_REPLICATION_DATE.*; listed from .*The next full sync reconciles Contacts deleted meanwhile\.$/,
    );
    expect(capture.entries.find((e) => e.message === 'salesforce: deleted Contacts not fully listed')).toMatchObject({ level: 'warn' });
    // The recycle bin emptied an hour ago: deletions before it are gone from the log.
    fake.purgeDeleted(new Date(Date.now() - 3_600_000));
    const after = await c.listDeletedSince(new Date(Date.now() - 2 * 3_600_000));
    expect(ids(after)).not.toContain(d);
    expect(c.lastDeletedWindowNote).toMatch(/refused deletions since/);
    // Within the log again: no note.
    expect(ids(await c.listDeletedSince(new Date(Date.now() - 30 * 60_000)))).not.toContain(d);
    expect(c.lastDeletedWindowNote).toBeNull();
  });
});
