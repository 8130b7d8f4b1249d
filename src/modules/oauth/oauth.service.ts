import { createHash, randomBytes } from 'node:crypto';
import axios from 'axios';
import type { Logger } from 'winston';
import type { UnitOfWork } from '../../db/unit-of-work';
import { sha256Hex } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { isSealed, type SealedValue, type SecretBox } from '../../lib/secret-box';
import { OAuthCallbackError, type OAuthFacts } from '../../providers/provider';
import type { IntegrationRepository, IntegrationService } from '../integrations';
import type { OAuthRepository, StateRow } from './oauth.repository';

const STATE_TTL_MS = 10 * 60_000;
const base64url = (b: Buffer) => b.toString('base64url');

/** A provider's OAuth app: its facts (from its folder) and the operator's client. */
interface OAuthClient {
  provider: string;
  facts: OAuthFacts;
  clientId: string;
  clientSecret: string | undefined;
  authorizeUrl: string;
  /** The operator's OAUTH_<PROVIDER>_TOKEN_URL, when set: it wins over the facts. */
  tokenUrlOverride: string | undefined;
  /** OAUTH_<PROVIDER>_REDIRECT_URI (or the seed's variable), when set. */
  redirectUri: string | undefined;
  /** OAUTH_<PROVIDER>_<NAME>, trimmed; undefined when unset. */
  setting(name: string): string | undefined;
}

/** The token endpoint's answer (RFC 6749 5.1), with whatever else the provider adds. */
type TokenResponse = Record<string, unknown> & { access_token: string; refresh_token?: string; expires_in?: number; scope?: string };

/** The provider said no to a token request (RFC 6749 5.2): invalid_grant and friends. */
/**
 * Refusals that mean the grant itself is dead (revoked, expired, the app uninstalled): only
 * a person connecting again mends them. RFC 6749 5.2's invalid_grant; HubSpot's v1 endpoint
 * answers 400 { status: BAD_REFRESH_TOKEN | BAD_AUTH_CODE } instead; Zoho says invalid_code.
 */
const GRANT_DEAD = new Set(['invalid_grant', 'BAD_REFRESH_TOKEN', 'BAD_AUTH_CODE', 'invalid_code', 'no_refresh_token']);
/**
 * Answers to try again later, whatever their status: RFC 6749's temporarily_unavailable and
 * server_error, and Zoho's throttling ({ error: "Access Denied", "You have made too many
 * requests continuously" }).
 */
const TRANSIENT = new Set(['temporarily_unavailable', 'server_error', 'Access Denied']);

export class TokenRefusedError extends Error {
  constructor(
    readonly error: string,
    description: string | undefined,
  ) {
    super(description ? `${error}: ${description}` : error);
    this.name = 'TokenRefusedError';
  }

  /** The grant is dead: the organization must connect again (other refusals are the client's settings, or the request's). */
  get grantDead(): boolean {
    return GRANT_DEAD.has(this.error);
  }
}

export interface OAuthDeps {
  /** A provider's OAuth facts, when it connects by OAuth. */
  factsOf(provider: string): OAuthFacts | undefined;
  /** The provider a name in an OAuth path means (a provider may list aliases: seed 003's paths). */
  canonical(name: string): string;
  /** The environment, for OAUTH_<PROVIDER>_CLIENT_ID and friends. */
  env: Readonly<Record<string, string | undefined>>;
  publicBaseUrl: string | undefined;
  allowedReturnUrls: readonly string[];
  refreshAheadMs: number;
  timeoutMs: number;
}

/**
 * OAuth 2 connections (RFC 6749 code grant, RFC 7636 PKCE S256) for every provider that has
 * OAuth facts, and the one token manager: a connector asks for a fresh access token and
 * never sees the refresh token.
 */
/** What a finished callback made: the integration, its status and test, and where to send the person. */
export interface CallbackOutcome {
  integrationId: number;
  status: string;
  created: boolean;
  test: { success: boolean; message: string };
  returnTo: string | null;
}

/** A callback that failed after its state checked out: where to send the person back, and why. */
export class OAuthReturnError extends AppError {
  constructor(
    cause: AppError,
    readonly returnTo: string,
  ) {
    super(cause.kind, cause.code, cause.message, cause.details);
  }
}

export class OAuthService {
  constructor(
    private readonly repo: OAuthRepository,
    private readonly uow: UnitOfWork<{ oauth: OAuthRepository; integrations: IntegrationRepository }>,
    private readonly integrations: IntegrationService,
    private readonly box: SecretBox,
    private readonly logger: Logger,
    private readonly deps: OAuthDeps,
  ) {}

  /**
   * Where the provider sends the person back: OAUTH_<PROVIDER>_REDIRECT_URI when the operator
   * registered another (seed 003's /integrations/oauth/google/callback is served too), else
   * PUBLIC_BASE_URL (or the request's own origin) + /api/integrations/oauth/<provider>/callback.
   */
  redirectUri(client: OAuthClient, requestOrigin: string): string {
    return client.redirectUri ?? `${this.deps.publicBaseUrl ?? requestOrigin}/api/integrations/oauth/${client.provider}/callback`;
  }

  /** The consent page's URL, and the state it carries (stored hashed, single use, 10 minutes). */
  async authorize(
    provider: string,
    organizationId: number,
    opts: { name?: string; returnTo?: string; requestOrigin: string },
  ): Promise<{ url: string; state: string; expiresAt: string }> {
    const client = this.client(provider);
    provider = client.provider;
    if (opts.returnTo !== undefined) this.assertReturnAllowed(opts.returnTo, opts.requestOrigin);
    const state = base64url(randomBytes(32));
    const verifier = client.facts.pkce ? base64url(randomBytes(32)) : null;
    const expiresAt = new Date(Date.now() + STATE_TTL_MS);
    await this.repo.createState(sha256Hex(state), {
      organizationId,
      provider,
      codeVerifier: verifier ? (this.box.seal(verifier) as unknown as SealedValue & Record<string, string>) : null,
      name: opts.name ?? null,
      returnTo: opts.returnTo ?? null,
      expiresAt,
    });
    const url = new URL(client.authorizeUrl);
    const standard: Record<string, string> = {
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: this.redirectUri(client, opts.requestOrigin),
      ...(client.facts.scopes.length ? { scope: client.facts.scopes.join(' ') } : {}),
      state,
      ...(verifier ? { code_challenge: base64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256' } : {}),
      ...client.facts.authorizeParams,
    };
    const params = client.facts.authorizeQuery ? client.facts.authorizeQuery(standard, client.setting) : standard;
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { url: url.toString(), state, expiresAt: expiresAt.toISOString() };
  }

  /**
   * The provider's redirect: uses the state up, exchanges the code, creates or updates the
   * organization's integration with the tokens, and tests it. Every failure is a 4xx and
   * creates nothing.
   */
  async callback(
    provider: string,
    q: { code?: string; state?: string; error?: string; error_description?: string } & Record<string, unknown>,
    requestOrigin: string,
  ): Promise<CallbackOutcome> {
    const client = this.client(provider);
    provider = client.provider;
    if (!q.state) throw invalid('missing_state', 'The callback has no state', 'query.state');
    const used = await this.repo.consumeState(sha256Hex(q.state));
    if ('problem' in used) {
      const why = { unknown: 'is unknown', used: 'was already used', expired: 'has expired (10 minutes)' }[used.problem];
      throw invalid(`state_${used.problem}`, `The state ${why}; start the authorization again`, 'query.state');
    }
    const state = used.row;
    try {
      return await this.finishCallback(client, q, state, requestOrigin);
    } catch (err) {
      // The state was good, so its returnTo is one we checked: the person goes back there, with the reason.
      if (state.returnTo && err instanceof AppError) throw new OAuthReturnError(err, state.returnTo);
      throw err;
    }
  }

  private async finishCallback(
    client: OAuthClient,
    q: { code?: string; state?: string; error?: string; error_description?: string } & Record<string, unknown>,
    state: StateRow,
    requestOrigin: string,
  ): Promise<CallbackOutcome> {
    const provider = client.provider;
    if (state.provider !== provider) throw invalid('state_provider_mismatch', `The state was issued for ${state.provider}`, 'query.state');
    if (q.error) {
      throw new AppError(
        'invalid_data',
        'authorization_denied',
        `The provider refused the authorization: ${q.error}${q.error_description ? ` (${q.error_description})` : ''}`,
      );
    }
    const codeParam = client.facts.codeParam ?? 'code';
    const code = q[codeParam];
    if (typeof code !== 'string' || !code) throw invalid('missing_code', `The callback has no ${codeParam}`, `query.${codeParam}`);
    let fromCallback: Record<string, unknown>;
    try {
      fromCallback = client.facts.configFromCallback?.(q, { authorizeUrl: client.authorizeUrl }) ?? {};
    } catch (err) {
      if (err instanceof OAuthCallbackError) throw invalid('invalid_callback', err.message, `query.${err.field}`);
      throw err;
    }
    const verifier = isSealed(state.codeVerifier) ? this.box.open(state.codeVerifier) : undefined;
    let token: TokenResponse;
    try {
      token = await this.tokenRequest(client, this.tokenUrl(client, fromCallback), {
        grant_type: 'authorization_code',
        code,
        redirect_uri: this.redirectUri(client, requestOrigin),
        ...(verifier ? { code_verifier: verifier } : {}),
      });
    } catch (err) {
      if (err instanceof TokenRefusedError) {
        throw new AppError('invalid_data', 'token_exchange_refused', `${provider} refused the code: ${err.message}`);
      }
      throw new AppError('unavailable', 'token_exchange_failed', `${provider}'s token endpoint failed: ${(err as Error).message}`);
    }
    const config = {
      ...client.facts.fixedConfig,
      ...fromCallback,
      [client.facts.accessTokenField]: token.access_token,
      ...client.facts.configFromToken?.(token),
    };
    const existing = (await this.integrations.list({ organizationId: state.organizationId, provider, page: 1, limit: 1 })).rows[0];
    const integration = existing
      ? await this.integrations.update(existing.id, { config })
      : await this.integrations.create(state.organizationId, { provider, name: state.name ?? `${provider} (OAuth)`, config });
    await this.storeTokens(integration.id, token, null);
    const test = await this.integrations.test(integration.id).catch((err: unknown) => ({
      success: false,
      message: err instanceof Error ? err.message : String(err),
    }));
    const now = await this.integrations.get(integration.id);
    this.logger.info('oauth connection made', {
      provider,
      organizationId: state.organizationId,
      integrationId: integration.id,
      created: !existing,
    });
    return { integrationId: integration.id, status: now.status, created: !existing, test, returnTo: state.returnTo };
  }

  /**
   * Refreshes the access token when it expires within REFRESH_AHEAD (true: a new one was
   * stored). One refresh at a time per integration across instances: the token row is locked,
   * and whoever waited finds it fresh and uses the new token. A refused refresh (revoked,
   * expired refresh token) puts the integration in error for a person to connect again; a
   * network failure or a 5xx leaves it as it is, to be retried.
   */
  async ensureFresh(integrationId: number, opts: { force?: boolean } = {}): Promise<boolean> {
    const held = await this.repo.tokens(integrationId);
    if (!held || !this.due(held.expiresAt, opts.force)) return false;
    const row = await this.integrations.getRow(integrationId);
    const client = this.client(row.provider);
    try {
      // Every write of a refresh goes through this transaction's own connection: waiting
      // callers hold connections too, and a second one needed here could starve the pool.
      return await this.uow.transactional(async ({ oauth, integrations }) => {
        const locked = await oauth.lockTokens(integrationId);
        // Refreshed by someone else while this one waited for the lock (tokens without an
        // expiry, Salesforce's, show it only in when they were written).
        const same = (a: Date | null, b: Date | null) => (a?.getTime() ?? 0) === (b?.getTime() ?? 0);
        if (
          !locked ||
          !same(locked.expiresAt, held.expiresAt) ||
          !same(locked.lastRefreshedAt, held.lastRefreshedAt) ||
          !this.due(locked.expiresAt, opts.force)
        ) {
          return true;
        }
        if (!isSealed(locked.refreshToken)) throw new TokenRefusedError('no_refresh_token', 'the provider gave no refresh token');
        const refreshToken = this.box.open(locked.refreshToken);
        const current = await integrations.get(integrationId);
        if (!current) return false;
        const tokenUrl = this.tokenUrl(client, (current.config ?? {}) as Record<string, unknown>);
        const token = await this.tokenRequest(client, tokenUrl, { grant_type: 'refresh_token', refresh_token: refreshToken });
        // The access token, and what the answer says again (Salesforce's instance_url, Zoho's api_domain).
        const fields = { ...client.facts.configFromToken?.(token), [client.facts.accessTokenField]: token.access_token };
        // What the answer says is checked as a tenant's own edit would be: an instance_url that
        // is private, or not a URL, fails this refresh and is not stored.
        await this.integrations.checkConfig(current, { ...this.integrations.decrypt(current), ...fields }).catch((err: unknown) => {
          const why =
            err instanceof AppError && err.details?.length ? err.details.map((d) => `${d.path} ${d.message}`).join('; ') : String(err);
          throw new Error(`the token answer was not taken: ${why}`);
        });
        let next: Pick<typeof current, 'config' | 'secrets'> = current;
        for (const [field, value] of Object.entries(fields)) {
          if (typeof value === 'string')
            next = this.integrations.withField(next, field, value) as Pick<typeof current, 'config' | 'secrets'>;
        }
        await integrations.update(integrationId, { config: next.config as never, secrets: next.secrets as never });
        await this.storeTokens(integrationId, token, refreshToken, oauth, { keepScope: true });
        this.logger.info('oauth token refreshed', { integrationId, provider: row.provider });
        return true;
      });
    } catch (err) {
      await this.repo.recordFailure(integrationId, err instanceof Error ? err.message : String(err)).catch(() => undefined);
      if (!(err instanceof TokenRefusedError)) throw err;
      if (!err.grantDead) {
        // The client's settings (invalid_client, unauthorized_client) or the request: connecting
        // again would not mend it, so the integration is left as it is and the failure listed.
        this.logger.warn('oauth refresh refused, not for the grant', { integrationId, provider: row.provider, error: err.error });
        throw new AppError(
          'unavailable',
          'token_refresh_refused',
          `The ${row.provider} token endpoint refused the refresh (${err.message}); check the service's OAuth client settings for ${row.provider}`,
        );
      }
      const message = `The ${row.provider} authorization was refused on refresh (${err.error}); the organization must connect again`;
      await this.integrations.updateFields(integrationId, { status: 'error', errorMessage: message });
      this.logger.warn('oauth refresh refused', { integrationId, provider: row.provider, error: err.error });
      throw new AppError('conflict', 'reauthorization_required', message);
    }
  }

  /**
   * The CRM refused the access token (401): refresh now, whatever its expiry says (Salesforce
   * gives none). The new token, or null for an integration without OAuth tokens.
   */
  async refreshNow(integrationId: number): Promise<string | null> {
    if (!(await this.repo.tokens(integrationId))) return null;
    await this.ensureFresh(integrationId, { force: true });
    const row = await this.integrations.getRow(integrationId);
    const field = this.deps.factsOf(row.provider)?.accessTokenField;
    const token = field ? this.integrations.decrypt(row)[field] : undefined;
    return typeof token === 'string' ? token : null;
  }

  /**
   * Refreshes the tokens of connections idle for `idleDays` (some providers expire refresh
   * tokens nobody uses). Failures are recorded on the token row and listed by failures().
   */
  async keepAlive(idleDays: number): Promise<{ checked: number; refreshed: number; failed: number }> {
    const ids = await this.repo.idle(idleDays);
    let refreshed = 0;
    for (const id of ids) {
      try {
        await this.ensureFresh(id, { force: true });
        refreshed++;
      } catch (err) {
        this.logger.warn('oauth keep-alive refresh failed', { integrationId: id, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { checked: ids.length, refreshed, failed: ids.length - refreshed };
  }

  failures(organizationId?: number) {
    return this.repo.failures(organizationId);
  }

  private due(expiresAt: Date | null, force?: boolean): boolean {
    if (force) return true;
    return expiresAt !== null && expiresAt.getTime() - Date.now() <= this.deps.refreshAheadMs;
  }

  /**
   * Keeps the old refresh token when the answer carries none; takes a rotated one. A refresh
   * answer without `scope` keeps the scope (RFC 6749 5.1 and 6: omitted means unchanged).
   */
  private async storeTokens(
    integrationId: number,
    token: TokenResponse,
    previousRefresh: string | null,
    repo: OAuthRepository = this.repo,
    opts: { keepScope?: boolean } = {},
  ) {
    const refresh = typeof token.refresh_token === 'string' && token.refresh_token ? token.refresh_token : previousRefresh;
    const expiresIn = Number(token.expires_in);
    await repo.saveTokens(integrationId, {
      refreshToken: refresh ? (this.box.seal(refresh) as unknown as Record<string, string>) : null,
      // No expires_in (Salesforce): refreshed on a 401 only.
      expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? new Date(Date.now() + expiresIn * 1000) : null,
      scope: typeof token.scope === 'string' ? token.scope : opts.keepScope ? undefined : null,
    });
  }

  /** The operator's override, else where this connection's provider says, else the facts' URL. */
  private tokenUrl(client: OAuthClient, config: Readonly<Record<string, unknown>>): string {
    return client.tokenUrlOverride ?? client.facts.tokenUrlFor?.(config, { authorizeUrl: client.authorizeUrl }) ?? client.facts.tokenUrl;
  }

  /**
   * RFC 6749 4.1.3 / 6: a form POST, the client authenticated as the provider documents (most
   * take client_id and client_secret in the body; RFC 6749 2.3.1 makes HTTP Basic the one
   * every server must take). Unless the operator chose (OAUTH_<PROVIDER>_TOKEN_AUTH), a server
   * refusing the client one way is asked once the other way: a refused client authentication
   * does not use the code up.
   */
  private async tokenRequest(client: OAuthClient, tokenUrl: string, form: Record<string, string>): Promise<TokenResponse> {
    const chosen = client.setting('TOKEN_AUTH')?.toLowerCase();
    const first: 'body' | 'basic' = chosen === 'basic' ? 'basic' : chosen === 'body' ? 'body' : (client.facts.tokenAuth ?? 'body');
    try {
      return await this.tokenPost(client, tokenUrl, form, first);
    } catch (err) {
      const clientRefused = err instanceof TokenRefusedError && err.error === 'invalid_client';
      if (!clientRefused || chosen === 'basic' || chosen === 'body' || !client.clientSecret) throw err;
      this.logger.info('oauth token endpoint refused the client authentication; trying the other method', {
        provider: client.provider,
        first,
      });
      return this.tokenPost(client, tokenUrl, form, first === 'body' ? 'basic' : 'body');
    }
  }

  private async tokenPost(
    client: OAuthClient,
    tokenUrl: string,
    form: Record<string, string>,
    auth: 'body' | 'basic',
  ): Promise<TokenResponse> {
    const basic = auth === 'basic' && client.clientSecret !== undefined;
    const body = new URLSearchParams({
      ...form,
      ...(basic ? {} : { client_id: client.clientId, ...(client.clientSecret ? { client_secret: client.clientSecret } : {}) }),
    });
    // 2.3.1: the id and the secret are form-encoded before they are joined and base64-encoded.
    const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
    const res = await axios.post(tokenUrl, body.toString(), {
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
        ...(basic
          ? { Authorization: `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(client.clientSecret as string)}`).toString('base64')}` }
          : {}),
      },
      timeout: this.deps.timeoutMs,
      validateStatus: () => true,
      maxRedirects: 0,
    });
    return tokenAnswer(res.status, res.data);
  }

  /** Whether an OAuth connection to this provider can start (it has OAuth facts and the operator set its client). */
  isConfigured(name: string): boolean {
    try {
      this.client(name);
      return true;
    } catch {
      return false;
    }
  }

  private client(name: string): OAuthClient {
    const provider = this.deps.canonical(name);
    const facts = this.deps.factsOf(provider);
    if (!facts) throw new AppError('not_found', 'oauth_provider_not_found', `No provider ${name} connects by OAuth`);
    const prefix = `OAUTH_${provider.toUpperCase()}_`;
    const read = (variable: string | undefined) => {
      const v = variable ? this.deps.env[variable] : undefined;
      return v && v.trim() ? v.trim() : undefined;
    };
    const setting = (k: string) => read(prefix + k);
    const legacy = facts.legacyEnv;
    const clientId = setting('CLIENT_ID') ?? read(legacy?.clientId);
    const missing = [...(clientId ? [] : ['CLIENT_ID', 'CLIENT_SECRET']), ...(facts.requiredSettings ?? []).filter((k) => !setting(k))];
    if (!clientId || missing.length) {
      throw new AppError(
        'conflict',
        'oauth_not_configured',
        `OAuth for ${provider} is not configured: set ${missing.map((k) => prefix + k).join(' and ')}${legacy && !clientId ? ` (or ${legacy.clientId} and ${legacy.clientSecret})` : ''} (and register ${this.deps.publicBaseUrl ?? '<PUBLIC_BASE_URL>'}/api/integrations/oauth/${provider}/callback as the redirect URI)`,
      );
    }
    return {
      provider,
      facts,
      clientId,
      clientSecret: setting('CLIENT_SECRET') ?? read(legacy?.clientSecret),
      authorizeUrl: setting('AUTHORIZE_URL') ?? facts.authorizeUrl,
      tokenUrlOverride: setting('TOKEN_URL'),
      redirectUri: setting('REDIRECT_URI') ?? read(legacy?.redirectUri),
      setting,
    };
  }

  /**
   * Only listed destinations, and this service's own console: an open redirect would hand the
   * integration id to anyone.
   */
  private assertReturnAllowed(returnTo: string, requestOrigin: string): void {
    const ownConsole = `${(this.deps.publicBaseUrl ?? requestOrigin).replace(/\/+$/, '')}/console/`;
    if (
      ![...this.deps.allowedReturnUrls, ownConsole].some(
        (allowed) =>
          returnTo === allowed ||
          returnTo.startsWith(allowed.endsWith('/') ? allowed : `${allowed}/`) ||
          returnTo.startsWith(`${allowed}?`),
      )
    ) {
      throw invalid('return_to_not_allowed', 'returnTo is not one of OAUTH_ALLOWED_RETURN_URLS', 'query.returnTo');
    }
  }
}

function invalid(code: string, message: string, path: string): AppError {
  return new AppError('invalid_data', code, message, [{ path, message }]);
}

/**
 * A token endpoint's answer (RFC 6749 5.1, 5.2): the tokens, a TokenRefusedError, or an Error
 * to try again later. Refusals come as JSON { error }, as HubSpot's { status, message }, as a
 * form-encoded body, or as a bare 4xx; some come with 200 (Zoho). 408, 429, 5xx and the
 * TRANSIENT codes are failures, not refusals.
 */
export function tokenAnswer(status: number, body: unknown): TokenResponse {
  const data: Record<string, unknown> =
    body && typeof body === 'object'
      ? (body as Record<string, unknown>)
      : typeof body === 'string' && /^[\w.~-]+=/.test(body.trim())
        ? Object.fromEntries(new URLSearchParams(body.trim()))
        : {};
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 300) : undefined);
  const refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
  const error = text(data.error) ?? (refused ? text(data.status) : undefined);
  const description = text(data.error_description) ?? text(data.message);
  const said = [error, description].filter(Boolean).join(': ');
  if (status === 408 || status === 429 || status >= 500 || (error !== undefined && TRANSIENT.has(error)))
    throw new Error(`token endpoint answered ${status}${said ? ` (${said})` : ''}`);
  if (error !== undefined) throw new TokenRefusedError(error, description);
  if (status === 401) throw new TokenRefusedError('invalid_client', 'token endpoint answered 401');
  if (refused) throw new TokenRefusedError('invalid_request', `token endpoint answered ${status}`);
  if (status >= 300) throw new Error(`token endpoint answered ${status}`);
  if (typeof data.access_token !== 'string' || !data.access_token) throw new Error('token endpoint answered without an access_token');
  return data as TokenResponse;
}
