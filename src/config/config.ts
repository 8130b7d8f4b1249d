import cron from 'node-cron';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const int = (min: number) => z.coerce.number().int().min(min);

/** Every environment variable the service reads. Nothing else reads process.env. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),

  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .optional(),
  // Migrations take a session advisory lock: behind PgBouncer in transaction mode, point this
  // at PostgreSQL itself (or a session-mode pool); DATABASE_URL may then be the pooler.
  DIRECT_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .optional(),
  // api: REST and inbound webhooks; worker: the workers and schedules; all: both (one process).
  ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  EMBEDDED_PG_DIR: z.string().default('.data/postgres'),
  EMBEDDED_PG_PORT: int(1).max(65535).default(54329),
  DB_POOL_MAX: int(1).default(10),
  DB_TRANSACTION_TIMEOUT_MS: int(1000).default(60_000),

  API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  INTERNAL_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),

  JSON_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'must look like 1mb')
    .default('1mb'),
  PUSH_MAX_BODY: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'must look like 10mb')
    .default('10mb'),
  PUSH_MAX_USERS: int(1).default(10_000),
  PUSH_BATCH_SIZE: int(1).default(2_000),
  // List totals are counted exactly up to this many rows; past it they say "at least" (totalRelation gte).
  LIST_EXACT_COUNT_LIMIT: int(1).max(1_000_000).default(1_000),
  // Pushing our users to CRMs and marketing lists (the crm_push_queue worker).
  CRM_PUSH_CONCURRENCY: int(1).max(100).default(4),
  CRM_PUSH_POLL_MS: int(10).default(1000),
  // A claimed batch is taken again by another worker after this long (its sender died).
  CRM_PUSH_LOCK_SECONDS: int(10).default(300),
  CRM_PUSH_RETRY_BASE_MS: int(10).default(5_000),
  CRM_PUSH_RETRY_MAX_MS: int(10).default(15 * 60_000),
  CRM_PUSH_BUDGET_WAIT_MS: int(1000).default(60 * 60_000),

  // 32 bytes, base64 or hex. Encrypts integration secrets (AES-256-GCM).
  ENCRYPTION_KEY: z
    .string()
    .refine((v) => decodeKey(v) !== undefined, 'must be 32 bytes, as base64 (44 chars) or hex (64 chars)')
    .optional(),
  // Keys used before the current one, comma-separated: still decrypt, never encrypt.
  ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .refine((v) => v.split(',').every((k) => decodeKey(k.trim()) !== undefined), 'each must be 32 bytes, base64 or hex')
    .optional(),

  // The service's public base URL (scheme, host, optional path prefix) as senders call it,
  // behind proxies too: signatures over the URL (HubSpot v3) are checked against it. Unset:
  // the request's own Host and scheme.
  // OAuth: where a finished connection may send the person (returnTo must start with one of
  // these, comma-separated), and how long before expiry an access token is refreshed.
  // Per provider: OAUTH_<PROVIDER>_CLIENT_ID / _CLIENT_SECRET / _AUTHORIZE_URL / _TOKEN_URL.
  OAUTH_ALLOWED_RETURN_URLS: z.string().optional(),
  OAUTH_REFRESH_AHEAD_SECONDS: int(0).default(300),
  // The daily keep-alive: connections idle this many days get their tokens refreshed.
  OAUTH_KEEPALIVE_CRON: z
    .string()
    .refine((v) => cron.validate(v), 'must be a cron expression')
    .default('30 3 * * *'),
  OAUTH_IDLE_DAYS: int(1).default(30),
  // The console (/console): how long a tenant portal link may wait to be opened (it opens
  // once), how long the session it opens lasts, and the origins allowed to frame the console
  // (a product embedding its tenants' portal; unset: only the service's own pages).
  CONSOLE_PORTAL_LINK_TTL_SECONDS: int(30).max(86_400).default(600),
  CONSOLE_PORTAL_SESSION_TTL_SECONDS: int(60)
    .max(7 * 86_400)
    .default(3_600),
  CONSOLE_FRAME_ANCESTORS: z
    .string()
    .refine(
      // Each goes into the Content-Security-Policy header as it is: origins only, nothing that could end the directive.
      (v) => v.split(/[\s,]+/).every((o) => o === '' || /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i.test(o)),
      'must be origins such as https://app.example.com, separated by commas',
    )
    .optional(),
  PUBLIC_BASE_URL: z
    .url()
    .regex(/^https?:\/\//, 'must be an http(s) URL')
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),

  CRON_ENABLED: bool.default(true),
  SYNC_NIGHTLY_CRON: z
    .string()
    .refine((v) => cron.validate(v), 'must be a cron expression')
    .default('0 0 * * *'),
  SYNC_INCREMENTAL_CRON: z
    .string()
    .refine((v) => cron.validate(v), 'must be a cron expression')
    .default('*/15 * * * *'),
  SYNC_TIMEZONE: z
    .string()
    .refine((v) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: v });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as UTC or America/New_York')
    .default('UTC'),
  // How long a sync holds its lease without renewing it before another instance may take over.
  SYNC_LEASE_SECONDS: int(5).default(120),
  // Incremental syncs re-read this much before the cursor, for clock skew and late writes.
  SYNC_OVERLAP_SECONDS: int(0).default(300),
  SYNC_PAGE_SIZE: int(1).max(100).default(100),
  // The largest share of an account's people one sync run may delete; past it the run
  // deletes nothing and finishes partial (a wrong read is likelier than a mass deletion).
  SYNC_MAX_DELETE_FRACTION: z.coerce.number().min(0).max(1).default(0.5),
  // Scheduled syncs this instance runs at once (claimed from the sync_jobs table).
  SYNC_CONCURRENCY: int(1).max(100).default(2),
  // Each scheduled sync starts up to this many seconds after its tick, so a tick does not
  // start every integration in the same second.
  SYNC_JITTER_SECONDS: int(0).max(3600).default(30),
  CRM_REQUEST_TIMEOUT_MS: int(100).default(30_000),
  CRM_MAX_RETRIES: int(0).max(10).default(4),
  // First backoff step; doubles per retry, with jitter.
  CRM_RETRY_BASE_MS: int(0).default(500),
  // A CRM account's daily quota seen at its reserve stops calls this long before one call
  // looks again (the CRMs do not say when their day resets); a stopped sync resumes then.
  CRM_BUDGET_RECHECK_SECONDS: int(1).max(86_400).default(3600),

  // Retention (src/modules/retention): days kept per kind, 0 = forever; pruned hourly in
  // batches of RETENTION_BATCH rows, each its own short statement.
  RETENTION_INBOUND_PAYLOAD_DAYS: int(0).default(30),
  RETENTION_DELIVERIES_DAYS: int(0).default(30),
  RETENTION_SYNC_RUNS_DAYS: int(0).default(90),
  RETENTION_CRON: z
    .string()
    .refine((v) => cron.validate(v), 'must be a cron expression')
    .default('17 * * * *'),
  RETENTION_BATCH: int(1).max(100_000).default(1000),

  // Webhook channels the service keeps open at CRMs whose channels expire (Zoho's watch
  // channels, at most a week): how often it looks, and how long before expiry it renews.
  WEBHOOK_CHANNELS_CRON: z
    .string()
    .refine((v) => cron.validate(v), 'must be a cron expression')
    .default('*/10 * * * *'),
  WEBHOOK_CHANNEL_RENEW_AHEAD_HOURS: int(1)
    .max(24 * 6)
    .default(48),

  // Webhooks. Inbound: body limit, processing attempts before an event is parked as failed.
  WEBHOOK_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'must look like 1mb')
    .default('1mb'),
  WEBHOOK_INBOX_MAX_ATTEMPTS: int(1).default(8),
  WEBHOOK_INBOX_RETRY_BASE_MS: int(0).default(1000),
  WEBHOOK_INBOX_BATCH: int(1).max(2000).default(500),
  // Outbound: "seed" (immediately, then 2, 4, 8, 16 s), "standard" (Standard Webhooks: 5 s,
  // 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) or a comma-separated list of seconds.
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .refine((v) => parseSchedule(v) !== undefined, 'must be "seed", "standard" or comma-separated seconds such as 0,2,4,8,16')
    .default('seed'),
  // Each delay is moved by up to this fraction either way, so retries of many events spread out.
  WEBHOOK_RETRY_JITTER: z.coerce.number().min(0).max(1).default(0.1),
  WEBHOOK_TIMEOUT_MS: int(100).default(10_000),
  WEBHOOK_DISABLE_AFTER_FAILURES: int(1).default(10),
  WEBHOOK_DELIVERY_CONCURRENCY: int(1).max(500).default(64),
  // Deliveries of one subscription in flight at once, across instances: a slow endpoint
  // cannot take the whole pool.
  WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: int(1).max(500).default(4),
  WEBHOOK_POLL_MS: int(10).default(500),
  WEBHOOK_SECRET_GRACE_HOURS: z.coerce.number().min(0).max(720).default(24),
  // URLs the service calls for a tenant (webhook subscriptions, CRM base URLs) that resolve
  // to loopback, private or link-local addresses are refused unless this is true (local
  // development, tests, the demo). WEBHOOK_ALLOW_PRIVATE_URLS is its former name.
  ALLOW_PRIVATE_URLS: bool.optional(),
  WEBHOOK_ALLOW_PRIVATE_URLS: bool.optional(),
  // Workers that process inbound events and send outbound ones, in this process.
  WEBHOOK_WORKERS_ENABLED: bool.default(true),

  // GET /metrics (Prometheus). Without METRICS_PORT it is served on PORT and needs an admin
  // API key (x-api-key, or Authorization: Bearer); with it, on its own listener, open, for a
  // network only Prometheus reaches.
  METRICS_ENABLED: bool.default(true),
  METRICS_PORT: int(1).max(65535).optional(),
  METRICS_HOST: z.string().default('0.0.0.0'),

  RATE_LIMIT_WINDOW_MS: int(1000).default(60_000),
  RATE_LIMIT_MAX: int(1).default(600),
  SYNC_RATE_LIMIT_MAX: int(1).default(60),
  // Inbound webhooks, per sender IP: CRMs send in bursts from few addresses.
  WEBHOOK_RATE_LIMIT_MAX: int(1).default(120_000),
  // Failed authentications (401) per client address and window; past it, 429 before any
  // key is looked up.
  AUTH_FAILURE_MAX: int(1).default(20),
  AUTH_FAILURE_WINDOW_MS: int(1000).default(15 * 60_000),
  // Which X-Forwarded-For hops to believe: false (none), a number of proxies in front of us,
  // or addresses/subnets (e.g. "loopback, 10.0.0.0/8"). "true" means one proxy: trusting
  // every hop would let any client pick its own address, and so its own rate limit.
  TRUST_PROXY: z
    .string()
    .trim()
    .transform((v): boolean | number | string => {
      if (['false', '0'].includes(v)) return false;
      if (v === 'true') return 1;
      return /^\d+$/.test(v) ? Number(v) : v;
    })
    .default(false),
});

export type Env = z.infer<typeof envSchema>;

const SCHEDULES: Record<string, number[]> = {
  seed: [0, 2, 4, 8, 16],
  standard: [0, 5, 300, 1800, 7200, 18000, 36000, 36000],
};

/** Seconds before each attempt (the first is usually 0); undefined when malformed. */
export function parseSchedule(text: string): number[] | undefined {
  if (SCHEDULES[text]) return SCHEDULES[text];
  const parts = text.split(',').map((p) => Number(p.trim()));
  return parts.length > 0 && parts.every((n) => Number.isFinite(n) && n >= 0) ? parts : undefined;
}

/** A 32-byte key from base64 or hex, or undefined when it is neither. */
export function decodeKey(text: string): Buffer | undefined {
  const hex = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : undefined;
  const b64 = /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  const key = hex ?? b64;
  return key && key.length === 32 ? key : undefined;
}

export interface Config {
  env: Env['NODE_ENV'];
  isProduction: boolean;
  port: number;
  host: string;
  logLevel: Env['LOG_LEVEL'];
  /** What this process does: api (REST, inbound webhooks), worker (workers, schedules), or all. */
  role: Env['ROLE'];
  database: {
    /** undefined: start embedded PostgreSQL. */
    url?: string;
    /** Where migrations run, when DATABASE_URL is a transaction-mode pooler. */
    directUrl?: string;
    embeddedDir: string;
    embeddedPort: number;
    poolMax: number;
    transactionTimeoutMs: number;
  };
  auth: { apiKey?: string; internalApiKey?: string };
  http: {
    jsonLimit: string;
    trustProxy: boolean | number | string;
    rateLimit: { windowMs: number; max: number; syncMax: number; webhookMax: number; authFailureMax: number; authFailureWindowMs: number };
  };
  push: { maxBody: string; maxUsers: number; batchSize: number };
  lists: { exactCountLimit: number };
  crmPush: { concurrency: number; pollMs: number; lockSeconds: number; retryBaseMs: number; retryMaxMs: number; budgetWaitMs: number };
  encryption: { key?: Buffer; previousKeys: Buffer[] };
  publicBaseUrl?: string;
  oauth: { allowedReturnUrls: string[]; refreshAheadMs: number; keepAliveCron: string; idleDays: number };
  /** The browser console: portal links' and sessions' lifetimes, and who may frame it. */
  console: { portalLinkTtlSeconds: number; portalSessionTtlSeconds: number; frameAncestors: string[] };
  /**
   * The environment as given, for providers' own settings (seed 000's WEALTHBOX_*): a
   * provider folder reads and checks them (ProviderModule.fromEnvironment).
   */
  providerEnv: Readonly<Record<string, string | undefined>>;
  sync: {
    cronEnabled: boolean;
    nightlyCron: string;
    incrementalCron: string;
    timezone: string;
    leaseSeconds: number;
    overlapSeconds: number;
    pageSize: number;
    maxDeleteFraction: number;
    concurrency: number;
    jitterSeconds: number;
  };
  /** Days kept (0 = forever) and the prune job's schedule; see src/modules/retention. */
  retention: { inboundPayloadDays: number; deliveriesDays: number; syncRunsDays: number; cron: string; batch: number };
  webhookChannels: { cron: string; renewAheadMs: number };
  crmHttp: { timeoutMs: number; maxRetries: number; retryBaseMs: number; allowPrivateUrls: boolean; budgetRecheckMs?: number };
  /** The SSRF guard's switch, for every URL called on a tenant's behalf. */
  allowPrivateUrls: boolean;
  metrics: { enabled: boolean; port?: number; host: string };
  webhooks: {
    bodyLimit: string;
    inbox: { maxAttempts: number; retryBaseMs: number; batch: number };
    delivery: {
      schedule: number[];
      jitter: number;
      timeoutMs: number;
      disableAfter: number;
      concurrency: number;
      maxInFlightPerSubscription: number;
      secretGraceHours: number;
      allowPrivateUrls: boolean;
    };
    pollMs: number;
    workersEnabled: boolean;
  };
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; a bad value names every problem at once. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings (as left by `FOO=` in .env files) mean "unset".
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const allowPrivateUrls = e.ALLOW_PRIVATE_URLS ?? e.WEBHOOK_ALLOW_PRIVATE_URLS ?? false;
  return {
    env: e.NODE_ENV,
    isProduction: e.NODE_ENV === 'production',
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    role: e.ROLE,
    database: {
      url: e.DATABASE_URL,
      directUrl: e.DIRECT_DATABASE_URL,
      embeddedDir: e.EMBEDDED_PG_DIR,
      embeddedPort: e.EMBEDDED_PG_PORT,
      poolMax: e.DB_POOL_MAX,
      transactionTimeoutMs: e.DB_TRANSACTION_TIMEOUT_MS,
    },
    auth: { apiKey: e.API_KEY, internalApiKey: e.INTERNAL_API_KEY },
    http: {
      jsonLimit: e.JSON_BODY_LIMIT,
      trustProxy: e.TRUST_PROXY,
      rateLimit: {
        windowMs: e.RATE_LIMIT_WINDOW_MS,
        max: e.RATE_LIMIT_MAX,
        syncMax: e.SYNC_RATE_LIMIT_MAX,
        webhookMax: e.WEBHOOK_RATE_LIMIT_MAX,
        authFailureMax: e.AUTH_FAILURE_MAX,
        authFailureWindowMs: e.AUTH_FAILURE_WINDOW_MS,
      },
    },
    push: { maxBody: e.PUSH_MAX_BODY, maxUsers: e.PUSH_MAX_USERS, batchSize: e.PUSH_BATCH_SIZE },
    lists: { exactCountLimit: e.LIST_EXACT_COUNT_LIMIT },
    crmPush: {
      concurrency: e.CRM_PUSH_CONCURRENCY,
      pollMs: e.CRM_PUSH_POLL_MS,
      lockSeconds: e.CRM_PUSH_LOCK_SECONDS,
      retryBaseMs: e.CRM_PUSH_RETRY_BASE_MS,
      retryMaxMs: e.CRM_PUSH_RETRY_MAX_MS,
      budgetWaitMs: e.CRM_PUSH_BUDGET_WAIT_MS,
    },
    encryption: {
      key: e.ENCRYPTION_KEY ? decodeKey(e.ENCRYPTION_KEY) : undefined,
      previousKeys: (e.ENCRYPTION_PREVIOUS_KEYS ?? '')
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean)
        .map((k) => decodeKey(k) as Buffer),
    },
    publicBaseUrl: e.PUBLIC_BASE_URL,
    oauth: {
      allowedReturnUrls: (e.OAUTH_ALLOWED_RETURN_URLS ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      refreshAheadMs: e.OAUTH_REFRESH_AHEAD_SECONDS * 1000,
      keepAliveCron: e.OAUTH_KEEPALIVE_CRON,
      idleDays: e.OAUTH_IDLE_DAYS,
    },
    console: {
      portalLinkTtlSeconds: e.CONSOLE_PORTAL_LINK_TTL_SECONDS,
      portalSessionTtlSeconds: e.CONSOLE_PORTAL_SESSION_TTL_SECONDS,
      frameAncestors: (e.CONSOLE_FRAME_ANCESTORS ?? '')
        .split(/[\s,]+/)
        .map((u) => u.trim())
        .filter(Boolean),
    },
    providerEnv: Object.freeze({ ...cleaned }),
    sync: {
      cronEnabled: e.CRON_ENABLED,
      nightlyCron: e.SYNC_NIGHTLY_CRON,
      incrementalCron: e.SYNC_INCREMENTAL_CRON,
      timezone: e.SYNC_TIMEZONE,
      leaseSeconds: e.SYNC_LEASE_SECONDS,
      overlapSeconds: e.SYNC_OVERLAP_SECONDS,
      pageSize: e.SYNC_PAGE_SIZE,
      maxDeleteFraction: e.SYNC_MAX_DELETE_FRACTION,
      concurrency: e.SYNC_CONCURRENCY,
      jitterSeconds: e.SYNC_JITTER_SECONDS,
    },
    webhookChannels: { cron: e.WEBHOOK_CHANNELS_CRON, renewAheadMs: e.WEBHOOK_CHANNEL_RENEW_AHEAD_HOURS * 3_600_000 },
    retention: {
      inboundPayloadDays: e.RETENTION_INBOUND_PAYLOAD_DAYS,
      deliveriesDays: e.RETENTION_DELIVERIES_DAYS,
      syncRunsDays: e.RETENTION_SYNC_RUNS_DAYS,
      cron: e.RETENTION_CRON,
      batch: e.RETENTION_BATCH,
    },
    crmHttp: {
      timeoutMs: e.CRM_REQUEST_TIMEOUT_MS,
      maxRetries: e.CRM_MAX_RETRIES,
      retryBaseMs: e.CRM_RETRY_BASE_MS,
      allowPrivateUrls,
      budgetRecheckMs: e.CRM_BUDGET_RECHECK_SECONDS * 1000,
    },
    allowPrivateUrls,
    metrics: { enabled: e.METRICS_ENABLED, port: e.METRICS_PORT, host: e.METRICS_HOST },
    webhooks: {
      bodyLimit: e.WEBHOOK_BODY_LIMIT,
      inbox: { maxAttempts: e.WEBHOOK_INBOX_MAX_ATTEMPTS, retryBaseMs: e.WEBHOOK_INBOX_RETRY_BASE_MS, batch: e.WEBHOOK_INBOX_BATCH },
      delivery: {
        schedule: parseSchedule(e.WEBHOOK_RETRY_SCHEDULE) as number[],
        jitter: e.WEBHOOK_RETRY_JITTER,
        timeoutMs: e.WEBHOOK_TIMEOUT_MS,
        disableAfter: e.WEBHOOK_DISABLE_AFTER_FAILURES,
        concurrency: e.WEBHOOK_DELIVERY_CONCURRENCY,
        maxInFlightPerSubscription: e.WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION,
        secretGraceHours: e.WEBHOOK_SECRET_GRACE_HOURS,
        allowPrivateUrls,
      },
      pollMs: e.WEBHOOK_POLL_MS,
      workersEnabled: e.WEBHOOK_WORKERS_ENABLED,
    },
  };
}
