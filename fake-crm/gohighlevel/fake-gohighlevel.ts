import {
  createPublicKey,
  createSign,
  createVerify,
  generateKeyPairSync,
  randomUUID,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { bearer, FakeApiError, FakeServer, jsonRoute, loggedBody, type LoggedRequest } from '../shared/fake-server';
import { prng } from '../shared/prng';
import { applyContactBody, checkContactBody, sameEmail, samePhone, UPDATE_PROPERTIES, UPSERT_PROPERTIES } from './fake-gohighlevel-writes';

/**
 * A HighLevel (LeadConnector) API v2 of our own, for contacts, locations and webhooks.
 * fake-crm/gohighlevel/README.md lists every fact followed here, where it comes from, and
 * what stays unconfirmed (each unconfirmed choice is a constant or an option below):
 * bearer auth plus the required `Version` header (401 "version header was not found."),
 * tokens bound to one location (403 for any other), POST /contacts/search (pageLimit ≤ 500,
 * page-based paging to the first 10,000 records, `searchAfter` past that, filters with
 * field/operator/value, sort), GET /contacts/:id, GET /locations/:id, the burst and daily
 * limits per location with the X-RateLimit-* headers, and webhooks signed with Ed25519 in
 * `x-ghl-signature` (and, optionally, the legacy RSA `x-wh-signature`). Writes: POST
 * /contacts/upsert, PUT /contacts/:id, DELETE /contacts/:id (fake-gohighlevel-writes.ts has
 * their bodies' rules), logged in `received`.
 */

// ---- HighLevel's published webhook keys (data, for the service's defaults and cross-checks) ----

/**
 * HighLevel's Ed25519 public key for `x-ghl-signature`, as its Webhook Integration Guide
 * (https://marketplace.gohighlevel.com/docs/webhook/WebhookIntegrationGuide) publishes it.
 */
export const HIGHLEVEL_ED25519_PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
`;

/**
 * HighLevel's legacy RSA public key for `x-wh-signature` (RSA-SHA256), from
 * GoHighLevel/highlevel-api-docs docs/oauth/WebhookAuthentication.md. Deprecated on July 1, 2026.
 */
export const HIGHLEVEL_LEGACY_RSA_PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
`;

// ---- signing helpers (exported so the service's verifier can be cross-checked) ----

type KeyInput = KeyObject | string;

function bytes(raw: string | Buffer): Buffer {
  return typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
}

/** `x-ghl-signature`: base64 Ed25519 signature of the raw body bytes. */
export function signGhlWebhook(rawBody: string | Buffer, privateKey: KeyInput): string {
  return edSign(null, bytes(rawBody), privateKey).toString('base64');
}

/** Checks an `x-ghl-signature` against the raw body with an Ed25519 public key (PEM or KeyObject). */
export function verifyGhlWebhook(rawBody: string | Buffer, signature: string | undefined | null, publicKey: KeyInput): boolean {
  if (!signature || signature === 'N/A') return false;
  try {
    return edVerify(null, bytes(rawBody), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Legacy `x-wh-signature`: base64 RSA-SHA256 (PKCS#1 v1.5) signature of the raw body. */
export function signLegacyGhlWebhook(rawBody: string | Buffer, rsaPrivateKey: KeyInput): string {
  return createSign('sha256').update(bytes(rawBody)).end().sign(rsaPrivateKey, 'base64');
}

/** Checks a legacy `x-wh-signature` with an RSA public key. */
export function verifyLegacyGhlWebhook(rawBody: string | Buffer, signature: string | undefined | null, rsaPublicKey: KeyInput): boolean {
  if (!signature || signature === 'N/A') return false;
  try {
    return createVerify('sha256').update(bytes(rawBody)).end().verify(rsaPublicKey, signature, 'base64');
  } catch {
    return false;
  }
}

// ---- types ----

export interface GhlCustomField {
  id: string;
  value: string | number | string[];
}

export interface FakeGhlContact {
  /** 20 characters of [A-Za-z0-9], as HighLevel ids look. */
  id: string;
  locationId: string;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  /** E.164, e.g. +15551234567. */
  phone: string | null;
  companyName: string | null;
  type: 'lead' | 'customer';
  source: string | null;
  tags: string[];
  dnd: boolean;
  country: string | null;
  timezone: string | null;
  address1: string | null;
  city: string | null;
  state: string | null;
  postalCode: string | null;
  website: string | null;
  dateOfBirth: string | null;
  assignedTo: string | null;
  customFields: GhlCustomField[];
  dateAdded: Date;
  dateUpdated: Date;
  deletedAt: Date | null;
}

/** What updateContact may change (ids and timestamps are HighLevel's to set). */
export type GhlContactChanges = Partial<Omit<FakeGhlContact, 'id' | 'locationId' | 'dateAdded' | 'dateUpdated' | 'deletedAt'>>;

export interface FakeGhlLocation {
  id: string;
  companyId: string;
  name: string;
  email: string;
  phone: string;
  address: string;
  city: string;
  state: string;
  country: string;
  postalCode: string;
  website: string;
  timezone: string;
}

export type GhlContactEventType = 'ContactCreate' | 'ContactUpdate' | 'ContactDelete';

/** A native HighLevel webhook body: flat JSON, `type` first, `timestamp` and `webhookId` last. */
export type GhlWebhookPayload = { type: string; locationId: string; id: string; timestamp: string; webhookId: string } & Record<
  string,
  unknown
>;

export type SignatureMode = 'valid' | 'bad' | 'none' | 'N/A';

export interface DeliverOptions {
  /** x-ghl-signature: 'valid' (default), 'bad' (signed with another key), 'none' (no header), 'N/A' (the literal HighLevel sends unsigned). */
  signature?: SignatureMode;
  /** Legacy x-wh-signature (RSA-SHA256); default 'none' (HighLevel dropped it on July 1, 2026). */
  legacySignature?: SignatureMode;
  /** Overrides the payload's `timestamp` before signing (stale or future deliveries). */
  timestamp?: string | Date;
  /** Send this body instead of the signed one (tampering). */
  tamperBody?: string;
  headers?: Record<string, string>;
}

export interface RequestLogEntry extends LoggedRequest {
  body: unknown;
  token: string | null;
  version: string | null;
}

export interface FakeGoHighLevelOptions {
  /** Bearer tokens also accepted for the default location (those a fake OAuth server issued). */
  acceptToken?: (token: string) => boolean;
  /** Contacts generated at construction in the default location. */
  contacts?: number;
  seed?: number;
  /** The default location (a sub-account); its id is generated when absent. */
  locationId?: string;
  locationName?: string;
  companyId?: string;
  /** A private-integration token bound to the default location; more with addToken(). */
  token?: string;
  /** dateAdded of the first generated contact; each next one is stepMs later. Default: 60 days ago. */
  epoch?: Date;
  stepMs?: number;
  /** Burst limit per location (HighLevel: 100 per 10 s). */
  burstMax?: number;
  burstIntervalMs?: number;
  /** Daily limit per location (HighLevel: 200,000). */
  dailyLimit?: number;
  /** Largest pageLimit search accepts (HighLevel: 500). */
  maxPageLimit?: number;
  /** Records page-based search can reach (HighLevel: 10,000); searchAfter goes past it. */
  searchWindow?: number;
  /** Changes younger than this are not yet seen by search (HighLevel: "may take a few seconds"). */
  searchIndexDelayMs?: number;
  /** Marketplace app ids that HighLevel puts in webhook bodies. */
  appId?: string;
  versionId?: string;
}

// ---- constants (the unconfirmed ones are marked, and kept here in one place) ----

/** Values the Version header may carry (marketplace docs, Versioning page). */
export const HIGHLEVEL_API_VERSIONS = ['2021-07-28', '2021-04-15', '2023-02-21', 'v3'];

const MSG = {
  /** Unknown or malformed token (seen in real answers; exact text per case unconfirmed). */
  invalidJwt: 'Invalid JWT',
  /** An expired token: the OpenAPI UnauthorizedDTO example (which case gets which text is unconfirmed). */
  expired: 'Invalid token: access token is invalid',
  noVersion: 'version header was not found.',
  badVersion: 'version header is invalid',
  wrongLocation: 'The token does not have access to this location.',
  /** Unconfirmed (one public client quotes it with 404). */
  contactNotFound: 'Contact not found',
  /** Unconfirmed: HighLevel's 429 body text is not published. */
  tooMany: 'Too Many Requests',
  /** Unconfirmed: the answer past the 10,000-record window is not published. */
  pastWindow: (window: number) => `Page-based pagination is limited to the first ${window} records. Use searchAfter to fetch more records.`,
};

const FIRST = [
  'Ada',
  'Bram',
  'Chloe',
  'Dmitri',
  'Elena',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Keiko',
  'Luca',
  'Maya',
  'Noah',
  'Zoë',
];
const LAST = ['Lovelace', 'Okafor', 'Nguyen', 'García', 'Müller', 'Rossi', 'Tanaka', 'Kowalski', 'Smith', 'Jones', 'Haddad', "O'Brien"];
const COMPANIES = ['Acme Corp', 'Globex', 'Initech', 'Umbrella Ltd', 'Stark Industries', 'Wayne Enterprises', 'Hooli'];
const SOURCES = ['public api', 'xyz form', 'Paid Social', 'CRM UI', 'Website'];
const TAGS = ['vip', 'newsletter', 'lead', 'referral', 'webinar'];
const CITIES: [string, string, string][] = [
  ['Austin', 'TX', '78701'],
  ['Denver', 'CO', '80202'],
  ['Boston', 'MA', '02108'],
  ['Seattle', 'WA', '98101'],
];
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Fields search can filter on, and how each reads from a contact. */
const FILTER_FIELDS: Record<string, (c: FakeGhlContact) => unknown> = {
  id: (c) => c.id,
  email: (c) => c.email,
  phone: (c) => c.phone,
  firstName: (c) => c.firstName,
  lastName: (c) => c.lastName,
  firstNameLowerCase: (c) => lower(c.firstName),
  lastNameLowerCase: (c) => lower(c.lastName),
  companyName: (c) => c.companyName,
  type: (c) => c.type,
  source: (c) => c.source,
  tags: (c) => c.tags,
  dnd: (c) => c.dnd,
  country: (c) => c.country,
  city: (c) => c.city,
  state: (c) => c.state,
  postalCode: (c) => c.postalCode,
  assignedTo: (c) => c.assignedTo,
  dateAdded: (c) => c.dateAdded.getTime(),
  dateUpdated: (c) => c.dateUpdated.getTime(),
};
const DATE_FIELDS = new Set(['dateAdded', 'dateUpdated']);
const SORT_FIELDS = new Set(['dateAdded', 'dateUpdated', 'firstNameLowerCase', 'lastNameLowerCase', 'email', 'companyName']);
const OPERATORS = new Set(['eq', 'not_eq', 'contains', 'not_contains', 'exists', 'not_exists', 'range']);
const RANGE_KEYS = new Set(['gt', 'gte', 'lt', 'lte']);

function lower(v: string | null): string | null {
  return v === null ? null : v.toLowerCase();
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

function errorBody(status: number, message: string | string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { statusCode: status, message, error: REASONS[status] ?? 'Error', ...extra };
}

function badRequest(message: string): FakeApiError {
  return new FakeApiError(400, errorBody(400, message, { traceId: randomUUID() }));
}

function unprocessable(messages: string[]): FakeApiError {
  return new FakeApiError(422, errorBody(422, messages));
}

interface SortRule {
  field: string;
  desc: boolean;
}

type ParsedFilter =
  | {
      kind: 'leaf';
      field: string;
      operator: string;
      value: unknown;
      range?: { gt?: number | string; gte?: number | string; lt?: number | string; lte?: number | string };
    }
  | { kind: 'group'; or: boolean; filters: ParsedFilter[] };

interface TokenInfo {
  locationId: string;
  expiredAt: number | null;
}

// ---- the fake ----

export class FakeGoHighLevel extends FakeServer<RequestLogEntry> {
  /** The default location's token (a private-integration token). */
  readonly token: string;
  readonly locationId: string;
  readonly companyId: string;
  readonly appId: string;
  readonly versionId: string;
  readonly locations = new Map<string, FakeGhlLocation>();
  readonly contacts = new Map<string, FakeGhlContact>();
  private dataVersion = 0;
  private readonly searchCache = new Map<string, { version: number; matches: { c: FakeGhlContact; key: unknown[] }[] }>();
  /** Webhook bodies for changes made through the control methods, not yet taken (takeWebhookEvents). */
  readonly pendingEvents: GhlWebhookPayload[] = [];
  /**
   * How PUT and DELETE answer an unknown or deleted contact (unconfirmed): 404 "Contact not
   * found" as GET does, or 400 "Contact with id <id> not found", which public code quotes.
   */
  missingContactStatus: 404 | 400 = 404;
  /** Every write call that passed auth and limits, in order: what a test checks the mapped fields against. */
  readonly received: { method: string; path: string; body: unknown }[] = [];

  burstMax: number;
  burstIntervalMs: number;
  dailyLimit: number;
  maxPageLimit: number;
  searchWindow: number;
  searchIndexDelayMs: number;

  private readonly tokens = new Map<string, TokenInfo>();
  private readonly acceptToken?: (token: string) => boolean;
  private readonly random: () => number;
  private clock: number;
  private readonly stepMs: number;
  private readonly windows = new Map<string, number[]>();
  private readonly daily = new Map<string, { day: string; used: number }>();
  /** With a search index delay: what search sees of each contact, and from when. */
  private readonly indexVersions = new Map<string, { visibleAt: number; snapshot: FakeGhlContact | null }[]>();
  private readonly keys = generateKeyPairSync('ed25519');
  private legacyKeys?: { publicKey: KeyObject; privateKey: KeyObject };

  constructor(opts: FakeGoHighLevelOptions = {}) {
    super({ name: 'HighLevel', textBodies: true });
    this.random = prng(opts.seed ?? 42);
    this.stepMs = opts.stepMs ?? 1000;
    this.clock = (opts.epoch ?? new Date(Date.now() - 60 * 86_400_000)).getTime() - this.stepMs;
    this.burstMax = opts.burstMax ?? 100;
    this.burstIntervalMs = opts.burstIntervalMs ?? 10_000;
    this.dailyLimit = opts.dailyLimit ?? 200_000;
    this.maxPageLimit = opts.maxPageLimit ?? 500;
    this.searchWindow = opts.searchWindow ?? 10_000;
    this.searchIndexDelayMs = opts.searchIndexDelayMs ?? 0;
    this.companyId = opts.companyId ?? this.newId();
    this.appId = opts.appId ?? this.hexId();
    this.versionId = opts.versionId ?? this.hexId();
    this.locationId = this.addLocation({ id: opts.locationId, name: opts.locationName ?? 'Fake Dental Studio' }).id;
    this.token = opts.token ?? 'pit-fake-ghl-0000-0000-000000000000';
    this.acceptToken = opts.acceptToken;
    this.addToken(this.token, this.locationId);
    this.addContacts(opts.contacts ?? 0);
    this.pendingEvents.length = 0; // the starting data is not news
  }

  protected override requestDetails(req: Request): Omit<RequestLogEntry, keyof LoggedRequest> {
    return { body: loggedBody(req), token: bearer(req), version: req.get('version') ?? null };
  }

  protected routes(app: Express): void {
    app.disable('x-powered-by');
    app.use((req, res, next) => this.authenticate(req, res, next));
    app.use((req, res, next) => this.rateLimit(req, res, next));

    app.get(
      '/locations/:locationId',
      jsonRoute((req, res) => this.getLocation(req, res)),
    );
    app.post(
      '/contacts/search',
      jsonRoute((req, res) => this.search(req, res)),
    );
    app.get(
      '/contacts/:contactId',
      jsonRoute((req, res) => this.getContact(req, res)),
    );
    app.post(
      '/contacts/upsert',
      jsonRoute((req, res) => this.upsertContact(req, res)),
    );
    app.put(
      '/contacts/:contactId',
      jsonRoute((req, res) => this.putContact(req, res)),
    );
    app.delete(
      '/contacts/:contactId',
      jsonRoute((req, res) => this.removeContact(req, res)),
    );
    // Anything else, POST /webhooks included (webhooks are set in the marketplace app, not by API): NestJS's 404.
    app.use((req, res) => {
      res.status(404).json(errorBody(404, `Cannot ${req.method} ${req.path}`));
    });
  }

  // ---- locations and tokens ----

  /** Another sub-account (location). */
  addLocation(spec: Partial<FakeGhlLocation> = {}): FakeGhlLocation {
    const id = spec.id ?? this.newId();
    const [city, state, postalCode] = CITIES[this.locations.size % CITIES.length];
    const location: FakeGhlLocation = {
      id,
      companyId: this.companyId,
      name: `Fake Location ${this.locations.size + 1}`,
      email: `owner${this.locations.size + 1}@location.example`,
      phone: `+1555000${String(1000 + this.locations.size).slice(-4)}`,
      address: '1 Main St',
      city,
      state,
      country: 'US',
      postalCode,
      website: 'https://location.example',
      timezone: 'America/Chicago',
      ...spec,
    };
    location.id = id;
    this.locations.set(id, location);
    return location;
  }

  location(id: string = this.locationId): FakeGhlLocation {
    const l = this.locations.get(id);
    if (!l) throw new Error(`no fake HighLevel location ${id}`);
    return l;
  }

  /** Another valid token, bound to one location (a location's PIT, or the access token an OAuth refresh hands out). */
  addToken(token: string, locationId: string = this.locationId): void {
    if (!this.locations.has(locationId)) this.addLocation({ id: locationId });
    this.tokens.set(token, { locationId, expiredAt: null });
  }

  /** The token stops working (401), as an OAuth access token does after a day. */
  expireToken(token: string = this.token): void {
    const info = this.tokens.get(token);
    if (info) info.expiredAt = Date.now();
  }

  /** The token is forgotten altogether (rotated or deleted PIT). */
  revokeToken(token: string = this.token): void {
    this.tokens.delete(token);
  }

  // ---- contacts ----

  addContacts(n: number, locationId: string = this.locationId): FakeGhlContact[] {
    if (!this.locations.has(locationId)) this.addLocation({ id: locationId });
    const r = this.random;
    const added: FakeGhlContact[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.newId();
      const first = FIRST[Math.floor(r() * FIRST.length)];
      const last = LAST[Math.floor(r() * LAST.length)];
      const [city, state, postalCode] = CITIES[Math.floor(r() * CITIES.length)];
      this.clock += this.stepMs;
      const at = new Date(this.clock);
      const local = `${first}.${last}.${id.slice(0, 6)}`
        .toLowerCase()
        .normalize('NFKD')
        .replace(/[^a-z0-9.]/g, '');
      const tags = TAGS.filter(() => r() < 0.2);
      const contact: FakeGhlContact = {
        id,
        locationId,
        firstName: first,
        lastName: last,
        // One in twenty has no email: HighLevel keeps such contacts, and so must a sync.
        email: r() < 0.05 ? null : `${local}@example.com`,
        phone: r() < 0.2 ? null : `+1555${String(Math.floor(r() * 10_000_000)).padStart(7, '0')}`,
        companyName: r() < 0.4 ? null : COMPANIES[Math.floor(r() * COMPANIES.length)],
        type: r() < 0.8 ? 'lead' : 'customer',
        source: SOURCES[Math.floor(r() * SOURCES.length)],
        tags,
        dnd: r() < 0.05,
        country: 'US',
        timezone: 'America/Chicago',
        address1: r() < 0.5 ? null : `${100 + Math.floor(r() * 900)} Elm St`,
        city,
        state,
        postalCode,
        website: null,
        dateOfBirth: null,
        assignedTo: null,
        customFields: r() < 0.3 ? [{ id: 'cfTier00000000000001', value: r() < 0.5 ? 'Gold' : 'Silver' }] : [],
        dateAdded: at,
        dateUpdated: at,
        deletedAt: null,
      };
      this.contacts.set(id, contact);
      this.reindex(contact, at.getTime());
      added.push(contact);
      this.pendingEvents.push(this.contactEvent('ContactCreate', contact, { timestamp: at }));
    }
    return added;
  }

  contact(id: string): FakeGhlContact {
    const c = this.contacts.get(id);
    if (!c) throw new Error(`no fake HighLevel contact ${id}`);
    return c;
  }

  /** Live contacts of one location, oldest first. */
  contactsIn(locationId: string = this.locationId): FakeGhlContact[] {
    return [...this.contacts.values()].filter((c) => c.locationId === locationId && c.deletedAt === null);
  }

  /** Changes fields now, moving dateUpdated, as an edit in HighLevel would. */
  updateContact(id: string, changes: GhlContactChanges): FakeGhlContact {
    const c = this.contact(id);
    if (c.deletedAt) throw new Error(`fake HighLevel contact ${id} is deleted`);
    Object.assign(c, changes);
    c.dateUpdated = this.changeTime();
    this.reindex(c, Date.now());
    this.pendingEvents.push(this.contactEvent('ContactUpdate', c, { timestamp: c.dateUpdated }));
    return c;
  }

  /** Deletes a contact now: it leaves search and GET answers 404. */
  deleteContact(id: string): FakeGhlContact {
    const c = this.contact(id);
    const at = this.changeTime();
    c.deletedAt = at;
    this.reindex(c, Date.now());
    this.pendingEvents.push(this.contactEvent('ContactDelete', c, { timestamp: at }));
    return c;
  }

  /** The time of the latest change the fake has made. */
  now(): Date {
    return new Date(this.clock);
  }

  // ---- faults (the rest come from FakeServer) ----

  /** Drops pending faults, the delay and the burst windows (not the daily counts). */
  override clearFaults(): void {
    super.clearFaults();
    this.windows.clear();
  }

  /** Forgets the daily counts (a new day). */
  resetDailyUsage(): void {
    this.daily.clear();
  }

  // ---- webhooks ----

  /** The fake's Ed25519 public key as PEM (SPKI): what a verifier is configured with. */
  get publicKeyPem(): string {
    return this.keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** The PEM body on one line (base64 of the SPKI DER), the form HighLevel prints in its guide. */
  get publicKeySpkiBase64(): string {
    return this.keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  }

  /** The bare 32-byte Ed25519 key, base64. */
  get publicKeyRawBase64(): string {
    return this.keys.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  }

  /** The fake's legacy RSA public key (made on first use). */
  get legacyPublicKeyPem(): string {
    return this.legacy().publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** base64 Ed25519 signature of the raw body, for `x-ghl-signature`. */
  sign(rawBody: string | Buffer): string {
    return signGhlWebhook(rawBody, this.keys.privateKey);
  }

  /** base64 RSA-SHA256 signature of the raw body, for the legacy `x-wh-signature`. */
  signLegacy(rawBody: string | Buffer): string {
    return signLegacyGhlWebhook(rawBody, this.legacy().privateKey);
  }

  /**
   * A native ContactCreate / ContactUpdate / ContactDelete body: the fields of HighLevel's
   * documented schema (nulls left out), then `timestamp` and `webhookId`.
   */
  contactEvent(
    type: GhlContactEventType,
    contact: FakeGhlContact | string,
    opts: { webhookId?: string; timestamp?: string | Date } = {},
  ): GhlWebhookPayload {
    const c = typeof contact === 'string' ? this.contact(contact) : contact;
    const name = [c.firstName, c.lastName].filter(Boolean).join(' ');
    const fields: Record<string, unknown> = {
      type,
      locationId: c.locationId,
      versionId: this.versionId,
      appId: this.appId,
      id: c.id,
      address1: c.address1,
      city: c.city,
      state: c.state,
      companyName: c.companyName,
      country: c.country,
      source: c.source,
      dateAdded: c.dateAdded.toISOString(),
      dateOfBirth: c.dateOfBirth,
      dnd: c.dnd,
      email: c.email,
      name: name || null,
      firstName: c.firstName,
      lastName: c.lastName,
      phone: c.phone,
      postalCode: c.postalCode,
      tags: [...c.tags],
      website: c.website,
      attachments: [],
      assignedTo: c.assignedTo,
      customFields: c.customFields.map((f) => ({ ...f })),
    };
    const payload: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== null && v !== undefined) payload[k] = v;
    payload.timestamp = iso(opts.timestamp ?? new Date());
    payload.webhookId = opts.webhookId ?? randomUUID();
    return payload as GhlWebhookPayload;
  }

  /** The bodies for changes made since the last call (addContacts after construction, updateContact, deleteContact). */
  takeWebhookEvents(): GhlWebhookPayload[] {
    return this.pendingEvents.splice(0, this.pendingEvents.length);
  }

  /** POSTs one body to `targetUrl` as HighLevel does: raw JSON, signed in `x-ghl-signature`. */
  async deliver(
    targetUrl: string,
    payload: GhlWebhookPayload | Record<string, unknown>,
    opts: DeliverOptions = {},
  ): Promise<{ status: number; body: string; sent: string }> {
    const sent = JSON.stringify(opts.timestamp === undefined ? payload : { ...payload, timestamp: iso(opts.timestamp) });
    const headers: Record<string, string> = { 'Content-Type': 'application/json', ...(opts.headers ?? {}) };
    const ed = this.signatureFor(opts.signature ?? 'valid', sent, false);
    if (ed !== null) headers['x-ghl-signature'] = ed;
    const legacy = this.signatureFor(opts.legacySignature ?? 'none', sent, true);
    if (legacy !== null) headers['x-wh-signature'] = legacy;
    const res = await fetch(targetUrl, { method: 'POST', headers, body: opts.tamperBody ?? sent });
    return { status: res.status, body: await res.text(), sent };
  }

  // ---- internals: middleware ----

  /** An injected 429 carries the location's rate-limit headers, as a real one does. */
  protected failureBody(status: number, req: Request, res: Response): unknown {
    if (status === 429) {
      const info = this.tokenInfo(req);
      if (info) this.rateHeaders(res, info.locationId, 0);
      return errorBody(429, MSG.tooMany);
    }
    return errorBody(status, status === 500 ? 'Internal server error' : (REASONS[status] ?? 'Error'));
  }

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    // The Version header is checked first (the gateway routes by it); the order when both are wrong is unconfirmed.
    const version = req.get('version');
    if (version === undefined || version === '') {
      res.status(401).json(errorBody(401, MSG.noVersion));
      return;
    }
    if (!HIGHLEVEL_API_VERSIONS.includes(version)) {
      res.status(401).json(errorBody(401, MSG.badVersion));
      return;
    }
    const info = this.lookup(bearer(req));
    if (!info) {
      res.status(401).json(errorBody(401, MSG.invalidJwt));
      return;
    }
    if (info.expiredAt !== null) {
      res.status(401).json(errorBody(401, MSG.expired));
      return;
    }
    res.locals.locationId = info.locationId;
    next();
  }

  private rateLimit(_req: Request, res: Response, next: NextFunction): void {
    const locationId = res.locals.locationId as string;
    const now = Date.now();
    const window = (this.windows.get(locationId) ?? []).filter((t) => t > now - this.burstIntervalMs);
    this.windows.set(locationId, window);
    const usage = this.usage(locationId);
    if (usage.used >= this.dailyLimit || window.length >= this.burstMax) {
      this.rateHeaders(res, locationId, usage.used >= this.dailyLimit ? Math.max(0, this.burstMax - window.length) : 0);
      res.status(429).json(errorBody(429, MSG.tooMany));
      return;
    }
    window.push(now);
    usage.used++;
    this.rateHeaders(res, locationId, null);
    next();
  }

  private rateHeaders(res: Response, locationId: string, remaining: number | null): void {
    const now = Date.now();
    const inWindow = (this.windows.get(locationId) ?? []).filter((t) => t > now - this.burstIntervalMs).length;
    const usage = this.usage(locationId);
    res.setHeader('X-RateLimit-Limit-Daily', String(this.dailyLimit));
    res.setHeader('X-RateLimit-Daily-Remaining', String(Math.max(0, this.dailyLimit - usage.used)));
    res.setHeader('X-RateLimit-Interval-Milliseconds', String(this.burstIntervalMs));
    res.setHeader('X-RateLimit-Max', String(this.burstMax));
    res.setHeader('X-RateLimit-Remaining', String(remaining ?? Math.max(0, this.burstMax - inWindow)));
  }

  private usage(locationId: string): { day: string; used: number } {
    const day = new Date().toISOString().slice(0, 10);
    let u = this.daily.get(locationId);
    if (!u || u.day !== day) {
      u = { day, used: 0 };
      this.daily.set(locationId, u);
    }
    return u;
  }

  private tokenInfo(req: Request): TokenInfo | undefined {
    return this.lookup(bearer(req));
  }

  private lookup(token: string | null | undefined): TokenInfo | undefined {
    if (!token) return undefined;
    return this.tokens.get(token) ?? (this.acceptToken?.(token) ? { locationId: this.locationId, expiredAt: null } : undefined);
  }

  // ---- internals: routes ----

  private ownLocation(res: Response, locationId: string): void {
    if (locationId !== res.locals.locationId) throw new FakeApiError(403, errorBody(403, MSG.wrongLocation));
  }

  private getLocation(req: Request, res: Response): { body: unknown } {
    const id = String(req.params.locationId);
    this.ownLocation(res, id);
    const l = this.location(id);
    return {
      body: {
        location: {
          id: l.id,
          companyId: l.companyId,
          name: l.name,
          domain: '',
          address: l.address,
          city: l.city,
          state: l.state,
          logoUrl: '',
          country: l.country,
          postalCode: l.postalCode,
          website: l.website,
          timezone: l.timezone,
          firstName: 'Fake',
          lastName: 'Owner',
          email: l.email,
          phone: l.phone,
          business: {
            name: l.name,
            address: l.address,
            city: l.city,
            state: l.state,
            country: l.country,
            postalCode: l.postalCode,
            website: l.website,
            timezone: l.timezone,
          },
          social: {},
          settings: {
            allowDuplicateContact: false,
            allowDuplicateOpportunity: false,
            allowFacebookNameMerge: false,
            disableContactTimezone: false,
          },
        },
      },
    };
  }

  private getContact(req: Request, res: Response): { body: unknown } {
    return { body: { contact: contactJson(this.liveContact(req, res)) } };
  }

  private search(req: Request, res: Response): { body: unknown } {
    const b = jsonBody(req);
    const problems: string[] = [];
    if (typeof b.locationId !== 'string' || b.locationId === '')
      problems.push('locationId must be a string', 'locationId should not be empty');
    if (b.pageLimit === undefined || b.pageLimit === null) problems.push('pageLimit should not be empty');
    else if (typeof b.pageLimit !== 'number' || !Number.isInteger(b.pageLimit)) problems.push('pageLimit must be an integer number');
    else if (b.pageLimit < 1) problems.push('pageLimit must not be less than 1');
    else if (b.pageLimit > this.maxPageLimit) problems.push(`pageLimit must not be greater than ${this.maxPageLimit}`);
    if (b.page !== undefined && (typeof b.page !== 'number' || !Number.isInteger(b.page) || b.page < 1))
      problems.push('page must not be less than 1');
    if (b.searchAfter !== undefined && !Array.isArray(b.searchAfter)) problems.push('searchAfter must be an array');
    // HighLevel's docs: "Do not include page when using searchAfter" (what it does if both come is unconfirmed).
    if (b.searchAfter !== undefined && b.page !== undefined) problems.push('page must not be sent with searchAfter');
    if (b.query !== undefined && (typeof b.query !== 'string' || b.query.length > 75))
      problems.push('query must be a string of at most 75 characters');
    if (problems.length) throw unprocessable(problems);
    const locationId = b.locationId as string;
    this.ownLocation(res, locationId);
    const pageLimit = b.pageLimit as number;
    const filters = parseFilters(b.filters);
    const sort = parseSort(b.sort);
    const query = typeof b.query === 'string' ? b.query.trim().toLowerCase() : '';

    // The sorted matches of one query are kept until the data changes: a client paging
    // 100,000 contacts must measure itself, not a fake that sorts them all on every page.
    const cacheKey = JSON.stringify([locationId, b.filters ?? null, b.sort ?? null, query]);
    const cached = this.searchIndexDelayMs <= 0 ? this.searchCache.get(cacheKey) : undefined;
    let matches: { c: FakeGhlContact; key: unknown[] }[];
    if (cached && cached.version === this.dataVersion) matches = cached.matches;
    else {
      const now = Date.now();
      matches = [];
      for (const live of this.contacts.values()) {
        if (live.locationId !== locationId) continue;
        const c = this.searchView(live, now);
        if (!c || c.deletedAt) continue;
        if (!filters.every((f) => matchFilter(c, f))) continue;
        if (query && !matchQuery(c, query)) continue;
        matches.push({ c, key: [...sort.map((s) => sortValue(c, s.field)), c.id] });
      }
      matches.sort((x, y) => compareKeys(x.key, y.key, sort));
      if (this.searchCache.size > 50) this.searchCache.clear();
      this.searchCache.set(cacheKey, { version: this.dataVersion, matches });
    }

    let page: typeof matches;
    if (b.searchAfter !== undefined) {
      const after = (b.searchAfter as unknown[]).map((v, i) =>
        // A date sort value sent back as a numeric string is read as the number it stands for.
        i < sort.length && DATE_FIELDS.has(sort[i].field) && typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v,
      );
      if (after.length !== sort.length + 1)
        throw badRequest(`searchAfter must have ${sort.length + 1} values: one per sort field, then the id`);
      // The first match after the given key (binary search over the sorted matches).
      let lo = 0;
      let hi = matches.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareKeys(matches[mid].key, after, sort) > 0) hi = mid;
        else lo = mid + 1;
      }
      const start = lo < matches.length ? lo : -1;
      page = start < 0 ? [] : matches.slice(start, start + pageLimit);
    } else {
      const from = ((b.page as number | undefined) ?? 1) - 1;
      if ((from + 1) * pageLimit > this.searchWindow) throw badRequest(MSG.pastWindow(this.searchWindow));
      page = matches.slice(from * pageLimit, (from + 1) * pageLimit);
    }
    return { body: { contacts: page.map((m) => searchJson(m.c, m.key)), total: matches.length, traceId: randomUUID() } };
  }

  // ---- internals: writes ----

  /**
   * Matched by email, then phone (a location's default "Allow Duplicate Contact" order): the
   * match is updated (`new: false`), else a contact is created (`new: true`).
   */
  private upsertContact(req: Request, res: Response): { body: unknown } {
    const b = jsonBody(req);
    this.received.push({ method: 'POST', path: req.path, body: b });
    checkContactBody(b, UPSERT_PROPERTIES);
    if (typeof b.locationId !== 'string' || b.locationId === '') throw unprocessable(['locationId should not be empty']);
    this.ownLocation(res, b.locationId);
    const email = typeof b.email === 'string' ? b.email : null;
    const phone = typeof b.phone === 'string' ? b.phone : null;
    // Unconfirmed: HighLevel's answer to an upsert with neither.
    if (!email && !phone) throw badRequest('Either email or phone is required');
    const live = this.contactsIn(b.locationId);
    const match = live.find((c) => sameEmail(c.email, email)) ?? live.find((c) => samePhone(c.phone, phone));
    const at = this.changeTime();
    const c = match ?? this.blankContact(b.locationId, at);
    applyContactBody(c, b);
    c.dateUpdated = at;
    this.reindex(c, at.getTime());
    this.pendingEvents.push(this.contactEvent(match ? 'ContactUpdate' : 'ContactCreate', c, { timestamp: at }));
    return { body: { new: !match, contact: contactJson(c), traceId: randomUUID() } };
  }

  private putContact(req: Request, res: Response): { body: unknown } {
    const b = jsonBody(req);
    this.received.push({ method: 'PUT', path: req.path, body: b });
    const c = this.liveContact(req, res);
    checkContactBody(b, UPDATE_PROPERTIES);
    const email = typeof b.email === 'string' ? b.email : null;
    const twin = email ? this.contactsIn(c.locationId).find((o) => o.id !== c.id && sameEmail(o.email, email)) : undefined;
    // The location's default refuses a second contact with the same email (unconfirmed for PUT).
    if (twin) {
      throw new FakeApiError(400, {
        ...errorBody(400, 'This location does not allow duplicated contacts.'),
        meta: { contactId: twin.id, matchingField: 'email' },
      });
    }
    applyContactBody(c, b);
    c.dateUpdated = this.changeTime();
    this.reindex(c, c.dateUpdated.getTime());
    this.pendingEvents.push(this.contactEvent('ContactUpdate', c, { timestamp: c.dateUpdated }));
    return { body: { succeded: true, contact: contactJson(c) } };
  }

  private removeContact(req: Request, res: Response): { body: unknown } {
    this.received.push({ method: 'DELETE', path: req.path, body: undefined });
    const c = this.liveContact(req, res);
    this.deleteContact(c.id);
    return { body: { succeded: true } };
  }

  /** The path's contact: `missingContactStatus` once deleted or never there, 403 when another location's. */
  private liveContact(req: Request, res: Response): FakeGhlContact {
    const id = String(req.params.contactId);
    const c = this.contacts.get(id);
    if (!c || c.deletedAt) {
      if (this.missingContactStatus === 400) throw badRequest(`Contact with id ${id} not found`);
      throw new FakeApiError(404, errorBody(404, MSG.contactNotFound));
    }
    this.ownLocation(res, c.locationId);
    return c;
  }

  private blankContact(locationId: string, at: Date): FakeGhlContact {
    const c: FakeGhlContact = {
      id: this.newId(),
      locationId,
      firstName: null,
      lastName: null,
      email: null,
      phone: null,
      companyName: null,
      type: 'lead',
      source: null,
      tags: [],
      dnd: false,
      country: null,
      timezone: null,
      address1: null,
      city: null,
      state: null,
      postalCode: null,
      website: null,
      dateOfBirth: null,
      assignedTo: null,
      customFields: [],
      dateAdded: at,
      dateUpdated: at,
      deletedAt: null,
    };
    this.contacts.set(c.id, c);
    return c;
  }

  // ---- internals: data ----

  /** What search sees of a contact now (the last version older than the index delay). */
  private searchView(c: FakeGhlContact, now: number): FakeGhlContact | null {
    if (this.searchIndexDelayMs <= 0) return c;
    const versions = this.indexVersions.get(c.id) ?? [];
    let seen: FakeGhlContact | null = null;
    for (const v of versions) if (v.visibleAt <= now) seen = v.snapshot;
    return seen;
  }

  private reindex(c: FakeGhlContact, changedAt: number): void {
    this.dataVersion++;
    if (this.searchIndexDelayMs <= 0) return;
    const versions = this.indexVersions.get(c.id) ?? [];
    versions.push({
      visibleAt: changedAt + this.searchIndexDelayMs,
      snapshot: { ...c, tags: [...c.tags], customFields: [...c.customFields] },
    });
    this.indexVersions.set(c.id, versions);
  }

  private signatureFor(mode: SignatureMode, body: string, legacy: boolean): string | null {
    if (mode === 'none') return null;
    if (mode === 'N/A') return 'N/A';
    if (mode === 'valid') return legacy ? this.signLegacy(body) : this.sign(body);
    // 'bad': well-formed, made with a key HighLevel does not have.
    if (legacy) return signLegacyGhlWebhook(body, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey);
    return signGhlWebhook(body, generateKeyPairSync('ed25519').privateKey);
  }

  private legacy(): { publicKey: KeyObject; privateKey: KeyObject } {
    this.legacyKeys ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
    return this.legacyKeys;
  }

  /** A HighLevel-looking id: 20 characters of [A-Za-z0-9], unique in the fake. */
  private newId(): string {
    for (;;) {
      let id = '';
      for (let i = 0; i < 20; i++) id += ID_ALPHABET[Math.floor(this.random() * ID_ALPHABET.length)];
      if (!this.contacts.has(id) && !this.locations.has(id)) return id;
    }
  }

  /** A 24-hex id, as HighLevel's appId / versionId look. */
  private hexId(): string {
    let id = '';
    for (let i = 0; i < 24; i++) id += Math.floor(this.random() * 16).toString(16);
    return id;
  }

  /** Edits and deletions happen now (and never before an earlier change). */
  private changeTime(): Date {
    this.clock = Math.max(this.clock + 1, Date.now());
    return new Date(this.clock);
  }
}

// ---- helpers ----

function iso(t: string | Date): string {
  return typeof t === 'string' ? t : t.toISOString();
}

function jsonBody(req: Request): Record<string, unknown> {
  const raw = typeof req.body === 'string' ? req.body : '';
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new FakeApiError(400, errorBody(400, (e as Error).message));
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw unprocessable(['body must be an object']);
  return parsed as Record<string, unknown>;
}

function parseSort(raw: unknown): SortRule[] {
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) return [{ field: 'dateAdded', desc: true }];
  if (!Array.isArray(raw)) throw unprocessable(['sort must be an array']);
  return raw.map((s) => {
    const o = (s && typeof s === 'object' ? s : {}) as Record<string, unknown>;
    const field = String(o.field ?? '');
    if (!SORT_FIELDS.has(field)) throw badRequest(`Invalid sort field ${field}`);
    const direction = String(o.direction ?? 'asc').toLowerCase();
    if (direction !== 'asc' && direction !== 'desc') throw badRequest(`Invalid sort direction ${String(o.direction)}`);
    return { field, desc: direction === 'desc' };
  });
}

function parseFilters(raw: unknown): ParsedFilter[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw unprocessable(['filters must be an array']);
  return raw.map(parseFilter);
}

function parseFilter(raw: unknown): ParsedFilter {
  const f = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  if (f.group !== undefined) {
    const group = String(f.group).toUpperCase();
    if (group !== 'AND' && group !== 'OR') throw badRequest(`Invalid group ${String(f.group)}`);
    if (!Array.isArray(f.filters)) throw badRequest('A filter group needs a filters array');
    return { kind: 'group', or: group === 'OR', filters: f.filters.map(parseFilter) };
  }
  const field = String(f.field ?? '');
  if (!(field in FILTER_FIELDS)) throw badRequest(`Invalid field ${field}`);
  const operator = String(f.operator ?? '');
  if (!OPERATORS.has(operator)) throw badRequest(`Invalid operator ${operator}`);
  const leaf: ParsedFilter = { kind: 'leaf', field, operator, value: f.value };
  if (operator === 'range') {
    const v = f.value;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`Invalid value for range on ${field}`);
    const range: Record<string, number | string> = {};
    for (const [k, bound] of Object.entries(v as Record<string, unknown>)) {
      if (!RANGE_KEYS.has(k)) throw badRequest(`Invalid range key ${k}`);
      if (DATE_FIELDS.has(field)) {
        const t = typeof bound === 'number' ? bound : typeof bound === 'string' ? Date.parse(bound) : NaN;
        if (!Number.isFinite(t)) throw badRequest(`Invalid date ${String(bound)} for ${field}`);
        range[k] = t;
      } else if (typeof bound === 'number' || typeof bound === 'string') {
        range[k] = bound;
      } else {
        throw badRequest(`Invalid value for range on ${field}`);
      }
    }
    if (Object.keys(range).length === 0) throw badRequest(`Invalid value for range on ${field}`);
    leaf.range = range;
  } else if (operator !== 'exists' && operator !== 'not_exists' && (f.value === undefined || f.value === null)) {
    throw badRequest(`Operator ${operator} needs a value`);
  }
  return leaf;
}

function matchFilter(c: FakeGhlContact, f: ParsedFilter): boolean {
  if (f.kind === 'group') return f.or ? f.filters.some((x) => matchFilter(c, x)) : f.filters.every((x) => matchFilter(c, x));
  const actual = FILTER_FIELDS[f.field](c);
  const values = (Array.isArray(actual) ? actual : [actual]).filter((v) => v !== null && v !== undefined && v !== '');
  const norm = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
  switch (f.operator) {
    case 'exists':
      return values.length > 0;
    case 'not_exists':
      return values.length === 0;
    case 'eq':
      return values.some((v) => norm(v) === norm(f.value));
    case 'not_eq':
      return !values.some((v) => norm(v) === norm(f.value));
    case 'contains':
      return values.some((v) => String(norm(v)).includes(String(norm(f.value))));
    case 'not_contains':
      return !values.some((v) => String(norm(v)).includes(String(norm(f.value))));
    case 'range': {
      const r = f.range ?? {};
      return values.some((v) => {
        const x = v as number | string;
        return (
          (r.gt === undefined || x > r.gt) &&
          (r.gte === undefined || x >= r.gte) &&
          (r.lt === undefined || x < r.lt) &&
          (r.lte === undefined || x <= r.lte)
        );
      });
    }
  }
  return false;
}

function matchQuery(c: FakeGhlContact, q: string): boolean {
  return [c.firstName, c.lastName, [c.firstName, c.lastName].filter(Boolean).join(' '), c.email, c.phone, c.companyName].some(
    (v) => v !== null && v.toLowerCase().includes(q),
  );
}

function sortValue(c: FakeGhlContact, field: string): number | string | null {
  if (field === 'dateAdded') return c.dateAdded.getTime();
  if (field === 'dateUpdated') return c.dateUpdated.getTime();
  const v = FILTER_FIELDS[field](c);
  return typeof v === 'string' ? v.toLowerCase() : null;
}

/** Sort keys: one value per sort rule, then the id (always ascending); missing values last. */
function compareKeys(a: unknown[], b: unknown[], sort: SortRule[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
    if (cmp !== 0) return i < sort.length && sort[i].desc ? -cmp : cmp;
  }
  return 0;
}

/** GET /contacts/:id: the fields the contact has (absent ones left out), dates ISO with ms. */
function contactJson(c: FakeGhlContact): Record<string, unknown> {
  const fullName = [c.firstName, c.lastName].filter(Boolean).join(' ');
  const fields: Record<string, unknown> = {
    id: c.id,
    dateAdded: c.dateAdded.toISOString(),
    dateUpdated: c.dateUpdated.toISOString(),
    tags: [...c.tags],
    type: c.type,
    locationId: c.locationId,
    firstName: c.firstName,
    firstNameLowerCase: lower(c.firstName),
    fullNameLowerCase: fullName ? fullName.toLowerCase() : null,
    lastName: c.lastName,
    lastNameLowerCase: lower(c.lastName),
    email: c.email,
    emailLowerCase: lower(c.email),
    phone: c.phone,
    country: c.country,
    timezone: c.timezone,
    companyName: c.companyName,
    source: c.source,
    dnd: c.dnd,
    address1: c.address1,
    city: c.city,
    state: c.state,
    postalCode: c.postalCode,
    website: c.website,
    dateOfBirth: c.dateOfBirth,
    assignedTo: c.assignedTo,
    customFields: c.customFields.map((f) => ({ ...f })),
    additionalEmails: [],
    additionalPhones: [],
    followers: [],
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/** A search result, in the order and with the explicit nulls of a real answer; no `name`. */
function searchJson(c: FakeGhlContact, key: unknown[]): Record<string, unknown> {
  return {
    id: c.id,
    phoneLabel: null,
    country: c.country,
    address: c.address1,
    source: c.source,
    type: c.type,
    locationId: c.locationId,
    website: c.website,
    dnd: c.dnd,
    state: c.state,
    businessName: null,
    customFields: c.customFields.map((f) => ({ ...f })),
    tags: [...c.tags],
    dateAdded: c.dateAdded.toISOString(),
    additionalEmails: [],
    phone: c.phone,
    companyName: c.companyName,
    additionalPhones: [],
    dateUpdated: c.dateUpdated.toISOString(),
    city: c.city,
    dateOfBirth: c.dateOfBirth,
    firstNameLowerCase: lower(c.firstName),
    lastNameLowerCase: lower(c.lastName),
    firstName: c.firstName,
    lastName: c.lastName,
    email: c.email,
    assignedTo: c.assignedTo,
    followers: [],
    validEmail: null,
    opportunities: [],
    postalCode: c.postalCode,
    businessId: null,
    searchAfter: key,
  };
}

/** Reads a PEM public key (HighLevel's or the fake's) into a KeyObject; throws on anything else. */
export function ghlPublicKey(pem: string): KeyObject {
  return createPublicKey(pem);
}
