import type { AxiosInstance, AxiosResponse } from 'axios';
import type { Logger } from 'winston';
import { z } from 'zod';
import { CrmUnavailableError, type ConnectionInfo, type CrmConnector, type PersonPage, type PersonRecord } from '../connector';
import {
  CONTACT_FIELDS,
  CONTACTS_MODULE,
  mapContact,
  parseZohoTime,
  recordsOf,
  ZOHO_PROVIDER,
  zohoHeaderTime,
  zohoId,
  type ZohoContact,
} from './zoho.mapping';
import { ZOHO_DEFAULT_VERSION } from './zoho.definition';
import { checkDailyQuota } from '../http-client';
import { decodeCursor } from '../cursor';

export interface ZohoConfig {
  accessToken: string;
  apiDomain?: string;
  apiVersion?: string;
  webhookToken?: string;
  requestsPerSecond?: number;
  creditReserve?: number;
}

/** per_page's maximum (and default) on list calls. */
export const ZOHO_MAX_PER_PAGE = 200;
/** Records reachable by `page` numbers; past them only by `page_token` (400 DISCRETE_PAGINATION_LIMIT_EXCEEDED). */
export const ZOHO_DISCRETE_LIMIT = 2000;
/** Record ids one `ids=` call takes. */
export const ZOHO_IDS_PER_CALL = 100;
/** How often one listing may start over after its page_token went stale before it gives up. */
const MAX_RESTARTS = 3;
/** A listing longer than this many pages is a server that never says it is done. */
const MAX_PAGES = 100_000;

/**
 * Where a listing stands: a page number within the first 2,000 records, or Zoho's page_token
 * past them. `n` is the per_page the listing started with (a page_token is bound to the
 * parameters it was issued for); `r` counts restarts after a stale token.
 */
const cursorSchema = z.discriminatedUnion('m', [
  z.object({
    m: z.literal('page'),
    page: z.int().min(1).max(ZOHO_DISCRETE_LIMIT),
    n: z.int().min(1).max(ZOHO_MAX_PER_PAGE),
    r: z.int().min(0),
  }),
  z.object({ m: z.literal('token'), token: z.string().min(1).max(2000), n: z.int().min(1).max(ZOHO_MAX_PER_PAGE), r: z.int().min(0) }),
]);
type Cursor = z.infer<typeof cursorSchema>;

interface Info {
  more_records?: unknown;
  next_page_token?: unknown;
  page?: unknown;
  count?: unknown;
}

/** Zoho's error body: `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`. */
interface ZohoError {
  code?: unknown;
  message?: unknown;
}

/**
 * The 400s Zoho answers for a page_token it no longer honours (expired after 24 hours,
 * unknown, or bound to other parameters): the listing starts over.
 */
const STALE_TOKEN_CODES = new Set(['EXPIRED_VALUE', 'INVALID_DATA', 'TOKEN_BOUND_DATA_MISMATCH']);

/** 2xx, and 304 (nothing modified since If-Modified-Since): both are answers, not failures. */
const answered = (status: number) => (status >= 200 && status < 300) || status === 304;

/**
 * Zoho CRM contacts (fake-crm/zoho/README.md has the API facts with their sources).
 *
 * Listing: GET /crm/{v}/Contacts with the fields we map, sorted by id ascending, page numbers
 * while they reach (the first 2,000 records), then the `page_token` Zoho gives in
 * `info.next_page_token`. Incremental runs send If-Modified-Since; Zoho answers 304 (or 204)
 * when nothing qualifies. By id, not by Modified_Time: an id never changes, so a contact edited
 * while we page stays where it was; under Modified_Time it would jump to the end and the one
 * after a page boundary would slide onto a page already read, skipped, and an incremental run
 * (whose next cursor is the newest time seen) would never come back for it. Paging by
 * position can still skip a record when one before it is deleted meanwhile: a full sync
 * reconciles through stillExisting and reads it next time.
 */
export class ZohoConnector implements CrmConnector {
  readonly provider = ZOHO_PROVIDER;
  readonly streams: readonly string[] = ['contacts'];
  readonly identityProviders: readonly string[] = [ZOHO_PROVIDER];
  private readonly base: string;
  private readonly perPage: number;

  constructor(
    private readonly http: AxiosInstance,
    config: ZohoConfig,
    pageSize: number,
    private readonly logger: Logger,
  ) {
    this.base = `/crm/${config.apiVersion ?? ZOHO_DEFAULT_VERSION}`;
    this.perPage = Math.max(1, Math.min(Math.floor(pageSize) || ZOHO_MAX_PER_PAGE, ZOHO_MAX_PER_PAGE));
  }

  /**
   * One contact (the token works and may read contacts; a 204 from an empty CRM is fine),
   * then the org's name. The org read is for the report only: a token without ZohoCRM.org.READ
   * still connects.
   */
  async testConnection(): Promise<ConnectionInfo> {
    await this.http.get(`${this.base}/${CONTACTS_MODULE}`, {
      params: { fields: 'Last_Name', per_page: 1 },
      validateStatus: answered,
    });
    let org: Record<string, unknown> = {};
    try {
      const { data } = await this.http.get<{ org?: unknown }>(`${this.base}/org`);
      const first = Array.isArray(data?.org) ? (data.org[0] as unknown) : null;
      if (first && typeof first === 'object') org = first as Record<string, unknown>;
    } catch (err) {
      this.logger.info('zoho: the org could not be read for the connection test', { error: (err as Error).message });
    }
    const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
    const license = (org.license_details ?? {}) as Record<string, unknown>;
    return {
      account: text(org.company_name) ?? (zohoId(org.id) ? `Zoho org ${zohoId(org.id)}` : null),
      user: null,
      details: {
        orgId: zohoId(org.id),
        domainName: text(org.domain_name),
        timeZone: text(org.time_zone),
        type: text(org.type),
        edition: text(license.paid_type),
        apiVersion: this.base.slice('/crm/'.length),
      },
    };
  }

  async listPeople(stream: string, opts: { cursor: string | null; updatedSince: Date | null }): Promise<PersonPage> {
    if (stream !== 'contacts') throw new Error(`Zoho has no stream ${stream}`);
    await checkDailyQuota(this.http);
    const at: Cursor = opts.cursor ? decodeCursor(cursorSchema, opts.cursor, 'Zoho') : { m: 'page', page: 1, n: this.perPage, r: 0 };
    return this.listPage(at, opts.updatedSince);
  }

  private async listPage(at: Cursor, updatedSince: Date | null): Promise<PersonPage> {
    const params: Record<string, string | number> = {
      fields: CONTACT_FIELDS.join(','),
      per_page: at.n,
      sort_by: 'id',
      sort_order: 'asc',
      ...(at.m === 'page' ? { page: at.page } : { page_token: at.token }),
    };
    const res = await this.http.get<{ data?: unknown; info?: Info } & ZohoError>(`${this.base}/${CONTACTS_MODULE}`, {
      params,
      headers: modifiedSince(updatedSince),
      // A page_token's 400 is read here: a stale one restarts the listing.
      validateStatus: (s) => answered(s) || (at.m === 'token' && s === 400),
    });
    if (res.status === 400) return this.restart(at, res, updatedSince);
    const records = res.status === 200 ? recordsOf(res.data) : [];
    const next = records.length > 0 ? nextPosition(at, res.data?.info) : null;
    const first = at.m === 'page' && at.page === 1;
    return {
      records: records.map(mapContact),
      nextCursor: next ? JSON.stringify(next) : null,
      // Zoho's list answers do not say how many records there are; the count API does.
      totalPages: first && !updatedSince && next ? await this.totalPages(at.n) : first && !next ? 1 : null,
    };
  }

  /**
   * A page_token past its 24 hours (a resumed run), or refused: the listing starts again at
   * page 1 with the same If-Modified-Since. Pages already applied are read again and found
   * unchanged; nothing is skipped.
   */
  private async restart(at: Cursor, res: AxiosResponse<ZohoError>, updatedSince: Date | null): Promise<PersonPage> {
    const code = typeof res.data?.code === 'string' ? res.data.code : '';
    const message = typeof res.data?.message === 'string' ? res.data.message.slice(0, 300) : 'no details';
    if (!STALE_TOKEN_CODES.has(code)) {
      throw new CrmUnavailableError(`zoho answered 400 on GET ${this.base}/${CONTACTS_MODULE}: ${code || 'no code'}: ${message}`, 400);
    }
    if (at.r >= MAX_RESTARTS) {
      throw new CrmUnavailableError(`zoho refused the listing's page_token ${at.r + 1} times (${code}); the listing cannot go on`, 400);
    }
    this.logger.warn('zoho: page_token refused; the listing starts again from page 1', { code, restarts: at.r + 1 });
    return this.listPage({ m: 'page', page: 1, n: at.n, r: at.r + 1 }, updatedSince);
  }

  /**
   * GET /crm/{v}/Contacts/actions/count: the whole module's size, for the run's ETA. One call
   * a full run; a refusal (a token without its scopes) leaves the ETA unknown.
   */
  private async totalPages(perPage: number): Promise<number | null> {
    try {
      const { data } = await this.http.get<{ count?: unknown }>(`${this.base}/${CONTACTS_MODULE}/actions/count`);
      const count = typeof data?.count === 'number' && Number.isFinite(data.count) ? data.count : null;
      return count === null ? null : Math.max(1, Math.ceil(count / perPage));
    } catch {
      return null;
    }
  }

  /**
   * Contacts deleted since `since`, in the recycle bin or for good (`type=all`: for us a
   * contact in the recycle bin is gone; one restored from it comes back through the listing).
   * Paged until `more_records` is false; Zoho answers 204 when none qualify.
   */
  async listDeletedSince(since: Date): Promise<{ provider: string; externalId: string }[]> {
    await checkDailyQuota(this.http);
    const ids = new Set<string>();
    let at: Cursor | null = { m: 'page', page: 1, n: ZOHO_MAX_PER_PAGE, r: 0 };
    for (let pages = 0; at; pages++) {
      if (pages >= MAX_PAGES) throw new CrmUnavailableError('zoho: the deleted records listing does not end');
      const res: AxiosResponse<{ data?: unknown; info?: Info }> = await this.http.get(`${this.base}/${CONTACTS_MODULE}/deleted`, {
        params: { type: 'all', per_page: at.n, ...(at.m === 'page' ? { page: at.page } : { page_token: at.token }) },
        headers: modifiedSince(since),
        validateStatus: answered,
      });
      const rows: unknown[] = res.status === 200 && Array.isArray(res.data?.data) ? res.data.data : [];
      for (const row of rows) {
        const r = (row ?? {}) as { id?: unknown; deleted_time?: unknown };
        const id = zohoId(r.id);
        const at = parseZohoTime(r.deleted_time);
        // Zoho filters by If-Modified-Since; an older deletion is dropped here too, in case it did not.
        if (id && (!at || at.getTime() >= since.getTime() - 1000)) ids.add(id);
      }
      at = rows.length > 0 ? nextPosition(at, res.data?.info) : null;
    }
    return [...ids].map((externalId) => ({ provider: ZOHO_PROVIDER, externalId }));
  }

  /**
   * `ids=` reads of 100 (any field would do: Last_Name is one every Contacts layout has); an
   * id Zoho does not return is gone. Other providers' people, and ids that are no Zoho id
   * (which cannot be checked), count as existing.
   */
  async stillExisting(people: { provider: string; externalId: string }[]): Promise<{ provider: string; externalId: string }[]> {
    await checkDailyQuota(this.http);
    const ids = people.filter((p) => p.provider === ZOHO_PROVIDER).map((p) => p.externalId);
    const found = await this.readByIds(ids, ['Last_Name']);
    return people.filter((p) => p.provider !== ZOHO_PROVIDER || found.has(p.externalId) || !isZohoId(p.externalId));
  }

  /** The named contacts now (notifications carry ids only), in reads of 100; those Zoho does not return are missing. */
  async fetchPeople(provider: string, externalIds: string[]): Promise<{ found: PersonRecord[]; missing: string[] }> {
    if (provider !== ZOHO_PROVIDER) throw new Error(`Zoho has no ${provider} people`);
    const found = await this.readByIds(externalIds, CONTACT_FIELDS);
    const unique = [...new Set(externalIds)];
    return {
      found: unique.flatMap((id) => {
        const c = found.get(id);
        return c ? [mapContact(c)] : [];
      }),
      missing: unique.filter((id) => !found.has(id)),
    };
  }

  /** GET /crm/{v}/Contacts?ids=… in chunks; a chunk none of whose ids exist answers 204. */
  private async readByIds(externalIds: string[], fields: string[]): Promise<Map<string, ZohoContact>> {
    const found = new Map<string, ZohoContact>();
    // Only ids Zoho could have: anything else would fail the whole chunk with a 400.
    const unique = [...new Set(externalIds)].filter(isZohoId);
    for (let i = 0; i < unique.length; i += ZOHO_IDS_PER_CALL) {
      const chunk = unique.slice(i, i + ZOHO_IDS_PER_CALL);
      const { status, data } = await this.http.get(`${this.base}/${CONTACTS_MODULE}`, {
        params: { ids: chunk.join(','), fields: fields.join(',') },
        validateStatus: answered,
      });
      const asked = new Set(chunk);
      for (const r of status === 200 ? recordsOf(data) : []) if (asked.has(r.id)) found.set(r.id, r);
    }
    return found;
  }
}

const isZohoId = (id: string) => zohoId(id) === id;

/** If-Modified-Since for `since`, one second earlier: the header has whole seconds, and a change in the cursor's own second is read again rather than missed. */
function modifiedSince(since: Date | null): Record<string, string> {
  return since ? { 'If-Modified-Since': zohoHeaderTime(new Date(since.getTime() - 1000)) } : {};
}

/**
 * The page after `at`: the next page number while it stays within the first 2,000 records,
 * else Zoho's next_page_token. More records without a way to reach them is an error, not an end.
 */
function nextPosition(at: Cursor, info: Info | undefined): Cursor | null {
  if (info?.more_records !== true) return null;
  if (at.m === 'page' && (at.page + 1) * at.n <= ZOHO_DISCRETE_LIMIT) return { ...at, page: at.page + 1 };
  const token = typeof info.next_page_token === 'string' && info.next_page_token !== '' ? info.next_page_token : null;
  if (!token) throw new CrmUnavailableError('zoho says more records follow but gave no next_page_token to reach them');
  if (at.m === 'token' && token === at.token)
    throw new CrmUnavailableError('zoho offered the same page_token again; the listing does not move');
  return { m: 'token', token, n: at.n, r: at.r };
}
