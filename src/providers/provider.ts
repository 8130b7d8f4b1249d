import type { Logger } from 'winston';
import type { CrmConnector, InboundChange } from './connector';
import type { RequestLimiter } from './rate-limiter';
import type { CrmWriter, FileSink, PushFacts } from './writer';

/**
 * A provider is one folder under src/providers/<name>/ exporting one ProviderModule: its
 * definition (data), a connector factory, and, when the CRM sends webhooks, an adapter.
 * The registry is built from a list of these in the composition root; nothing outside a
 * provider's folder names a provider.
 */
export interface ProviderDefinition {
  /** The template name and the integrations' `provider`: [a-z0-9_]. */
  name: string;
  displayName: string;
  category: string;
  icon: string;
  description: string;
  apiVersion: string;
  /** JSON Schema of an integration's config; secret fields marked `format: password`. */
  configSchema: Record<string, unknown>;
  /** Markdown shown to whoever sets the integration up. */
  setupInstructions: string;
  /** How an integration authenticates: a pasted key or token, or OAuth 2. */
  authModes: readonly ('api_key' | 'oauth2')[];
  /** The CRM's documented request budget per account; the per-integration limiter keeps under it. */
  rateLimit: { requests: number; perMs: number } | null;
  /**
   * The config field naming the CRM account in the CRM's webhooks (HighLevel's locationId,
   * HubSpot's portalId): an integration's routing key, unique per provider.
   */
  routingKeyField: string | null;
  /** Its webhooks are served at POST /api/webhooks/<name>[/:integrationId]. */
  webhooks: boolean;
  /**
   * Whether it holds people we pull (a CRM). Storage, mail and payment accounts connect and
   * test, but a pull is refused. Default true.
   */
  pulls?: boolean;
  /** How it connects by OAuth 2 (authModes includes 'oauth2'); the real URLs are the defaults. */
  oauth?: OAuthFacts;
  /** Whether and how our users are pushed to it (the module then has createWriter). */
  push?: PushFacts;
  /** Whether files are exported to it (the module then has createFileSink). */
  exports?: boolean;
  /**
   * It receives our outbound events (Zapier): its integration owns a webhook subscription to
   * the config's URL for the config's events, created, changed and deleted with it.
   */
  outboundWebhook?: { urlField: string; eventsField: string };
}

/** A provider's OAuth 2 facts: the data; the shared token manager does the rest. */
export interface OAuthFacts {
  authorizeUrl: string;
  tokenUrl: string;
  scopes: readonly string[];
  /** RFC 7636 (S256) where the provider supports it. */
  pkce: boolean;
  /** More authorize parameters (Google's access_type=offline, Dropbox's token_access_type). */
  authorizeParams?: Readonly<Record<string, string>>;
  /** The config field the access token goes in (the one the connector reads). */
  accessTokenField: string;
  /** Config an OAuth integration always has (Wealthbox: authType oauth). */
  fixedConfig?: Readonly<Record<string, unknown>>;
  /**
   * Config the token response carries (HighLevel's locationId, Salesforce's instance_url,
   * Zoho's api_domain); applied after the exchange and after every refresh.
   */
  configFromToken?(token: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /**
   * Config the redirect back carries (Zoho's accounts-server, Amazon's selling_partner_id).
   * Throws OAuthCallbackError for a value it will not accept. `authorizeUrl` is the consent
   * page this connection used (the operator's override, or the facts' own).
   */
  configFromCallback?(query: Readonly<Record<string, unknown>>, flow: { authorizeUrl: string }): Record<string, unknown>;
  /**
   * The token endpoint for this connection when it is not the same for all (Zoho: the
   * accounts server of the person's data centre, from the callback). An operator's
   * OAUTH_<PROVIDER>_TOKEN_URL still wins.
   */
  tokenUrlFor?(config: Readonly<Record<string, unknown>>, flow: { authorizeUrl: string }): string | undefined;
  /**
   * How the client authenticates at the token endpoint: `body` (client_id and client_secret
   * in the form, what most providers document; the default) or `basic` (HTTP Basic).
   */
  tokenAuth?: 'body' | 'basic';
  /** The query parameter carrying the code, when not `code` (Amazon: spapi_oauth_code). */
  codeParam?: string;
  /**
   * The consent URL's parameters, when the provider does not take RFC 6749's (Amazon's
   * Seller Central consent takes application_id and version). `setting` reads the
   * operator's OAUTH_<PROVIDER>_<NAME>.
   */
  authorizeQuery?(standard: Readonly<Record<string, string>>, setting: (name: string) => string | undefined): Record<string, string>;
  /** Settings the provider needs besides the client id (Amazon's APPLICATION_ID): a 409 names them. */
  requiredSettings?: readonly string[];
  /**
   * The variables seeds 003 and 004 use for this app (GOOGLE_CLIENT_ID, DROPBOX_APP_KEY...),
   * read when OAUTH_<PROVIDER>_* are unset.
   */
  legacyEnv?: { clientId: string; clientSecret: string; redirectUri?: string };
  /** Other names of it in OAuth paths (seed 003's /integrations/oauth/google/...). */
  pathAliases?: readonly string[];
}

/** A redirect back carrying a value we will not use (an accounts server that is not the provider's). */
export class OAuthCallbackError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'OAuthCallbackError';
  }
}

/** What a connector gets besides its config. */
export interface ConnectorContext {
  /** null for a connector not bound to a stored integration (a check before creating one). */
  integrationId: number | null;
  logger: Logger;
  http: { timeoutMs: number; maxRetries: number; retryBaseMs: number; allowPrivateUrls: boolean; budgetRecheckMs?: number };
  pageSize: number;
  /**
   * The integration's one limiter in this process at this rate (the provider picks it, from
   * its definition or the config), shared by syncs, connection tests and webhook reads, so a
   * test during a sync does not double the rate.
   */
  limiter(requestsPerSecond: number): RequestLimiter;
  /**
   * Stores config fields the CRM changed or told us (a refreshed token, a learned account
   * id); secrets are sealed as any other. No-op for an unbound connector.
   */
  saveConfig(changes: Record<string, unknown>): Promise<void>;
  /**
   * After a 401: a new access token (an OAuth integration refreshes once, one refresh at a
   * time across instances), or null when there is nothing to refresh (a pasted token).
   */
  reauthorize(): Promise<string | null>;
}

/** An integration kept in step with the environment at start (seed 000's WEALTHBOX_*). */
export interface EnvironmentIntegration {
  name: string;
  config: Record<string, unknown>;
  /** A webhook secret accepted besides the integration's own (for its default route). */
  extraWebhookSecret?: string;
}

export interface ProviderModule {
  definition: ProviderDefinition;
  createConnector(config: Record<string, unknown>, ctx: ConnectorContext): CrmConnector;
  webhook?: WebhookAdapter;
  /** The write half (definition.push): same config and context as the connector. */
  createWriter?(config: Record<string, unknown>, ctx: ConnectorContext): CrmWriter;
  /** Cloud storage (definition.exports): where exports are written. */
  createFileSink?(config: Record<string, unknown>, ctx: ConnectorContext): FileSink;
  /** Reads its own settings from the environment, when it has any. */
  fromEnvironment?(env: Readonly<Record<string, string | undefined>>): EnvironmentIntegration | undefined;
  /** Keeps the channel its webhooks come through open (Zoho's watch channels expire within a week). */
  createChannelKeeper?(config: Record<string, unknown>, ctx: ConnectorContext): WebhookChannelKeeper;
}

/** A CRM whose webhooks flow only while the service keeps a channel open at the CRM. */
export interface WebhookChannelKeeper {
  /**
   * Opens the channel, or extends and updates it, so the CRM posts to `notifyUrl` until about
   * `until` (it may grant less); the expiry granted. Null when the integration's config asks
   * for no channel (no webhook token set). Throws the connector errors (CrmAuthError, ...).
   */
  keep(channel: { id: string; notifyUrl: string; until: Date }): Promise<{ expiresAt: Date } | null>;
  /** Closes the channel (the integration is being deleted); one the CRM no longer has is not an error. */
  release(channelId: string): Promise<void>;
}

/** The whole request, as the sender made it. */
export interface WebhookRequest {
  raw: Buffer;
  /** The body parsed once (JSON), already checked for depth and storable text. */
  json: unknown;
  header(name: string): string | undefined;
  method: string;
  /** The full URL as the sender called it: PUBLIC_BASE_URL (or the Host) + path + query. */
  url: string;
  /** When the sender named the integration in the path. */
  integrationId: number | null;
}

/** One event out of a request (HubSpot sends arrays; most CRMs one event a request). */
export interface WebhookEvent {
  /** The sender's own id for the event: the deduplication key. null: the body's hash is. */
  eventId: string | null;
  type: string;
  occurredAt: Date | null;
  /** The CRM account it belongs to (routing key), or null when the path names the integration. */
  routingKey: string | null;
  /** What is stored (JSON) and later handed to `change`. */
  payload: unknown;
}

/** What the adapter needs to verify a request for one integration. */
export interface WebhookCredentials {
  /** The integration's decrypted config (webhookSecret, appSecret, a public key...). */
  config: Record<string, unknown>;
  /** Secrets accepted besides those in the config (seed 000's WEALTHBOX_WEBHOOK_SECRET). */
  extraSecrets: string[];
}

/** A request whose signed timestamp is too old: replays are refused (401). */
export class StaleWebhookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleWebhookError';
  }
}

/**
 * How a CRM's webhooks are read. The inbound service parses the body, asks `events` for the
 * events (and their routing keys), finds each integration, asks `verify` once per integration
 * involved, and stores the events. `change` runs later, in the inbox worker.
 */
export interface WebhookAdapter {
  /**
   * The header carrying the signature: missing is a 401 before anything else. null: the
   * sender signs nothing in a header (Zoho puts a token in the body), and `verify` alone decides.
   */
  readonly signatureHeader: string | null;
  /**
   * Every identity provider of the CRM, when its records use several (contacts and staff):
   * a deleted record's user stays while a record of any of them points to it.
   */
  readonly identityProviders?: readonly string[];
  /**
   * Whether the integration holds anything to verify with (a secret, a key). Without it every
   * request is refused (401 webhook_secret_not_configured), never let through. Default: yes.
   */
  configured?(credentials: WebhookCredentials): boolean;
  /** Splits a request into events and checks their shape (WebhookPayloadError: 400). */
  events(req: WebhookRequest): WebhookEvent[];
  /**
   * Whether the request is signed for this integration; constant-time comparisons. Throws
   * StaleWebhookError for a signature over a timestamp outside the window. An integration
   * with nothing to verify with answers false: the check is never skipped.
   */
  verify(req: WebhookRequest, credentials: WebhookCredentials): boolean;
  /** A stored event's payload, in our terms. */
  change(payload: unknown, type: string, provider: string): InboundChange;
}
