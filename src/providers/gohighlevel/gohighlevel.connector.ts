import type { AxiosInstance } from 'axios';
import { CrmUnavailableError, type ConnectionInfo, type CrmConnector, type PersonPage } from '../connector';
import { CONTACT_PROVIDER, contactGone, mapContact, parseGhlTime, type GhlContact } from './gohighlevel.mapping';
import { forEachLimit } from '../../lib/for-each-limit';
import { checkDailyQuota } from '../http-client';

export interface GoHighLevelConfig {
  /** A location's private integration token, or an OAuth access token for the location. */
  apiKey: string;
  locationId: string;
  apiVersion?: string;
  baseUrl?: string;
  webhookPublicKey?: string;
}

export const GOHIGHLEVEL_DEFAULT_URL = 'https://services.leadconnectorhq.com';
/** The `Version` header contacts and locations declare (docs-repo apps/contacts.json). */
export const GOHIGHLEVEL_DEFAULT_VERSION = '2021-07-28';
/** search's pageLimit maximum (HighLevel's search guide). */
export const GOHIGHLEVEL_MAX_PAGE_LIMIT = 500;

/** Single-contact lookups in flight at once (the limiter's rate still applies). */
const LOOKUP_CONCURRENCY = 4;

/** Bearer token (PIT and OAuth access tokens alike) and the required Version header. */
export function goHighLevelHeaders(config: GoHighLevelConfig): Record<string, string> {
  const version =
    typeof config.apiVersion === 'string' && config.apiVersion.trim() ? config.apiVersion.trim() : GOHIGHLEVEL_DEFAULT_VERSION;
  return { Accept: 'application/json', Authorization: `Bearer ${config.apiKey}`, Version: version };
}

/** A search result: a contact plus its sort key, `[<dateUpdated ms>, <id>]` under our sort. */
type SearchResult = GhlContact & { searchAfter?: unknown };

interface SearchResponse {
  contacts?: SearchResult[];
  total?: number;
}

/** searchAfter values are the sort value(s) and the id: numbers or strings. */
type SearchAfter = (string | number)[];

/**
 * HighLevel (LeadConnector API v2) contacts of one location, through POST /contacts/search.
 *
 * Order: dateUpdated ascending (then id, the tie-break HighLevel puts last in each result's
 * searchAfter). The sync's next incremental cursor is the newest dateUpdated it saw, so a
 * run must see every change newer than its own start: under this order a contact edited
 * during the run moves after the current position and is read before the run ends, and a
 * newly matching contact (an incremental run filters on dateUpdated) lands there too. Under
 * dateAdded a contact edited behind the current position would be missed by this run, and
 * the next run's cursor, past a later edit seen here, would skip it for good.
 *
 * Paging: the first request is page 1; every next one sends the last result's `searchAfter`
 * (never with `page`). HighLevel requires searchAfter only past the first 10,000 records,
 * but page numbers over a live ordering shift whenever a contact is edited (it moves to the
 * end) or deleted while we read, and the record crossing a page boundary is skipped; a
 * searchAfter key does not move. The cursor is that key.
 */
export class GoHighLevelConnector implements CrmConnector {
  readonly provider = CONTACT_PROVIDER;
  readonly streams = ['contacts'] as const;
  readonly identityProviders = [CONTACT_PROVIDER] as const;
  private readonly pageLimit: number;

  constructor(
    private readonly http: AxiosInstance,
    private readonly config: GoHighLevelConfig,
    pageSize: number,
  ) {
    if (typeof config.locationId !== 'string' || config.locationId === '') throw new Error('gohighlevel: config.locationId is required');
    this.pageLimit = Math.max(1, Math.min(Math.floor(pageSize) || 100, GOHIGHLEVEL_MAX_PAGE_LIMIT));
  }

  /** GET /locations/{id}: a location token reads its own location (it cannot list locations). */
  async testConnection(): Promise<ConnectionInfo> {
    const { data } = await this.http.get<{ location?: Record<string, unknown> }>(
      `/locations/${encodeURIComponent(this.config.locationId)}`,
    );
    const l = data?.location ?? {};
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
    return {
      account: str(l.name),
      user: null,
      details: {
        locationId: str(l.id) ?? this.config.locationId,
        companyId: str(l.companyId),
        timezone: str(l.timezone),
        email: str(l.email),
      },
    };
  }

  async listPeople(stream: string, opts: { cursor: string | null; updatedSince: Date | null }): Promise<PersonPage> {
    if (stream !== 'contacts') throw new Error(`gohighlevel has no stream ${stream}`);
    await checkDailyQuota(this.http);
    const after = opts.cursor ? parseCursor(opts.cursor) : null;
    const body: Record<string, unknown> = {
      locationId: this.config.locationId,
      pageLimit: this.pageLimit,
      sort: [{ field: 'dateUpdated', direction: 'asc' }],
      // gte: a contact at exactly the cursor's time is read again (unchanged) rather than missed.
      ...(opts.updatedSince
        ? { filters: [{ field: 'dateUpdated', operator: 'range', value: { gte: opts.updatedSince.toISOString() } }] }
        : {}),
      ...(after ? { searchAfter: after } : { page: 1 }),
    };
    const { data } = await this.http.post<SearchResponse>('/contacts/search', body);
    const contacts = (Array.isArray(data?.contacts) ? data.contacts : []).filter(
      (c): c is SearchResult => !!c && typeof c === 'object' && (typeof c.id === 'string' || typeof c.id === 'number'),
    );
    const total = typeof data?.total === 'number' && Number.isFinite(data.total) ? data.total : null;
    const last = contacts[contacts.length - 1];
    // A short page is the last; a full one may be too (then the next answer is empty).
    const nextKey = contacts.length < this.pageLimit || !last ? null : sortKey(last);
    if (contacts.length >= this.pageLimit && nextKey === null) {
      throw new CrmUnavailableError('gohighlevel search result carries no usable searchAfter; cannot page on');
    }
    return {
      records: contacts.map((c) => mapContact(c)),
      nextCursor: nextKey ? JSON.stringify({ searchAfter: nextKey }) : null,
      totalPages: total === null ? null : Math.ceil(total / this.pageLimit),
    };
  }

  /** HighLevel lists no deleted contacts: deletions come from reconciliation and ContactDelete webhooks. */
  async listDeletedSince(): Promise<{ provider: string; externalId: string }[]> {
    return [];
  }

  /** GET /contacts/{id} each: 404 is gone; an id it refuses as malformed counts as existing. */
  async stillExisting(people: { provider: string; externalId: string }[]): Promise<{ provider: string; externalId: string }[]> {
    const gone = new Set<{ provider: string; externalId: string }>();
    const contacts = people.filter((p) => p.provider === CONTACT_PROVIDER);
    await forEachLimit(contacts, LOOKUP_CONCURRENCY, async (p) => {
      if (!(await this.contactExists(p.externalId))) gone.add(p);
    });
    return people.filter((p) => !gone.has(p));
  }

  private async contactExists(id: string): Promise<boolean> {
    try {
      const { data } = await this.http.get<{ contact?: GhlContact }>(`/contacts/${encodeURIComponent(id)}`);
      // A contact of another location is not one of ours (HighLevel answers 403 for those; checked anyway).
      const locationId = data?.contact?.locationId;
      return typeof locationId !== 'string' || locationId === this.config.locationId;
    } catch (err) {
      if (contactGone(err)) return false;
      // "A record it cannot check counts as existing": another 400/422 about the id must not
      // fail the reconciliation, nor remove a contact that may still be there.
      if (err instanceof CrmUnavailableError && (err.status === 400 || err.status === 422)) return true;
      throw err;
    }
  }
}

/** The result's own searchAfter when it is a list of scalars; else the key our sort implies. */
function sortKey(c: SearchResult): SearchAfter | null {
  const given = c.searchAfter;
  if (Array.isArray(given) && given.length > 0 && given.length <= 5 && given.every(isKeyValue)) return given;
  const t = parseGhlTime(c.dateUpdated);
  return t === null ? null : [t.getTime(), String(c.id)];
}

const isKeyValue = (v: unknown): v is string | number =>
  (typeof v === 'string' && v.length <= 200) || (typeof v === 'number' && Number.isFinite(v));

function parseCursor(cursor: string): SearchAfter {
  let parsed: unknown;
  try {
    parsed = JSON.parse(cursor);
  } catch {
    parsed = null;
  }
  const key = (parsed as { searchAfter?: unknown } | null)?.searchAfter;
  if (!Array.isArray(key) || key.length === 0 || !key.every(isKeyValue))
    throw new Error(`gohighlevel: not a cursor of this connector: ${cursor.slice(0, 100)}`);
  return key;
}
