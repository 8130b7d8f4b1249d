import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { closeServer, listenOnLoopback } from '../shared/fake-server';

/**
 * An OAuth 2.0 authorization server of our own (fake-crm/oauth/README.md lists every rule
 * followed and where it comes from): the authorization code grant and the refresh token
 * grant of RFC 6749, PKCE of RFC 7636 (S256; `plain` only when allowed), token revocation
 * of RFC 7009, and "flavours" that shape the token answer the way Salesforce, Zoho,
 * GoHighLevel, HubSpot, Stripe, Dropbox and Google do. It is no CRM, so of fake-crm/shared
 * it takes only the loopback listen and close (not the CRM fault switches).
 */

// ---- public types ----

export type OAuthFlavor = 'standard' | 'salesforce' | 'zoho' | 'gohighlevel' | 'hubspot' | 'stripe' | 'dropbox' | 'google' | 'amazon';

export interface AddClientInput {
  clientId: string;
  /** null registers a public client (RFC 6749 2.1): it authenticates with client_id alone. */
  clientSecret: string | null;
  /** Compared exactly (no prefix or wildcard matching). */
  redirectUris: string[];
  /** Amazon: the SP-API application id Seller Central's consent page takes instead of client_id. */
  applicationId?: string;
}

export interface FakeOAuthClient {
  clientId: string;
  clientSecret: string | null;
  redirectUris: string[];
  applicationId?: string;
}

export interface FakeOAuthOptions {
  /** Default 'standard'. */
  flavor?: OAuthFlavor;
  /** Access token lifetime in seconds. Default 3600 (hubspot 1800, gohighlevel 86399, dropbox 14400, google 3599, stripe null). null = never expires. */
  expiresIn?: number | null;
  /** Authorization code lifetime in seconds. Default 60. */
  codeTtlSeconds?: number;
  /** A refresh answers a new refresh token and the old one stops working. Default false (gohighlevel: true). */
  rotateRefreshTokens?: boolean;
  /** Accept code_challenge_method=plain (RFC 7636 4.2). Default false. */
  allowPlainPkce?: boolean;
  /** Refuse an authorization request without code_challenge. Default false. */
  requirePkce?: boolean;
  /** 'rfc': RFC 6749 5.2 (400/401 + {error, error_description}); 'zoho': HTTP 200 + {error} with Zoho's names. Default by flavour. */
  errorStyle?: 'rfc' | 'zoho';
  /** Salesforce `instance_url`. Default: the fake's own url. Settable later (`instanceUrl`). */
  instanceUrl?: string;
  /** Zoho `api_domain`. Default: the fake's own url. Settable later (`apiDomain`). */
  apiDomain?: string;
  /** Merged last into every successful token answer (e.g. { locationId: 'abc' } or { stripe_user_id: 'acct_x' }). */
  tokenFields?: Record<string, unknown>;
  /**
   * How confidential clients may authenticate at the token endpoint: RFC 6749 2.3.1 requires
   * servers to take HTTP Basic and lets them refuse credentials in the body. Default both.
   */
  clientAuthMethods?: ('basic' | 'body')[];
  /** Clients registered at construction (same as addClient). */
  clients?: AddClientInput[];
}

export interface IssuedAccessToken {
  token: string;
  clientId: string;
  scope: string;
  grant: 'authorization_code' | 'refresh_token';
  /** The refresh token issued with it or used to get it, if any. */
  refreshToken: string | null;
  issuedAt: number;
  /** Epoch ms on the fake's clock; null = never expires. */
  expiresAt: number | null;
  revoked: boolean;
}

export interface IssuedRefreshToken {
  token: string;
  clientId: string;
  scope: string;
  issuedAt: number;
  revoked: boolean;
  /** The refresh token that replaced it (rotation). */
  rotatedTo: string | null;
  /** Extra parameters of the authorization request it descends from (access_type, prompt, ...). */
  extra: Record<string, string>;
}

export interface AuthorizeRecord {
  clientId: string;
  redirectUri: string;
  state: string | null;
  scope: string;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  /** Parameters outside RFC 6749/7636 (access_type, prompt, token_access_type, user_type, ...). */
  extra: Record<string, string>;
  /** What the fake answered: the code issued, or the error sent to the redirect URI. */
  outcome: { code: string } | { error: string };
  at: number;
}

export interface OAuthRequestLogEntry {
  method: string;
  path: string;
  /** Query parameters (authorization requests carry no secrets). */
  query: Record<string, string>;
  /** Form body with client_secret, code, code_verifier, refresh_token and token redacted to `***` + last 4 characters. */
  body: Record<string, string> | string | undefined;
  /** How the client authenticated at /token or /revoke. */
  clientAuth: 'basic' | 'body' | 'none';
  at: number;
}

// ---- helpers (exported for tests and for fakes that sit beside this one) ----

/** BASE64URL(SHA256(ASCII(verifier))), RFC 7636 4.2. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** A fresh verifier (43 characters from 32 random bytes, RFC 7636 4.1) and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string; method: 'S256' } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier), method: 'S256' };
}

/** Salesforce's token `signature`: base64(HMAC-SHA256(client_secret, id + issued_at)). */
export function salesforceSignature(id: string, issuedAt: string, clientSecret: string): string {
  return createHmac('sha256', clientSecret)
    .update(id + issuedAt, 'utf8')
    .digest('base64');
}

/** The Authorization header value for HTTP Basic client authentication (RFC 6749 2.3.1: form-encode, then base64). */
export function basicAuthHeader(clientId: string, clientSecret: string): string {
  const enc = (s: string) => new URLSearchParams({ v: s }).toString().slice(2);
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

// ---- flavours ----

interface FlavorProfile {
  expiresIn: number | null;
  /** Whether expires_in appears in the token answer. */
  reportExpiresIn: boolean;
  tokenType: string;
  rotate: boolean;
  /** The refresh answer repeats the refresh token used (no rotation). */
  echoRefreshToken: boolean;
  /** A refresh token is issued only when this authorization parameter had this value. */
  offlineParam: [string, string] | null;
  errorStyle: 'rfc' | 'zoho';
  defaultScope: string;
  accessPrefix: string;
  refreshPrefix: string;
  /** Provider paths served besides /authorize, /token and /revoke. */
  paths: { authorize: string[]; token: string[]; revoke: string[] };
}

const PROFILES: Record<OAuthFlavor, FlavorProfile> = {
  standard: {
    expiresIn: 3600,
    reportExpiresIn: true,
    tokenType: 'Bearer',
    rotate: false,
    echoRefreshToken: false,
    offlineParam: null,
    errorStyle: 'rfc',
    defaultScope: '',
    accessPrefix: 'at_',
    refreshPrefix: 'rt_',
    paths: { authorize: [], token: [], revoke: [] },
  },
  salesforce: {
    expiresIn: 3600,
    reportExpiresIn: false,
    tokenType: 'Bearer',
    rotate: false,
    echoRefreshToken: false,
    offlineParam: null,
    errorStyle: 'rfc',
    defaultScope: 'api refresh_token',
    accessPrefix: '00DFAKE000000001!AR',
    refreshPrefix: '5Aep861',
    paths: { authorize: ['/services/oauth2/authorize'], token: ['/services/oauth2/token'], revoke: ['/services/oauth2/revoke'] },
  },
  zoho: {
    expiresIn: 3600,
    reportExpiresIn: true,
    tokenType: 'Bearer',
    rotate: false,
    echoRefreshToken: false,
    offlineParam: ['access_type', 'offline'],
    errorStyle: 'zoho',
    defaultScope: '',
    accessPrefix: '1000.',
    refreshPrefix: '1000.',
    paths: { authorize: ['/oauth/v2/auth'], token: ['/oauth/v2/token'], revoke: ['/oauth/v2/token/revoke'] },
  },
  gohighlevel: {
    expiresIn: 86399,
    reportExpiresIn: true,
    tokenType: 'Bearer',
    rotate: true,
    echoRefreshToken: false,
    offlineParam: null,
    errorStyle: 'rfc',
    defaultScope: '',
    accessPrefix: 'ghl_at_',
    refreshPrefix: 'ghl_rt_',
    paths: { authorize: ['/oauth/chooselocation'], token: ['/oauth/token'], revoke: [] },
  },
  hubspot: {
    expiresIn: 1800,
    reportExpiresIn: true,
    tokenType: 'bearer',
    rotate: false,
    echoRefreshToken: true,
    offlineParam: null,
    errorStyle: 'rfc',
    defaultScope: 'oauth',
    accessPrefix: 'CKD',
    refreshPrefix: 'na1-',
    paths: { authorize: ['/oauth/authorize'], token: ['/oauth/v1/token'], revoke: [] },
  },
  stripe: {
    expiresIn: null,
    reportExpiresIn: false,
    tokenType: 'bearer',
    rotate: false,
    echoRefreshToken: false,
    offlineParam: null,
    errorStyle: 'rfc',
    defaultScope: 'read_write',
    accessPrefix: 'sk_test_',
    refreshPrefix: 'rt_',
    paths: { authorize: ['/oauth/authorize'], token: ['/oauth/token'], revoke: ['/oauth/deauthorize'] },
  },
  dropbox: {
    expiresIn: 14400,
    reportExpiresIn: true,
    tokenType: 'bearer',
    rotate: false,
    echoRefreshToken: false,
    offlineParam: ['token_access_type', 'offline'],
    errorStyle: 'rfc',
    defaultScope: '',
    accessPrefix: 'sl.',
    refreshPrefix: '',
    paths: { authorize: ['/oauth2/authorize'], token: ['/oauth2/token'], revoke: ['/2/auth/token/revoke'] },
  },
  amazon: {
    expiresIn: 3600,
    reportExpiresIn: true,
    tokenType: 'bearer',
    rotate: false,
    echoRefreshToken: false,
    offlineParam: null,
    errorStyle: 'rfc',
    defaultScope: '',
    accessPrefix: 'Atza|',
    refreshPrefix: 'Atzr|',
    paths: { authorize: [], token: ['/auth/o2/token'], revoke: [] },
  },
  google: {
    expiresIn: 3599,
    reportExpiresIn: true,
    tokenType: 'Bearer',
    rotate: false,
    echoRefreshToken: false,
    offlineParam: ['access_type', 'offline'],
    errorStyle: 'rfc',
    defaultScope: '',
    accessPrefix: 'ya29.',
    refreshPrefix: '1//',
    paths: { authorize: ['/o/oauth2/v2/auth', '/o/oauth2/auth'], token: ['/o/oauth2/token'], revoke: ['/o/oauth2/revoke'] },
  },
};

/** Parameters RFC 6749 4.1.1 and RFC 7636 4.3 define; everything else is kept as `extra`. */
const STANDARD_AUTHORIZE_PARAMS = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
]);
const REDACTED_FIELDS = new Set(['client_secret', 'code', 'code_verifier', 'refresh_token', 'token', 'password', 'client_assertion']);
/** RFC 7636 4.1: 43 to 128 unreserved characters (the challenge has the same alphabet). */
const PKCE_SYNTAX = /^[A-Za-z0-9\-._~]{43,128}$/;
const ZOHO_ERROR_NAMES: Record<string, string> = { invalid_grant: 'invalid_code' };

class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
    /** The name Zoho uses when it differs from RFC 6749's. */
    readonly zohoError?: string,
  ) {
    super(`${error}: ${description}`);
  }
}

interface CodeRecord {
  code: string;
  clientId: string;
  redirectUri: string;
  /** Whether redirect_uri was in the authorization request (then it must be repeated at /token, RFC 6749 4.1.3). */
  redirectUriGiven: boolean;
  scope: string;
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  extra: Record<string, string>;
  expiresAt: number;
  used: boolean;
  /** Tokens issued from this code: revoked if the code is replayed (RFC 6749 4.1.2). */
  issued: string[];
}

interface Params {
  values: Record<string, string>;
  duplicates: string[];
}

/** RFC 6749 3.1: a parameter sent without a value counts as omitted; none may appear twice. */
function parseParams(raw: string): Params {
  const values: Record<string, string> = {};
  const duplicates: string[] = [];
  const seen = new Set<string>();
  for (const [key, value] of new URLSearchParams(raw)) {
    if (seen.has(key)) duplicates.push(key);
    seen.add(key);
    if (value !== '') values[key] = value;
  }
  return { values, duplicates };
}

function redact(values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = REDACTED_FIELDS.has(k) ? `***${v.slice(-4)}` : v;
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function decodeFormComponent(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

function randomToken(prefix: string, bytes = 24): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

function randomId(alphabet: string, length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// ---- the server ----

export class FakeOAuth {
  readonly flavor: OAuthFlavor;
  /** Access token lifetime in seconds (null = never expires); settable. */
  expiresIn: number | null;
  codeTtlSeconds: number;
  rotateRefreshTokens: boolean;
  allowPlainPkce: boolean;
  requirePkce: boolean;
  errorStyle: 'rfc' | 'zoho';
  tokenFields: Record<string, unknown>;

  readonly clients = new Map<string, FakeOAuthClient>();
  /** Every access token issued, by value. */
  readonly accessTokens = new Map<string, IssuedAccessToken>();
  /** Every refresh token issued, by value. */
  readonly refreshTokens = new Map<string, IssuedRefreshToken>();
  /** Every authorization request that named a known client and redirect URI. */
  readonly authorizations: AuthorizeRecord[] = [];
  /** Every request, refused ones included. */
  readonly requests: OAuthRequestLogEntry[] = [];

  /** Requests to the token endpoint (any grant, failures included). */
  tokenCalls = 0;
  /** Token requests with grant_type=refresh_token (failures included). */
  refreshCalls = 0;
  /** Token requests with grant_type=authorization_code (failures included). */
  codeExchanges = 0;

  /** Identity the flavours report (GoHighLevel, Stripe, Dropbox, Salesforce); settable. */
  readonly identity = {
    locationId: randomId(ALNUM, 20),
    companyId: randomId(ALNUM, 20),
    userId: randomId(ALNUM, 20),
    stripeUserId: `acct_${randomId(ALNUM, 16)}`,
    dropboxAccountId: `dbid:${randomId(ALNUM, 43)}`,
    dropboxUid: String(100_000_000 + (randomBytes(4).readUInt32BE() % 900_000_000)),
    salesforceOrgId: `00D${randomId(ALNUM, 15)}`,
    salesforceUserId: `005${randomId(ALNUM, 15)}`,
    sellingPartnerId: `A${randomId('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 13)}`,
    email: 'connected.person@example.com',
    displayName: 'Connected Person',
  };

  private readonly profile: FlavorProfile;
  private readonly clientAuthMethods: ('basic' | 'body')[];
  private instanceUrlOverride?: string;
  private apiDomainOverride?: string;
  private readonly codes = new Map<string, CodeRecord>();
  private server?: Server;
  private clockOffsetMs = 0;
  private delayMs = 0;
  private denials = 0;
  private tokenFailures: { status: number; remaining: number }[] = [];
  private invalidGrants = 0;
  private scripted: { status: number; body: string; type: string }[] = [];

  constructor(opts: FakeOAuthOptions = {}) {
    this.flavor = opts.flavor ?? 'standard';
    this.profile = PROFILES[this.flavor];
    if (!this.profile) throw new Error(`unknown OAuth flavour: ${String(opts.flavor)}`);
    this.expiresIn = opts.expiresIn !== undefined ? opts.expiresIn : this.profile.expiresIn;
    this.codeTtlSeconds = opts.codeTtlSeconds ?? 60;
    this.rotateRefreshTokens = opts.rotateRefreshTokens ?? this.profile.rotate;
    this.allowPlainPkce = opts.allowPlainPkce ?? false;
    this.requirePkce = opts.requirePkce ?? false;
    this.errorStyle = opts.errorStyle ?? this.profile.errorStyle;
    this.tokenFields = { ...(opts.tokenFields ?? {}) };
    this.instanceUrlOverride = opts.instanceUrl;
    this.clientAuthMethods = opts.clientAuthMethods ?? ['basic', 'body'];
    this.apiDomainOverride = opts.apiDomain;
    for (const c of opts.clients ?? []) this.addClient(c);
  }

  // ---- life cycle ----

  /** Base URL, as https://login.salesforce.com or https://accounts.zoho.com would be. */
  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('fake OAuth server is not started');
    return `http://127.0.0.1:${address.port}`;
  }

  get authorizeUrl(): string {
    return `${this.url}/authorize`;
  }

  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  get revokeUrl(): string {
    return `${this.url}/revoke`;
  }

  /** Salesforce `instance_url` (default: this fake's url). */
  get instanceUrl(): string {
    return this.instanceUrlOverride ?? this.url;
  }

  set instanceUrl(value: string) {
    this.instanceUrlOverride = value;
  }

  /** Zoho's `accounts-server` in the redirect back (default: this fake's url). */
  accountsServer?: string;

  /** Zoho `api_domain` (default: this fake's url). */
  get apiDomain(): string {
    return this.apiDomainOverride ?? this.url;
  }

  set apiDomain(value: string) {
    this.apiDomainOverride = value;
  }

  async start(port = 0): Promise<this> {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use(express.text({ type: () => true, limit: '1mb' }));
    app.use((req, _res, next) => {
      const raw = typeof req.body === 'string' ? req.body : '';
      const form = req.is('application/x-www-form-urlencoded') ? parseParams(raw).values : undefined;
      this.requests.push({
        method: req.method,
        path: req.path,
        query: parseParams(this.rawQuery(req)).values,
        body: form ? redact(form) : raw === '' ? undefined : '[non-form body]',
        clientAuth: /^basic /i.test(req.get('authorization') ?? '') ? 'basic' : form?.client_id ? 'body' : 'none',
        at: Date.now(),
      });
      next();
    });
    app.use(async (_req, _res, next) => {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      next();
    });

    const { authorize, token, revoke } = this.profile.paths;
    app.get(['/authorize', ...authorize], (req, res) => this.authorize(req, res));
    app.post(['/token', ...token], (req, res) => this.token(req, res));
    app.post(['/revoke', ...revoke], (req, res) => this.revoke(req, res));
    // Amazon's consent page (Seller Central), which is not RFC 6749's authorize endpoint.
    app.get('/apps/authorize/consent', (req, res) => this.amazonConsent(req, res));
    this.resourceRoutes(app);
    app.use((req, res) => {
      res.status(404).json({ error: 'not_found', error_description: `no route: ${req.method} ${req.path}` });
    });

    this.server = await listenOnLoopback(app, port);
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  // ---- clients ----

  addClient(input: AddClientInput): FakeOAuthClient {
    for (const uri of input.redirectUris) {
      const parsed = new URL(uri); // throws on a relative or malformed URI (RFC 6749 3.1.2: absolute)
      if (parsed.hash) throw new Error(`redirect URI must not have a fragment: ${uri}`);
    }
    const client = {
      clientId: input.clientId,
      clientSecret: input.clientSecret,
      redirectUris: [...input.redirectUris],
      applicationId: input.applicationId,
    };
    this.clients.set(client.clientId, client);
    return client;
  }

  // ---- controls ----

  /** The next `count` authorization requests end with error=access_denied (the user clicked "Deny"). */
  denyNext(count = 1): void {
    this.denials += count;
  }

  /** The next `count` token requests answer `status` (500 → server_error, 503 → temporarily_unavailable). */
  failNextToken(count = 1, status = 500): void {
    this.tokenFailures.push({ status, remaining: count });
  }

  /** The next `count` token requests answer invalid_grant whatever they carry (codes and refresh tokens are not consumed). */
  invalidGrantNext(count = 1): void {
    this.invalidGrants += count;
  }

  /**
   * The next token request gets exactly this answer, as servers that are not RFC-shaped give
   * it: HubSpot's 400 { status: "BAD_REFRESH_TOKEN", message }, a form-encoded error, an HTML
   * page from a gateway, Zoho's 200 { error: "Access Denied" } throttling. Nothing is consumed.
   */
  answerNextToken(status: number, body: string | Record<string, unknown>, type?: string): void {
    this.scripted.push({
      status,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      type: type ?? (typeof body === 'string' ? 'text/html' : 'application/json'),
    });
  }

  /** Every request waits `ms` before it is handled (0 turns it off). */
  slowDown(ms: number): void {
    this.delayMs = ms;
  }

  /** Forget denyNext / failNextToken / invalidGrantNext / answerNextToken / slowDown. */
  clearFaults(): void {
    this.denials = 0;
    this.tokenFailures = [];
    this.invalidGrants = 0;
    this.scripted = [];
    this.delayMs = 0;
  }

  /** The refresh token stops working (invalid_grant), as when the user disconnects the app. Access tokens live on. */
  revokeRefreshToken(token: string): void {
    const rt = this.refreshTokens.get(token);
    if (!rt) throw new Error(`unknown refresh token: ${token}`);
    rt.revoked = true;
  }

  revokeAccessToken(token: string): void {
    const at = this.accessTokens.get(token);
    if (!at) throw new Error(`unknown access token: ${token}`);
    at.revoked = true;
  }

  /** The access token expires now (isValidAccessToken → false, accessTokenStatus → 'expired'). */
  expireAccessToken(token: string): void {
    const at = this.accessTokens.get(token);
    if (!at) throw new Error(`unknown access token: ${token}`);
    at.expiresAt = this.now() - 1;
  }

  /** Moves the fake's clock forward: codes and access tokens expire without waiting. */
  advanceTime(ms: number): void {
    this.clockOffsetMs += ms;
  }

  /** The fake's clock (epoch ms): real time plus advanceTime(). */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** True when this fake issued the token and it is neither expired nor revoked. For fake CRMs' bearer checks. */
  isValidAccessToken(token: string): boolean {
    return this.accessTokenStatus(token) === 'valid';
  }

  accessTokenStatus(token: string): 'valid' | 'expired' | 'revoked' | 'unknown' {
    const at = this.accessTokens.get(token);
    if (!at) return 'unknown';
    if (at.revoked) return 'revoked';
    if (at.expiresAt !== null && at.expiresAt <= this.now()) return 'expired';
    return 'valid';
  }

  /** The newest access token issued (or undefined). */
  get lastAccessToken(): IssuedAccessToken | undefined {
    let last: IssuedAccessToken | undefined;
    for (const at of this.accessTokens.values()) last = at;
    return last;
  }

  /** Builds an authorization URL on this fake. */
  buildAuthorizeUrl(params: Record<string, string | undefined>): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ response_type: 'code', ...params })) if (v !== undefined) q.set(k, v);
    return `${this.authorizeUrl}?${q.toString()}`;
  }

  // ---- authorization endpoint (RFC 6749 4.1.1, 4.1.2, 4.1.2.1; RFC 7636 4.3, 4.4) ----

  private rawQuery(req: Request): string {
    const i = req.originalUrl.indexOf('?');
    return i < 0 ? '' : req.originalUrl.slice(i + 1);
  }

  private authorize(req: Request, res: Response): void {
    const { values: q, duplicates } = parseParams(this.rawQuery(req));

    // Problems with the client or the redirect URI are shown to the user, never redirected (4.1.2.1).
    if (duplicates.includes('client_id') || duplicates.includes('redirect_uri')) {
      return this.authorizePage(req, res, 'invalid_request', 'client_id and redirect_uri must appear once');
    }
    if (!q.client_id) return this.authorizePage(req, res, 'invalid_request', 'client_id is missing');
    const client = this.clients.get(q.client_id);
    if (!client) return this.authorizePage(req, res, 'invalid_client', `unknown client_id: ${q.client_id}`);
    let redirectUri: string;
    if (q.redirect_uri !== undefined) {
      if (!client.redirectUris.includes(q.redirect_uri)) {
        return this.authorizePage(req, res, 'invalid_request', `redirect_uri is not registered for this client: ${q.redirect_uri}`);
      }
      redirectUri = q.redirect_uri;
    } else if (client.redirectUris.length === 1) {
      redirectUri = client.redirectUris[0];
    } else {
      return this.authorizePage(req, res, 'invalid_request', 'redirect_uri is missing and the client has several registered');
    }

    const extra: Record<string, string> = {};
    for (const [k, v] of Object.entries(q)) if (!STANDARD_AUTHORIZE_PARAMS.has(k)) extra[k] = v;
    const state = q.state ?? null;
    const scope = q.scope ?? this.profile.defaultScope;
    const record: Omit<AuthorizeRecord, 'outcome'> = {
      clientId: client.clientId,
      redirectUri,
      state,
      scope,
      codeChallenge: q.code_challenge ?? null,
      codeChallengeMethod: q.code_challenge_method ?? null,
      extra,
      at: Date.now(),
    };
    const fail = (error: string, description: string): void => {
      this.authorizations.push({ ...record, outcome: { error } });
      this.redirect(res, redirectUri, { error, error_description: description, state: state ?? undefined });
    };

    if (duplicates.length > 0) return fail('invalid_request', `parameters repeated: ${[...new Set(duplicates)].join(', ')}`);
    if (!q.response_type) return fail('invalid_request', 'response_type is missing');
    if (q.response_type !== 'code') return fail('unsupported_response_type', `response_type ${q.response_type} is not supported`);

    let method: 'S256' | 'plain' | null = null;
    if (q.code_challenge !== undefined) {
      const m = q.code_challenge_method ?? 'plain'; // RFC 7636 4.3: defaults to plain
      if (m !== 'S256' && m !== 'plain') return fail('invalid_request', `transform algorithm not supported: ${m}`);
      if (m === 'plain' && !this.allowPlainPkce) return fail('invalid_request', 'code_challenge_method plain is not allowed; use S256');
      if (!PKCE_SYNTAX.test(q.code_challenge)) return fail('invalid_request', 'code_challenge must be 43-128 unreserved characters');
      method = m;
    } else if (q.code_challenge_method !== undefined) {
      return fail('invalid_request', 'code_challenge_method without code_challenge');
    } else if (this.requirePkce) {
      return fail('invalid_request', 'code challenge required');
    }

    if (this.denials > 0) {
      this.denials--;
      return fail('access_denied', 'The resource owner denied the request.');
    }

    const code = randomToken(this.flavor === 'zoho' ? '1000.' : '', 24);
    this.codes.set(code, {
      code,
      clientId: client.clientId,
      redirectUri,
      redirectUriGiven: q.redirect_uri !== undefined,
      scope,
      codeChallenge: q.code_challenge ?? null,
      codeChallengeMethod: method,
      extra,
      expiresAt: this.now() + this.codeTtlSeconds * 1000,
      used: false,
      issued: [],
    });
    this.authorizations.push({ ...record, outcome: { code } });
    // Zoho names the person's data centre and its accounts server (where the code is exchanged).
    const zoho = this.flavor === 'zoho' ? { location: 'us', 'accounts-server': this.accountsServer ?? this.url } : {};
    this.redirect(res, redirectUri, { code, state: state ?? undefined, ...zoho });
  }

  /**
   * Seller Central's consent page: application_id (not client_id), state, redirect_uri and
   * version=beta for draft apps; back with spapi_oauth_code, state and selling_partner_id.
   */
  private amazonConsent(req: Request, res: Response): void {
    const { values: q } = parseParams(this.rawQuery(req));
    const client = [...this.clients.values()].find((c) => c.applicationId !== undefined && c.applicationId === q.application_id);
    if (!client) return this.authorizePage(req, res, 'invalid_request', `unknown application_id: ${q.application_id ?? '(none)'}`);
    const redirectUri = q.redirect_uri ?? client.redirectUris[0];
    if (!client.redirectUris.includes(redirectUri)) {
      return this.authorizePage(req, res, 'invalid_request', `redirect_uri is not registered for this application: ${redirectUri}`);
    }
    const extra: Record<string, string> = {};
    for (const [k, v] of Object.entries(q)) if (!['application_id', 'redirect_uri', 'state'].includes(k)) extra[k] = v;
    const record = {
      clientId: client.clientId,
      redirectUri,
      state: q.state ?? null,
      scope: '',
      codeChallenge: null,
      codeChallengeMethod: null,
      extra,
      at: Date.now(),
    };
    if (this.denials > 0) {
      this.denials--;
      this.authorizations.push({ ...record, outcome: { error: 'access_denied' } });
      return this.redirect(res, redirectUri, { error: 'access_denied', state: q.state });
    }
    const code = randomToken('ANDa', 16);
    this.codes.set(code, {
      code,
      clientId: client.clientId,
      redirectUri,
      redirectUriGiven: q.redirect_uri !== undefined,
      scope: '',
      codeChallenge: null,
      codeChallengeMethod: null,
      extra,
      expiresAt: this.now() + this.codeTtlSeconds * 1000,
      used: false,
      issued: [],
    });
    this.authorizations.push({ ...record, outcome: { code } });
    this.redirect(res, redirectUri, { spapi_oauth_code: code, state: q.state, selling_partner_id: this.identity.sellingPartnerId });
  }

  /**
   * The one cheap "who am I" call of each non-CRM provider, answering for the tokens this
   * server issued, as the provider's API would: the service tests a connection with it.
   */
  private resourceRoutes(app: express.Express): void {
    const id = this.identity;
    const bearer = (req: Request) => /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1] ?? '';
    const guard =
      (token: (req: Request) => string, refuse: (res: Response) => void, answer: (req: Request, res: Response) => void) =>
      (req: Request, res: Response) => (this.isValidAccessToken(token(req)) ? answer(req, res) : refuse(res));
    const google401 = (res: Response) =>
      res.status(401).json({ error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
    app.get(
      '/drive/v3/about',
      guard(bearer, google401, (req, res) => {
        if (typeof req.query.fields !== 'string') {
          res
            .status(400)
            .json({ error: { code: 400, message: "The 'fields' parameter is required for this method.", status: 'INVALID_ARGUMENT' } });
          return;
        }
        res.json({ user: { kind: 'drive#user', displayName: id.displayName, emailAddress: id.email, permissionId: '0123456789' } });
      }),
    );
    app.get(
      '/gmail/v1/users/me/profile',
      guard(bearer, google401, (_req, res) => res.json({ emailAddress: id.email, messagesTotal: 42, threadsTotal: 17, historyId: '9876' })),
    );
    app.post(
      '/2/users/get_current_account',
      guard(
        bearer,
        (res) => res.status(401).json({ error_summary: 'invalid_access_token/', error: { '.tag': 'invalid_access_token' } }),
        (req, res) => {
          // Dropbox refuses a JSON content type with a body that is not JSON (an empty one).
          if (req.is('application/json') && !(typeof req.body === 'string' && req.body.trim() === 'null')) {
            res
              .status(400)
              .type('text')
              .send('Error in call to API function "users/get_current_account": request body: could not decode input as JSON');
            return;
          }
          res.json({ account_id: id.dropboxAccountId, name: { display_name: id.displayName }, email: id.email });
        },
      ),
    );
    app.get(
      '/v1/account',
      guard(
        bearer,
        (res) => res.status(401).json({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }),
        (_req, res) =>
          res.json({ id: id.stripeUserId, object: 'account', email: id.email, country: 'US', business_profile: { name: 'Fake Shop' } }),
      ),
    );
    app.get(
      '/sellers/v1/marketplaceParticipations',
      guard(
        (req) => req.get('x-amz-access-token') ?? '',
        // SP-API answers a missing, expired or foreign token with 403, not 401.
        (res) => res.status(403).json({ errors: [{ code: 'Unauthorized', message: 'Access to requested resource is denied.' }] }),
        (_req, res) =>
          res.json({
            payload: [
              {
                marketplace: { id: 'ATVPDKIKX0DER', countryCode: 'US', name: 'Amazon.com', defaultCurrencyCode: 'USD' },
                participation: { isParticipating: true, hasSuspendedListings: false },
              },
            ],
          }),
      ),
    );
  }

  private redirect(res: Response, redirectUri: string, params: Record<string, string | undefined>): void {
    const target = new URL(redirectUri); // keeps the registered URI's own query (RFC 6749 3.1.2)
    for (const [k, v] of Object.entries(params)) if (v !== undefined) target.searchParams.set(k, v);
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, target.toString());
  }

  private authorizePage(req: Request, res: Response, error: string, description: string): void {
    res.status(400).setHeader('Cache-Control', 'no-store');
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({ error, error_description: description });
      return;
    }
    res
      .type('html')
      .send(
        `<!doctype html><html><head><title>Authorization error</title></head><body><h1>${escapeHtml(error)}</h1><p>${escapeHtml(description)}</p></body></html>`,
      );
  }

  // ---- token endpoint (RFC 6749 3.2, 4.1.3, 5.1, 5.2, 6; RFC 7636 4.5, 4.6) ----

  private async token(req: Request, res: Response): Promise<void> {
    this.tokenCalls++;
    const isForm = req.is('application/x-www-form-urlencoded');
    const { values: form, duplicates } = parseParams(isForm && typeof req.body === 'string' ? req.body : '');
    if (form.grant_type === 'authorization_code') this.codeExchanges++;
    if (form.grant_type === 'refresh_token') this.refreshCalls++;

    const scripted = this.scripted.shift();
    if (scripted) {
      res.status(scripted.status).type(scripted.type).send(scripted.body);
      return;
    }
    const failure = this.tokenFailures[0];
    if (failure) {
      if (--failure.remaining <= 0) this.tokenFailures.shift();
      const error = failure.status === 503 ? 'temporarily_unavailable' : 'server_error';
      res.status(failure.status).setHeader('Cache-Control', 'no-store');
      res.json({ error, error_description: `injected failure (${failure.status})` });
      return;
    }

    try {
      if (this.invalidGrants > 0) {
        this.invalidGrants--;
        throw new OAuthError('invalid_grant', 'injected invalid_grant');
      }
      if (!isForm) throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
      if (duplicates.length > 0) throw new OAuthError('invalid_request', `parameters repeated: ${[...new Set(duplicates)].join(', ')}`);
      if (!form.grant_type) throw new OAuthError('invalid_request', 'grant_type is missing');
      const client = this.authenticateClient(req, form);
      let body: Record<string, unknown>;
      if (form.grant_type === 'authorization_code') body = this.exchangeCode(client, form);
      else if (form.grant_type === 'refresh_token') body = this.refresh(client, form);
      else throw new OAuthError('unsupported_grant_type', `grant_type ${form.grant_type} is not supported`);
      res.status(200).setHeader('Cache-Control', 'no-store');
      res.setHeader('Pragma', 'no-cache');
      res.json(body);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      this.sendError(res, err);
    }
  }

  private sendError(res: Response, err: OAuthError): void {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    if (this.errorStyle === 'zoho') {
      res.status(200).json({ error: err.zohoError ?? ZOHO_ERROR_NAMES[err.error] ?? err.error });
      return;
    }
    // RFC 6749 5.2: a 401 names the scheme (required when the client tried Basic; harmless otherwise).
    if (err.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="fake-oauth"');
    res.status(err.status).json({ error: err.error, error_description: err.description });
  }

  /** RFC 6749 2.3.1: HTTP Basic or client_id/client_secret in the body, never both. */
  private authenticateClient(req: Request, form: Record<string, string>): FakeOAuthClient {
    const header = req.get('authorization');
    let clientId: string | undefined;
    let secret: string | undefined;
    if (header && /^basic /i.test(header)) {
      if (form.client_secret !== undefined)
        throw new OAuthError('invalid_request', 'use one client authentication method, not Basic and client_secret');
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new OAuthError('invalid_client', 'malformed Basic credentials', 401);
      try {
        clientId = decodeFormComponent(decoded.slice(0, colon));
        secret = decodeFormComponent(decoded.slice(colon + 1));
      } catch {
        throw new OAuthError('invalid_client', 'malformed Basic credentials', 401);
      }
      if (form.client_id !== undefined && form.client_id !== clientId) {
        throw new OAuthError('invalid_request', 'client_id in the body differs from the Basic credentials');
      }
    } else {
      clientId = form.client_id;
      secret = form.client_secret;
      if (secret !== undefined && !this.clientAuthMethods.includes('body')) {
        throw new OAuthError('invalid_client', 'client credentials in the request body are not accepted; use HTTP Basic', 401);
      }
    }
    if (!clientId) throw new OAuthError('invalid_client', 'no client authentication included', 401);
    const client = this.clients.get(clientId);
    if (!client) throw new OAuthError('invalid_client', 'unknown client', 401);
    if (client.clientSecret !== null) {
      if (!secret || secret === '') throw new OAuthError('invalid_client', 'client secret is missing', 401);
      if (!safeEqual(secret, client.clientSecret)) {
        throw new OAuthError('invalid_client', 'client authentication failed', 401, 'invalid_client_secret');
      }
    }
    return client;
  }

  private exchangeCode(client: FakeOAuthClient, form: Record<string, string>): Record<string, unknown> {
    if (!form.code) throw new OAuthError('invalid_request', 'code is missing');
    const record = this.codes.get(form.code);
    if (!record) throw new OAuthError('invalid_grant', 'authorization code is invalid');
    if (record.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'authorization code was issued to another client');
    if (record.used) {
      // RFC 6749 4.1.2: a replayed code is refused, and what it produced is revoked.
      for (const t of record.issued) {
        const at = this.accessTokens.get(t);
        if (at) at.revoked = true;
        const rt = this.refreshTokens.get(t);
        if (rt) rt.revoked = true;
      }
      throw new OAuthError('invalid_grant', 'authorization code has already been used');
    }
    record.used = true; // from here on a failed attempt also uses the code up
    if (record.expiresAt <= this.now()) throw new OAuthError('invalid_grant', 'authorization code expired');
    if (record.redirectUriGiven && form.redirect_uri === undefined) {
      throw new OAuthError('invalid_request', 'redirect_uri is required: it was in the authorization request');
    }
    if (form.redirect_uri !== undefined && form.redirect_uri !== record.redirectUri) {
      throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    }
    if (record.codeChallenge !== null) {
      const verifier = form.code_verifier;
      if (!verifier) throw new OAuthError('invalid_grant', 'code_verifier is required');
      if (!PKCE_SYNTAX.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier must be 43-128 unreserved characters');
      const derived = record.codeChallengeMethod === 'S256' ? pkceChallenge(verifier) : verifier;
      if (!safeEqual(derived, record.codeChallenge)) throw new OAuthError('invalid_grant', 'PKCE verification failed');
    } else if (form.code_verifier !== undefined) {
      throw new OAuthError('invalid_grant', 'code_verifier sent but the authorization request had no code_challenge');
    }

    const offline = this.profile.offlineParam ? record.extra[this.profile.offlineParam[0]] === this.profile.offlineParam[1] : true;
    let refreshToken: string | null = null;
    if (offline) {
      refreshToken = this.newRefreshToken(client.clientId, record.scope, record.extra);
      record.issued.push(refreshToken);
    }
    const at = this.newAccessToken(client.clientId, record.scope, 'authorization_code', refreshToken);
    record.issued.push(at.token);
    return this.tokenBody(client, at, refreshToken, { ...record.extra, ...form });
  }

  private refresh(client: FakeOAuthClient, form: Record<string, string>): Record<string, unknown> {
    if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is missing');
    const rt = this.refreshTokens.get(form.refresh_token);
    if (!rt || rt.revoked) throw new OAuthError('invalid_grant', 'refresh token is invalid, expired or revoked');
    if (rt.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'refresh token was issued to another client');
    let scope = rt.scope;
    if (form.scope !== undefined) {
      const granted = new Set(rt.scope.split(' ').filter(Boolean));
      const asked = form.scope.split(' ').filter(Boolean);
      const beyond = asked.filter((s) => !granted.has(s));
      if (beyond.length > 0) throw new OAuthError('invalid_scope', `scope exceeds the original grant: ${beyond.join(' ')}`);
      scope = asked.join(' ');
    }
    let answered: string | null = null;
    let current = rt.token;
    if (this.rotateRefreshTokens) {
      current = this.newRefreshToken(client.clientId, rt.scope, rt.extra);
      rt.revoked = true;
      rt.rotatedTo = current;
      answered = current;
    } else if (this.profile.echoRefreshToken) {
      answered = rt.token;
    }
    const at = this.newAccessToken(client.clientId, scope, 'refresh_token', current);
    return this.tokenBody(client, at, answered, { ...rt.extra, ...form });
  }

  private newAccessToken(
    clientId: string,
    scope: string,
    grant: IssuedAccessToken['grant'],
    refreshToken: string | null,
  ): IssuedAccessToken {
    const issuedAt = this.now();
    const at: IssuedAccessToken = {
      token: randomToken(this.profile.accessPrefix, 32),
      clientId,
      scope,
      grant,
      refreshToken,
      issuedAt,
      expiresAt: this.expiresIn === null ? null : issuedAt + this.expiresIn * 1000,
      revoked: false,
    };
    this.accessTokens.set(at.token, at);
    return at;
  }

  private newRefreshToken(clientId: string, scope: string, extra: Record<string, string>): string {
    const token = randomToken(this.profile.refreshPrefix, 32);
    this.refreshTokens.set(token, { token, clientId, scope, issuedAt: this.now(), revoked: false, rotatedTo: null, extra });
    return token;
  }

  /** RFC 6749 5.1 plus what the flavour adds. `params` are the authorization extras and the token form. */
  private tokenBody(
    client: FakeOAuthClient,
    at: IssuedAccessToken,
    refreshToken: string | null,
    params: Record<string, string>,
  ): Record<string, unknown> {
    const body: Record<string, unknown> = { access_token: at.token, token_type: this.profile.tokenType };
    if (this.profile.reportExpiresIn && this.expiresIn !== null) body.expires_in = Math.ceil(this.expiresIn);
    if (refreshToken !== null) body.refresh_token = refreshToken;
    body.scope = at.scope;
    const id = this.identity;
    switch (this.flavor) {
      case 'salesforce': {
        const sfId = `${this.url}/id/${id.salesforceOrgId}/${id.salesforceUserId}`;
        const issuedAt = String(at.issuedAt);
        Object.assign(body, {
          instance_url: this.instanceUrl,
          id: sfId,
          issued_at: issuedAt,
          signature: salesforceSignature(sfId, issuedAt, client.clientSecret ?? ''),
        });
        break;
      }
      case 'zoho':
        body.api_domain = this.apiDomain;
        break;
      case 'gohighlevel': {
        const userType = params.user_type === 'Company' ? 'Company' : 'Location';
        body.userType = userType;
        if (userType === 'Location') body.locationId = id.locationId;
        body.companyId = id.companyId;
        body.userId = id.userId;
        break;
      }
      case 'stripe':
        Object.assign(body, {
          stripe_user_id: id.stripeUserId,
          stripe_publishable_key: `pk_test_${id.stripeUserId.slice(5)}`,
          livemode: false,
        });
        break;
      case 'dropbox':
        Object.assign(body, { account_id: id.dropboxAccountId, uid: id.dropboxUid });
        break;
      default:
        break;
    }
    return { ...body, ...this.tokenFields };
  }

  // ---- revocation endpoint (RFC 7009 2.1, 2.2) ----

  private revoke(req: Request, res: Response): void {
    const isForm = req.is('application/x-www-form-urlencoded');
    const { values: form } = parseParams(isForm && typeof req.body === 'string' ? req.body : '');
    try {
      if (!isForm) throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
      const client = this.authenticateClient(req, form);
      if (!form.token) throw new OAuthError('invalid_request', 'token is missing');
      const rt = this.refreshTokens.get(form.token);
      if (rt && rt.clientId === client.clientId) {
        rt.revoked = true;
        // RFC 7009 2.1: revoking a refresh token should also revoke the access tokens it produced.
        for (const at of this.accessTokens.values()) if (at.refreshToken === rt.token) at.revoked = true;
      }
      const at = this.accessTokens.get(form.token);
      if (at && at.clientId === client.clientId) at.revoked = true;
      res.status(200).setHeader('Cache-Control', 'no-store');
      res.end(); // unknown tokens also answer 200 (RFC 7009 2.2)
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      this.sendError(res, err);
    }
  }
}
