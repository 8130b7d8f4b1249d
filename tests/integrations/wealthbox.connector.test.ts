import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createLogger } from '../../src/lib/logger';
import { CrmAuthError, CrmUnavailableError, type CrmConnector } from '../../src/providers/connector';
import { LimiterRegistry } from '../../src/providers/rate-limiter';
import { createConnectorFactory, ProviderRegistry } from '../../src/providers/registry';
import { wealthbox } from '../../src/providers/wealthbox';
import { formatWealthboxTime, parseWealthboxTime } from '../../src/providers/wealthbox/wealthbox.time';
import { mapContact } from '../../src/providers/wealthbox/wealthbox.mapping';

const logger = createLogger({ level: 'error', json: true, silent: true });

let fake: FakeWealthbox;
beforeAll(async () => {
  fake = await new FakeWealthbox({ contacts: 250, staff: 3, mixedTypes: true }).start();
});
afterAll(() => fake.stop());

function connector(
  overrides: Record<string, unknown> = {},
  http: Partial<{ timeoutMs: number; maxRetries: number; retryBaseMs: number }> = {},
): CrmConnector {
  const create = createConnectorFactory(new ProviderRegistry([wealthbox]), {
    logger,
    pageSize: 100,
    http: { timeoutMs: 2000, maxRetries: 3, retryBaseMs: 10, allowPrivateUrls: true, ...http },
    limiters: new LimiterRegistry(),
  });
  return create('wealthbox', { apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 0, ...overrides }) as CrmConnector;
}

async function readAll(c: CrmConnector, stream: string, updatedSince: Date | null = null) {
  const all = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await c.listPeople(stream, { cursor, updatedSince });
    all.push(...page.records);
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { all, pages };
}

describe('Wealthbox timestamps', () => {
  it('when a Wealthbox time is parsed, then its offset and AM/PM are applied', () => {
    expect(parseWealthboxTime('2015-05-24 10:00 AM -0400')?.toISOString()).toBe('2015-05-24T14:00:00.000Z');
    expect(parseWealthboxTime('2015-10-12 11:30 PM -0400')?.toISOString()).toBe('2015-10-13T03:30:00.000Z');
    expect(parseWealthboxTime('2015-10-12 12:05 AM +0000')?.toISOString()).toBe('2015-10-12T00:05:00.000Z');
    expect(parseWealthboxTime('2015-10-12 12:05 PM +0530')?.toISOString()).toBe('2015-10-12T06:35:00.000Z');
  });

  it('when times are compared, then parsed order is right where string order is wrong', () => {
    const a = '2015-10-12 11:30 PM -0400';
    const b = '2015-10-12 01:00 PM -0400';
    expect(a < b).toBe(false);
    expect((parseWealthboxTime(a) as Date) > (parseWealthboxTime(b) as Date)).toBe(true);
  });

  it('when formatted and parsed back, then the minute is kept; garbage gives null', () => {
    const d = new Date('2026-03-01T17:42:00Z');
    expect(parseWealthboxTime(formatWealthboxTime(d))?.toISOString()).toBe(d.toISOString());
    expect(parseWealthboxTime('not a time')).toBeNull();
    expect(parseWealthboxTime(null)).toBeNull();
  });
});

describe('WealthboxConnector against the fake server', () => {
  it('when the connection is tested, then GET /me names the account', async () => {
    const info = await connector().testConnection();
    expect(info).toMatchObject({ account: 'Fake Advisors LLC', user: 'Fake Owner' });
  });

  it('when contacts are listed, then only Person contacts come back, every page to the last, mapped', async () => {
    const persons = [...fake.contacts.values()].filter((c) => c.type === 'Person' && !c.deletedAt);
    expect(persons.length).toBeLessThan(250);
    const { all, pages } = await readAll(connector(), 'contacts');
    expect(pages).toBe(Math.ceil(persons.length / 100));
    expect(all.map((r) => r.externalId).sort()).toEqual(persons.map((c) => String(c.id)).sort());
    const person = all[0];
    expect(person).toMatchObject({ provider: 'wealthbox', name: `${person.firstName} ${person.lastName}`, data: { type: 'Person' } });
    expect(person.updatedAt).toBeInstanceOf(Date);
    expect(all.some((r) => r.email === null)).toBe(true);
  });

  it('when a Household or Organization contact is mapped, then its name field is used', () => {
    expect(mapContact({ id: 9, type: 'Organization', name: 'Acme Holdings', email_addresses: [] }).name).toBe('Acme Holdings');
    const hh = mapContact({ id: 8, type: 'Household', name: 'The Andersons', household: { id: 7, name: 'The Andersons', title: 'Head' } });
    expect(hh).toMatchObject({
      name: 'The Andersons',
      firstName: null,
      data: { household: { id: 7, name: 'The Andersons', title: 'Head' } },
    });
    const p = mapContact({
      id: 1,
      first_name: 'Kevin',
      last_name: 'Anderson',
      job_title: 'CEO',
      company_name: 'Acme Co.',
      contact_type: 'Client',
      status: 'Active',
      tags: [{ id: 1, name: 'Clients' }],
      email_addresses: [
        { address: 'other@example.com', principal: false },
        { address: 'Kevin@Example.com', principal: true },
      ],
      phone_numbers: [{ address: '(555) 555-5555', principal: true }],
      updated_at: '2015-10-12 11:30 PM -0400',
    });
    expect(p).toMatchObject({
      email: 'kevin@example.com',
      phone: '(555) 555-5555',
      title: 'CEO',
      isActive: true,
      data: { companyName: 'Acme Co.', contactType: 'Client', tags: ['Clients'] },
    });
    expect(p.updatedAt?.toISOString()).toBe('2015-10-13T03:30:00.000Z');
  });

  it('when the firm’s users are listed, then they come back as staff', async () => {
    const { all } = await readAll(connector(), 'users');
    expect(all.map((r) => r.provider)).toEqual(['wealthbox_user', 'wealthbox_user', 'wealthbox_user']);
    expect(all[0].data).toEqual({ kind: 'staff' });
  });

  it('when updated_since is given, then only contacts changed since then come back', async () => {
    // updated_since is inclusive; start just after the newest existing change.
    const since = new Date(fake.now().getTime() + 1);
    const [a, b] = [...fake.contacts.values()].filter((c) => c.type === 'Person').map((c) => c.id);
    fake.updateContact(a, { jobTitle: 'Changed' });
    fake.updateContact(b, { status: 'Inactive' });
    const { all } = await readAll(connector(), 'contacts', since);
    expect(all.map((r) => r.externalId).sort()).toEqual([String(a), String(b)].sort());
    expect(all.find((r) => r.externalId === String(b))?.isActive).toBe(false);
  });

  it('when contacts are deleted, then deleted=true&deleted_since lists them', async () => {
    const since = fake.now();
    const person = [...fake.contacts.values()].filter((c) => c.type === 'Person')[5].id;
    fake.deleteContact(person);
    expect(await connector().listDeletedSince(since)).toEqual([{ provider: 'wealthbox', externalId: String(person) }]);
  });

  it('when asked which records still exist, then deleted, unknown and non-Person contacts and gone staff are left out', async () => {
    const persons = [...fake.contacts.values()].filter((c) => c.type === 'Person' && !c.deletedAt).map((c) => c.id);
    const other = [...fake.contacts.values()].find((c) => c.type !== 'Person' && !c.deletedAt) as { id: number };
    fake.deleteContact(persons[1]);
    fake.requests.length = 0;
    const asked = [
      { provider: 'wealthbox', externalId: String(persons[0]) },
      { provider: 'wealthbox', externalId: String(persons[1]) },
      { provider: 'wealthbox', externalId: '999999' },
      { provider: 'wealthbox', externalId: String(other.id) },
      { provider: 'wealthbox_user', externalId: '2' },
      { provider: 'wealthbox_user', externalId: '77' },
    ];
    expect(await connector().stillExisting(asked)).toEqual([asked[0], asked[4]]);
    expect(fake.requests.filter((r) => r.path.startsWith('/v1/contacts/'))).toHaveLength(4);
    expect(await connector().stillExisting([])).toEqual([]);
  });

  it('when the token is wrong, then a CrmAuthError says so without the token', async () => {
    const err = await connector({ apiKey: 'wrong-token-123' })
      .testConnection()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmAuthError);
    expect((err as Error).message).toContain('401');
    expect((err as Error).message).not.toContain('wrong-token-123');
  });

  it('when an OAuth token is configured, then it is sent as a bearer', async () => {
    fake.requests.length = 0;
    await connector({ authType: 'oauth' }).testConnection();
    expect(fake.requests).toHaveLength(1);
  });

  it('when the server answers 429 with Retry-After, then the client waits that long and succeeds', async () => {
    fake.rateLimitNext(1, 1);
    fake.requests.length = 0;
    await connector().testConnection();
    expect(fake.requests).toHaveLength(2);
    const waited = fake.requests[1].at - fake.requests[0].at;
    expect(waited).toBeGreaterThanOrEqual(950);
  });

  it('when the server answers 500 twice, then the request is retried and succeeds', async () => {
    fake.failNext(2, 500);
    fake.requests.length = 0;
    await connector().testConnection();
    expect(fake.requests).toHaveLength(3);
  });

  it('when 500s outlast the retries, then a CrmUnavailableError reports the status', async () => {
    fake.failNext(10, 503);
    const err = await connector({}, { maxRetries: 2 })
      .testConnection()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmUnavailableError);
    expect((err as CrmUnavailableError).status).toBe(503);
    fake.clearFaults();
  });

  it('when a response never comes, then the timeout fires and the retry succeeds', async () => {
    fake.hangNext(1);
    const started = Date.now();
    await connector({}, { timeoutMs: 300 }).testConnection();
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('when requestsPerSecond is set, then requests are spaced to respect it', async () => {
    fake.requests.length = 0;
    const c = connector({ requestsPerSecond: 10 });
    await Promise.all([c.testConnection(), c.testConnection(), c.testConnection()]);
    const [a, , c3] = fake.requests.map((r) => r.at);
    // Released 100 ms apart, so 200 ms from first to third. Arrival at the server adds the
    // first request's connection setup to its side only (seen: 176 ms on a loaded machine);
    // without the limiter the three arrive within a few ms.
    expect(c3 - a).toBeGreaterThanOrEqual(150);
  });
});

describe('one limiter per integration', () => {
  it('when two connectors work for one integration (a sync and a connection test), then together they keep its rate', async () => {
    const registry = new ProviderRegistry([wealthbox]);
    const create = createConnectorFactory(registry, {
      logger,
      pageSize: 100,
      http: { timeoutMs: 2000, maxRetries: 0, retryBaseMs: 10, allowPrivateUrls: true },
      limiters: new LimiterRegistry(),
    });
    const binding = { integrationId: 4242, saveConfig: async () => undefined };
    const config = { apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 10 };
    const sync = create('wealthbox', config, binding) as CrmConnector;
    const test = create('wealthbox', config, binding) as CrmConnector;
    const from = fake.requests.length;
    await Promise.all([
      sync.listPeople('contacts', { cursor: null, updatedSince: null }),
      test.testConnection(),
      sync.listPeople('contacts', { cursor: '2', updatedSince: null }),
      test.testConnection(),
    ]);
    const at = fake.requests.slice(from).map((r) => r.at);
    expect(at).toHaveLength(4);
    // 10/s shared: 4 requests span at least 3 gaps of 100 ms (less connection set-up slack);
    // a limiter per connector would send them in pairs, about 100 ms in all.
    expect(at[3] - at[0]).toBeGreaterThanOrEqual(250);
  });
});
