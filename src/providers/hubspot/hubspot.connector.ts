import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import { CrmUnavailableError, type ConnectionInfo, type CrmConnector, type PersonPage, type PersonRecord } from '../connector';
import type { RequestLimiter } from '../rate-limiter';
import {
  CONTACT_PROPERTIES,
  HUBSPOT_PROVIDER,
  hubspotId,
  mapContact,
  modifiedAt,
  objectsOf,
  parseHubSpotTime,
  type HubSpotObject,
} from './hubspot.mapping';
import { checkDailyQuota } from '../http-client';

export interface HubSpotConfig {
  accessToken: string;
  appSecret?: string;
  portalId?: string | number;
  baseUrl?: string;
  searchRequestsPerSecond?: number;
}

/** GET /crm/v3/objects/contacts answers at most 100 a page. */
const LIST_LIMIT = 100;
/** POST .../search answers at most 200 a page. */
const SEARCH_LIMIT = 200;
/** POST .../batch/read takes at most 100 inputs. */
const BATCH_LIMIT = 100;

/**
 * Where a listing stands. `list`: the full listing, HubSpot's own `after`. `search`: contacts
 * with lastmodifieddate ≥ `since`, ascending. `ties`: contacts with lastmodifieddate exactly
 * `since` and an id above `afterId`, by id. `seen`: ids with lastmodifieddate = `since`
 * already returned, not returned again.
 */
const cursorSchema = z.discriminatedUnion('m', [
  z.object({ m: z.literal('list'), after: z.string().min(1).max(2000) }),
  z.object({ m: z.literal('search'), since: z.number().int().nonnegative(), seen: z.array(z.string()).max(1000) }),
  z.object({
    m: z.literal('ties'),
    since: z.number().int().nonnegative(),
    afterId: z.string().regex(/^\d{1,20}$/),
    seen: z.array(z.string()).max(1000),
  }),
]);
type Cursor = z.infer<typeof cursorSchema>;

interface Paged {
  results?: unknown;
  total?: unknown;
  paging?: { next?: { after?: unknown } };
}

interface BatchError {
  status?: string;
  category?: string;
  message?: string;
  context?: { ids?: unknown };
}

interface BatchOutcome {
  found: Map<string, HubSpotObject>;
  /** HubSpot says it has no such contact (deleted, merged away, never existed). */
  gone: Set<string>;
  /** Neither read nor said to be gone (another error): unknown. */
  unknown: Set<string>;
}

/**
 * HubSpot CRM v3 contacts (fake-crm/hubspot/README.md has the API facts with their sources).
 *
 * Full: GET /crm/v3/objects/contacts by HubSpot's `after` cursor. Incremental: the search API on
 * lastmodifieddate ≥ since, ascending, each page a fresh query from the last value seen (keyset
 * paging): no offset ever nears the 10,000-result cap of one query, and a contact edited
 * while we page (it moves to the end) cannot shift an unread one into a page already read.
 * More contacts with one lastmodifieddate than a page holds are read by id, then the search
 * goes on past that instant.
 */
export class HubSpotConnector implements CrmConnector {
  readonly provider = HUBSPOT_PROVIDER;
  readonly streams: readonly string[] = ['contacts'];
  readonly identityProviders: readonly string[] = [HUBSPOT_PROVIDER];

  constructor(
    private readonly http: AxiosInstance,
    private readonly config: HubSpotConfig,
    private readonly pageSize: number,
    /** Paces search requests (HubSpot: 5/s per account, beside the ten-secondly budget). */
    private readonly searchLimiter: RequestLimiter,
    private readonly saveConfig: (changes: Record<string, unknown>) => Promise<void>,
  ) {}

  /**
   * GET /account-info/v3/details: cheap, and names the portal the token belongs to, which
   * becomes the integration's routing key when the config does not name one. A config naming
   * another portal than the token's is refused: its webhooks would go to the wrong place.
   */
  async testConnection(): Promise<ConnectionInfo> {
    const { data } = await this.http.get<Record<string, unknown>>('/account-info/v3/details');
    const portalId = hubspotId(data?.portalId);
    if (!portalId) throw new CrmUnavailableError('HubSpot answered /account-info/v3/details without a portalId');
    const configured = this.config.portalId;
    if (configured !== undefined && configured !== null && String(configured) !== '') {
      if (String(configured) !== portalId) {
        throw new Error(`the access token belongs to HubSpot portal ${portalId}, but the integration names portal ${String(configured)}`);
      }
    } else {
      await this.saveConfig({ portalId });
    }
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      account: `HubSpot portal ${portalId}`,
      user: null,
      details: {
        portalId,
        accountType: text(data.accountType),
        timeZone: text(data.timeZone),
        companyCurrency: text(data.companyCurrency),
        uiDomain: text(data.uiDomain),
        dataHostingLocation: text(data.dataHostingLocation),
      },
    };
  }

  async listPeople(stream: string, opts: { cursor: string | null; updatedSince: Date | null }): Promise<PersonPage> {
    if (stream !== 'contacts') throw new Error(`HubSpot has no stream ${stream}`);
    await checkDailyQuota(this.http);
    const cursor = opts.cursor ? decodeCursor(opts.cursor) : null;
    if (cursor?.m === 'list' || (!cursor && !opts.updatedSince)) return this.listPage(cursor?.m === 'list' ? cursor.after : null);
    const at: Cursor = cursor ?? { m: 'search', since: Math.max(0, (opts.updatedSince as Date).getTime()), seen: [] };
    return this.searchPage(at as Exclude<Cursor, { m: 'list' }>, cursor === null);
  }

  /** Archived contacts, paged through whole (the listing has no time filter), archived at or after `since`. */
  async listDeletedSince(since: Date): Promise<{ provider: string; externalId: string }[]> {
    const out: { provider: string; externalId: string }[] = [];
    let after: string | null = null;
    do {
      const params: Record<string, string | number> = { archived: 'true', limit: LIST_LIMIT, properties: 'hs_object_id' };
      if (after) params.after = after;
      const { data } = await this.http.get<Paged>('/crm/v3/objects/contacts', { params });
      for (const c of objectsOf(data)) {
        const at = parseHubSpotTime(c.archivedAt);
        // Without an archivedAt it cannot be placed in time: reported, since it is archived.
        if (!at || at.getTime() >= since.getTime()) out.push({ provider: HUBSPOT_PROVIDER, externalId: c.id });
      }
      after = nextAfter(data, after);
    } while (after);
    return out;
  }

  /** Batch reads (100 ids a call); an id HubSpot cannot say anything about counts as existing. */
  async stillExisting(people: { provider: string; externalId: string }[]): Promise<{ provider: string; externalId: string }[]> {
    const ids = people.filter((p) => p.provider === HUBSPOT_PROVIDER).map((p) => p.externalId);
    const { found, unknown } = await this.readBatch(ids, ['hs_object_id']);
    return people.filter((p) => p.provider !== HUBSPOT_PROVIDER || found.has(p.externalId) || unknown.has(p.externalId));
  }

  /**
   * The contacts now (webhooks carry ids only). A contact HubSpot no longer has, or answers
   * under another id (merged into it), is missing; any other refusal fails the call, to be
   * retried.
   */
  async fetchPeople(provider: string, externalIds: string[]): Promise<{ found: PersonRecord[]; missing: string[] }> {
    if (provider !== HUBSPOT_PROVIDER) throw new Error(`HubSpot has no ${provider} people`);
    const { found, gone, unknown } = await this.readBatch(externalIds, CONTACT_PROPERTIES);
    if (unknown.size > 0) {
      throw new CrmUnavailableError(`HubSpot could not read contacts ${[...unknown].slice(0, 10).join(', ')}; try again later`);
    }
    return { found: [...found.values()].map(mapContact), missing: [...gone] };
  }

  private async listPage(after: string | null): Promise<PersonPage> {
    const params: Record<string, string | number> = {
      limit: Math.min(this.pageSize, LIST_LIMIT),
      properties: CONTACT_PROPERTIES.join(','),
    };
    if (after) params.after = after;
    const { data } = await this.http.get<Paged>('/crm/v3/objects/contacts', { params });
    const next = nextAfter(data, after);
    return {
      records: objectsOf(data).map(mapContact),
      nextCursor: next ? encodeCursor({ m: 'list', after: next }) : null,
      totalPages: after === null ? await this.listTotalPages(Number(params.limit)) : null,
    };
  }

  /**
   * The listing does not say how long it is; a one-result search does (`total`), so a full
   * run can log its ETA. One search call a run; without it the run goes on, ETA unknown.
   */
  private async listTotalPages(limit: number): Promise<number | null> {
    try {
      await this.searchLimiter.acquire();
      const { data } = await this.http.post<Paged>('/crm/v3/objects/contacts/search', { limit: 1, properties: ['hs_object_id'] });
      return typeof data?.total === 'number' ? Math.max(1, Math.ceil(data.total / limit)) : null;
    } catch {
      return null;
    }
  }

  private async searchPage(at: Exclude<Cursor, { m: 'list' }>, first: boolean): Promise<PersonPage> {
    const filters =
      at.m === 'search'
        ? [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(at.since) }]
        : [
            { propertyName: 'lastmodifieddate', operator: 'EQ', value: String(at.since) },
            { propertyName: 'hs_object_id', operator: 'GT', value: at.afterId },
          ];
    await this.searchLimiter.acquire();
    const { data } = await this.http.post<Paged>('/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters }],
      sorts: [{ propertyName: at.m === 'search' ? 'lastmodifieddate' : 'hs_object_id', direction: 'ASCENDING' }],
      properties: CONTACT_PROPERTIES,
      limit: SEARCH_LIMIT,
      after: 0,
    });
    const objects = objectsOf(data);
    const seen = new Set(at.seen);
    // Returned already, and not changed since (a changed one has a later lastmodifieddate).
    const repeated = (c: HubSpotObject) => seen.has(c.id) && modifiedAt(c)?.getTime() === at.since;
    const records = objects.filter((c) => !repeated(c)).map(mapContact);
    const more = objects.length > 0 && data?.paging?.next !== undefined && data.paging.next !== null;
    const totalPages = first && typeof data?.total === 'number' ? Math.ceil(data.total / SEARCH_LIMIT) : null;
    let next: Cursor | null = more ? this.nextSearch(at, objects, seen) : null;
    // The end of a run of equal lastmodifieddates is not the end: the search goes on after it.
    if (!next && at.m === 'ties') next = { m: 'search', since: at.since + 1, seen: [] };
    return { records, nextCursor: next ? encodeCursor(next) : null, totalPages };
  }

  /** The query after a full page: from its last lastmodifieddate, or by id through a run of equal ones. */
  private nextSearch(at: Exclude<Cursor, { m: 'list' }>, objects: HubSpotObject[], seen: Set<string>): Cursor {
    if (at.m === 'ties') {
      const afterId = objects[objects.length - 1].id;
      // Ids grow through a run; one that does not would page forever.
      if (BigInt(afterId) <= BigInt(at.afterId)) throw new CrmUnavailableError(`HubSpot search did not move past contact ${at.afterId}`);
      return { ...at, afterId };
    }
    const times = objects.map((c) => modifiedAt(c)?.getTime()).filter((t): t is number => t !== undefined);
    if (times.length === 0) throw new CrmUnavailableError('HubSpot search answered contacts without lastmodifieddate');
    const last = Math.max(...times);
    if (last > at.since) {
      const atLast = objects.filter((c) => modifiedAt(c)?.getTime() === last).map((c) => c.id);
      return { m: 'search', since: last, seen: atLast };
    }
    // A whole page at one instant: read that instant by id, then go on after it (`ties` ends
    // with a `search` from since + 1). Ids returned already stay skipped.
    return { m: 'ties', since: at.since, afterId: '0', seen: [...new Set([...seen, ...objects.map((c) => c.id)])] };
  }

  /** POST /crm/v3/objects/contacts/batch/read, 100 ids a call; 207 names the ids it has not. */
  private async readBatch(ids: string[], properties: string[]): Promise<BatchOutcome> {
    const out: BatchOutcome = { found: new Map(), gone: new Set(), unknown: new Set() };
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += BATCH_LIMIT) {
      const chunk = unique.slice(i, i + BATCH_LIMIT);
      const { data } = await this.http.post<{ results?: unknown; errors?: BatchError[] }>('/crm/v3/objects/contacts/batch/read', {
        inputs: chunk.map((id) => ({ id })),
        properties,
      });
      for (const c of objectsOf(data)) out.found.set(c.id, c);
      const gone = new Set<string>();
      const unknown = new Set<string>();
      let unattributed = false;
      for (const e of Array.isArray(data?.errors) ? data.errors : []) {
        const named = Array.isArray(e?.context?.ids) ? (e.context.ids as unknown[]).map(String) : null;
        const target = e?.category === 'OBJECT_NOT_FOUND' ? gone : unknown;
        if (named) for (const id of named) target.add(id);
        else if (target === unknown) unattributed = true;
      }
      for (const id of chunk) {
        if (out.found.has(id)) continue;
        // Not among the results: gone, unless an error (other than not found) may be about it.
        if (unknown.has(id) || (unattributed && !gone.has(id))) out.unknown.add(id);
        else out.gone.add(id);
      }
    }
    return out;
  }
}

function encodeCursor(c: Cursor): string {
  return JSON.stringify(c);
}

function decodeCursor(raw: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const result = cursorSchema.safeParse(parsed);
  if (!result.success) throw new Error(`not a HubSpot listing cursor: ${raw.slice(0, 100)}`);
  return result.data;
}

/** paging.next.after, or null at the end (or if HubSpot offered the same cursor again). */
function nextAfter(data: Paged | undefined, current: string | null): string | null {
  const after = data?.paging?.next?.after;
  if (typeof after !== 'string' && typeof after !== 'number') return null;
  const next = String(after);
  return next === '' || next === current || objectsOf(data).length === 0 ? null : next;
}
