import { FakeGoHighLevel } from '../../fake-crm/gohighlevel/fake-gohighlevel';
import { createLogger } from '../../src/lib/logger';
import { CrmAuthError, CrmUnavailableError, type CrmConnector, type PersonRecord } from '../../src/providers/connector';
import { gohighlevel, GOHIGHLEVEL_REQUESTS_PER_SECOND } from '../../src/providers/gohighlevel';
import { LimiterRegistry } from '../../src/providers/rate-limiter';
import { createConnectorFactory, ProviderRegistry } from '../../src/providers/registry';
import { mapContact } from '../../src/providers/gohighlevel/gohighlevel.mapping';

const logger = createLogger({ level: 'error', json: true, silent: true });

// Two fakes: a small location for most cases, a large one for paging past 10,000 records.
let fake: FakeGoHighLevel;
let big: FakeGoHighLevel;
beforeAll(async () => {
  fake = await new FakeGoHighLevel({ contacts: 250, seed: 7 }).start();
  big = await new FakeGoHighLevel({ contacts: 10_250, seed: 11 }).start();
});
afterAll(async () => {
  await fake.stop();
  await big.stop();
});

function connector(config: Record<string, unknown> = {}, pageSize = 100, on: FakeGoHighLevel = fake): CrmConnector {
  const create = createConnectorFactory(new ProviderRegistry([gohighlevel]), {
    logger,
    pageSize,
    http: { timeoutMs: 2000, maxRetries: 3, retryBaseMs: 10, allowPrivateUrls: true },
    limiters: new LimiterRegistry(),
  });
  return create('gohighlevel', { apiKey: on.token, locationId: on.locationId, baseUrl: on.url, ...config }) as CrmConnector;
}

async function readAll(c: CrmConnector, updatedSince: Date | null = null) {
  const all: PersonRecord[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await c.listPeople('contacts', { cursor, updatedSince });
    all.push(...page.records);
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { all, pages };
}

type SearchBody = { page?: number; pageLimit?: number; searchAfter?: unknown[]; filters?: unknown[]; sort?: unknown[] };
const searches = (f: FakeGoHighLevel, from = 0) =>
  f.requests
    .slice(from)
    .filter((r) => r.method === 'POST' && r.path === '/contacts/search')
    .map((r) => r.body as SearchBody);

describe('GoHighLevel connector: connection and auth', () => {
  it('when the connection is tested, then GET /locations/{id} names the location, with the bearer token and Version header', async () => {
    const from = fake.requests.length;
    const info = await connector().testConnection();
    expect(info).toEqual({
      account: 'Fake Dental Studio',
      user: null,
      details: expect.objectContaining({ locationId: fake.locationId, companyId: fake.companyId, timezone: 'America/Chicago' }),
    });
    const [req] = fake.requests.slice(from);
    expect(req).toMatchObject({ method: 'GET', path: `/locations/${fake.locationId}`, token: fake.token, version: '2021-07-28' });
  });

  it('when the Version header is refused (seed 002’s old "v1"), then HighLevel’s 401 is a CrmAuthError; a blank apiVersion sends the default', async () => {
    await expect(connector({ apiVersion: 'v1' }).testConnection()).rejects.toThrow(CrmAuthError);
    // The message says 401; HighLevel's text ("version header is invalid") is lost: see the http client's describeBody.
    await expect(connector({ apiVersion: 'v1' }).testConnection()).rejects.toThrow(/401/);
    const from = fake.requests.length;
    await connector({ apiVersion: ' ' }).testConnection();
    expect(fake.requests.slice(from).map((r) => r.version)).toEqual(['2021-07-28']);
  });

  it('when the token belongs to another location, then the 403 is a CrmAuthError, for the test and for the pull', async () => {
    const other = fake.addLocation({ name: 'Someone else' });
    fake.addToken('pit-other-location-000000000000', other.id);
    const c = connector({ apiKey: 'pit-other-location-000000000000' });
    await expect(c.testConnection()).rejects.toThrow(CrmAuthError);
    await expect(c.testConnection()).rejects.toThrow(/403/);
    await expect(c.listPeople('contacts', { cursor: null, updatedSince: null })).rejects.toThrow(CrmAuthError);
    // Its own location works with it.
    await expect(connector({ apiKey: 'pit-other-location-000000000000', locationId: other.id }).testConnection()).resolves.toMatchObject({
      account: 'Someone else',
    });
  });

  it('when the token is unknown or expired, then CrmAuthError without the token in the message', async () => {
    const err = await connector({ apiKey: 'pit-unknown-token-secret-value' })
      .testConnection()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).toMatch(/401/);
    expect((err as Error).message).not.toContain('pit-unknown-token-secret-value');
    fake.addToken('pit-soon-expired-0000000000000', fake.locationId);
    fake.expireToken('pit-soon-expired-0000000000000');
    await expect(connector({ apiKey: 'pit-soon-expired-0000000000000' }).testConnection()).rejects.toThrow(CrmAuthError);
  });
});

describe('GoHighLevel connector: contacts', () => {
  it('when every contact is listed, then each comes once, mapped from firstName/lastName, in dateUpdated order', async () => {
    const live = fake.contactsIn();
    const { all, pages } = await readAll(connector());
    expect(pages).toBe(Math.ceil(live.length / 100));
    expect(all.map((r) => r.externalId).sort()).toEqual(live.map((c) => c.id).sort());
    const times = all.map((r) => (r.updatedAt as Date).getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const c = live.find((x) => x.email && x.companyName && x.tags.length > 0 && x.phone) as (typeof live)[number];
    const r = all.find((x) => x.externalId === c.id) as PersonRecord;
    expect(r).toEqual({
      externalId: c.id,
      provider: 'gohighlevel',
      email: (c.email as string).toLowerCase(),
      name: `${c.firstName} ${c.lastName}`,
      firstName: c.firstName,
      lastName: c.lastName,
      phone: c.phone,
      title: null,
      isActive: true,
      updatedAt: c.dateUpdated,
      data: { companyName: c.companyName, tags: c.tags, source: c.source },
    });
    // One in twenty has no email: kept, named by its first and last name.
    const noEmail = all.find((x) => x.email === null) as PersonRecord;
    expect(noEmail.name).toBe(`${noEmail.firstName} ${noEmail.lastName}`);
  });

  it('when a search result carries only the lower-cased names (as HighLevel’s search guide shows), then they name the person', () => {
    const only = mapContact({ id: 'c1', firstNameLowerCase: 'zoë', lastNameLowerCase: 'ángel', email: 'Z@X.IO' });
    expect([only.name, only.firstName, only.lastName, only.email]).toEqual(['zoë ángel', 'zoë', 'ángel', 'z@x.io']);
    const both = mapContact({ id: 'c2', firstName: 'Zoë', firstNameLowerCase: 'zoë', lastName: 'Ángel', lastNameLowerCase: 'ángel' });
    expect(both.name).toBe('Zoë Ángel');
  });

  it('when the location has more than 10,000 contacts, then paging goes past them with searchAfter, no page number, no gaps or duplicates', async () => {
    const from = big.requests.length;
    // pageSize above the API's maximum: capped to 500.
    const { all, pages } = await readAll(connector({}, 1000, big));
    expect(all).toHaveLength(10_250);
    expect(new Set(all.map((r) => r.externalId)).size).toBe(10_250);
    expect(new Set(all.map((r) => r.externalId))).toEqual(new Set(big.contactsIn().map((c) => c.id)));
    expect(pages).toBe(21);
    const bodies = searches(big, from);
    expect(bodies).toHaveLength(21);
    expect(bodies[0]).toMatchObject({ page: 1, pageLimit: 500, sort: [{ field: 'dateUpdated', direction: 'asc' }] });
    expect(bodies[0].searchAfter).toBeUndefined();
    for (const b of bodies.slice(1)) {
      expect(b.page).toBeUndefined();
      expect(Array.isArray(b.searchAfter)).toBe(true);
      expect(b.pageLimit).toBe(500);
    }
    // The per-integration limiter spaced the requests (9 a second: under 100 per 10 s).
    const times = big.requests.slice(from).map((r) => r.at);
    expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual((20 * 1000) / GOHIGHLEVEL_REQUESTS_PER_SECOND - 100);
  });

  it('when contacts are edited, deleted and added between pages, then no live contact is skipped (searchAfter does not shift)', async () => {
    const c = connector();
    const first = await c.listPeople('contacts', { cursor: null, updatedSince: null });
    expect(first.nextCursor).not.toBeNull();
    // Changes behind the read position: under page numbers each shifts the rest by one and a record is skipped.
    fake.deleteContact(first.records[3].externalId);
    fake.deleteContact(first.records[4].externalId);
    const edited = fake.updateContact(first.records[5].externalId, { companyName: 'Moved Inc' });
    const [added] = fake.addContacts(1);
    const seen = new Map<string, PersonRecord>(first.records.map((r) => [r.externalId, r]));
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await c.listPeople('contacts', { cursor, updatedSince: null });
      for (const r of page.records) seen.set(r.externalId, r);
      cursor = page.nextCursor;
    }
    for (const live of fake.contactsIn()) expect(seen.has(live.id)).toBe(true);
    expect(seen.get(edited.id)?.data.companyName).toBe('Moved Inc');
    expect(seen.has(added.id)).toBe(true);
  });

  it('when updatedSince is given, then the search filters dateUpdated gte it and only the contacts changed since come back', async () => {
    const since = new Date(fake.now().getTime() + 1);
    const [a, b] = fake.contactsIn().slice(10, 12);
    fake.updateContact(a.id, { firstName: 'Changed' });
    fake.updateContact(b.id, { email: 'NEW.Address@Example.com' });
    const from = fake.requests.length;
    const { all } = await readAll(connector(), since);
    expect(all.map((r) => r.externalId).sort()).toEqual([a.id, b.id].sort());
    expect(all.find((r) => r.externalId === a.id)?.name).toBe(`Changed ${a.lastName}`);
    expect(all.find((r) => r.externalId === b.id)?.email).toBe('new.address@example.com');
    expect(searches(fake, from)[0].filters).toEqual([{ field: 'dateUpdated', operator: 'range', value: { gte: since.toISOString() } }]);
    // Nothing changed since the newest edit: an empty answer ends the listing.
    const none = await connector().listPeople('contacts', { cursor: null, updatedSince: new Date(fake.now().getTime() + 1) });
    expect(none).toEqual({ records: [], nextCursor: null, totalPages: 0 });
  });

  it('when asked which contacts still exist, then GET /contacts/{id} answers: deleted and unknown ones are gone, other providers kept', async () => {
    const [keep, drop] = fake.contactsIn().slice(20, 22);
    fake.deleteContact(drop.id);
    const from = fake.requests.length;
    const asked = [
      { provider: 'gohighlevel', externalId: keep.id },
      { provider: 'gohighlevel', externalId: drop.id },
      { provider: 'gohighlevel', externalId: 'NoSuchContact0000000' },
      { provider: 'wealthbox', externalId: '42' },
    ];
    expect(await connector().stillExisting(asked)).toEqual([asked[0], asked[3]]);
    expect(
      fake.requests
        .slice(from)
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual([`GET /contacts/${drop.id}`, `GET /contacts/${keep.id}`, 'GET /contacts/NoSuchContact0000000'].sort());
    // HighLevel lists no deletions; they come from this check and from ContactDelete webhooks.
    expect(await connector().listDeletedSince(new Date(0))).toEqual([]);
  });

  it('when HighLevel answers 400 "Contact with id … not found" for a deleted contact, then it is gone too', async () => {
    const [keep, drop] = fake.contactsIn().slice(22, 24);
    fake.deleteContact(drop.id);
    fake.missingContactStatus = 400;
    try {
      const asked = [
        { provider: 'gohighlevel', externalId: keep.id },
        { provider: 'gohighlevel', externalId: drop.id },
      ];
      expect(await connector().stillExisting(asked)).toEqual([asked[0]]);
    } finally {
      fake.missingContactStatus = 404;
    }
  });

  it('when a lookup fails for good, then stillExisting throws rather than calling the contact gone', async () => {
    fake.failNext(10, 503);
    try {
      await expect(connector().stillExisting([{ provider: 'gohighlevel', externalId: fake.contactsIn()[0].id }])).rejects.toThrow(
        CrmUnavailableError,
      );
    } finally {
      fake.clearFaults();
    }
  });
});

describe('GoHighLevel connector: rate limits and failures', () => {
  // A 429 says X-RateLimit-Remaining: 0, and the client then pauses for the header's
  // X-RateLimit-Interval-Milliseconds; the fake's window is shortened to keep the tests short.
  let interval: number;
  beforeEach(() => {
    interval = fake.burstIntervalMs;
    fake.burstIntervalMs = 400;
  });
  afterEach(() => {
    fake.burstIntervalMs = interval;
    fake.clearFaults();
  });

  it('when HighLevel answers 429, then the request is retried after the window (X-RateLimit-Interval-Milliseconds) and succeeds', async () => {
    fake.rateLimitNext(2);
    const from = fake.requests.length;
    const started = Date.now();
    await expect(connector().testConnection()).resolves.toMatchObject({ account: 'Fake Dental Studio' });
    expect(fake.requests.length - from).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it('when a 429 carries Retry-After, then the retry waits that long', async () => {
    fake.rateLimitNext(1, 1);
    const started = Date.now();
    await connector().listPeople('contacts', { cursor: null, updatedSince: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('when 5xx answers outlast the retries, then CrmUnavailableError with the status', async () => {
    fake.failNext(10, 502);
    const err = await connector()
      .testConnection()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmUnavailableError);
    expect((err as CrmUnavailableError).status).toBe(502);
  });

  it('when a cursor is not one of this connector’s, then listPeople refuses it', async () => {
    await expect(connector().listPeople('contacts', { cursor: '3', updatedSince: null })).rejects.toThrow(/not a cursor/);
  });
});
