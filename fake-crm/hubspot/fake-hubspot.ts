import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { bearer, FakeApiError, FakeServer, jsonRoute, loggedBody, type LoggedRequest } from '../shared/fake-server';
import { prng } from '../shared/prng';

/**
 * A HubSpot CRM v3 of our own for contacts and webhooks (fake-crm/hubspot/README.md lists
 * every fact followed here and where it comes from, and what stays unconfirmed):
 * bearer auth with HubSpot's 401 bodies, GET /crm/v3/objects/contacts (opaque `after`,
 * archived listing), POST .../search (filterGroups, one sort, limit ≤ 200, 10,000-result
 * cap), POST .../batch/read (207 for missing ids), POST .../batch/create|update|upsert|archive
 * (the writes a push makes: 100 inputs a call, unique emails, per-record errors as 207 when
 * every input carries an objectWriteTraceId), GET /account-info/v3/details, the
 * ten-secondly rate limit with X-HubSpot-RateLimit-* headers, and signed v3 webhooks.
 */

// ---- webhook signature v3 (exported so the service's verifier can be cross-checked) ----

/** The percent-escapes HubSpot's v3 rules decode in the request URI before signing. */
const V3_DECODED: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

/** The URI as HubSpot signs it: the twelve listed escapes decoded, every other one kept. */
export function hubspotV3Uri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => V3_DECODED[m.toUpperCase()]);
}

export interface SignV3Input {
  method: string;
  /** The full URL HubSpot called (scheme, host, path, query), as configured in the app. */
  url: string;
  /** The raw request body, exactly as sent. */
  body: string;
  /** Epoch milliseconds; sent in X-HubSpot-Request-Timestamp. */
  timestamp: number | string;
  appSecret: string;
}

/** base64(HMAC-SHA256(appSecret, method + uri + body + timestamp)), UTF-8 throughout. */
export function hubspotSignatureV3(input: SignV3Input): string {
  const source = `${input.method.toUpperCase()}${hubspotV3Uri(input.url)}${input.body}${input.timestamp}`;
  return createHmac('sha256', input.appSecret).update(source, 'utf8').digest('base64');
}

/** The two headers HubSpot sends with a v3-signed request. */
export function signV3(input: SignV3Input): { 'X-HubSpot-Signature-v3': string; 'X-HubSpot-Request-Timestamp': string } {
  return { 'X-HubSpot-Signature-v3': hubspotSignatureV3(input), 'X-HubSpot-Request-Timestamp': String(input.timestamp) };
}

/** The legacy v1 signature HubSpot still sends beside v3 on webhook deliveries: hex SHA-256(secret + body). */
export function hubspotSignatureV1(appSecret: string, body: string): string {
  return createHash('sha256')
    .update(appSecret + body, 'utf8')
    .digest('hex');
}

// ---- types ----

export interface FakeHubSpotContact {
  /** A string of digits, as HubSpot sends ids. */
  id: string;
  /** Stored property values (all strings or null); createdate, lastmodifieddate and hs_object_id are derived. */
  properties: Record<string, string | null>;
  createdAt: Date;
  updatedAt: Date;
  archivedAt: Date | null;
}

export type HubSpotSubscriptionType =
  'contact.creation' | 'contact.propertyChange' | 'contact.deletion' | 'contact.restore' | 'contact.privacyDeletion';

export interface HubSpotWebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: HubSpotSubscriptionType;
  attemptNumber: number;
  objectId: number;
  changeSource?: string;
  changeFlag?: string;
  propertyName?: string;
  propertyValue?: string;
  sourceId?: string;
}

export interface WebhookEventSpec {
  type: HubSpotSubscriptionType;
  objectId: string | number;
  propertyName?: string;
  propertyValue?: string | null;
  occurredAt?: number | Date;
  attemptNumber?: number;
  changeSource?: string;
  sourceId?: string;
}

export interface DeliverOptions {
  /** The URL signed, when HubSpot's configured targetUrl differs from where the request lands (a proxy). */
  signedUrl?: string;
  /** Default: now (HubSpot signs each attempt when it sends it). */
  timestamp?: number;
  /** Sign with this secret instead of the fake's (to test rejection). */
  appSecret?: string;
  /** Send this body instead of the signed one (to test tampering). */
  tamperBody?: string;
}

/** One input of a batch write, as received (create, update, upsert, archive). */
export interface ReceivedWrite {
  endpoint: WriteEndpoint;
  input: Record<string, unknown>;
  at: number;
}

export type WriteEndpoint = 'create' | 'update' | 'upsert' | 'archive';

export interface RequestLogEntry extends LoggedRequest {
  body: unknown;
  token: string | null;
}

export interface FakeHubSpotOptions {
  /** Contacts generated at start. */
  contacts?: number;
  seed?: number;
  /** The first valid access token; more with addToken(). */
  token?: string;
  portalId?: number;
  appId?: number;
  /** The app's client secret that signs webhooks. */
  appSecret?: string;
  /** createdate of the first generated contact; each next one is stepMs later. Default: 30 days ago. */
  epoch?: Date;
  stepMs?: number;
  /** Id of the first generated contact; later ids grow by 1 to 3 (HubSpot ids are not contiguous). */
  firstId?: number;
  /** Requests per interval per token (HubSpot: 100 per 10 s for a private app on a free/starter portal). */
  rateLimitMax?: number;
  rateLimitIntervalMs?: number;
  /** Daily budget reported in X-HubSpot-RateLimit-Daily; null omits the daily headers (OAuth apps). */
  dailyLimit?: number | null;
  /** Search requests per second for the portal (HubSpot: 5); 0 turns the search limit off. */
  searchPerSecond?: number;
  /** Results one search query can page through (HubSpot: 10,000). */
  searchResultCap?: number;
  /** Changes younger than this are not yet visible to search (HubSpot indexes with a lag). */
  searchIndexDelayMs?: number;
  /** Also accept these bearer tokens (those a fake OAuth server issued and still honours). */
  acceptToken?: (token: string) => boolean;
}

// ---- constants ----

const SEARCH_DEFAULT_PROPERTIES = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];
const ALWAYS_RETURNED = ['createdate', 'hs_object_id', 'lastmodifieddate'];
const BUILT_IN_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'company',
  'jobtitle',
  'createdate',
  'lastmodifieddate',
  'hs_object_id',
];
/** Default contact properties writable through the API (besides the built-in ones above). */
const WRITABLE_PROPERTIES = [
  'mobilephone',
  'fax',
  'website',
  'address',
  'city',
  'state',
  'zip',
  'country',
  'industry',
  'annualrevenue',
  'numemployees',
  'salutation',
  'message',
  'lifecyclestage',
  'hs_lead_status',
  'hubspot_owner_id',
  'hs_language',
  'twitterhandle',
  'date_of_birth',
];
const READ_ONLY_PROPERTIES = new Set(['createdate', 'lastmodifieddate', 'hs_object_id']);
/** HubSpot's email check is its own; this one refuses what is plainly not an address. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATETIME_PROPERTIES = new Set(['createdate', 'lastmodifieddate']);
const NUMBER_PROPERTIES = new Set(['hs_object_id']);
const QUERY_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'company'];
const OPERATORS = new Set([
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
]);
const MAX_FILTER_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
const LIST_MAX = 100;
const SEARCH_MAX = 200;
const BATCH_MAX = 100;
const AUTH_NOT_FOUND =
  'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview';
/** HubSpot's generic 400 text; the exact body past the 10,000 cap is unconfirmed (README). */
const GENERIC_BAD_REQUEST = 'There was a problem with the request.';
const NOT_FOUND_MESSAGE = 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.';

const FIRST = ['Ada', 'Bram', 'Chloe', 'Dmitri', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Keiko', 'Luca', 'Maya', 'Noah'];
const LAST = ['Lovelace', 'Okafor', 'Nguyen', 'García', 'Müller', 'Rossi', 'Tanaka', 'Kowalski', 'Smith', 'Jones', 'Haddad', "O'Brien"];
const COMPANIES = ['Acme Corp', 'Globex', 'Initech', 'Umbrella Ltd', 'Stark Industries', 'Wayne Enterprises', 'Hooli'];
const TITLES = ['CEO', 'CFO', 'Engineer', 'Account Manager', 'Designer', 'Analyst'];

/** HubSpot's list cursor looks like base64 of the next id, URL-encoded ("NTI1Cg%3D%3D" is 525). */
function encodeAfter(id: string): string {
  return encodeURIComponent(Buffer.from(`${id}\n`).toString('base64'));
}

function decodeAfter(raw: string): number | null {
  if (/^\d+$/.test(raw)) return Number(raw);
  let v = raw;
  for (let i = 0; i < 3 && v.includes('%'); i++) {
    try {
      v = decodeURIComponent(v);
    } catch {
      return null;
    }
  }
  const text = Buffer.from(v, 'base64').toString('utf8').trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}

function validation(message: string, extra: Record<string, unknown> = {}): FakeApiError {
  return new FakeApiError(400, { status: 'error', message, correlationId: randomUUID(), category: 'VALIDATION_ERROR', ...extra });
}

interface SortRule {
  propertyName: string;
  descending: boolean;
}

interface ParsedFilter {
  propertyName: string;
  operator: string;
  value?: string;
  highValue?: string;
  values?: string[];
}

// ---- the fake ----

export class FakeHubSpot extends FakeServer<RequestLogEntry> {
  /** The first valid token (the private-app token a test configures). */
  readonly token: string;
  readonly portalId: number;
  readonly appId: number;
  appSecret: string;
  readonly contacts = new Map<string, FakeHubSpotContact>();
  /** Changes made through the control methods, as webhook events not yet taken (takeWebhookEvents). */
  readonly pendingEvents: HubSpotWebhookEvent[] = [];
  /** Every input of every batch write, in arrival order (what a push sent, mapped). */
  readonly received: ReceivedWrite[] = [];
  /** 429s the fake's own limits served (not those injected by rateLimitNext): what a benchmark counts. */
  rateLimitViolations = 0;
  /**
   * true: a record error fails the whole write call (400/409, nothing written) even when every
   * input carries an objectWriteTraceId: the documented behaviour without trace ids, and a
   * possibility for upserts by email (unconfirmed; see README).
   */
  wholeBatchErrors = false;

  private readonly tokens = new Set<string>();
  private readonly acceptToken?: (token: string) => boolean;
  private readonly expired = new Map<string, number>();
  private readonly random: () => number;
  private nextId: number;
  private clock: number;
  private readonly stepMs: number;
  private readonly knownProperties = new Set(BUILT_IN_PROPERTIES);
  private nextEventId = 1;
  private readonly subscriptionIds: Record<HubSpotSubscriptionType, number> = {
    'contact.creation': 1001,
    'contact.propertyChange': 1002,
    'contact.deletion': 1003,
    'contact.restore': 1004,
    'contact.privacyDeletion': 1005,
  };

  // rate limiting
  rateLimitMax: number;
  rateLimitIntervalMs: number;
  dailyLimit: number | null;
  searchPerSecond: number;
  searchResultCap: number;
  searchIndexDelayMs: number;
  private readonly windows = new Map<string, number[]>();
  private readonly daily = new Map<string, number>();
  /** Search request times per token: each account has its own per-second search budget, as it has its own ten-secondly one. */
  private readonly searchHits = new Map<string, number[]>();

  constructor(opts: FakeHubSpotOptions = {}) {
    super({ name: 'HubSpot', textBodies: true });
    this.acceptToken = opts.acceptToken;
    this.token = opts.token ?? 'pat-na1-fake-hubspot-token';
    this.tokens.add(this.token);
    this.portalId = opts.portalId ?? 62515;
    this.appId = opts.appId ?? 54321;
    this.appSecret = opts.appSecret ?? 'fake-hubspot-app-secret';
    this.random = prng(opts.seed ?? 42);
    this.nextId = opts.firstId ?? 101;
    this.stepMs = opts.stepMs ?? 1000;
    this.clock = (opts.epoch ?? new Date(Date.now() - 30 * 86_400_000)).getTime() - this.stepMs;
    this.rateLimitMax = opts.rateLimitMax ?? 100;
    this.rateLimitIntervalMs = opts.rateLimitIntervalMs ?? 10_000;
    this.dailyLimit = opts.dailyLimit === undefined ? 250_000 : opts.dailyLimit;
    this.searchPerSecond = opts.searchPerSecond ?? 5;
    this.searchResultCap = opts.searchResultCap ?? 10_000;
    this.searchIndexDelayMs = opts.searchIndexDelayMs ?? 0;
    for (const name of WRITABLE_PROPERTIES) this.knownProperties.add(name);
    this.addContacts(opts.contacts ?? 0);
    this.pendingEvents.length = 0; // the starting data is not news
  }

  protected override requestDetails(req: Request): Omit<RequestLogEntry, keyof LoggedRequest> {
    return { body: loggedBody(req), token: bearer(req) };
  }

  /** An injected 429 is HubSpot's TEN_SECONDLY_ROLLING one, with the rate-limit headers. */
  protected failureBody(status: number, req: Request, res: Response): unknown {
    if (status !== 429) return { status: 'error', message: 'internal error', correlationId: randomUUID(), category: 'INTERNAL_ERROR' };
    this.rateHeaders(res, bearer(req) ?? '', 0);
    return this.tenSecondlyBody();
  }

  protected routes(app: Express): void {
    app.disable('x-powered-by');
    // Token introspection takes the token in the path, not in a header.
    app.get('/oauth/v1/access-tokens/:token', (req, res) => {
      const token = String(req.params.token);
      if (!this.tokens.has(token)) {
        res.status(404).json({ status: 'error', message: 'Token not found', correlationId: randomUUID(), category: 'OBJECT_NOT_FOUND' });
        return;
      }
      res.json({
        token,
        user: 'owner@fake-portal.example',
        hub_domain: 'fake-portal.example',
        scopes: ['oauth', 'crm.objects.contacts.read', 'crm.objects.contacts.write'],
        hub_id: this.portalId,
        app_id: this.appId,
        expires_in: 1800,
        user_id: 1,
        token_type: 'access',
      });
    });

    app.use((req, res, next) => this.authenticate(req, res, next));
    app.use((req, res, next) => this.rateLimit(req, res, next));

    app.get('/account-info/v3/details', (_req, res) => {
      res.json({
        portalId: this.portalId,
        accountType: 'STANDARD',
        timeZone: 'US/Eastern',
        companyCurrency: 'USD',
        additionalCurrencies: [],
        utcOffset: '-05:00',
        utcOffsetMilliseconds: -18_000_000,
        uiDomain: 'app.hubspot.com',
        dataHostingLocation: 'na1',
      });
    });
    app.get(
      '/crm/v3/objects/contacts',
      jsonRoute((req) => this.list(req)),
    );
    app.post(
      '/crm/v3/objects/contacts/search',
      jsonRoute((req) => this.search(req)),
    );
    app.post(
      '/crm/v3/objects/contacts/batch/read',
      jsonRoute((req) => this.batchRead(req)),
    );
    for (const endpoint of ['create', 'update', 'upsert', 'archive'] as const) {
      app.post(
        `/crm/v3/objects/contacts/batch/${endpoint}`,
        jsonRoute((req) => this.batchWrite(endpoint, req)),
      );
    }
    app.use((req, res) => {
      res.status(404).json({ status: 'error', message: `resource not found: ${req.method} ${req.path}`, correlationId: randomUUID() });
    });
  }

  // ---- auth ----

  /** Another valid token (e.g. the access token an OAuth refresh would hand out). */
  addToken(token: string): void {
    this.tokens.add(token);
    this.expired.delete(token);
  }

  /** The token stops working with HubSpot's EXPIRED_AUTHENTICATION 401. */
  expireToken(token: string = this.token): void {
    this.tokens.delete(token);
    this.expired.set(token, Date.now());
  }

  /** The token stops working with the "credentials not found" 401 (revoked or never valid). */
  revokeToken(token: string = this.token): void {
    this.tokens.delete(token);
    this.expired.delete(token);
  }

  // ---- data ----

  addContacts(n: number): FakeHubSpotContact[] {
    const added: FakeHubSpotContact[] = [];
    const r = this.random;
    for (let i = 0; i < n; i++) {
      const id = String(this.nextId);
      this.nextId += 1 + Math.floor(r() * 3);
      const first = FIRST[Math.floor(r() * FIRST.length)];
      const last = LAST[Math.floor(r() * LAST.length)];
      this.clock += this.stepMs;
      const at = new Date(this.clock);
      const local = `${first}.${last}.${id}`
        .toLowerCase()
        .normalize('NFKD')
        .replace(/[^a-z0-9.]/g, '');
      const contact: FakeHubSpotContact = {
        id,
        properties: {
          // One in twenty has no email: HubSpot keeps such contacts, and so must a sync.
          email: r() < 0.05 ? null : `${local}@example.com`,
          firstname: first,
          lastname: last,
          phone:
            r() < 0.25
              ? null
              : `+1 555 ${String(100 + (Number(id) % 900)).padStart(3, '0')} ${String(Number(id) % 10000).padStart(4, '0')}`,
          company: r() < 0.3 ? null : COMPANIES[Math.floor(r() * COMPANIES.length)],
          jobtitle: r() < 0.3 ? null : TITLES[Math.floor(r() * TITLES.length)],
        },
        createdAt: at,
        updatedAt: at,
        archivedAt: null,
      };
      this.contacts.set(id, contact);
      added.push(contact);
      this.pendingEvents.push(this.event({ type: 'contact.creation', objectId: id, occurredAt: at.getTime() }));
    }
    return added;
  }

  contact(id: string | number): FakeHubSpotContact {
    const c = this.contacts.get(String(id));
    if (!c) throw new Error(`no fake HubSpot contact ${id}`);
    return c;
  }

  /** Changes properties now, moving lastmodifieddate / updatedAt, as an edit in HubSpot would. */
  updateContact(id: string | number, props: Record<string, string | null>): FakeHubSpotContact {
    const c = this.contact(id);
    const at = this.changeTime();
    for (const [name, value] of Object.entries(props)) {
      if (DATETIME_PROPERTIES.has(name) || name === 'hs_object_id') throw new Error(`${name} is read-only in HubSpot`);
      this.knownProperties.add(name);
      c.properties[name] = value === null ? null : String(value);
      this.pendingEvents.push(
        this.event({ type: 'contact.propertyChange', objectId: c.id, propertyName: name, propertyValue: value, occurredAt: at }),
      );
    }
    c.updatedAt = at;
    return c;
  }

  /** Deletes (archives) a contact now: it leaves lists and search and shows up with archived=true. */
  archiveContact(id: string | number): FakeHubSpotContact {
    const c = this.contact(id);
    const at = this.changeTime();
    c.archivedAt = at;
    c.updatedAt = at;
    this.pendingEvents.push(this.event({ type: 'contact.deletion', objectId: c.id, occurredAt: at }));
    return c;
  }

  /** A custom contact property (Settings → Properties): writes may set it, searches filter on it. */
  defineProperty(name: string): void {
    this.knownProperties.add(name);
  }

  /** The time of the latest change the fake has made. */
  now(): Date {
    return new Date(this.clock);
  }

  // ---- faults (the rest come from FakeServer) ----

  /** Also resets the rate-limit windows. */
  override clearFaults(): void {
    super.clearFaults();
    this.windows.clear();
    this.searchHits.clear();
  }

  // ---- webhooks ----

  /** Builds HubSpot's webhook body: a JSON array of events, numbered from the fake's event counter. */
  webhookEvents(...specs: WebhookEventSpec[]): HubSpotWebhookEvent[] {
    return specs.map((s) => this.event(s));
  }

  /** The events for changes made since the last call (addContacts after start, updateContact, archiveContact). */
  takeWebhookEvents(): HubSpotWebhookEvent[] {
    return this.pendingEvents.splice(0, this.pendingEvents.length);
  }

  signV3(input: Omit<SignV3Input, 'appSecret'> & { appSecret?: string }): ReturnType<typeof signV3> {
    return signV3({ ...input, appSecret: input.appSecret ?? this.appSecret });
  }

  /** POSTs the events to `targetUrl` as HubSpot does: raw JSON array, v3 (and legacy v1) signature headers. */
  async deliver(targetUrl: string, events: HubSpotWebhookEvent[], opts: DeliverOptions = {}): Promise<{ status: number; body: string }> {
    const body = JSON.stringify(events);
    const secret = opts.appSecret ?? this.appSecret;
    const timestamp = opts.timestamp ?? Date.now();
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio-http-client) - WebhooksExecutorDaemon-executor',
      'X-HubSpot-Signature': hubspotSignatureV1(secret, body),
      'X-HubSpot-Signature-Version': 'v1',
      ...signV3({ method: 'POST', url: opts.signedUrl ?? targetUrl, body, timestamp, appSecret: secret }),
    };
    const res = await fetch(targetUrl, { method: 'POST', headers, body: opts.tamperBody ?? body });
    return { status: res.status, body: await res.text() };
  }

  // ---- internals: auth and limits ----

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const token = bearer(req);
    if (token && (this.tokens.has(token) || this.acceptToken?.(token))) return next();
    const expiredAt = token ? this.expired.get(token) : undefined;
    if (expiredAt !== undefined) {
      const seconds = Math.max(0, Math.floor((Date.now() - expiredAt) / 1000));
      res.status(401).json({
        status: 'error',
        message: `The OAuth token used to make this call expired ${seconds} second(s) ago.`,
        correlationId: randomUUID(),
        category: 'EXPIRED_AUTHENTICATION',
        context: { 'expire time': [new Date(expiredAt).toISOString()] },
      });
      return;
    }
    res.status(401).json({ status: 'error', message: AUTH_NOT_FOUND, correlationId: randomUUID(), category: 'INVALID_AUTHENTICATION' });
  }

  private rateLimit(req: Request, res: Response, next: NextFunction): void {
    const token = bearer(req) ?? '';
    const now = Date.now();
    const used = (this.daily.get(token) ?? 0) + 1;
    if (this.dailyLimit !== null && used > this.dailyLimit) {
      this.rateLimitViolations++;
      this.rateHeaders(res, token, 0);
      res.status(429).json({
        status: 'error',
        message: 'You have reached your daily limit.',
        errorType: 'RATE_LIMIT',
        correlationId: randomUUID(),
        policyName: 'DAILY',
        requestId: randomUUID(),
      });
      return;
    }
    // Search is exempt from the ten-secondly limit and has its own per-second one (OpenAPI spec).
    if (req.method === 'POST' && req.path.endsWith('/search')) {
      const hits = (this.searchHits.get(token) ?? []).filter((t) => t > now - 1000);
      this.searchHits.set(token, hits);
      if (this.searchPerSecond > 0 && hits.length >= this.searchPerSecond) {
        this.rateLimitViolations++;
        this.rateHeaders(res, token, null);
        res.status(429).json({
          status: 'error',
          message: 'You have reached your secondly limit.',
          errorType: 'RATE_LIMIT',
          correlationId: randomUUID(),
        });
        return;
      }
      hits.push(now);
      this.daily.set(token, used);
      this.rateHeaders(res, token, null);
      return next();
    }
    const window = (this.windows.get(token) ?? []).filter((t) => t > now - this.rateLimitIntervalMs);
    if (window.length >= this.rateLimitMax) {
      this.rateLimitViolations++;
      this.windows.set(token, window);
      this.rateHeaders(res, token, 0);
      res.status(429).json(this.tenSecondlyBody());
      return;
    }
    window.push(now);
    this.windows.set(token, window);
    this.daily.set(token, used);
    this.rateHeaders(res, token, null);
    next();
  }

  private rateHeaders(res: Response, token: string, remaining: number | null): void {
    const now = Date.now();
    const inWindow = (this.windows.get(token) ?? []).filter((t) => t > now - this.rateLimitIntervalMs).length;
    res.setHeader('X-HubSpot-RateLimit-Max', String(this.rateLimitMax));
    res.setHeader('X-HubSpot-RateLimit-Remaining', String(remaining ?? Math.max(0, this.rateLimitMax - inWindow)));
    res.setHeader('X-HubSpot-RateLimit-Interval-Milliseconds', String(this.rateLimitIntervalMs));
    if (this.dailyLimit !== null) {
      res.setHeader('X-HubSpot-RateLimit-Daily', String(this.dailyLimit));
      res.setHeader('X-HubSpot-RateLimit-Daily-Remaining', String(Math.max(0, this.dailyLimit - (this.daily.get(token) ?? 0))));
    }
  }

  private tenSecondlyBody(): Record<string, unknown> {
    return {
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      correlationId: randomUUID(),
      policyName: 'TEN_SECONDLY_ROLLING',
      groupName: `publicapi:private_app-api-calls-ten-secondly:${this.appId}:${this.portalId}`,
    };
  }

  // ---- internals: routes ----

  private jsonBody(req: Request): Record<string, unknown> {
    const raw = typeof req.body === 'string' ? req.body : '';
    if (raw.trim() === '') throw validation('Invalid input JSON: No content to map due to end-of-input');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      throw validation(`Invalid input JSON on line 1: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw validation('Invalid input JSON: expected an object');
    return parsed as Record<string, unknown>;
  }

  private list(req: Request): { body: unknown } {
    const q = req.query as Record<string, unknown>;
    const limit = intParam(q.limit, 10, 'limit');
    const pageSize = Math.min(Math.max(limit, 1), LIST_MAX); // HubSpot answers at most 100, without an error
    const archived = String(q.archived ?? 'false') === 'true';
    let startId = 0;
    if (q.after !== undefined && q.after !== '') {
      const decoded = decodeAfter(String(q.after));
      if (decoded === null) throw validation(`Invalid value for 'after': ${String(q.after)}`);
      startId = decoded;
    }
    const wanted = propertyList(q.properties);
    const all = [...this.contacts.values()]
      .filter((c) => (archived ? c.archivedAt !== null : c.archivedAt === null) && Number(c.id) >= startId)
      .sort((a, b) => Number(a.id) - Number(b.id));
    const page = all.slice(0, pageSize);
    const body: Record<string, unknown> = { results: page.map((c) => this.toJson(c, wanted)) };
    const following = all[pageSize];
    if (following) {
      const after = encodeAfter(following.id);
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (k !== 'after') for (const one of [v].flat()) params.append(k, String(one));
      const rest = params.toString();
      body.paging = { next: { after, link: `${this.url}/crm/v3/objects/contacts?${rest ? `${rest}&` : ''}after=${after}` } };
    }
    return { body };
  }

  private search(req: Request): { body: unknown } {
    const b = this.jsonBody(req);
    const limit = b.limit === undefined ? 10 : Number(b.limit);
    if (!Number.isInteger(limit) || limit < 0) throw validation(`Invalid limit: ${String(b.limit)}`);
    if (limit > SEARCH_MAX) throw validation(`The maximum limit is ${SEARCH_MAX}, but ${limit} was requested.`);
    let offset = 0;
    if (b.after !== undefined && b.after !== null && b.after !== '') {
      if (!/^\d+$/.test(String(b.after))) throw validation('You must format the value in the after parameter as an integer.');
      offset = Number(b.after);
    }
    if (offset >= this.searchResultCap) throw validation(GENERIC_BAD_REQUEST);
    const groups = this.parseFilterGroups(b.filterGroups);
    const sort = parseSorts(b.sorts);
    if (sort && !this.knownProperties.has(sort.propertyName)) throw validation(`Invalid sort property: ${sort.propertyName}`);
    const wanted = b.properties === undefined ? null : stringArray(b.properties, 'properties');
    const query = typeof b.query === 'string' ? b.query.trim().toLowerCase() : '';
    if (b.query !== undefined && typeof b.query !== 'string') throw validation('Invalid input JSON: query must be a string');
    const visibleBefore = Date.now() - this.searchIndexDelayMs;

    const matches = [...this.contacts.values()].filter(
      (c) =>
        c.archivedAt === null &&
        (this.searchIndexDelayMs === 0 || c.updatedAt.getTime() <= visibleBefore) &&
        (groups.length === 0 || groups.some((g) => g.every((f) => this.matches(c, f)))) &&
        (query === '' || QUERY_PROPERTIES.some((p) => (c.properties[p] ?? '').toLowerCase().includes(query))),
    );
    const rule = sort ?? { propertyName: 'hs_object_id', descending: false };
    matches.sort((a, b2) => {
      const cmp = compareValues(this.typedValue(a, rule.propertyName), this.typedValue(b2, rule.propertyName));
      return (rule.descending ? -cmp : cmp) || Number(a.id) - Number(b2.id);
    });
    const end = Math.min(offset + limit, this.searchResultCap, matches.length);
    const page = matches.slice(offset, end);
    const body: Record<string, unknown> = { total: matches.length, results: page.map((c) => this.toJson(c, wanted)) };
    // The next page is offered even when it lies past the cap: asking for it is the 400.
    if (end < matches.length && limit > 0) body.paging = { next: { after: String(end) } };
    return { body };
  }

  private batchRead(req: Request): { status: number; body: unknown } {
    const startedAt = new Date().toISOString();
    const b = this.jsonBody(req);
    if (!Array.isArray(b.inputs)) throw validation('Invalid input JSON: inputs is required');
    if (b.inputs.length > BATCH_MAX) {
      throw validation(`Batch input limit exceeded: ${b.inputs.length} inputs were given, the maximum is ${BATCH_MAX}.`, {
        context: { maxInputs: [String(BATCH_MAX)] },
      });
    }
    const idProperty = b.idProperty === undefined ? 'hs_object_id' : String(b.idProperty);
    if (idProperty !== 'hs_object_id' && idProperty !== 'email')
      throw validation(`Property ${idProperty} is not a unique identifier property`);
    const archived = String((req.query as Record<string, unknown>).archived ?? 'false') === 'true';
    const wanted = b.properties === undefined ? null : stringArray(b.properties, 'properties');
    const results: unknown[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const input of b.inputs as unknown[]) {
      const key = input && typeof input === 'object' ? (input as Record<string, unknown>).id : undefined;
      if (typeof key !== 'string' && typeof key !== 'number') throw validation('Invalid input JSON: every input needs an id');
      const k = String(key);
      if (seen.has(k)) continue;
      seen.add(k);
      const found =
        idProperty === 'email'
          ? [...this.contacts.values()].find((c) => c.properties.email !== null && c.properties.email === k.toLowerCase())
          : this.contacts.get(k);
      if (found && (archived ? found.archivedAt !== null : found.archivedAt === null)) results.push(this.toJson(found, wanted));
      else missing.push(k);
    }
    const completedAt = new Date().toISOString();
    if (missing.length === 0) return { status: 200, body: { status: 'COMPLETE', results, startedAt, completedAt } };
    return {
      status: 207,
      body: {
        status: 'COMPLETE',
        results,
        numErrors: 1,
        errors: [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: NOT_FOUND_MESSAGE, context: { ids: missing } }],
        startedAt,
        completedAt,
      },
    };
  }

  /**
   * POST .../batch/{create,update,upsert,archive}: 100 inputs at most, ids unique in a call.
   * Record errors (an unknown or read-only property, a malformed email, an email another
   * contact has) come back as 207 beside the records written when every input carries an
   * objectWriteTraceId (HubSpot's multi-status); otherwise the first one fails the whole call
   * and nothing is written. Ids batch/update cannot find are one OBJECT_NOT_FOUND error (207)
   * either way, as batch read answers them.
   */
  private batchWrite(endpoint: WriteEndpoint, req: Request): { status: number; body: unknown } {
    const startedAt = new Date().toISOString();
    const b = this.jsonBody(req);
    if (!Array.isArray(b.inputs)) throw validation('Invalid input JSON: inputs is required');
    if (b.inputs.length > BATCH_MAX) {
      throw validation(`Batch input limit exceeded: ${b.inputs.length} inputs were given, the maximum is ${BATCH_MAX}.`, {
        context: { maxInputs: [String(BATCH_MAX)] },
      });
    }
    const inputs = (b.inputs as unknown[]).map((raw) => parseWriteInput(endpoint, raw));
    const at = Date.now();
    for (const input of inputs) this.received.push({ endpoint, input: input.raw, at });
    const keys = inputs.map((i) => (endpoint === 'upsert' ? (i.id ?? '').toLowerCase() : (i.id ?? '')));
    const dups = [...new Set(keys.filter((k, i) => endpoint !== 'create' && keys.indexOf(k) !== i))];
    if (dups.length)
      throw validation(`Duplicate IDs found in batch input: [${dups.join(', ')}]. IDs must be unique`, { context: { ids: dups } });
    if (endpoint === 'upsert' && inputs.some((i) => i.idProperty !== 'email')) {
      // Contacts are upserted by email here; HubSpot also takes a custom unique property.
      throw validation('Unable to perform update/upsert by non-unique 0-1 property');
    }
    if (endpoint === 'archive') {
      for (const input of inputs) {
        const c = this.contacts.get(input.id as string);
        if (c && !c.archivedAt) this.archiveContact(c.id);
      }
      return { status: 204, body: undefined };
    }

    // Plan every input against the store and the inputs before it, then write or refuse.
    const claimed = new Map<string, string>();
    const owner = (email: string) => claimed.get(email) ?? this.liveByEmail(email)?.id ?? null;
    const missing: string[] = [];
    const plans = inputs.map((input, i) => {
      let target = endpoint === 'update' ? this.contacts.get(input.id as string) : undefined;
      if (endpoint === 'update' && (!target || target.archivedAt)) {
        missing.push(input.id as string);
        return null;
      }
      if (endpoint === 'upsert') target = this.liveByEmail((input.id as string).toLowerCase());
      const props = { ...input.properties };
      if (endpoint === 'upsert') props.email = (input.id as string).toLowerCase();
      const error = this.propertyError(props) ?? this.emailConflict(props.email, target?.id ?? null, owner);
      if (error) return { input, error };
      if (props.email) claimed.set(props.email.toLowerCase(), target?.id ?? `input ${i}`);
      return { input, target, props, error: null };
    });
    const refused = plans.filter((p) => p?.error);
    const traced = inputs.every((i) => i.trace !== null);
    if (refused.length && (!traced || this.wholeBatchErrors)) {
      const first = refused[0]!.error!;
      throw new FakeApiError(first.status, { ...first.body, correlationId: randomUUID() });
    }
    const results: unknown[] = [];
    for (const plan of plans) {
      if (!plan || plan.error) continue;
      const isNew = !plan.target;
      const c = isNew ? this.createContact(plan.props!) : this.writeContact(plan.target!, plan.props!);
      const json = this.toJson(c, Object.keys(plan.props!));
      if (plan.input.trace !== null) json.objectWriteTraceId = plan.input.trace;
      results.push(endpoint === 'upsert' ? { ...json, new: isNew } : json);
    }
    const errors: unknown[] = refused.map((p) => ({
      ...p!.error!.body,
      context: { ...((p!.error!.body.context as object | undefined) ?? {}), objectWriteTraceId: [p!.input.trace] },
    }));
    if (missing.length)
      errors.push({ status: 'error', category: 'OBJECT_NOT_FOUND', message: NOT_FOUND_MESSAGE, context: { ids: missing } });
    const completedAt = new Date().toISOString();
    if (errors.length === 0)
      return { status: endpoint === 'create' ? 201 : 200, body: { status: 'COMPLETE', results, startedAt, completedAt } };
    return { status: 207, body: { status: 'COMPLETE', results, numErrors: errors.length, errors, startedAt, completedAt } };
  }

  private liveByEmail(email: string): FakeHubSpotContact | undefined {
    for (const c of this.contacts.values()) if (!c.archivedAt && c.properties.email === email) return c;
    return undefined;
  }

  /** HubSpot's VALIDATION_ERROR for property values: unknown, read-only, a malformed email. */
  private propertyError(props: Record<string, string>): { status: number; body: Record<string, unknown> } | null {
    const problems: { message: string; error: string; name: string }[] = [];
    for (const [name, value] of Object.entries(props)) {
      if (READ_ONLY_PROPERTIES.has(name))
        problems.push({ name, error: 'READ_ONLY_VALUE', message: `"${name}" is a read only property; its value cannot be set.` });
      else if (!this.knownProperties.has(name))
        problems.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist` });
      else if (name === 'email' && value !== '' && !EMAIL.test(value))
        problems.push({ name, error: 'INVALID_EMAIL', message: `Email address ${value} is invalid` });
    }
    if (problems.length === 0) return null;
    return {
      status: 400,
      body: {
        status: 'error',
        category: 'VALIDATION_ERROR',
        message: `Property values were not valid: ${JSON.stringify(problems.map((p) => ({ isValid: false, ...p, localizedErrorMessage: p.message })))}`,
        errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
      },
    };
  }

  /** An email belongs to one live contact: another's is a CONFLICT naming it. */
  private emailConflict(
    email: string | undefined,
    self: string | null,
    owner: (email: string) => string | null,
  ): { status: number; body: Record<string, unknown> } | null {
    const existing = email ? owner(email.toLowerCase()) : null;
    if (!existing || existing === self) return null;
    return {
      status: 409,
      body: {
        status: 'error',
        category: 'CONFLICT',
        message: `Contact already exists. Existing ID: ${existing}`,
        context: { existingId: [existing] },
      },
    };
  }

  /** A contact created through the API: now, the next id, properties as given ('' is no value). */
  private createContact(props: Record<string, string>): FakeHubSpotContact {
    const id = String(this.nextId++);
    const at = this.changeTime();
    const properties: Record<string, string | null> = {};
    for (const [name, value] of Object.entries(props))
      properties[name] = value === '' ? null : name === 'email' ? value.toLowerCase() : value;
    const c: FakeHubSpotContact = { id, properties, createdAt: at, updatedAt: at, archivedAt: null };
    this.contacts.set(id, c);
    this.pendingEvents.push(this.event({ type: 'contact.creation', objectId: id, occurredAt: at.getTime(), changeSource: 'INTEGRATION' }));
    return c;
  }

  /** Properties overwritten now; an empty string clears one (HubSpot's documented rule). */
  private writeContact(c: FakeHubSpotContact, props: Record<string, string>): FakeHubSpotContact {
    const at = this.changeTime();
    for (const [name, value] of Object.entries(props)) {
      const stored = value === '' ? null : name === 'email' ? value.toLowerCase() : value;
      c.properties[name] = stored;
      this.pendingEvents.push(
        this.event({
          type: 'contact.propertyChange',
          objectId: c.id,
          propertyName: name,
          propertyValue: stored,
          occurredAt: at,
          changeSource: 'INTEGRATION',
        }),
      );
    }
    c.updatedAt = at;
    return c;
  }

  private parseFilterGroups(raw: unknown): ParsedFilter[][] {
    if (raw === undefined) return [];
    if (!Array.isArray(raw)) throw validation('Invalid input JSON: filterGroups must be an array');
    if (raw.length > MAX_FILTER_GROUPS) throw validation(`Too many filter groups: ${raw.length} (at most ${MAX_FILTER_GROUPS})`);
    let total = 0;
    return raw.map((g) => {
      const filters = g && typeof g === 'object' ? (g as Record<string, unknown>).filters : undefined;
      if (!Array.isArray(filters)) throw validation('Invalid input JSON: each filter group needs a filters array');
      if (filters.length > MAX_FILTERS_PER_GROUP)
        throw validation(`Too many filters in a group: ${filters.length} (at most ${MAX_FILTERS_PER_GROUP})`);
      total += filters.length;
      if (total > MAX_FILTERS) throw validation(`Too many filters: at most ${MAX_FILTERS} in all`);
      return filters.map((f) => this.parseFilter(f));
    });
  }

  private parseFilter(raw: unknown): ParsedFilter {
    if (!raw || typeof raw !== 'object') throw validation('Invalid input JSON: a filter must be an object');
    const f = raw as Record<string, unknown>;
    if (typeof f.propertyName !== 'string') throw validation('Invalid input JSON: filter propertyName is required');
    const operator = String(f.operator ?? '');
    if (!OPERATORS.has(operator))
      throw validation(`Invalid input JSON: Cannot deserialize value of type Operator from String "${operator}"`);
    if (!this.knownProperties.has(f.propertyName)) {
      throw validation(`There was a problem with the request. Property ${f.propertyName} does not exist`, {
        context: { propertyName: [f.propertyName] },
      });
    }
    const out: ParsedFilter = { propertyName: f.propertyName, operator };
    if (f.value !== undefined && f.value !== null) out.value = String(f.value);
    if (f.highValue !== undefined && f.highValue !== null) out.highValue = String(f.highValue);
    if (f.values !== undefined) out.values = stringArray(f.values, 'values');
    const needsValue = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN'].includes(operator);
    if (needsValue && out.value === undefined) throw validation(`Operator ${operator} requires a value`);
    if (operator === 'BETWEEN' && out.highValue === undefined) throw validation('Operator BETWEEN requires a highValue');
    if ((operator === 'IN' || operator === 'NOT_IN') && !out.values) throw validation(`Operator ${operator} requires values`);
    // A date value that is neither epoch ms nor ISO 8601 is refused.
    for (const v of [out.value, out.highValue, ...(out.values ?? [])]) {
      if (v !== undefined && DATETIME_PROPERTIES.has(out.propertyName) && parseTime(v) === null) {
        throw validation(`${v} is not a valid date for property ${out.propertyName}`);
      }
    }
    return out;
  }

  private typedValue(c: FakeHubSpotContact, name: string): number | string | null {
    if (name === 'hs_object_id') return Number(c.id);
    if (name === 'createdate') return c.createdAt.getTime();
    if (name === 'lastmodifieddate') return c.updatedAt.getTime();
    return c.properties[name] ?? null;
  }

  private matches(c: FakeHubSpotContact, f: ParsedFilter): boolean {
    const actual = this.typedValue(c, f.propertyName);
    const typed = (v: string): number | string =>
      DATETIME_PROPERTIES.has(f.propertyName)
        ? (parseTime(v) as number)
        : NUMBER_PROPERTIES.has(f.propertyName)
          ? Number(v)
          : v.toLowerCase();
    const norm = typeof actual === 'string' ? actual.toLowerCase() : actual;
    switch (f.operator) {
      case 'HAS_PROPERTY':
        return actual !== null && actual !== '';
      case 'NOT_HAS_PROPERTY':
        return actual === null || actual === '';
      case 'EQ':
        return norm !== null && norm === typed(f.value as string);
      case 'NEQ':
        return norm === null || norm !== typed(f.value as string);
      case 'IN':
        return norm !== null && (f.values ?? []).some((v) => typed(v) === norm);
      case 'NOT_IN':
        return norm === null || !(f.values ?? []).some((v) => typed(v) === norm);
      case 'CONTAINS_TOKEN':
      case 'NOT_CONTAINS_TOKEN': {
        const pattern = new RegExp(
          `^${(f.value as string)
            .toLowerCase()
            .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')}$`,
        );
        const hit =
          typeof norm === 'string' &&
          norm
            .split(/[\s@.,;-]+/)
            .concat(norm)
            .some((t) => pattern.test(t));
        return f.operator === 'CONTAINS_TOKEN' ? hit : !hit;
      }
    }
    if (norm === null) return false;
    const v = typed(f.value as string);
    const cmp = compareValues(norm, v);
    switch (f.operator) {
      case 'LT':
        return cmp < 0;
      case 'LTE':
        return cmp <= 0;
      case 'GT':
        return cmp > 0;
      case 'GTE':
        return cmp >= 0;
      case 'BETWEEN':
        return cmp >= 0 && compareValues(norm, typed(f.highValue as string)) <= 0;
    }
    return false;
  }

  /** List, search and batch read return the same default properties for contacts. */
  private toJson(c: FakeHubSpotContact, wanted: string[] | null): Record<string, unknown> {
    const names = new Set(
      wanted === null ? SEARCH_DEFAULT_PROPERTIES : [...wanted.filter((p) => this.knownProperties.has(p)), ...ALWAYS_RETURNED],
    );
    const properties: Record<string, string | null> = {};
    for (const name of [...names].sort()) {
      if (name === 'hs_object_id') properties[name] = c.id;
      else if (name === 'createdate') properties[name] = c.createdAt.toISOString();
      else if (name === 'lastmodifieddate') properties[name] = c.updatedAt.toISOString();
      else properties[name] = c.properties[name] ?? null;
    }
    const out: Record<string, unknown> = {
      id: c.id,
      properties,
      createdAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
      archived: c.archivedAt !== null,
    };
    if (c.archivedAt) out.archivedAt = c.archivedAt.toISOString();
    return out;
  }

  private event(s: WebhookEventSpec): HubSpotWebhookEvent {
    const occurredAt = s.occurredAt instanceof Date ? s.occurredAt.getTime() : (s.occurredAt ?? Date.now());
    const e: HubSpotWebhookEvent = {
      eventId: this.nextEventId++,
      subscriptionId: this.subscriptionIds[s.type],
      portalId: this.portalId,
      appId: this.appId,
      occurredAt,
      subscriptionType: s.type,
      attemptNumber: s.attemptNumber ?? 0,
      objectId: Number(s.objectId),
      changeSource: s.changeSource ?? 'CRM',
    };
    if (s.type === 'contact.creation') e.changeFlag = 'NEW';
    if (s.type === 'contact.deletion' || s.type === 'contact.privacyDeletion') e.changeFlag = 'DELETED';
    if (s.type === 'contact.propertyChange') {
      e.propertyName = s.propertyName ?? 'firstname';
      e.propertyValue = s.propertyValue ?? '';
    }
    if (s.sourceId) e.sourceId = s.sourceId;
    return e;
  }

  /** Edits and deletions happen now (and never before an earlier change). */
  private changeTime(): Date {
    this.clock = Math.max(this.clock + 1, Date.now());
    return new Date(this.clock);
  }
}

// ---- helpers ----

interface WriteInput {
  raw: Record<string, unknown>;
  id: string | null;
  idProperty: string | null;
  trace: string | null;
  properties: Record<string, string>;
}

/** One input of a batch write; a malformed one fails the whole call (400), as JSON errors do. */
function parseWriteInput(endpoint: WriteEndpoint, raw: unknown): WriteInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw validation('Invalid input JSON: every input must be an object');
  const o = raw as Record<string, unknown>;
  const id = typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : null;
  if (endpoint !== 'create' && !id) throw validation('Invalid input JSON: every input needs an id');
  const props = o.properties ?? (endpoint === 'archive' ? {} : undefined);
  if (!props || typeof props !== 'object' || Array.isArray(props) || Object.values(props).some((v) => typeof v !== 'string')) {
    throw validation('Invalid input JSON: properties must be an object of string values');
  }
  return {
    raw: o,
    id,
    idProperty: typeof o.idProperty === 'string' ? o.idProperty : null,
    trace: typeof o.objectWriteTraceId === 'string' && o.objectWriteTraceId ? o.objectWriteTraceId : null,
    properties: props as Record<string, string>,
  };
}

function intParam(raw: unknown, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw validation(`Invalid value for '${name}': ${String(raw)}`);
  return n;
}

/** `properties=a,b` and `properties=a&properties=b` both work, as HubSpot accepts both. */
function propertyList(raw: unknown): string[] | null {
  if (raw === undefined) return null;
  const parts = [raw]
    .flat()
    .flatMap((v) => String(v).split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  return parts.length ? parts : null;
}

function stringArray(raw: unknown, name: string): string[] {
  if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string' && typeof v !== 'number')) {
    throw validation(`Invalid input JSON: ${name} must be an array of strings`);
  }
  return raw.map(String);
}

/** The single sort HubSpot honours: {propertyName, direction} or "prop" / "-prop". */
function parseSorts(raw: unknown): SortRule | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw)) throw validation('Invalid input JSON: sorts must be an array');
  const first: unknown = raw[0];
  if (first === undefined) return null;
  if (typeof first === 'string')
    return first.startsWith('-') ? { propertyName: first.slice(1), descending: true } : { propertyName: first, descending: false };
  if (!first || typeof first !== 'object') throw validation('Invalid input JSON: a sort must be an object');
  const s = first as Record<string, unknown>;
  if (typeof s.propertyName !== 'string') throw validation('Invalid input JSON: sort propertyName is required');
  const direction = s.direction === undefined ? 'ASCENDING' : String(s.direction);
  if (direction !== 'ASCENDING' && direction !== 'DESCENDING') {
    throw validation(`Invalid input JSON: Cannot deserialize value of type Direction from String "${direction}"`);
  }
  return { propertyName: s.propertyName, descending: direction === 'DESCENDING' };
}

/** Epoch milliseconds ("1579514400000") or ISO 8601. */
function parseTime(v: string): number | null {
  if (/^\d+$/.test(v)) return Number(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

function compareValues(a: number | string | null, b: number | string | null): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1; // records without the value sort last
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}
