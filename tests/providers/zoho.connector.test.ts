import type { AxiosInstance } from 'axios';
import { FakeZoho } from '../../fake-crm/zoho/fake-zoho';
import { CrmAuthError, CrmBudgetError, CrmUnavailableError, type CrmConnector, type PersonRecord } from '../../src/providers/connector';
import { zoho } from '../../src/providers/zoho';
import { ZohoConnector } from '../../src/providers/zoho/zoho.connector';
import { zohoHeaderTime } from '../../src/providers/zoho/zoho.mapping';
import { buildConnector, capturingLogger } from '../helpers/connector-harness';

/** What the connector logs, to check what it says. */
const { capture, logger } = capturingLogger('info');

function connector(
  fake: FakeZoho,
  config: Record<string, unknown> = {},
  o: { pageSize?: number; reauthorize?: () => Promise<string | null>; retries?: number } = {},
): CrmConnector {
  return buildConnector(
    zoho,
    { accessToken: fake.token, apiDomain: fake.url, ...config },
    {
      logger,
      pageSize: o.pageSize ?? 200,
      retries: o.retries,
      binding: { reauthorize: o.reauthorize ?? (async () => null) },
    },
  );
}

async function readAll(c: CrmConnector, updatedSince: Date | null = null) {
  const all: PersonRecord[] = [];
  const totals: (number | null)[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await c.listPeople('contacts', { cursor, updatedSince });
    all.push(...page.records);
    totals.push(page.totalPages);
    cursor = page.nextCursor;
    if (++pages > 1000) throw new Error('paging does not end');
  } while (cursor);
  return { all, pages, totals };
}

const ids = (records: { externalId: string }[]) => records.map((r) => r.externalId);
const listCalls = (fake: FakeZoho, from = 0) =>
  fake.requests.slice(from).filter((r) => r.path === '/crm/v8/Contacts' && r.query.ids === undefined);

describe('ZohoConnector: full listing past the 2,000 records page numbers reach (4,500 contacts)', () => {
  let fake: FakeZoho;
  beforeAll(async () => {
    fake = await new FakeZoho({ contacts: 4500, seed: 7 }).start();
  });
  afterAll(() => fake.stop());

  it('when contacts are listed in full, then pages 1–10 by number, the rest by page_token, every contact once, in id order', async () => {
    const before = fake.requests.length;
    const { all, pages, totals } = await readAll(connector(fake));
    expect(pages).toBe(23);
    expect(ids(all)).toEqual(fake.contactsIn().map((c) => c.id));
    const calls = listCalls(fake, before);
    expect(calls).toHaveLength(23);
    expect(calls.slice(0, 10).map((r) => r.query.page)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(calls.slice(10).every((r) => r.query.page === undefined && typeof r.query.page_token === 'string')).toBe(true);
    expect(calls[0].query).toMatchObject({
      fields: 'First_Name,Last_Name,Email,Phone,Account_Name,Title,Modified_Time',
      per_page: '200',
      sort_by: 'id',
      sort_order: 'asc',
    });
    expect(calls.every((r) => r.scheme === 'Zoho-oauthtoken' && r.token === fake.token && r.ifModifiedSince === null)).toBe(true);
    // The count API tells the length on the first page, for the ETA.
    expect(totals[0]).toBe(23);
    expect(totals.slice(1).every((t) => t === null)).toBe(true);
  });

  it('when the pull’s page size is 100, then page numbers go to 20 (the 2,000th record), then page_token', async () => {
    const before = fake.requests.length;
    const { all } = await readAll(connector(fake, {}, { pageSize: 100 }));
    expect(all).toHaveLength(4500);
    const calls = listCalls(fake, before);
    expect(calls.filter((r) => r.query.page !== undefined).map((r) => Number(r.query.page))).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    expect(calls.every((r) => r.query.per_page === '100')).toBe(true);
  });

  it('when a contact is mapped, then names, lower-cased email, phone, title, the account lookup and Modified_Time (with its offset) carry over', async () => {
    const source = fake.contactsIn().find((c) => c.First_Name && c.Email && c.Account_Name && c.Title && c.Phone);
    if (!source) throw new Error('the seed has no complete contact');
    fake.updateContact(source.id, { Email: ' Mixed.Case@Example.COM ' });
    const { found } = await (connector(fake).fetchPeople as NonNullable<CrmConnector['fetchPeople']>)('zoho', [source.id]);
    expect(found).toEqual([
      {
        externalId: source.id,
        provider: 'zoho',
        email: 'mixed.case@example.com',
        name: `${source.First_Name} ${source.Last_Name}`,
        firstName: source.First_Name,
        lastName: source.Last_Name,
        phone: source.Phone,
        title: source.Title,
        isActive: true,
        updatedAt: fake.contact(source.id).Modified_Time,
        data: { company: source.Account_Name?.name, accountId: source.Account_Name?.id },
      },
    ]);
  });

  it('when a resumed run’s page_token has expired (24 hours), then the listing starts again at page 1 and still reaches the end', async () => {
    const c = connector(fake);
    let cursor: string | null = null;
    for (let i = 0; i < 11; i++) cursor = (await c.listPeople('contacts', { cursor, updatedSince: null })).nextCursor;
    expect(JSON.parse(cursor as string)).toMatchObject({ m: 'token' });
    fake.expirePageTokens();
    capture.entries = [];
    const before = fake.requests.length;
    const resumed = await c.listPeople('contacts', { cursor, updatedSince: null });
    expect(ids(resumed.records)).toEqual(
      fake
        .contactsIn()
        .slice(0, 200)
        .map((x) => x.id),
    );
    expect(listCalls(fake, before).map((r) => r.query.page ?? 'token')).toEqual(['token', '1']);
    expect(capture.entries).toContainEqual(
      expect.objectContaining({ message: expect.stringContaining('page_token refused'), code: 'EXPIRED_VALUE' }),
    );
    const { all } = await (async () => {
      const rest: PersonRecord[] = [...resumed.records];
      let next = resumed.nextCursor;
      while (next) {
        const page = await c.listPeople('contacts', { cursor: next, updatedSince: null });
        rest.push(...page.records);
        next = page.nextCursor;
      }
      return { all: rest };
    })();
    expect(all).toHaveLength(4500);
  });
});

describe('ZohoConnector: connection, incremental, empty answers', () => {
  let fake: FakeZoho;
  beforeAll(async () => {
    fake = await new FakeZoho({ contacts: 450, seed: 3 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.clearFaults());

  it('when the connection is tested, then one contact is read and the org names the account', async () => {
    const before = fake.requests.length;
    const info = await connector(fake).testConnection();
    expect(info).toEqual({
      account: 'Zylker Fake Co',
      user: null,
      details: {
        orgId: '5725767000000020005',
        domainName: 'org808232144',
        timeZone: 'Asia/Kolkata',
        type: 'production',
        edition: 'enterprise',
        apiVersion: 'v8',
      },
    });
    const made = fake.requests.slice(before);
    expect(made.map((r) => [r.path, r.query.per_page ?? null])).toEqual([
      ['/crm/v8/Contacts', '1'],
      ['/crm/v8/org', null],
    ]);
  });

  it('when contacts changed since a time, then If-Modified-Since (one second earlier) brings exactly those', async () => {
    // Every change from now on is stamped at least a second after the fake's last stamp.
    const since = new Date(fake.now().getTime() + 1000);
    const changed = fake
      .contactsIn()
      .filter((_, i) => i % 3 !== 0)
      .slice(0, 250);
    for (const c of changed) fake.updateContact(c.id, { Title: `Title ${c.id}` });
    const before = fake.requests.length;
    const { all, pages, totals } = await readAll(connector(fake), since);
    expect(ids(all).sort()).toEqual(changed.map((c) => c.id).sort());
    expect(all.every((r) => r.title === `Title ${r.externalId}`)).toBe(true);
    expect(pages).toBe(2);
    expect(totals).toEqual([null, null]);
    const calls = listCalls(fake, before);
    expect(calls.map((r) => r.ifModifiedSince)).toEqual([
      zohoHeaderTime(new Date(since.getTime() - 1000)),
      zohoHeaderTime(new Date(since.getTime() - 1000)),
    ]);
    expect(calls[0].ifModifiedSince).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/);
  });

  it('when nothing changed since the time, then Zoho’s 304 is an empty last page', async () => {
    const page = await connector(fake).listPeople('contacts', { cursor: null, updatedSince: new Date(fake.now().getTime() + 60_000) });
    expect(page).toEqual({ records: [], nextCursor: null, totalPages: 1 });
    expect(fake.requests[fake.requests.length - 1]).toMatchObject({ path: '/crm/v8/Contacts' });
  });

  it('when the CRM has no contacts at all, then Zoho’s 204 is an empty last page, and the connection test still passes', async () => {
    const empty = await new FakeZoho({ contacts: 0 }).start();
    try {
      expect(await connector(empty).listPeople('contacts', { cursor: null, updatedSince: null })).toEqual({
        records: [],
        nextCursor: null,
        totalPages: 1,
      });
      expect((await connector(empty).testConnection()).account).toBe('Zylker Fake Co');
      expect(await connector(empty).listDeletedSince(new Date(0))).toEqual([]);
    } finally {
      await empty.stop();
    }
  });

  it('when a cursor is not one of ours or the stream unknown, then the listing refuses it', async () => {
    await expect(connector(fake).listPeople('contacts', { cursor: '{"after":"x"}', updatedSince: null })).rejects.toThrow(
      'not a Zoho listing cursor',
    );
    await expect(connector(fake).listPeople('users', { cursor: null, updatedSince: null })).rejects.toThrow('Zoho has no stream users');
  });

  it('when Zoho answers 503 then 429, then the client retries and the page comes', async () => {
    fake.failNext(2, 503);
    fake.rateLimitNext(1, 0);
    const before = fake.requests.length;
    const page = await connector(fake).listPeople('contacts', { cursor: null, updatedSince: new Date(0) });
    expect(page.records).toHaveLength(200);
    expect(fake.requests.length - before).toBe(4);
  });

  it('when 5xx outlast the retries, then CrmUnavailableError with Zoho’s message', async () => {
    fake.failNext(5, 500);
    const err = await connector(fake, {}, { retries: 1 })
      .listPeople('contacts', { cursor: null, updatedSince: new Date(0) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmUnavailableError);
    expect((err as CrmUnavailableError).status).toBe(500);
    expect((err as Error).message).toContain('Internal Server Error');
  });
});

describe('ZohoConnector: 401 and reauthorization', () => {
  it('when the access token has expired, then reauthorize runs once and the call is retried with the new token as Zoho-oauthtoken', async () => {
    const fake = await new FakeZoho({ contacts: 5, token: 'expired-access-token' }).start();
    try {
      fake.expireToken();
      fake.addToken('fresh-access-token');
      const reauthorize = jest.fn(async () => 'fresh-access-token');
      const page = await connector(fake, {}, { reauthorize }).listPeople('contacts', { cursor: null, updatedSince: new Date(0) });
      expect(page.records).toHaveLength(5);
      expect(reauthorize).toHaveBeenCalledTimes(1);
      const [refused, retried] = fake.requests.slice(-2);
      expect([refused.token, retried.token]).toEqual(['expired-access-token', 'fresh-access-token']);
      expect(retried.scheme).toBe('Zoho-oauthtoken');
    } finally {
      await fake.stop();
    }
  });

  it('when a pasted token is refused (nothing to refresh), then CrmAuthError naming Zoho’s message, never the token', async () => {
    const fake = await new FakeZoho({ contacts: 5 }).start();
    try {
      const reauthorize = jest.fn(async () => null);
      const err = await connector(fake, { accessToken: '1000.not-a-valid-token' }, { reauthorize })
        .testConnection()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CrmAuthError);
      expect((err as Error).message).toMatch(/zoho rejected the credentials \(401 on GET \/crm\/v8\/Contacts\): INVALID_TOKEN: invalid oauth token/);
      expect((err as Error).message).not.toContain('not-a-valid-token');
      expect(reauthorize).toHaveBeenCalledTimes(1);
    } finally {
      await fake.stop();
    }
  });
});

describe('ZohoConnector: deletions, existence, reads by id', () => {
  let fake: FakeZoho;
  beforeEach(async () => {
    fake = await new FakeZoho({ contacts: 600, seed: 5 }).start();
  });
  afterEach(() => fake.stop());

  it('when contacts were deleted (recycle bin or for good), then those deleted since the time are listed, through every page', async () => {
    const contacts = fake.contactsIn();
    for (const c of contacts.slice(0, 20)) fake.deleteContact(c.id);
    const since = new Date(fake.now().getTime() + 1000);
    const recent = contacts.slice(20, 270);
    recent.forEach((c, i) => fake.deleteContact(c.id, i % 5 === 0 ? 'permanent' : 'recycle'));
    const before = fake.requests.length;
    const gone = await connector(fake).listDeletedSince(since);
    expect(gone.map((g) => g.externalId).sort()).toEqual(recent.map((c) => c.id).sort());
    expect(gone.every((g) => g.provider === 'zoho')).toBe(true);
    const calls = fake.requests.slice(before);
    expect(calls.map((r) => [r.path, r.query.type, r.query.page])).toEqual([
      ['/crm/v8/Contacts/deleted', 'all', '1'],
      ['/crm/v8/Contacts/deleted', 'all', '2'],
    ]);
    expect(calls[0].ifModifiedSince).toBe(zohoHeaderTime(new Date(since.getTime() - 1000)));
  });

  it('when a full sync asks which people still exist, then ids= reads of 100 say; other providers and non-Zoho ids count as existing', async () => {
    const live = fake.contactsIn();
    const deleted = live.slice(10, 15);
    for (const c of deleted) fake.deleteContact(c.id);
    const asked = [
      ...live.slice(0, 150).map((c) => ({ provider: 'zoho', externalId: c.id })),
      { provider: 'zoho', externalId: '5725767999999999999' },
      { provider: 'zoho', externalId: 'not-a-zoho-id' },
      { provider: 'other_crm', externalId: '1' },
    ];
    const before = fake.requests.length;
    const existing = await connector(fake).stillExisting(asked);
    const gone = new Set([...deleted.map((c) => c.id), '5725767999999999999']);
    expect(existing).toEqual(asked.filter((p) => !gone.has(p.externalId)));
    const reads = fake.requests.slice(before);
    expect(reads.map((r) => String(r.query.ids).split(',').length)).toEqual([100, 51]);
    expect(reads.every((r) => r.query.fields === 'Last_Name')).toBe(true);
  });

  it('when notified records are read, then found ones are mapped, deleted or unknown ones missing, each id asked once', async () => {
    const [a, b, c] = fake.contactsIn();
    fake.deleteContact(c.id);
    const c0 = connector(fake);
    const fetch = (c0.fetchPeople as NonNullable<CrmConnector['fetchPeople']>).bind(c0);
    const out = await fetch('zoho', [a.id, c.id, b.id, a.id, '5725767999999999999']);
    expect(ids(out.found)).toEqual([a.id, b.id]);
    expect(out.missing).toEqual([c.id, '5725767999999999999']);
    const read = fake.requests[fake.requests.length - 1];
    expect(String(read.query.ids).split(',')).toHaveLength(4);
    await expect(fetch('salesforce', [a.id])).rejects.toThrow('Zoho has no salesforce people');
    // None of them exists: Zoho's 204.
    expect(await fetch('zoho', [c.id])).toEqual({ found: [], missing: [c.id] });
  });
});

describe('ZohoConnector: the org’s daily API credits', () => {
  it('when Zoho reports credits at or below the reserve, then the next sync call throws CrmBudgetError (a clean stop)', async () => {
    // 10 credits: the header appears from the 5th call on; the reserve of 3 is reached at the 7th.
    const fake = await new FakeZoho({ contacts: 2000, creditLimit: 10 }).start();
    try {
      const c = connector(fake, { creditReserve: 3 });
      let cursor: string | null = null;
      const done: number[] = [];
      const err = await (async () => {
        for (let i = 0; i < 10; i++) {
          const page = await c.listPeople('contacts', { cursor, updatedSince: new Date(0) });
          done.push(page.records.length);
          cursor = page.nextCursor;
        }
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CrmBudgetError);
      expect((err as Error).message).toBe('Zoho CRM reports 3 API credits left, at or below the reserve of 3 kept for its other tools');
      expect(done).toEqual([200, 200, 200, 200, 200, 200, 200]);
      await expect(c.listDeletedSince(new Date(0))).rejects.toBeInstanceOf(CrmBudgetError);
      // Notified records are still read: the reserve is about syncs.
      const [x] = fake.contactsIn();
      expect((await (c.fetchPeople as NonNullable<CrmConnector['fetchPeople']>)('zoho', [x.id])).found).toHaveLength(1);
    } finally {
      await fake.stop();
    }
  });
});

describe('ZohoConnector: answers the fake does not give', () => {
  /** A connector over a stub answering every GET with `data` (status 200). */
  function over(data: unknown) {
    const http = { get: async () => ({ status: 200, data }) } as unknown as AxiosInstance;
    return new ZohoConnector(http, { accessToken: 'x', apiVersion: 'v8' }, 200, logger);
  }

  it('when Zoho says more records follow past page 10 but gives no next_page_token, then the listing fails instead of ending early', async () => {
    const data = { data: [{ id: '5725767000000200001', Last_Name: 'A' }], info: { more_records: true, next_page_token: null } };
    const tenth = JSON.stringify({ m: 'page', page: 10, n: 200, r: 0 });
    await expect(over(data).listPeople('contacts', { cursor: tenth, updatedSince: null })).rejects.toThrow(
      'zoho says more records follow but gave no next_page_token to reach them',
    );
  });

  it('when a record has no usable id or odd field types, then it is skipped or read as absent, never failing the page', async () => {
    const data = {
      data: [
        { id: 12.5 },
        { Last_Name: 'no id' },
        { id: '5725767000000200002', Last_Name: 7, Email: ['x'], Account_Name: 'Plain Name', Modified_Time: 'soon' },
      ],
      info: { more_records: false },
    };
    const page = await over(data).listPeople('contacts', { cursor: null, updatedSince: null });
    expect(page.records).toEqual([
      expect.objectContaining({
        externalId: '5725767000000200002',
        name: 'Zoho contact 5725767000000200002',
        email: null,
        updatedAt: null,
        data: { company: 'Plain Name', accountId: null },
      }),
    ]);
  });
});
