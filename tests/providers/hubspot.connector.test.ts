import type { AxiosInstance } from 'axios';
import { FakeHubSpot } from '../../fake-crm/hubspot/fake-hubspot';
import { CrmAuthError, CrmUnavailableError, type CrmConnector, type PersonRecord } from '../../src/providers/connector';
import { hubspot } from '../../src/providers/hubspot';
import { HubSpotConnector } from '../../src/providers/hubspot/hubspot.connector';
import { createLimiter, LimiterRegistry } from '../../src/providers/rate-limiter';
import { buildConnector, capturingLogger, Unpaced } from '../helpers/connector-harness';

/** What the connector logs at warn and above (what it says about 429s). */
const { capture, logger } = capturingLogger('warn');

function connector(
  fake: FakeHubSpot,
  config: Record<string, unknown> = {},
  o: { saveConfig?: (c: Record<string, unknown>) => Promise<void>; limiters?: LimiterRegistry; retries?: number } = {},
): CrmConnector {
  return buildConnector(
    hubspot,
    { accessToken: fake.token, baseUrl: fake.url, searchRequestsPerSecond: 0, ...config },
    {
      logger,
      pageSize: 100,
      retries: o.retries,
      // Paced as in the service unless a test asks otherwise (the 10/s limiter is checked too).
      limiters: o.limiters ?? new LimiterRegistry(),
      binding: { saveConfig: o.saveConfig ?? (async () => undefined) },
    },
  );
}

async function readAll(c: CrmConnector, updatedSince: Date | null = null) {
  const all: PersonRecord[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await c.listPeople('contacts', { cursor, updatedSince });
    all.push(...page.records);
    cursor = page.nextCursor;
    if (++pages > 1000) throw new Error('paging does not end');
  } while (cursor);
  return { all, pages };
}

const ids = (records: { externalId: string }[]) => records.map((r) => r.externalId);
const searches = (fake: FakeHubSpot) => fake.requests.filter((r) => r.path === '/crm/v3/objects/contacts/search');

describe('HubSpotConnector: connection, full listing, reads (fake HubSpot, 250 contacts)', () => {
  let fake: FakeHubSpot;
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 250, seed: 7, portalId: 62515 }).start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.clearFaults();
    capture.entries = [];
  });

  it('when the connection is tested without a portalId, then the account’s portalId is learned and saved', async () => {
    const saveConfig = jest.fn(async () => undefined);
    const info = await connector(fake, {}, { saveConfig }).testConnection();
    expect(saveConfig).toHaveBeenCalledWith({ portalId: '62515' });
    expect(info).toEqual({
      account: 'HubSpot portal 62515',
      user: null,
      details: expect.objectContaining({ portalId: '62515', accountType: 'STANDARD', timeZone: 'US/Eastern', uiDomain: 'app.hubspot.com' }),
    });
    const req = fake.requests[fake.requests.length - 1];
    expect(req).toMatchObject({ method: 'GET', path: '/account-info/v3/details', token: fake.token });
  });

  it('when the config names the portal, then nothing is saved; when it names another portal, then the test fails', async () => {
    const saveConfig = jest.fn(async () => undefined);
    await connector(fake, { portalId: 62515 }, { saveConfig }).testConnection();
    await connector(fake, { portalId: '62515' }, { saveConfig }).testConnection();
    expect(saveConfig).not.toHaveBeenCalled();
    await expect(connector(fake, { portalId: '999' }, { saveConfig }).testConnection()).rejects.toThrow(
      'the access token belongs to HubSpot portal 62515, but the integration names portal 999',
    );
    expect(saveConfig).not.toHaveBeenCalled();
  });

  it('when contacts are listed in full, then every page to the last comes back, mapped', async () => {
    const before = fake.requests.length;
    const { all, pages } = await readAll(connector(fake));
    expect(pages).toBe(3);
    expect(ids(all)).toEqual([...fake.contacts.keys()]);
    const asked = fake.requests.slice(before).filter((r) => r.path === '/crm/v3/objects/contacts');
    expect(asked).toHaveLength(3);
    // One one-result search on the first page says how long the listing is (for the ETA).
    expect(fake.requests.slice(before).filter((r) => r.path === '/crm/v3/objects/contacts/search')).toHaveLength(1);
    const first = await connector(fake).listPeople('contacts', { cursor: null, updatedSince: null });
    expect(first.totalPages).toBe(3);
    expect(asked[0].query).toMatchObject({
      limit: '100',
      properties: 'email,firstname,lastname,phone,jobtitle,company,lastmodifieddate,createdate',
    });
    expect(asked[0].query.after).toBeUndefined();
    expect(asked[1].query.after).toEqual(expect.any(String));

    const source = fake.contact(all[0].externalId);
    expect(all[0]).toEqual({
      externalId: source.id,
      provider: 'hubspot',
      email: source.properties.email,
      name: `${source.properties.firstname} ${source.properties.lastname}`,
      firstName: source.properties.firstname,
      lastName: source.properties.lastname,
      phone: source.properties.phone,
      title: source.properties.jobtitle,
      isActive: true,
      updatedAt: source.updatedAt,
      data: { company: source.properties.company },
    });
    expect(all.some((r) => r.email === null)).toBe(true);
  });

  it('when a contact has an upper-case email and no name, then the email is lower-cased and names it', async () => {
    const [c] = fake.addContacts(1);
    fake.updateContact(c.id, { email: ' Mixed.Case@Example.COM ', firstname: null, lastname: '', jobtitle: 'CTO', company: 'Initech' });
    const { all } = await readAll(connector(fake));
    const r = all.find((p) => p.externalId === c.id) as PersonRecord;
    expect(r).toMatchObject({
      email: 'mixed.case@example.com',
      name: 'mixed.case@example.com',
      firstName: null,
      lastName: null,
      title: 'CTO',
    });
    expect(r.data).toEqual({ company: 'Initech' });
    expect(r.updatedAt?.toISOString()).toBe(fake.contact(c.id).updatedAt.toISOString());
    fake.archiveContact(c.id);
  });

  it('when contacts are read in a batch with ids HubSpot has not, then 207’s missing ids are missing and the rest found', async () => {
    const [a, b, gone] = [...fake.contacts.values()].filter((c) => !c.archivedAt).slice(0, 3);
    fake.archiveContact(gone.id);
    const c = connector(fake);
    const out = await (c.fetchPeople as NonNullable<CrmConnector['fetchPeople']>)('hubspot', [a.id, gone.id, '999999999', b.id, a.id]);
    expect(ids(out.found).sort()).toEqual([a.id, b.id].sort());
    expect(out.found.find((r) => r.externalId === a.id)).toMatchObject({
      provider: 'hubspot',
      name: `${a.properties.firstname} ${a.properties.lastname}`,
    });
    expect(out.missing.sort()).toEqual([gone.id, '999999999'].sort());
    const batch = fake.requests[fake.requests.length - 1];
    expect(batch).toMatchObject({ method: 'POST', path: '/crm/v3/objects/contacts/batch/read' });
    // Each id asked once.
    expect((batch.body as { inputs: unknown[] }).inputs).toHaveLength(4);
    await expect((c.fetchPeople as NonNullable<CrmConnector['fetchPeople']>)('salesforce', [a.id])).rejects.toThrow(
      'HubSpot has no salesforce people',
    );
  });

  it('when a full sync asks which people still exist, then batch reads of 100 say, and other providers’ people count as existing', async () => {
    const live = [...fake.contacts.values()].filter((c) => !c.archivedAt);
    const archived = live.slice(10, 15);
    for (const c of archived) fake.archiveContact(c.id);
    const asked = [
      ...live.slice(0, 140).map((c) => ({ provider: 'hubspot', externalId: c.id })),
      { provider: 'hubspot', externalId: '424242424' },
      { provider: 'other_crm', externalId: '1' },
    ];
    const before = fake.requests.length;
    const existing = await connector(fake).stillExisting(asked);
    const gone = new Set([...archived.map((c) => c.id), '424242424']);
    expect(existing).toEqual(asked.filter((p) => !gone.has(p.externalId)));
    const batches = fake.requests.slice(before);
    expect(batches.map((r) => (r.body as { inputs: unknown[] }).inputs.length)).toEqual([100, 41]);
  });

  it('when the token is refused (unknown or expired), then CrmAuthError, without retries', async () => {
    const before = fake.requests.length;
    await expect(connector(fake, { accessToken: 'pat-na1-wrong-token' }).testConnection()).rejects.toBeInstanceOf(CrmAuthError);
    await expect(
      connector(fake, { accessToken: 'pat-na1-wrong-token' }).listPeople('contacts', { cursor: null, updatedSince: null }),
    ).rejects.toThrow(/hubspot rejected the credentials \(401 on GET \/crm\/v3\/objects\/contacts\): Authentication credentials not found/);
    expect(fake.requests.length - before).toBe(2);
    fake.addToken('pat-na1-short-lived');
    fake.expireToken('pat-na1-short-lived');
    await expect(
      connector(fake, { accessToken: 'pat-na1-short-lived' }).stillExisting([{ provider: 'hubspot', externalId: '101' }]),
    ).rejects.toThrow(/CrmAuthError|expired/);
  });

  // A 429 also says no budget remains (X-HubSpot-RateLimit-Remaining: 0), which pauses the
  // limiter for the interval header: kept short here so the Retry-After is what is measured.
  const shortInterval = () => {
    fake.rateLimitIntervalMs = 100;
    return () => {
      fake.rateLimitIntervalMs = 10_000;
    };
  };

  it('when HubSpot answers 429 with Retry-After, then the client waits that long, retries, succeeds, and logs the policy', async () => {
    const restore = shortInterval();
    try {
      fake.rateLimitNext(1, 2);
      const before = fake.requests.length;
      const started = Date.now();
      const page = await connector(fake).listPeople('contacts', { cursor: null, updatedSince: null });
      expect(page.records).toHaveLength(100);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1950);
      // The 429, its retry, and the one-result search for the listing's length.
      expect(fake.requests.length - before).toBe(3);
      expect(capture.entries).toContainEqual(
        expect.objectContaining({
          message: 'hubspot: rate limited',
          policyName: 'TEN_SECONDLY_ROLLING',
          errorType: 'RATE_LIMIT',
          detail: 'You have reached your ten_secondly_rolling limit.',
        }),
      );
    } finally {
      restore();
    }
  });

  it('when 429s outlast the retries, then CrmUnavailableError with HubSpot’s message', async () => {
    const restore = shortInterval();
    fake.rateLimitNext(5);
    const err = await connector(fake, {}, { retries: 1 })
      .testConnection()
      .catch((e: unknown) => e)
      .finally(restore);
    expect(err).toBeInstanceOf(CrmUnavailableError);
    expect((err as CrmUnavailableError).status).toBe(429);
    expect((err as Error).message).toContain('You have reached your ten_secondly_rolling limit.');
  });

  it('when HubSpot’s budget headers say none remain, then nobody calls until the interval is over (no 429)', async () => {
    fake.rateLimitMax = 3;
    fake.rateLimitIntervalMs = 600;
    try {
      const c = connector(fake, {}, { limiters: new Unpaced() });
      const before = fake.requests.length;
      const started = Date.now();
      for (let i = 0; i < 4; i++) await c.testConnection();
      expect(Date.now() - started).toBeGreaterThanOrEqual(550);
      // Four calls, none refused and retried.
      expect(fake.requests.length - before).toBe(4);
      expect(capture.entries.filter((e) => e.message === 'hubspot: rate limited')).toEqual([]);
    } finally {
      fake.rateLimitMax = 100;
      fake.rateLimitIntervalMs = 10_000;
    }
  });

  it('when calls follow each other, then the integration’s limiter spaces them at 10 a second', async () => {
    const c = connector(fake, { portalId: 62515 });
    const started = Date.now();
    for (let i = 0; i < 6; i++) await c.testConnection();
    expect(Date.now() - started).toBeGreaterThanOrEqual(480);
  });
});

describe('HubSpotConnector: incremental through the search API', () => {
  let fake: FakeHubSpot;
  beforeAll(async () => {
    fake = await new FakeHubSpot({ contacts: 600, seed: 3 }).start();
  });
  afterAll(() => fake.stop());

  it('when contacts changed since a time, then exactly those come back, each once, in lastmodifieddate order', async () => {
    const since = new Date(fake.now().getTime() + 1);
    const changed = [...fake.contacts.values()].filter((_, i) => i % 2 === 0).slice(0, 250);
    for (const c of changed) fake.updateContact(c.id, { jobtitle: `Title ${c.id}` });
    const { all, pages } = await readAll(connector(fake), since);
    expect(ids(all)).toEqual(changed.map((c) => c.id));
    expect(pages).toBe(2);
    expect(all.every((r) => r.title === `Title ${r.externalId}`)).toBe(true);
    const body = searches(fake)[0].body as Record<string, unknown>;
    expect(body).toMatchObject({
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(since.getTime()) }] }],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      limit: 200,
    });
  });

  it('when a contact already read is edited while paging, then no unread contact is skipped', async () => {
    const since = new Date(fake.now().getTime() + 1);
    const changed = [...fake.contacts.values()].slice(0, 450);
    for (const c of changed) fake.updateContact(c.id, { company: 'Globex' });
    const c = connector(fake);
    const first = await c.listPeople('contacts', { cursor: null, updatedSince: since });
    // One from the first page changes again: it moves to the end of the results.
    fake.updateContact(first.records[3].externalId, { company: 'Hooli' });
    const rest: PersonRecord[] = [];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await c.listPeople('contacts', { cursor, updatedSince: since });
      rest.push(...page.records);
      cursor = page.nextCursor;
    }
    const seen = new Set(ids([...first.records, ...rest]));
    expect(changed.filter((x) => !seen.has(x.id))).toEqual([]);
    expect(rest.find((r) => r.externalId === first.records[3].externalId)?.data).toEqual({ company: 'Hooli' });
  });

  it('when searches are paced (the default 4 a second), then HubSpot’s 5-a-second search limit is never hit', async () => {
    fake.clearFaults(); // forgets the searches of the tests before
    const since = new Date(fake.now().getTime() + 1);
    for (const c of [...fake.contacts.values()].slice(0, 500)) fake.updateContact(c.id, { phone: '+1 555 0100' });
    const before = searches(fake).length;
    const started = Date.now();
    const { all } = await readAll(connector(fake, { searchRequestsPerSecond: 4 }, { limiters: new Unpaced() }), since);
    expect(all).toHaveLength(500);
    const made = searches(fake).length - before;
    expect(made).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(480);
    expect(capture.entries.filter((e) => e.message === 'hubspot: rate limited')).toEqual([]);
  });

  it('when a cursor is not one of ours, then the listing refuses it', async () => {
    await expect(connector(fake).listPeople('contacts', { cursor: '{"m":"page","n":2}', updatedSince: new Date() })).rejects.toThrow(
      'not a HubSpot listing cursor',
    );
    await expect(connector(fake).listPeople('users', { cursor: null, updatedSince: null })).rejects.toThrow('HubSpot has no stream users');
  });
});

describe('HubSpotConnector: more than 10,000 changed contacts (search caps a query at 10,000)', () => {
  it('when 10,500 contacts changed at distinct times, then all come back once, no request past the cap', async () => {
    const fake = await new FakeHubSpot({ contacts: 10_500, seed: 11, searchPerSecond: 0 }).start();
    try {
      const since = new Date(fake.contact(101).updatedAt.getTime());
      const { all } = await readAll(connector(fake, {}, { limiters: new Unpaced() }), since);
      expect(all).toHaveLength(10_500);
      expect(new Set(ids(all)).size).toBe(10_500);
      const made = searches(fake);
      expect(made.length).toBeGreaterThan(10_000 / 200);
      expect(made.every((r) => Number((r.body as { after?: unknown }).after ?? 0) < 10_000)).toBe(true);
    } finally {
      await fake.stop();
    }
  });

  it('when 10,500 contacts share one lastmodifieddate, then they are read by id, then later changes still come', async () => {
    const fake = await new FakeHubSpot({ contacts: 10_500, seed: 12, stepMs: 0, searchPerSecond: 0 }).start();
    try {
      const at = fake.contact(101).updatedAt;
      const later = [...fake.contacts.keys()].slice(100, 103);
      for (const id of later) fake.updateContact(id, { firstname: 'Later' });
      const { all } = await readAll(connector(fake, {}, { limiters: new Unpaced() }), at);
      expect(all).toHaveLength(10_500);
      expect(new Set(ids(all)).size).toBe(10_500);
      expect(all.slice(-3).map((r) => [r.externalId, r.firstName])).toEqual(later.map((id) => [id, 'Later']));
      expect(searches(fake).every((r) => Number((r.body as { after?: unknown }).after ?? 0) < 10_000)).toBe(true);
    } finally {
      await fake.stop();
    }
  });
});

describe('HubSpotConnector: deletions', () => {
  it('when contacts were archived, then those archived at or after `since` are listed, through every page', async () => {
    const fake = await new FakeHubSpot({ contacts: 300, seed: 5 }).start();
    try {
      const contacts = [...fake.contacts.values()];
      for (const c of contacts.slice(0, 20)) fake.archiveContact(c.id);
      const since = new Date(fake.now().getTime() + 1);
      const recent = contacts.slice(20, 170);
      for (const c of recent) fake.archiveContact(c.id);
      const before = fake.requests.length;
      const gone = await connector(fake).listDeletedSince(since);
      expect(gone).toEqual(recent.map((c) => ({ provider: 'hubspot', externalId: c.id })));
      const asked = fake.requests.slice(before);
      expect(asked).toHaveLength(2);
      expect(asked[0].query).toMatchObject({ archived: 'true', limit: '100' });
      expect(await connector(fake).listDeletedSince(new Date(fake.now().getTime() + 1))).toEqual([]);
    } finally {
      await fake.stop();
    }
  });
});

describe('HubSpotConnector: batch answers the fake does not give', () => {
  /** A connector over a stub that answers every batch read with `data`. */
  function over(data: unknown) {
    const http = { post: async () => ({ data }) } as unknown as AxiosInstance;
    return new HubSpotConnector(http, { accessToken: 'x' }, 100, createLimiter(0), async () => undefined);
  }

  it('when an error other than not-found names an id, then it counts as existing, and fetchPeople fails to be retried', async () => {
    const data = {
      status: 'COMPLETE',
      results: [{ id: '1', properties: { email: 'a@b.co' } }],
      errors: [
        { status: 'error', category: 'OBJECT_NOT_FOUND', context: { ids: ['2'] } },
        { status: 'error', category: 'INTERNAL_ERROR', context: { ids: ['3'] } },
      ],
    };
    const people = ['1', '2', '3'].map((externalId) => ({ provider: 'hubspot', externalId }));
    expect(ids(await over(data).stillExisting(people))).toEqual(['1', '3']);
    await expect(over(data).fetchPeople('hubspot', ['1', '2', '3'])).rejects.toBeInstanceOf(CrmUnavailableError);
  });

  it('when an id comes back under another id (merged), then the asked id is missing and the record found', async () => {
    const data = { status: 'COMPLETE', results: [{ id: '9', properties: { email: 'KEPT@b.co' } }] };
    const out = await over(data).fetchPeople('hubspot', ['5']);
    expect(out).toEqual({ found: [expect.objectContaining({ externalId: '9', email: 'kept@b.co' })], missing: ['5'] });
  });
});
