import type { AxiosInstance } from 'axios';
import type { Logger } from 'winston';
import { z } from 'zod';
import {
  CrmAuthError,
  CrmUnavailableError,
  type ConnectionInfo,
  type CrmConnector,
  type PersonPage,
  type PersonRecord,
} from '../connector';
import { decodeCursor } from '../cursor';
import { SalesforceBudget } from './salesforce.budget';
import {
  CONTACT_FIELDS,
  idKey,
  mapContact,
  parseSalesforceTime,
  recordsOf,
  SALESFORCE_PROVIDER,
  salesforceId,
  type SalesforceRecord,
} from './salesforce.mapping';
import { checkDailyQuota } from '../http-client';

export interface SalesforceConfig {
  instanceUrl: string;
  accessToken: string;
  apiVersion: string;
  apiReservePercent: number;
}

/** A query answers at most 2,000 records a batch; Sforce-Query-Options takes 200 to 2,000. */
export const MAX_BATCH = 2000;
export const MIN_BATCH = 200;
/** Ids per `WHERE Id IN (...)`: ~21 characters each keeps the GET well under URL limits. */
const IDS_PER_QUERY = 200;
/** getDeleted: start must precede end by more than a minute (seconds are ignored). */
const MIN_DELETED_WINDOW_MS = 2 * 60_000;
/**
 * getDeleted refuses a start much older than this (replication windows reach 30 days back;
 * deleted records themselves are kept about 15 days, the recycle bin's life).
 */
const MAX_DELETED_LOOKBACK_MS = 30 * 86_400_000 - 3_600_000;

/**
 * Where a listing stands. `n`: Salesforce's nextRecordsUrl (a server-side cursor, the query
 * locator, which dies after ~15 minutes idle or when its session ends). `t`/`i`: the
 * LastModifiedDate (second precision) and Id of the last record returned, so a dead locator
 * is replaced by a keyset query from there. `s`: the incremental run's lower bound.
 */
const cursorSchema = z.object({
  n: z.string().min(1).max(500),
  t: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
    .nullable(),
  i: z
    .string()
    .regex(/^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/)
    .nullable(),
  s: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
    .nullable(),
});
type Cursor = z.infer<typeof cursorSchema>;

interface QueryAnswer {
  totalSize?: unknown;
  done?: unknown;
  nextRecordsUrl?: unknown;
  records?: unknown;
}

interface DeletedAnswer {
  deletedRecords?: unknown;
  earliestDateAvailable?: unknown;
  latestDateCovered?: unknown;
}

/** A Salesforce answer other than auth and budget, with its errorCode (MALFORMED_QUERY, INVALID_QUERY_LOCATOR, ...). */
export class SalesforceApiError extends CrmUnavailableError {
  constructor(
    message: string,
    status: number,
    readonly errorCode: string,
  ) {
    super(message, status);
    this.name = 'SalesforceApiError';
  }
}

/**
 * Salesforce's error bodies are JSON arrays `[{message, errorCode, fields?}]`. The shared client
 * renders `{message}` objects in its errors, so an array becomes one (the codes kept in `errors`).
 */
export function normalizeErrorBody(data: unknown, status?: number): unknown {
  if (status === undefined || status < 400 || !Array.isArray(data) || data.length === 0) return data;
  const errors = data.filter((e): e is { message?: unknown; errorCode?: unknown } => !!e && typeof e === 'object');
  if (errors.length === 0) return data;
  const text = errors
    .map((e) => `${typeof e.errorCode === 'string' ? e.errorCode : 'ERROR'}: ${typeof e.message === 'string' ? e.message : ''}`)
    .join('; ');
  return { message: text.slice(0, 500), errorCode: errors[0].errorCode, errors };
}

/** The first {errorCode, message} of an error answer, raw or normalized. */
export function errorOf(data: unknown): { errorCode: string; message: string } {
  const list = Array.isArray(data) ? data : (data as { errors?: unknown } | null)?.errors;
  const first = (Array.isArray(list) ? list[0] : data) as { errorCode?: unknown; message?: unknown } | null;
  return {
    errorCode: typeof first?.errorCode === 'string' ? first.errorCode : 'UNKNOWN',
    message: typeof first?.message === 'string' ? first.message.slice(0, 300) : 'no details',
  };
}

export { parseLimitInfo } from './salesforce.budget';

/** A datetime as SOQL takes it: unquoted, UTC, second precision (YYYY-MM-DDThh:mm:ssZ). */
export function soqlDateTime(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A string literal for SOQL: quotes and backslashes escaped. */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Contacts by LastModifiedDate then Id: the order that lets a dead cursor restart by keyset. */
function contactQuery(where: string | null): string {
  return `SELECT ${CONTACT_FIELDS.join(', ')} FROM Contact${where ? ` WHERE ${where}` : ''} ORDER BY LastModifiedDate, Id`;
}

const floorMinute = (t: number) => Math.floor(t / 60_000) * 60_000;

/** getDeleted's parameters: ISO 8601 with an offset, as the docs write them. */
const deletedParam = (t: number) => new Date(floorMinute(t)).toISOString().replace(/\.\d{3}Z$/, '+00:00');

/**
 * Salesforce REST (fake-crm/salesforce/README.md has the API facts with their sources; jsforce
 * was considered and left out: we need only three resources, and our own client brings the
 * retries, SSRF guard, limiter and 401 refresh every provider shares).
 *
 * Full and incremental listings are one SOQL query each, ordered by LastModifiedDate and Id,
 * paged by Salesforce's nextRecordsUrl. A locator that died (idle timeout, a refreshed session,
 * a resume hours later) is replaced by a keyset query from the last record returned. Every
 * answer's Sforce-Limit-Info tells the org's daily API use: at the reserve the HTTP client
 * stops every call with CrmBudgetError (whichever instance makes it), and the run is resumed.
 */
export class SalesforceConnector implements CrmConnector {
  readonly provider = SALESFORCE_PROVIDER;
  readonly streams: readonly string[] = ['contacts'];
  readonly identityProviders: readonly string[] = [SALESFORCE_PROVIDER];
  /**
   * Set by listDeletedSince when Salesforce could not list every deletion since the time asked
   * (older than it keeps, or its recycle bin emptied): the next full sync reconciles them.
   */
  lastDeletedWindowNote: string | null = null;

  private readonly base: string;
  private readonly origin: string;
  private readonly batchSize: number;
  /** Grows with each token refresh: a locator opened before one may belong to the dead session. */
  private session = 0;
  private readonly budget: SalesforceBudget;

  constructor(
    private readonly http: AxiosInstance,
    private readonly config: SalesforceConfig,
    pageSize: number,
    private readonly logger: Logger,
    private readonly integrationId: number | null,
  ) {
    this.base = `/services/data/${config.apiVersion}`;
    this.origin = new URL(config.instanceUrl).origin;
    this.batchSize = Math.min(MAX_BATCH, Math.max(MIN_BATCH, Math.floor(pageSize) || MAX_BATCH));
    this.budget = new SalesforceBudget(config.apiReservePercent, logger, integrationId);
  }

  /** The org's daily API use as the last answer told it. */
  get apiUsage(): { used: number; limit: number } | null {
    return this.budget.usage;
  }

  /** Every answer passes here (index.ts): its Sforce-Limit-Info is the budget we keep to. */
  observe(headers: Record<string, unknown> | undefined): void {
    this.budget.observe(headers);
  }

  /** After a refreshed token (index.ts): locators opened before it may refuse the new session. */
  sessionRenewed(): void {
    this.session++;
  }

  /**
   * One query of the Organization (any API user may read it): names the org, proves the token
   * and instance URL, and its Sforce-Limit-Info tells today's API use.
   */
  async testConnection(): Promise<ConnectionInfo> {
    let org: SalesforceRecord | null = null;
    try {
      org = recordsOf(await this.query('SELECT Id, Name, OrganizationType, IsSandbox, InstanceName FROM Organization'))[0] ?? null;
    } catch (err) {
      if (!(err instanceof SalesforceApiError)) throw err;
      // An org or profile that hides the Organization fields still proves itself on a Contact.
      await this.query('SELECT Id FROM Contact LIMIT 1');
    }
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    const orgId = salesforceId(org?.Id);
    return {
      account: org ? ['Salesforce org', text(org.Name), orgId ? `(${orgId})` : null].filter(Boolean).join(' ') : null,
      user: null,
      details: {
        organizationId: orgId,
        name: text(org?.Name),
        organizationType: text(org?.OrganizationType),
        isSandbox: typeof org?.IsSandbox === 'boolean' ? org.IsSandbox : null,
        instanceName: text(org?.InstanceName),
        apiVersion: this.config.apiVersion,
        apiUsage: this.apiUsage,
      },
    };
  }

  async listPeople(stream: string, opts: { cursor: string | null; updatedSince: Date | null }): Promise<PersonPage> {
    if (stream !== 'contacts') throw new Error(`Salesforce has no stream ${stream}`);
    await checkDailyQuota(this.http);
    if (!opts.cursor) {
      const since = opts.updatedSince ? soqlDateTime(opts.updatedSince) : null;
      const data = await this.query(contactQuery(since ? `LastModifiedDate >= ${since}` : null), true);
      return this.page(data, since, true);
    }
    const cursor = decodeCursor(cursorSchema, opts.cursor, 'Salesforce');
    const next = this.locatorPath(cursor.n);
    const session = this.session;
    let data: QueryAnswer;
    try {
      data = await this.get<QueryAnswer>(next, this.batchHeaders());
    } catch (err) {
      const dead = err instanceof SalesforceApiError && err.errorCode === 'INVALID_QUERY_LOCATOR';
      // A locator belongs to the session that opened it: after a refresh it may answer 401 again.
      const orphaned = err instanceof CrmAuthError && this.session !== session;
      if (!dead && !orphaned) throw err;
      this.logger.warn('salesforce: query cursor gone; restarting the listing from the last record read', {
        integrationId: this.integrationId,
        reason: dead ? 'INVALID_QUERY_LOCATOR' : 'session renewed',
        after: cursor.t,
      });
      return this.restart(cursor);
    }
    const page = this.page(data, cursor.s, false);
    // A locator that offers itself again would page forever.
    if (page.nextCursor && decodeCursor(cursorSchema, page.nextCursor, 'Salesforce').n === next) {
      throw new CrmUnavailableError(`Salesforce offered the same nextRecordsUrl again (${next}); listing stopped`);
    }
    return page;
  }

  /**
   * Contacts deleted since `since`, from the delete log (GET sobjects/Contact/deleted). What
   * Salesforce no longer keeps is reported in `lastDeletedWindowNote` and the log, not thrown:
   * the deletions it can list still apply, and a full sync reconciles the rest.
   */
  async listDeletedSince(since: Date): Promise<{ provider: string; externalId: string }[]> {
    this.lastDeletedWindowNote = null;
    const end = Date.now();
    const notes: string[] = [];
    let start = since.getTime();
    if (start < end - MAX_DELETED_LOOKBACK_MS) {
      start = end - MAX_DELETED_LOOKBACK_MS;
      notes.push(`deletions before ${new Date(start).toISOString()} were not asked for (Salesforce keeps at most 30 days)`);
    }
    // Salesforce ignores seconds and wants end more than a minute after start: a wider window
    // only repeats deletions already applied.
    if (end - start < MIN_DELETED_WINDOW_MS) start = end - MIN_DELETED_WINDOW_MS;
    let answer: DeletedAnswer;
    try {
      answer = await this.getDeleted(start, end);
    } catch (err) {
      if (!(err instanceof SalesforceApiError && err.errorCode === 'INVALID_REPLICATION_DATE')) throw err;
      // The start is older than the delete log reaches (or its recycle bin was emptied). The
      // last minutes tell where the log now begins; from there, what it still has.
      const probe = await this.getDeleted(end - MIN_DELETED_WINDOW_MS, end);
      const earliest = parseSalesforceTime(probe.earliestDateAvailable)?.getTime();
      const from = earliest === undefined ? null : floorMinute(earliest) + 60_000;
      answer = probe;
      if (from !== null && from < end - MIN_DELETED_WINDOW_MS) {
        answer = await this.getDeleted(from, end).catch((e: unknown) => {
          if (e instanceof SalesforceApiError && e.errorCode === 'INVALID_REPLICATION_DATE') return probe;
          throw e;
        });
      }
      notes.push(
        `Salesforce refused deletions since ${new Date(start).toISOString()} (${err.message}); listed from ${
          answer === probe ? new Date(end - MIN_DELETED_WINDOW_MS).toISOString() : new Date(from as number).toISOString()
        }`,
      );
    }
    const earliest = parseSalesforceTime(answer.earliestDateAvailable);
    if (earliest && earliest.getTime() > floorMinute(start) && notes.length === 0) {
      notes.push(
        `Salesforce keeps deletions only since ${earliest.toISOString()}; earlier ones since ${since.toISOString()} may be missing`,
      );
    }
    if (notes.length > 0) {
      this.lastDeletedWindowNote = `${notes.join('; ')}. The next full sync reconciles Contacts deleted meanwhile.`;
      this.logger.warn('salesforce: deleted Contacts not fully listed', {
        integrationId: this.integrationId,
        since: since.toISOString(),
        note: this.lastDeletedWindowNote,
      });
    }
    const out: { provider: string; externalId: string }[] = [];
    for (const r of Array.isArray(answer.deletedRecords) ? (answer.deletedRecords as unknown[]) : []) {
      const id = salesforceId((r as { id?: unknown } | null)?.id);
      if (id) out.push({ provider: SALESFORCE_PROVIDER, externalId: id });
    }
    return out;
  }

  /**
   * `SELECT Id FROM Contact WHERE Id IN (...)`, 200 ids a query; a deleted Contact (in the
   * recycle bin or purged) is not found. An id that is not a Salesforce id cannot be asked
   * about, so it counts as existing.
   */
  async stillExisting(people: { provider: string; externalId: string }[]): Promise<{ provider: string; externalId: string }[]> {
    const ids = [...new Set(people.filter((p) => p.provider === SALESFORCE_PROVIDER).map((p) => salesforceId(p.externalId)))].filter(
      (id): id is string => id !== null,
    );
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      const list = ids
        .slice(i, i + IDS_PER_QUERY)
        .map(soqlString)
        .join(', ');
      let data = await this.query(`SELECT Id FROM Contact WHERE Id IN (${list})`);
      for (;;) {
        for (const r of recordsOf(data)) {
          const id = salesforceId(r.Id);
          if (id) found.add(idKey(id));
        }
        const next = this.nextOf(data);
        if (!next) break;
        data = await this.get<QueryAnswer>(next);
      }
    }
    return people.filter((p) => {
      if (p.provider !== SALESFORCE_PROVIDER) return true;
      const id = salesforceId(p.externalId);
      return id === null || found.has(idKey(id));
    });
  }

  // ---- internals ----

  /** The same query again, from just after the last record returned (or from its start). */
  private async restart(cursor: Cursor): Promise<PersonPage> {
    let where: string | null;
    if (cursor.t && cursor.i) {
      where = `(LastModifiedDate > ${cursor.t}) OR (LastModifiedDate = ${cursor.t} AND Id > ${soqlString(cursor.i)})`;
    } else {
      where = cursor.s ? `LastModifiedDate >= ${cursor.s}` : null;
    }
    const data = await this.query(contactQuery(where), true);
    return this.page(data, cursor.s, false);
  }

  private page(data: QueryAnswer, since: string | null, first: boolean): PersonPage {
    const records = recordsOf(data);
    const people = records.map(mapContact).filter((p): p is PersonRecord => p !== null);
    const next = this.nextOf(data);
    let cursor: Cursor | null = null;
    if (next) {
      const last = records[records.length - 1];
      const at = last ? parseSalesforceTime(last.LastModifiedDate) : null;
      const id = last ? salesforceId(last.Id) : null;
      cursor = { n: next, t: at ? soqlDateTime(at) : null, i: at ? id : null, s: since };
    }
    const total = typeof data.totalSize === 'number' ? data.totalSize : null;
    return {
      records: people,
      nextCursor: cursor ? JSON.stringify(cursor) : null,
      totalPages: first && total !== null ? Math.max(1, Math.ceil(total / this.batchSize)) : null,
    };
  }

  /** The next batch's path, or null when the query is done. Salesforce must give one until then. */
  private nextOf(data: QueryAnswer): string | null {
    if (data.done === true) return null;
    if (typeof data.nextRecordsUrl !== 'string') {
      throw new CrmUnavailableError('Salesforce answered a query that is not done without a nextRecordsUrl');
    }
    return this.locatorPath(data.nextRecordsUrl);
  }

  /**
   * A nextRecordsUrl is followed only as a query locator path on the integration's own host:
   * an absolute URL to anywhere else is never called with the org's token.
   */
  private locatorPath(raw: string): string {
    let path = raw;
    if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(raw)) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new CrmUnavailableError('Salesforce gave a nextRecordsUrl that is not a URL; not followed');
      }
      if (url.origin !== this.origin) {
        throw new CrmUnavailableError(`Salesforce gave a nextRecordsUrl on another host (${url.origin}); not followed`);
      }
      path = url.pathname + url.search;
    }
    if (!/^\/services\/data\/v\d+\.\d\/query\/[A-Za-z0-9]+-\d+$/.test(path)) {
      throw new CrmUnavailableError(`Salesforce gave a nextRecordsUrl that is not a query locator: ${path.slice(0, 120)}`);
    }
    return path;
  }

  private batchHeaders(): Record<string, string> {
    return this.batchSize < MAX_BATCH ? { 'Sforce-Query-Options': `batchSize=${this.batchSize}` } : {};
  }

  private query(soql: string, paged = false): Promise<QueryAnswer> {
    return this.get<QueryAnswer>(`${this.base}/query`, paged ? this.batchHeaders() : {}, { q: soql });
  }

  private getDeleted(start: number, end: number): Promise<DeletedAnswer> {
    return this.get<DeletedAnswer>(`${this.base}/sobjects/Contact/deleted/`, {}, { start: deletedParam(start), end: deletedParam(end) });
  }

  /**
   * A GET whose 400, 403 and 404 come back here (the shared client would make every 403 an
   * authentication failure and drop the errorCode): REQUEST_LIMIT_EXCEEDED is the org's API
   * budget, any other 403 a permission a person must grant, a 400/404 carries its errorCode.
   */
  private async get<T>(path: string, headers: Record<string, string> = {}, params?: Record<string, string>): Promise<T> {
    const res = await this.http.get<T>(path, {
      headers,
      params,
      validateStatus: (s) => (s >= 200 && s < 300) || s === 400 || s === 403 || s === 404,
    });
    if (res.status < 300) return res.data;
    const { errorCode, message } = errorOf(res.data);
    const where = `GET ${path}`;
    if (res.status === 403 && errorCode === 'REQUEST_LIMIT_EXCEEDED') throw this.budget.exceeded(where, message);
    if (res.status === 403) throw new CrmAuthError(`Salesforce refused ${where} (403 ${errorCode}): ${message}`);
    throw new SalesforceApiError(`Salesforce answered ${res.status} ${errorCode} on ${where}: ${message}`, res.status, errorCode);
  }
}
