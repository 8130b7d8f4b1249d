import { randomBytes } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { FakeApiError, FakeServer, loggedBody, type LoggedRequest } from '../shared/fake-server';
import { prng } from '../shared/prng';
import {
  batchStatus,
  checkFields,
  MAX_WRITE_RECORDS,
  parseBody,
  recordError,
  recordsOf,
  requestError,
  WRITABLE,
  type ZohoOutcome,
} from './fake-zoho-writes';
import { FakeZohoWatch } from './fake-zoho-watch';

/**
 * A Zoho CRM of our own for Contacts (fake-crm/zoho/README.md lists each fact followed and its
 * source, and what stays unconfirmed): `Authorization: Zoho-oauthtoken` with Zoho's 401
 * bodies; GET /crm/{v}/Contacts (mandatory `fields`, per_page ≤ 200, page numbers within the
 * first 2,000 records, then `page_token`; If-Modified-Since; `ids=`; 204/304 when empty);
 * GET /crm/{v}/Contacts/deleted; GET /crm/{v}/Contacts/actions/count; GET /crm/{v}/org;
 * GET /crm/{v}/users?type=CurrentUser; the org's API credits (X-API-CREDITS-REMAINING once
 * half are spent, 429 when none are left); and the body of a notification. Writes:
 * POST /crm/{v}/Contacts/upsert, PUT /crm/{v}/Contacts, DELETE /crm/{v}/Contacts?ids=
 * (fake-zoho-writes.ts has the per-record checks), logged in `received`. Watch channels:
 * POST, PATCH, GET and DELETE /crm/{v}/actions/watch (fake-zoho-watch.ts), in `watch`.
 */

// ---- types ----

export interface FakeZohoLookup {
  name: string;
  id: string;
}

export interface FakeZohoContact {
  /** 19 digits, as Zoho's ids; always a string in answers. */
  id: string;
  First_Name: string | null;
  Last_Name: string;
  Email: string | null;
  Phone: string | null;
  Title: string | null;
  Account_Name: FakeZohoLookup | null;
  /** Other written fields (Mobile, Department, custom ones...), by API name. */
  more?: Record<string, string | null>;
  Created_Time: Date;
  Modified_Time: Date;
}

export type FakeZohoDeletedType = 'recycle' | 'permanent';

export interface FakeZohoDeleted {
  id: string;
  display_name: string | null;
  type: FakeZohoDeletedType;
  deleted_time: Date;
  deleted_by: FakeZohoLookup | null;
  created_by: FakeZohoLookup | null;
}

export type ZohoOperation = 'insert' | 'update' | 'delete';

/** The body Zoho posts to a watch channel's notify_url. */
export interface ZohoNotification {
  server_time: number;
  query_params: Record<string, string>;
  module: string;
  resource_uri: string;
  ids: string[];
  affected_fields: string[];
  operation: string;
  channel_id: string;
  token?: string;
}

export interface RequestLogEntry extends LoggedRequest {
  /** The Zoho-oauthtoken sent, or null. */
  token: string | null;
  /** The Authorization header's scheme (`Zoho-oauthtoken`, `Bearer`...), or null. */
  scheme: string | null;
  ifModifiedSince: string | null;
  /** A write's JSON body (parsed), or undefined. */
  body: unknown;
}

/** A write the fake received (after authentication): what a test checks the mapped fields against. */
export interface ReceivedWrite {
  method: string;
  path: string;
  query: Record<string, unknown>;
  body: unknown;
}

export interface FakeZohoOptions {
  /** Contacts generated at start. */
  contacts?: number;
  seed?: number;
  /** The first valid access token; more with addToken(). */
  token?: string;
  /** Also accept these tokens (those a fake OAuth server issued and still honours). */
  acceptToken?: (token: string) => boolean;
  /** The token notification() puts in bodies by default (the watch channel's). */
  webhookToken?: string;
  /** Created_Time of the first generated contact; each next one stepMs later. Default: 30 days ago. */
  epoch?: Date;
  /** At least 1000: Zoho's times have whole seconds. */
  stepMs?: number;
  /** The org's UTC offset, in which every time is written (`+05:30`, `-08:00`). */
  offset?: string;
  /** API credits for the day; null: unlimited (the default). Each call costs one. */
  creditLimit?: number | null;
  /** How long a page_token is honoured (Zoho: 24 hours). */
  pageTokenTtlMs?: number;
  /** API names of custom Contacts fields the org has (writable text fields). */
  customFields?: string[];
}

// ---- constants ----

const MAX_PER_PAGE = 200;
/** Records `page` can reach; past them only `page_token`. */
const DISCRETE_LIMIT = 2000;
/** Records a listing can reach through page tokens. */
const TOKEN_LIMIT = 100_000;
const MAX_FIELDS = 50;
/** Ids one `ids=` call takes (unconfirmed for v8: the README). */
const MAX_IDS = 100;
const SORTABLE = new Set(['id', 'Created_Time', 'Modified_Time']);
const FIELDS = new Set([
  'First_Name',
  'Last_Name',
  'Full_Name',
  'Email',
  'Phone',
  'Title',
  'Account_Name',
  'Created_Time',
  'Modified_Time',
  ...Object.keys(WRITABLE),
]);
const OWNER: FakeZohoLookup = { name: 'Patricia Boyle', id: '5725767000000411001' };
const ORG_ID = '5725767000000020005';

const FIRST = ['Ada', 'Bram', 'Chloe', 'Dmitri', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Keiko', 'Luca', 'Maya', 'Noah'];
const LAST = ['Lovelace', 'Okafor', 'Nguyen', 'García', 'Müller', 'Rossi', 'Tanaka', 'Kowalski', 'Smith', 'Jones', 'Haddad', "O'Brien"];
const ACCOUNTS: FakeZohoLookup[] = [
  { name: 'Acme Corp', id: '5725767000000330001' },
  { name: 'Globex', id: '5725767000000330007' },
  { name: 'Initech', id: '5725767000000330013' },
  { name: 'Umbrella Ltd', id: '5725767000000330019' },
  { name: 'Hooli', id: '5725767000000330025' },
];
const TITLES = ['CEO', 'CFO', 'Engineer', 'Account Manager', 'Designer', 'Analyst'];

const error = (status: number, code: string, message: string, details: Record<string, unknown> = {}) =>
  new FakeApiError(status, { code, details, message, status: 'error' });

/** `2024-01-31T10:00:00+05:30`: whole seconds, in the org's offset, as Zoho writes times. */
export function zohoTime(at: Date, offset = '+05:30'): string {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) throw new Error(`not a UTC offset: ${offset}`);
  const minutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  return `${new Date(at.getTime() + minutes * 60_000).toISOString().slice(0, 19)}${offset}`;
}

/** If-Modified-Since as Zoho documents it (ISO 8601 with an offset; `Z` accepted too), or null. */
function parseHeaderTime(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

const seconds = (ms: number) => Math.floor(ms / 1000) * 1000;

/** A query value as one string (repeated parameters are refused as Zoho would refuse junk). */
function one(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw error(400, 'INVALID_DATA', 'invalid data', { param_name: name });
  return v;
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw error(400, 'INVALID_DATA', 'invalid data', { param_name: name });
  return Number(value);
}

interface Answer {
  status: number;
  body?: unknown;
}

interface PageToken {
  offset: number;
  /** The request's parameters it was issued for: another use is TOKEN_BOUND_DATA_MISMATCH. */
  binding: string;
  expiresAt: number;
}

// ---- the fake ----

export class FakeZoho extends FakeServer<RequestLogEntry> {
  readonly token: string;
  readonly webhookToken: string;
  readonly contacts = new Map<string, FakeZohoContact>();
  readonly deleted: FakeZohoDeleted[] = [];
  /** Every write call, in order (bodies as sent). */
  readonly received: ReceivedWrite[] = [];
  /** The org's accounts (Account_Name lookups); a name not among them creates one (unconfirmed). */
  readonly accounts: FakeZohoLookup[] = ACCOUNTS.map((a) => ({ ...a }));
  readonly customFields: Set<string>;
  readonly offset: string;
  /** The watch channels enabled through /actions/watch. */
  readonly watch: FakeZohoWatch;
  creditLimit: number | null;
  creditsUsed = 0;
  pageTokenTtlMs: number;

  private readonly tokens = new Set<string>();
  private readonly expired = new Set<string>();
  /** Tokens granted only some scopes (the others have every scope). */
  private readonly scopes = new Map<string, Set<string>>();
  private readonly acceptToken?: (token: string) => boolean;
  private readonly pageTokens = new Map<string, PageToken>();
  private readonly random: () => number;
  private nextId = 5725767000000200000n;
  private clock: number;
  private readonly stepMs: number;

  constructor(opts: FakeZohoOptions = {}) {
    super({ name: 'Zoho CRM', textBodies: true });
    this.customFields = new Set(opts.customFields ?? []);
    this.token = opts.token ?? '1000.fakezohoaccesstoken.0123456789abcdef';
    this.tokens.add(this.token);
    this.acceptToken = opts.acceptToken;
    this.webhookToken = opts.webhookToken ?? 'zoho-watch-token-0123456789';
    this.offset = opts.offset ?? '+05:30';
    zohoTime(new Date(), this.offset); // refuses a malformed offset now, not at the first answer
    this.creditLimit = opts.creditLimit ?? null;
    this.pageTokenTtlMs = opts.pageTokenTtlMs ?? 24 * 3_600_000;
    this.random = prng(opts.seed ?? 42);
    this.stepMs = Math.max(1000, seconds(opts.stepMs ?? 1000));
    this.clock = seconds((opts.epoch ?? new Date(Date.now() - 30 * 86_400_000)).getTime()) - this.stepMs;
    this.addContacts(opts.contacts ?? 0);
    this.watch = new FakeZohoWatch((at) => zohoTime(at, this.offset));
  }

  protected override requestDetails(req: Request): Omit<RequestLogEntry, keyof LoggedRequest> {
    const header = req.get('authorization')?.trim() ?? '';
    const m = /^(\S+)\s+(.+)$/.exec(header);
    return {
      token: m && m[1].toLowerCase() === 'zoho-oauthtoken' ? m[2] : null,
      scheme: m ? m[1] : null,
      ifModifiedSince: req.get('if-modified-since') ?? null,
      body: loggedBody(req),
    };
  }

  /** An injected 429 is Zoho's TOO_MANY_REQUESTS; anything else its INTERNAL_ERROR. */
  protected failureBody(status: number): unknown {
    if (status === 429) return { code: 'TOO_MANY_REQUESTS', details: {}, message: 'too many requests', status: 'error' };
    return { code: 'INTERNAL_ERROR', details: {}, message: 'Internal Server Error', status: 'error' };
  }

  protected routes(app: Express): void {
    app.disable('x-powered-by');
    app.use((req, res, next) => this.authenticate(req, res, next));
    app.use((req, res) => {
      let answer: Answer;
      try {
        answer = this.route(req);
      } catch (err) {
        if (!(err instanceof FakeApiError)) throw err;
        answer = { status: err.status, body: err.body };
      }
      if (answer.body === undefined) res.status(answer.status).end();
      else res.status(answer.status).json(answer.body);
    });
  }

  // ---- auth and credits ----

  /**
   * Another valid token (the access token an OAuth refresh hands out). With `scopes`, the
   * token has only those: a watch call without a ZohoCRM.notifications scope is 401
   * OAUTH_SCOPE_MISMATCH (a connection made before the service asked for it).
   */
  addToken(token: string, scopes?: string[]): void {
    this.tokens.add(token);
    this.expired.delete(token);
    if (scopes) this.scopes.set(token, new Set(scopes));
    else this.scopes.delete(token);
  }

  /** The token stops working: 401 INVALID_TOKEN, as Zoho answers for an expired access token. */
  expireToken(token: string = this.token): void {
    this.tokens.delete(token);
    this.expired.add(token);
  }

  /** Every page_token issued so far is past its expiry (a run resumed a day later). */
  expirePageTokens(): void {
    for (const t of this.pageTokens.values()) t.expiresAt = 0;
  }

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const header = req.get('authorization')?.trim();
    if (!header) {
      res.status(401).json({ code: 'AUTHENTICATION_FAILURE', details: {}, message: 'Authentication failed', status: 'error' });
      return;
    }
    const m = /^Zoho-oauthtoken\s+(\S+)$/i.exec(header);
    const token = m?.[1];
    if (!token || this.expired.has(token) || !(this.tokens.has(token) || this.acceptToken?.(token))) {
      res.status(401).json({ code: 'INVALID_TOKEN', details: {}, message: 'invalid oauth token', status: 'error' });
      return;
    }
    if (this.creditLimit !== null) {
      if (this.creditsUsed >= this.creditLimit) {
        res.setHeader('X-API-CREDITS-REMAINING', '0');
        res.status(429).json({ code: 'TOO_MANY_REQUESTS', details: {}, message: 'API credits exhausted', status: 'error' });
        return;
      }
      this.creditsUsed++;
      // Zoho reports the remaining credits once half of the day's are spent.
      if (this.creditsUsed * 2 >= this.creditLimit) res.setHeader('X-API-CREDITS-REMAINING', String(this.creditLimit - this.creditsUsed));
    }
    next();
  }

  // ---- routing ----

  private route(req: Request): Answer {
    const m = /^\/crm\/(v\d+(?:\.\d+)?)\/(.+?)\/?$/.exec(req.path);
    if (!m) throw error(404, 'INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one');
    const [, version, rest] = m;
    if (Number(version.slice(1)) < 2 || Number(version.slice(1)) > 8) {
      throw error(404, 'INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one');
    }
    if (rest === 'actions/watch') {
      this.requireScope(req, 'ZohoCRM.notifications.');
      const body = req.method === 'POST' || req.method === 'PATCH' ? parseBody(req.body) : undefined;
      if (req.method !== 'GET') this.received.push({ method: req.method, path: req.path, query: { ...req.query }, body });
      return this.watch.handle(req.method, req.query, body);
    }
    if (req.method !== 'GET') return this.write(req, rest);
    if (rest === 'org') return { status: 200, body: { org: [this.org()] } };
    if (rest === 'users') return this.users(req);
    const [module, ...more] = rest.split('/');
    if (module !== 'Contacts') throw error(400, 'INVALID_MODULE', 'the module name given seems to be invalid', { resource_path_index: 0 });
    const sub = more.join('/');
    if (sub === '') return this.list(req, version);
    if (sub === 'deleted') return this.listDeleted(req);
    if (sub === 'actions/count') return { status: 200, body: { count: this.contacts.size } };
    if (/^\d{1,25}$/.test(sub)) {
      const c = this.contacts.get(sub);
      return c ? { status: 200, body: { data: [this.render(c, null)] } } : { status: 204 };
    }
    throw error(404, 'INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one');
  }

  /** 401 OAUTH_SCOPE_MISMATCH (Zoho's body) when the token was granted no scope under `prefix`. */
  private requireScope(req: Request, prefix: string): void {
    const token = /^Zoho-oauthtoken\s+(\S+)$/i.exec(req.get('authorization')?.trim() ?? '')?.[1];
    const granted = token === undefined ? undefined : this.scopes.get(token);
    if (granted && ![...granted].some((s) => s.startsWith(prefix))) {
      throw new FakeApiError(401, { code: 'OAUTH_SCOPE_MISMATCH', message: 'Unauthorized', status: 'error' });
    }
  }

  private org() {
    return {
      id: ORG_ID,
      company_name: 'Zylker Fake Co',
      domain_name: 'org808232144',
      type: 'production',
      time_zone: 'Asia/Kolkata',
      currency: 'US Dollar - USD',
      country_code: 'IN',
      primary_zuid: '808233918',
      zgid: '808232144',
      primary_email: 'admin@zylker.example',
      license_details: { paid: true, paid_type: 'enterprise', users_license_purchased: 10, trial_type: null, trial_expiry: null },
      created_time: zohoTime(new Date(this.clock - 365 * 86_400_000), this.offset),
    };
  }

  private users(req: Request): Answer {
    if (one(req, 'type') !== 'CurrentUser') throw error(400, 'INVALID_DATA', 'only type=CurrentUser is served by this fake');
    return {
      status: 200,
      body: {
        users: [
          {
            id: OWNER.id,
            full_name: OWNER.name,
            email: 'p.boyle@zylker.example',
            status: 'active',
            role: { name: 'CEO', id: '5725767000000026005' },
            profile: { name: 'Administrator', id: '5725767000000026011' },
            time_zone: 'Asia/Kolkata',
          },
        ],
        info: { per_page: 200, count: 1, page: 1, more_records: false },
      },
    };
  }

  // ---- Contacts ----

  private list(req: Request, version: string): Answer {
    if (one(req, 'ids') !== undefined) return this.byIds(req);
    const fieldsParam = one(req, 'fields');
    // Mandatory from v5 on; this fake asks it of every version.
    if (!fieldsParam) {
      throw error(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'fields' });
    }
    const fields = this.fields(fieldsParam);
    const perPage = Math.min(positiveInt(one(req, 'per_page'), 'per_page') ?? MAX_PER_PAGE, MAX_PER_PAGE);
    const pageParam = one(req, 'page');
    const tokenParam = one(req, 'page_token');
    if (pageParam !== undefined && tokenParam !== undefined) {
      throw error(400, 'AMBIGUITY_DURING_PROCESSING', 'You cannot use both page and page_token', {
        ambiguity_due_to: ['page', 'page_token'],
      });
    }
    const sortBy = one(req, 'sort_by') ?? 'id';
    if (!SORTABLE.has(sortBy)) throw error(400, 'INVALID_DATA', 'invalid data', { param_name: 'sort_by', supported_values: [...SORTABLE] });
    const sortOrder = one(req, 'sort_order') ?? 'desc';
    if (sortOrder !== 'asc' && sortOrder !== 'desc') throw error(400, 'INVALID_DATA', 'invalid data', { param_name: 'sort_order' });
    const imsHeader = req.get('if-modified-since');
    const since = imsHeader === undefined ? null : parseHeaderTime(imsHeader);
    if (imsHeader !== undefined && since === null) throw error(400, 'INVALID_DATA', 'invalid data', { header_name: 'If-Modified-Since' });

    const binding = JSON.stringify([version, fieldsParam, perPage, sortBy, sortOrder, imsHeader ?? null]);
    let offset: number;
    if (tokenParam !== undefined) {
      const t = this.pageTokens.get(tokenParam);
      if (!t) throw error(400, 'INVALID_DATA', 'The token given seems to be invalid', { param_name: 'page_token' });
      if (t.expiresAt <= Date.now()) throw error(400, 'EXPIRED_VALUE', 'The token given has expired', { param_name: 'page_token' });
      if (t.binding !== binding) {
        throw error(
          400,
          'TOKEN_BOUND_DATA_MISMATCH',
          'The page_token given seems to be invalid or input param is added, altered, or deleted',
          {
            param_name: 'page_token',
          },
        );
      }
      offset = t.offset;
    } else {
      const page = positiveInt(pageParam, 'page') ?? 1;
      // A page reaching past the 2,000th record needs page_token.
      if (page * perPage > DISCRETE_LIMIT) {
        throw error(400, 'DISCRETE_PAGINATION_LIMIT_EXCEEDED', 'You can only get the first 2000 records without using page_token param', {
          limit: DISCRETE_LIMIT,
        });
      }
      offset = (page - 1) * perPage;
    }
    if (offset >= TOKEN_LIMIT) {
      throw error(400, 'PAGINATION_LIMIT_EXCEEDED', 'You can only get up to first 100000 records using page_token param', {
        limit: TOKEN_LIMIT,
      });
    }

    const matching = this.sorted(sortBy, sortOrder).filter((c) => since === null || c.Modified_Time.getTime() > seconds(since));
    // Nothing modified since If-Modified-Since: 304; nothing at all: 204. Both without a body.
    if (matching.length === 0) return { status: since !== null ? 304 : 204 };
    const slice = matching.slice(offset, offset + perPage);
    if (slice.length === 0) return { status: 204 };
    const more = offset + perPage < matching.length;
    const expiry = Date.now() + this.pageTokenTtlMs;
    return {
      status: 200,
      body: {
        data: slice.map((c) => this.render(c, fields)),
        info: {
          call: false,
          per_page: perPage,
          next_page_token: more ? this.issue(offset + perPage, binding, expiry) : null,
          count: slice.length,
          sort_by: sortBy,
          page: Math.floor(offset / perPage) + 1,
          previous_page_token: offset > 0 ? this.issue(Math.max(0, offset - perPage), binding, expiry) : null,
          page_token_expiry: zohoTime(new Date(expiry), this.offset),
          sort_order: sortOrder,
          email: false,
          more_records: more,
        },
      },
    };
  }

  /** GET /Contacts?ids=a,b,c: those records that exist, in the order asked; none: 204. */
  private byIds(req: Request): Answer {
    const ids = (one(req, 'ids') ?? '').split(',').map((s) => s.trim());
    if (ids.length === 0 || ids.some((id) => !/^\d{1,25}$/.test(id)))
      throw error(400, 'INVALID_DATA', 'invalid data', { param_name: 'ids' });
    if (ids.length > MAX_IDS) throw error(400, 'LIMIT_EXCEEDED', 'too many ids', { param_name: 'ids', limit: MAX_IDS });
    const fieldsParam = one(req, 'fields');
    const fields = fieldsParam ? this.fields(fieldsParam) : null;
    const found = [...new Set(ids)].flatMap((id) => {
      const c = this.contacts.get(id);
      return c ? [this.render(c, fields)] : [];
    });
    if (found.length === 0) return { status: 204 };
    return { status: 200, body: { data: found, info: { per_page: MAX_PER_PAGE, count: found.length, page: 1, more_records: false } } };
  }

  /** GET /Contacts/deleted?type=all|recycle|permanent, newest deletion first, If-Modified-Since on deleted_time. */
  private listDeleted(req: Request): Answer {
    const type = one(req, 'type') ?? 'all';
    if (type !== 'all' && type !== 'recycle' && type !== 'permanent') {
      throw error(400, 'PATTERN_NOT_MATCHED', 'Please check whether the input values are correct', { param_name: 'type' });
    }
    const perPage = Math.min(positiveInt(one(req, 'per_page'), 'per_page') ?? MAX_PER_PAGE, MAX_PER_PAGE);
    const page = positiveInt(one(req, 'page'), 'page') ?? 1;
    const imsHeader = req.get('if-modified-since');
    const since = imsHeader === undefined ? null : parseHeaderTime(imsHeader);
    if (imsHeader !== undefined && since === null) throw error(400, 'INVALID_DATA', 'invalid data', { header_name: 'If-Modified-Since' });
    const rows = this.deleted
      .filter((d) => type === 'all' || d.type === type)
      .filter((d) => since === null || d.deleted_time.getTime() > seconds(since))
      .sort((a, b) => b.deleted_time.getTime() - a.deleted_time.getTime() || (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
    const slice = rows.slice((page - 1) * perPage, page * perPage);
    if (slice.length === 0) return { status: 204 };
    return {
      status: 200,
      body: {
        data: slice.map((d) => ({
          deleted_by: d.deleted_by,
          id: d.id,
          display_name: d.display_name,
          type: d.type,
          created_by: d.created_by,
          deleted_time: zohoTime(d.deleted_time, this.offset),
        })),
        info: { per_page: perPage, count: slice.length, page, more_records: page * perPage < rows.length },
      },
    };
  }

  private fields(param: string): Set<string> {
    const names = param
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (names.length > MAX_FIELDS) throw error(400, 'LIMIT_EXCEEDED', 'fields limit exceeded', { param: 'fields', limit: MAX_FIELDS });
    // Unknown names are ignored (unconfirmed: the README).
    return new Set(names.filter((n) => FIELDS.has(n) || this.customFields.has(n)));
  }

  /**
   * The contacts in list order, kept until a contact changes: sorting 100,000 of them for
   * every page made the fake, not the service, the slow part of a benchmark.
   */
  private sorted(sortBy: string, order: 'asc' | 'desc'): FakeZohoContact[] {
    const cacheKey = `${sortBy}:${order}`;
    if (this.sortedRevision !== this.revision) {
      this.sortedCache.clear();
      this.sortedRevision = this.revision;
    }
    const cached = this.sortedCache.get(cacheKey);
    if (cached) return cached;
    const key = (c: FakeZohoContact) =>
      sortBy === 'Created_Time' ? c.Created_Time.getTime() : sortBy === 'Modified_Time' ? c.Modified_Time.getTime() : 0;
    // Ids are 19 digits: same length, so comparing the strings compares the numbers.
    const byId = (a: FakeZohoContact, b: FakeZohoContact) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const sign = order === 'asc' ? 1 : -1;
    const list = [...this.contacts.values()].sort((a, b) => sign * (key(a) - key(b) || byId(a, b)));
    this.sortedCache.set(cacheKey, list);
    return list;
  }

  /** Bumped by every change to the contacts (the sorted lists are rebuilt after one). */
  private revision = 0;
  private sortedRevision = -1;
  private readonly sortedCache = new Map<string, FakeZohoContact[]>();

  private issue(offset: number, binding: string, expiresAt: number): string {
    const token = randomBytes(12).toString('hex');
    this.pageTokens.set(token, { offset, binding, expiresAt });
    return token;
  }

  /** A record as Zoho answers it: the fields asked (all when `fields` is null), `id` always, times in the org's offset. */
  private render(c: FakeZohoContact, fields: Set<string> | null): Record<string, unknown> {
    const all: Record<string, unknown> = {
      First_Name: c.First_Name,
      Last_Name: c.Last_Name,
      Full_Name: [c.First_Name, c.Last_Name].filter(Boolean).join(' '),
      Email: c.Email,
      Phone: c.Phone,
      Title: c.Title,
      Account_Name: c.Account_Name ? { ...c.Account_Name } : null,
      Created_Time: zohoTime(c.Created_Time, this.offset),
      Modified_Time: zohoTime(c.Modified_Time, this.offset),
    };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries({ ...all, ...c.more })) if (fields === null || fields.has(k)) out[k] = v;
    out.id = c.id;
    return out;
  }

  // ---- writes ----

  /** POST .../Contacts/upsert, PUT .../Contacts, DELETE .../Contacts?ids=; any other non-GET is Zoho's 400. */
  private write(req: Request, rest: string): Answer {
    const [module, ...more] = rest.split('/');
    const sub = more.join('/');
    const route = `${req.method} ${sub}`;
    if (!['POST upsert', 'PUT ', 'DELETE '].includes(route)) {
      throw error(400, 'INVALID_REQUEST_METHOD', 'The http request method type is not a valid one');
    }
    if (module !== 'Contacts') throw error(400, 'INVALID_MODULE', 'the module name given seems to be invalid', { resource_path_index: 0 });
    const body = req.method === 'DELETE' ? undefined : parseBody(req.body);
    this.received.push({ method: req.method, path: req.path, query: { ...req.query }, body });
    if (req.method === 'DELETE') return this.deleteRecords(req);
    const records = recordsOf(body);
    const outcomes =
      req.method === 'PUT' ? records.map((r, i) => this.updateRecord(r, i)) : this.upsertRecords(records, body as Record<string, unknown>);
    return { status: batchStatus(outcomes), body: { data: outcomes } };
  }

  /** Each record matched by the first duplicate check field it has a value for (Contacts: Email), else inserted. */
  private upsertRecords(records: Record<string, unknown>[], body: Record<string, unknown>): ZohoOutcome[] {
    const given = body.duplicate_check_fields;
    if (given !== undefined && (!Array.isArray(given) || given.some((f) => typeof f !== 'string'))) {
      throw requestError(400, 'INVALID_DATA', 'invalid data', { api_name: 'duplicate_check_fields' });
    }
    const checks = (given as string[] | undefined) ?? ['Email'];
    return records.map((record, i) => {
      const field = checks.find((f) => typeof record[f] === 'string' && record[f] !== '');
      const value = field ? String(record[field]).toLowerCase() : null;
      const match =
        field && value !== null ? this.contactsIn().find((c) => String(this.fieldOf(c, field) ?? '').toLowerCase() === value) : undefined;
      if (match) return this.updateRecord({ ...record, id: match.id }, i, field);
      return this.insertRecord(record, i);
    });
  }

  private insertRecord(record: Record<string, unknown>, i: number): ZohoOutcome {
    const checked = checkFields(record, i, this.customFields);
    if ('error' in checked) return checked.error;
    const fields = checked.fields;
    if (typeof fields.Last_Name !== 'string' || fields.Last_Name.trim() === '') {
      return recordError('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'Last_Name', json_path: `$.data[${i}].Last_Name` });
    }
    const account = this.accountOf(record, i);
    if (account && 'error' in account) return account.error;
    const at = this.tick();
    this.nextId += 1n;
    const c: FakeZohoContact = {
      id: String(this.nextId),
      First_Name: null,
      Last_Name: '',
      Email: null,
      Phone: null,
      Title: null,
      Account_Name: account ? account.lookup : null,
      Created_Time: at,
      Modified_Time: at,
    };
    this.assign(c, fields);
    this.contacts.set(c.id, c);
    this.revision++;
    return this.success(c, 'record added', { action: 'insert', duplicate_field: null });
  }

  /** PUT's records (and an upsert's match): an id Zoho does not have is INVALID_DATA; null clears a field. */
  private updateRecord(record: Record<string, unknown>, i: number, duplicateField?: string): ZohoOutcome {
    const id = typeof record.id === 'string' ? record.id : undefined;
    if (id === undefined)
      return recordError('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'id', json_path: `$.data[${i}].id` });
    const c = this.contacts.get(id);
    if (!c) return recordError('INVALID_DATA', 'the id given seems to be invalid', { api_name: 'id', json_path: `$.data[${i}].id` });
    const checked = checkFields(record, i, this.customFields);
    if ('error' in checked) return checked.error;
    if ('Last_Name' in checked.fields && !checked.fields.Last_Name) {
      return recordError('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'Last_Name', json_path: `$.data[${i}].Last_Name` });
    }
    const account = this.accountOf(record, i);
    if (account && 'error' in account) return account.error;
    this.assign(c, checked.fields);
    if (account) c.Account_Name = account.lookup;
    c.Modified_Time = this.tick();
    this.revision++;
    return duplicateField
      ? this.success(c, 'record updated', { action: 'update', duplicate_field: duplicateField })
      : this.success(c, 'record updated', {});
  }

  /** DELETE ?ids=: each to the recycle bin; an id Zoho does not have is "record not deleted". */
  private deleteRecords(req: Request): Answer {
    const param = one(req, 'ids');
    if (!param) throw requestError(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'ids' });
    const ids = param.split(',').map((s) => s.trim());
    if (ids.some((id) => !/^\d{1,25}$/.test(id))) throw requestError(400, 'INVALID_DATA', 'invalid data', { param_name: 'ids' });
    if (ids.length > MAX_WRITE_RECORDS)
      throw requestError(400, 'LIMIT_EXCEEDED', 'the record limit has been exceeded', { limit: MAX_WRITE_RECORDS });
    const outcomes = ids.map((id) => {
      if (!this.contacts.has(id)) return recordError('INVALID_DATA', 'record not deleted', { id });
      this.deleteContact(id, 'recycle');
      return { code: 'SUCCESS', details: { id }, message: 'record deleted', status: 'success' };
    });
    return { status: batchStatus(outcomes), body: { data: outcomes } };
  }

  /** Account_Name as a lookup: `{id}` of an account the org has, or `{name}` (matched, else created; unconfirmed). */
  private accountOf(record: Record<string, unknown>, i: number): { lookup: FakeZohoLookup | null } | { error: ZohoOutcome } | null {
    if (!('Account_Name' in record)) return null;
    const v = record.Account_Name;
    if (v === null) return { lookup: null };
    const invalid = {
      error: recordError('INVALID_DATA', 'invalid data', { api_name: 'Account_Name', json_path: `$.data[${i}].Account_Name` }),
    };
    const given = typeof v === 'string' ? { name: v } : v && typeof v === 'object' ? (v as { id?: unknown; name?: unknown }) : null;
    if (!given) return invalid;
    if (given.id !== undefined) {
      const found = this.accounts.find((a) => a.id === given.id);
      return found ? { lookup: { ...found } } : invalid;
    }
    if (typeof given.name !== 'string' || given.name.trim() === '') return invalid;
    const name = given.name.trim();
    let found = this.accounts.find((a) => a.name.toLowerCase() === name.toLowerCase());
    if (!found) {
      found = { name, id: String(5725767000000330001n + BigInt(this.accounts.length) * 6n) };
      this.accounts.push(found);
    }
    return { lookup: { ...found } };
  }

  private assign(c: FakeZohoContact, fields: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(fields)) {
      const v = value as string | null;
      if (name === 'First_Name' || name === 'Email' || name === 'Phone' || name === 'Title') c[name] = v;
      else if (name === 'Last_Name') c.Last_Name = v ?? c.Last_Name;
      else c.more = { ...c.more, [name]: v };
    }
  }

  private fieldOf(c: FakeZohoContact, field: string): unknown {
    return Object.hasOwn(c, field) ? (c as unknown as Record<string, unknown>)[field] : c.more?.[field];
  }

  private success(c: FakeZohoContact, message: string, extra: Record<string, unknown>): ZohoOutcome {
    return {
      code: 'SUCCESS',
      ...extra,
      details: {
        Modified_Time: zohoTime(c.Modified_Time, this.offset),
        Modified_By: { ...OWNER },
        Created_Time: zohoTime(c.Created_Time, this.offset),
        id: c.id,
        Created_By: { ...OWNER },
      },
      message,
      status: 'success',
    };
  }

  // ---- data (test helpers) ----

  /** The fake's clock: the last time it stamped (whole seconds, never behind the real clock for changes). */
  now(): Date {
    return new Date(this.clock);
  }

  /** A later second than any stamped yet, and not before now. */
  private tick(): Date {
    this.clock = Math.max(seconds(Date.now()), this.clock + 1000);
    return new Date(this.clock);
  }

  contact(id: string): FakeZohoContact {
    const c = this.contacts.get(id);
    if (!c) throw new Error(`fake Zoho has no contact ${id}`);
    return c;
  }

  /** The contacts, by id ascending. */
  contactsIn(): FakeZohoContact[] {
    return [...this.sorted('id', 'asc')];
  }

  addContacts(n: number): FakeZohoContact[] {
    const out: FakeZohoContact[] = [];
    for (let i = 0; i < n; i++) {
      this.clock += this.stepMs;
      out.push(this.generate(new Date(this.clock)));
    }
    return out;
  }

  /** A new contact created now, with the fields given (the rest generated). */
  addContact(fields: Partial<Omit<FakeZohoContact, 'id' | 'Created_Time' | 'Modified_Time'>> = {}): FakeZohoContact {
    const c = this.generate(this.tick());
    Object.assign(c, fields);
    this.revision++;
    return c;
  }

  /** Changes fields and stamps Modified_Time (a later second than any before). */
  updateContact(id: string, changes: Partial<Omit<FakeZohoContact, 'id' | 'Created_Time' | 'Modified_Time'>>): FakeZohoContact {
    const c = this.contact(id);
    Object.assign(c, changes, { Modified_Time: this.tick() });
    this.revision++;
    return c;
  }

  /** Deletes a contact: to the recycle bin (Zoho's default), or for good. It is listed under /deleted from then on. */
  deleteContact(id: string, type: FakeZohoDeletedType = 'recycle'): FakeZohoDeleted {
    const c = this.contact(id);
    this.contacts.delete(id);
    this.revision++;
    const entry: FakeZohoDeleted = {
      id,
      // Zoho keeps no name for a permanently deleted record.
      display_name: type === 'recycle' ? (c.Last_Name ?? null) : null,
      type,
      deleted_time: this.tick(),
      deleted_by: type === 'recycle' ? { ...OWNER } : null,
      created_by: type === 'recycle' ? { ...OWNER } : null,
    };
    this.deleted.push(entry);
    return entry;
  }

  /**
   * The body Zoho would post for `operation` on `ids` (its "Enable Notifications" page's
   * sample): the channel's token unless another is given (null: none at all).
   */
  notification(
    ids: string[],
    operation: ZohoOperation | string,
    token: string | null = this.webhookToken,
    opts: { module?: string; channelId?: string; serverTime?: number } = {},
  ): ZohoNotification {
    const module = opts.module ?? 'Contacts';
    return {
      server_time: opts.serverTime ?? Date.now(),
      query_params: {},
      module,
      resource_uri: `https://www.zohoapis.com/crm/v8/${module}`,
      ids: [...ids],
      affected_fields: [],
      operation,
      channel_id: opts.channelId ?? '1000000068001',
      ...(token === null ? {} : { token }),
    };
  }

  private generate(at: Date): FakeZohoContact {
    const r = this.random;
    this.nextId += BigInt(1 + Math.floor(r() * 3));
    const id = String(this.nextId);
    const first = FIRST[Math.floor(r() * FIRST.length)];
    const last = LAST[Math.floor(r() * LAST.length)];
    const local = `${first}.${last}.${id.slice(-6)}`
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9.]/g, '');
    const c: FakeZohoContact = {
      id,
      // One in ten has no first name, one in twenty no email: Zoho requires only Last_Name.
      First_Name: r() < 0.1 ? null : first,
      Last_Name: last,
      Email: r() < 0.05 ? null : `${local}@example.com`,
      Phone: r() < 0.3 ? null : `+1 555 ${String(1000 + Math.floor(r() * 9000))}`,
      Title: r() < 0.2 ? null : TITLES[Math.floor(r() * TITLES.length)],
      Account_Name: r() < 0.15 ? null : { ...ACCOUNTS[Math.floor(r() * ACCOUNTS.length)] },
      Created_Time: at,
      Modified_Time: at,
    };
    this.contacts.set(id, c);
    this.revision++;
    return c;
  }
}
