import fs from 'node:fs';
import path from 'node:path';
import express, { Router, type Express } from 'express';
import { jsonBody } from './lib/http';
import helmet from 'helmet';
import type { Logger } from 'winston';
import type { Config } from './config/config';
import { poolOf, type PrismaClient } from './db/prisma';
import { unappliedMigrations } from './db/readiness';
import { createUnitOfWork } from './db/unit-of-work';
import { withAdvisoryLock } from './db/advisory-lock';
import { AppError, errorHandler, notFoundHandler } from './lib/errors';
import { createAuthFailureLimit, createRateLimit, createSharedRateLimit, ipOf, principalKeyOf } from './lib/rate-limit';
import { rejectUnstorableInput } from './lib/input-guard';
import { requestContext } from './lib/request-context';
import { createMetrics, metricsHandler, type Metrics } from './lib/metrics';
import { SecretBox } from './lib/secret-box';
import { SyncJobs } from './jobs/sync.jobs';
import { ExportJobs } from './jobs/export.jobs';
import { OAuthKeepAliveJob } from './jobs/oauth-keepalive.job';
import { RetentionJob } from './jobs/retention.job';
import { WebhookChannelsJob } from './jobs/webhook-channels.job';
import { createErasureRepository, createRetentionRepository, RetentionService } from './modules/retention';
import { createConnectorFactory, createWriterFactory, ProviderRegistry } from './providers/registry';
import { allProviders } from './providers';
import {
  createOAuthRepository,
  oauthCallbackOperations,
  oauthCallbackRouter,
  oauthOperations,
  oauthRouter,
  OAuthService,
} from './modules/oauth';
import type { ProviderModule } from './providers/provider';
import {
  consolePageOperations,
  consoleRouter,
  consoleSessionOperations,
  consoleSessionsRouter,
  consoleSignedInOperations,
  consoleSignedInRouter,
  createPortalRepository,
  portalLinkOperations,
  portalLinksRouter,
  PortalService,
} from './modules/console';
import { LimiterRegistry } from './providers/rate-limiter';
import { createBudgetStore } from './providers/budget-store';
import { mountedAt, ok, type Operation } from './openapi/operation';
import { openApiOperations, openApiRouter } from './openapi/openapi.routes';
import { createApiKeyRepository } from './modules/auth/api-keys.repository';
import { apiKeyOperations, apiKeysRouter } from './modules/auth/api-keys.routes';
import { ApiKeyService } from './modules/auth/api-keys.service';
import { requireAdminKeyOrBearer, requireApiKey, requireInternalKey, type Authenticator } from './modules/auth/auth.middleware';
import { createOrganizationRepository } from './modules/organizations/organizations.repository';
import { organizationOperations, organizationsRouter } from './modules/organizations/organizations.routes';
import { OrganizationService } from './modules/organizations/organizations.service';
import { createUserRepository } from './modules/users/users.repository';
import { userOperations, usersRouter } from './modules/users/users.routes';
import { UserService } from './modules/users/users.service';
import { ConfigValidator } from './modules/integrations/config-schema';
import { ensureEnvironmentIntegrations } from './modules/integrations/default-integration';
import { createIntegrationRepository } from './modules/integrations/integrations.repository';
import { integrationOperations, integrationsRouter } from './modules/integrations/integrations.routes';
import { IntegrationService } from './modules/integrations/integrations.service';
import { createTemplateRepository } from './modules/integrations/templates.repository';
import { templateOperations, templatesRouter } from './modules/integrations/templates.routes';
import { TemplateService } from './modules/integrations/templates.service';
import { eventRecorder, outboundEventData } from './modules/outbox';
import { createPeopleRepository } from './modules/people';
import { createPushRepository } from './modules/sync/push.repository';
import { pushOperations, pushRouter } from './modules/sync/push.routes';
import { PushService } from './modules/sync/push.service';
import { createPullRepository } from './modules/sync/pull.repository';
import { PullService } from './modules/sync/pull.service';
import { createSyncRunRepository, type SyncRunRepository } from './modules/sync/sync-runs.repository';
import { createSyncJobRepository } from './modules/sync/sync-jobs.repository';
import { syncOperations, syncRouter } from './modules/sync/sync.routes';
import { createExportRepository, exportOperations, exportsRouter, ExportService } from './modules/exports';
import { envelopeWebhook } from './modules/inbound-webhooks/envelope';
import {
  inboundEventOperations,
  inboundEventsRouter,
  inboundWebhookOperations,
  inboundWebhooksRouter,
} from './modules/inbound-webhooks/inbound.routes';
import { inboundWebhookHotPath } from './modules/inbound-webhooks/inbound.hot-path';
import { InboundWebhookService } from './modules/inbound-webhooks/inbound.service';
import { createInboxQueue, createInboxRepository, type InboxRepository } from './modules/inbound-webhooks/inbox.repository';
import { InboxWorker } from './modules/inbound-webhooks/inbox.worker';
import { createWebhookChannelRepository } from './modules/inbound-webhooks/channels.repository';
import { WebhookChannelService } from './modules/inbound-webhooks/channels.service';
import { createDeliveryRepository } from './modules/outbound-webhooks/deliveries.repository';
import { DeliveryWorker } from './modules/outbound-webhooks/delivery.worker';
import { createSubscriptionRepository } from './modules/outbound-webhooks/subscriptions.repository';
import { subscriptionOperations, subscriptionsRouter } from './modules/outbound-webhooks/subscriptions.routes';
import { SubscriptionService } from './modules/outbound-webhooks/subscriptions.service';
import { updateSubscriptionBody } from './modules/outbound-webhooks/subscriptions.schemas';
import type { IntegrationLifecycle } from './modules/integrations/integrations.service';
import type { IntegrationRow } from './modules/integrations/integrations.repository';
import { providerApiOperations, providerApiRouter } from './modules/provider-api';
import {
  CrmPushBackfill,
  createCrmPushRepository,
  crmPushOperations,
  crmPushRouter,
  CrmPushSender,
  CrmPushWorker,
  type CrmPushRepository,
} from './modules/crm-push';

export interface AppDeps {
  config: Config;
  prisma: PrismaClient;
  logger: Logger;
  /** The providers to run with; all of them unless a caller (a test) passes fewer. */
  providers?: readonly ProviderModule[];
}

export interface Services {
  apiKeys: ApiKeyService;
  /** API keys, then the console's portal sessions: who a presented credential is. */
  authenticator: Authenticator;
  portal: PortalService;
  organizations: OrganizationService;
  users: UserService;
  push: PushService;
  templates: TemplateService;
  integrations: IntegrationService;
  oauth: OAuthService;
  pull: PullService;
  syncRuns: SyncRunRepository;
  jobs: SyncJobs;
  exports: ExportService;
  exportJobs: ExportJobs;
  keepAlive: OAuthKeepAliveJob;
  retention: RetentionService;
  retentionJob: RetentionJob;
  webhookChannels: WebhookChannelService;
  webhookChannelsJob: WebhookChannelsJob;
  metrics: Metrics;
  subscriptions: SubscriptionService;
  deliveries: DeliveryWorker;
  inbound: InboundWebhookService;
  inbox: InboxRepository;
  inboxWorker: InboxWorker;
  crmPush: { queue: CrmPushRepository; worker: CrmPushWorker; backfill: CrmPushBackfill };
  providers: ProviderRegistry;
  /** Runs `fn` as the only instance doing so (a database advisory lock): for start-up steps. */
  exclusively<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Starts and stops the background workers (cron jobs, webhook workers). */
  workers: { start(): void; stop(): Promise<void> };
}

/** The composition root: repositories, then services, then routers. */
export function createServices({ config, prisma, logger, providers: modules = allProviders }: AppDeps): Services {
  const providers = new ProviderRegistry(modules);
  /** Webhook formats by channel: a provider's own, or seed 002's envelope. */
  const webhookAdapter = (channel: string) => (channel === 'envelope' ? envelopeWebhook : providers.webhook(channel));
  const inbox = createInboxRepository(prisma, poolOf(prisma), { prepared: !config.database.directUrl });
  const deliveryQueue = createDeliveryRepository(prisma);
  const metrics = createMetrics();
  metrics.setQueueDepths(async () => {
    const [pending, open] = await Promise.all([inbox.pendingCount(), deliveryQueue.openCount()]);
    return { inbox: pending, deliveries: open };
  });
  const organizations = new OrganizationService(
    createOrganizationRepository(prisma),
    createUnitOfWork(prisma, (db) => ({ organizations: createOrganizationRepository(db), events: eventRecorder(db) })),
    config.lists,
  );
  const apiKeys = new ApiKeyService(createApiKeyRepository(prisma), organizations, logger, config.auth.apiKey);
  const portal = new PortalService(createPortalRepository(prisma), organizations, logger, {
    linkTtlSeconds: config.console.portalLinkTtlSeconds,
    sessionTtlSeconds: config.console.portalSessionTtlSeconds,
  });
  const authenticator: Authenticator = {
    authenticate: async (presented) => (await portal.authenticate(presented)) ?? apiKeys.authenticate(presented),
  };
  const users = new UserService(
    createUserRepository(prisma),
    createUnitOfWork(prisma, (db) => ({
      users: createUserRepository(db),
      events: eventRecorder(db),
      erasure: createErasureRepository(db),
    })),
    organizations,
    config.lists,
  );
  const push = new PushService(createUnitOfWork(prisma, createPushRepository), logger, {
    maxUsers: config.push.maxUsers,
    batchSize: config.push.batchSize,
    metrics,
  });
  if (!config.encryption.key) throw new Error('ENCRYPTION_KEY is not set (server.ts provides a development default)');
  const box = new SecretBox(config.encryption.key, config.encryption.previousKeys);
  const validator = new ConfigValidator();
  const templates = new TemplateService(createTemplateRepository(prisma), validator, () => providers.templates());
  // One request budget per CRM account across instances (crm_rate_budgets).
  const limiters = new LimiterRegistry({ store: createBudgetStore(prisma), logger });
  const connectorDeps = { logger, http: config.crmHttp, pageSize: config.sync.pageSize, limiters };
  const connectorFor = createConnectorFactory(providers, connectorDeps);
  const integrations: IntegrationService = new IntegrationService(
    createIntegrationRepository(prisma),
    createUnitOfWork(prisma, (db) => ({ integrations: createIntegrationRepository(db), events: eventRecorder(db) })),
    templates,
    organizations,
    validator,
    box,
    connectorFor,
    logger,
    {
      allowPrivateUrls: config.allowPrivateUrls,
      routingKeyField: (provider) => providers.routingKeyField(provider),
      // The token manager is built below from this service; connectors ask it through here.
      freshenToken: (id: number): Promise<boolean> => oauth.ensureFresh(id),
      reauthorize: (id: number): Promise<string | null> => oauth.refreshNow(id),
      writers: createWriterFactory(providers, connectorDeps),
      lifecycle: bothLifecycles(
        subscriptionOwners(providers, () => subscriptions),
        {
          async created() {},
          // A changed config (a new webhook token) goes to the CRM's channel on the next pass.
          updated: (row) => webhookChannels.touch(row.id),
          removing: (row) => webhookChannels.release(row),
        },
      ),
    },
  );
  const oauth: OAuthService = new OAuthService(
    createOAuthRepository(prisma),
    createUnitOfWork(prisma, (db) => ({ oauth: createOAuthRepository(db), integrations: createIntegrationRepository(db) })),
    integrations,
    box,
    logger,
    {
      factsOf: (provider) => providers.get(provider)?.definition.oauth,
      canonical: (name) => providers.oauthName(name),
      env: config.providerEnv,
      publicBaseUrl: config.publicBaseUrl,
      allowedReturnUrls: config.oauth.allowedReturnUrls,
      refreshAheadMs: config.oauth.refreshAheadMs,
      timeoutMs: config.crmHttp.timeoutMs,
    },
  );
  const syncJobQueue = createSyncJobRepository(prisma);
  const pull = new PullService(
    createPullRepository(prisma),
    createUnitOfWork(prisma, (db) => ({ pull: createPullRepository(db), people: createPeopleRepository(db), events: eventRecorder(db) })),
    integrations,
    logger,
    {
      leaseSeconds: config.sync.leaseSeconds,
      overlapSeconds: config.sync.overlapSeconds,
      maxDeleteFraction: config.sync.maxDeleteFraction,
      metrics,
      resumeLater: (job) => syncJobQueue.resumeLater(job),
    },
  );
  const syncRuns = createSyncRunRepository(prisma);
  const exportsService = new ExportService(createExportRepository(prisma), integrations, logger, {
    leaseSeconds: config.sync.leaseSeconds,
    providers: providers.list().flatMap((m) => (m.definition.exports ? [m.definition.name] : [])),
  });
  const exportJobs = new ExportJobs(exportsService, logger, { enabled: config.sync.cronEnabled, timezone: config.sync.timezone });
  const jobs = new SyncJobs(pull, syncJobQueue, syncRuns, logger, {
    enabled: config.sync.cronEnabled,
    nightlyCron: config.sync.nightlyCron,
    incrementalCron: config.sync.incrementalCron,
    timezone: config.sync.timezone,
    concurrency: config.sync.concurrency,
    jitterSeconds: config.sync.jitterSeconds,
    lockSeconds: config.sync.leaseSeconds,
  });
  const retention = new RetentionService(createRetentionRepository(prisma), logger, {
    inboundPayloadDays: config.retention.inboundPayloadDays,
    deliveriesDays: config.retention.deliveriesDays,
    syncRunsDays: config.retention.syncRunsDays,
    batch: config.retention.batch,
  });
  // The lock is held for the whole pass (the batches commit on their own); a pass longer
  // than this is cut short and continued by the next tick.
  const retentionJob = new RetentionJob(retention, (fn) => withAdvisoryLock(prisma, 'retention', fn, 15 * 60_000), logger, {
    enabled: config.sync.cronEnabled,
    schedule: config.retention.cron,
    timezone: config.sync.timezone,
    days: {
      inboundPayloads: config.retention.inboundPayloadDays,
      deliveries: config.retention.deliveriesDays,
      syncRuns: config.retention.syncRunsDays,
    },
  });
  const webhookChannels: WebhookChannelService = new WebhookChannelService(
    createWebhookChannelRepository(prisma),
    integrations,
    () => providers.channelProviders(),
    logger,
    {
      publicBaseUrl: config.publicBaseUrl,
      lifetimeMs: 7 * 24 * 3_600_000,
      renewAheadMs: config.webhookChannels.renewAheadMs,
      batch: 50,
      leaseSeconds: 300,
    },
  );
  const webhookChannelsJob = new WebhookChannelsJob(webhookChannels, logger, {
    enabled: config.sync.cronEnabled,
    schedule: config.webhookChannels.cron,
    timezone: config.sync.timezone,
  });
  const keepAlive = new OAuthKeepAliveJob(oauth, logger, {
    enabled: config.sync.cronEnabled,
    schedule: config.oauth.keepAliveCron,
    timezone: config.sync.timezone,
    idleDays: config.oauth.idleDays,
  });
  const wh = config.webhooks;
  const subscriptions = new SubscriptionService(
    createSubscriptionRepository(prisma),
    createUnitOfWork(prisma, (db) => ({ subscriptions: createSubscriptionRepository(db) })),
    organizations,
    box,
    logger,
    {
      allowPrivateUrls: wh.delivery.allowPrivateUrls,
      secretGraceHours: wh.delivery.secretGraceHours,
      exactCountLimit: config.lists.exactCountLimit,
    },
  );
  const deliveries = new DeliveryWorker(deliveryQueue, box, logger, { ...wh.delivery, pollMs: wh.pollMs, metrics });
  const inboxWorker = new InboxWorker(
    createInboxQueue(prisma),
    createUnitOfWork(prisma, (db) => ({ queue: createInboxQueue(db), people: createPeopleRepository(db) })),
    webhookAdapter,
    async (id) => integrations.freshConnector(await integrations.getRow(id)),
    metrics,
    logger,
    { ...wh.inbox, pollMs: wh.pollMs },
  );
  const inbound = new InboundWebhookService(inbox, integrations, metrics, logger, {
    extraSecrets: (provider) => {
      const secret = providers.get(provider)?.fromEnvironment?.(config.providerEnv)?.extraWebhookSecret;
      return secret ? [secret] : [];
    },
    onStored: () => inboxWorker.poke(),
  });
  const pushFacts = (provider: string) => providers.get(provider)?.definition.push;
  const crmPushQueue = createCrmPushRepository(prisma);
  const crmPushSender = new CrmPushSender(
    crmPushQueue,
    createUnitOfWork(prisma, (db) => ({ push: createCrmPushRepository(db) })),
    integrations,
    pushFacts,
    logger,
    config.crmPush,
  );
  const crmPush = {
    queue: crmPushQueue,
    worker: new CrmPushWorker(crmPushQueue, crmPushSender, logger, config.crmPush),
    backfill: new CrmPushBackfill(
      createPullRepository(prisma),
      createUnitOfWork(prisma, (db) => ({ pull: createPullRepository(db), events: eventRecorder(db) })),
      crmPushQueue,
      crmPushSender,
      integrations,
      pushFacts,
      logger,
      { leaseSeconds: config.sync.leaseSeconds },
    ),
  };
  const workers = {
    start() {
      jobs.start();
      exportJobs.start();
      keepAlive.start();
      retentionJob.start();
      webhookChannelsJob.start();
      if (wh.workersEnabled) {
        inboxWorker.start();
        deliveries.start();
        crmPush.worker.start();
      }
    },
    async stop() {
      await jobs.stop();
      await exportJobs.stop();
      await exportsService.stop();
      await keepAlive.stop();
      await retentionJob.stop();
      await webhookChannelsJob.stop();
      await Promise.all([inboxWorker.stop(), deliveries.stop(), crmPush.worker.stop(), crmPush.backfill.stop()]);
    },
  };
  return {
    exclusively: (name, fn) => withAdvisoryLock(prisma, name, fn),
    providers,
    apiKeys,
    authenticator,
    portal,
    organizations,
    users,
    push,
    templates,
    integrations,
    oauth,
    pull,
    syncRuns,
    jobs,
    exports: exportsService,
    exportJobs,
    keepAlive,
    retention,
    retentionJob,
    webhookChannels,
    webhookChannelsJob,
    metrics,
    subscriptions,
    deliveries,
    inbound,
    inbox,
    inboxWorker,
    crmPush,
    workers,
  };
}

/**
 * Integrations that own a webhook subscription (Zapier): it is created with them (its secret
 * shown once in the create answer), follows their URL and events, and goes with them.
 */
function subscriptionOwners(providers: ProviderRegistry, subscriptions: () => SubscriptionService): IntegrationLifecycle {
  const fields = (row: { provider: string }) => providers.get(row.provider)?.definition.outboundWebhook;
  /** The subscription's URL and events out of the config; a refusal names the config's own fields. */
  const wanted = (f: { urlField: string; eventsField: string }, config: Record<string, unknown>) => {
    const r = updateSubscriptionBody.safeParse({ url: config[f.urlField], events: config[f.eventsField] });
    if (r.success) return r.data;
    const field: Record<string, string> = { url: f.urlField, events: f.eventsField };
    throw AppError.validation(
      r.error.issues.map((i) => ({ ...i, path: [field[String(i.path[0])] ?? String(i.path[0]), ...i.path.slice(1)] })),
      'body.config',
    );
  };
  /** The integration's own subscription: one of its organization's, whatever the config says. */
  const owned = async (row: IntegrationRow, config: Record<string, unknown>) => {
    const id = config.subscriptionId;
    if (typeof id !== 'number') return null;
    const sub = await subscriptions()
      .getRow(id)
      .catch((err: unknown) => {
        if (err instanceof AppError && err.kind === 'not_found') return null;
        throw err;
      });
    return sub && sub.organizationId === row.organizationId ? sub : null;
  };
  return {
    async created(row, config) {
      const f = fields(row);
      if (!f) return;
      const { url, events } = wanted(f, config);
      const sub = await subscriptions().create(row.organizationId, {
        url: url as string,
        events: events ?? ['user.created', 'user.updated', 'user.deleted'],
        description: `${row.provider} integration ${row.id}`,
      });
      return { config: { subscriptionId: sub.id }, reveal: { subscriptionId: sub.id, webhookSecret: sub.secret } };
    },
    async checkUpdate(row, config) {
      const f = fields(row);
      if (!f || typeof config.subscriptionId !== 'number') return;
      wanted(f, config);
      if (!(await owned(row, config)))
        throw new AppError(
          'conflict',
          'subscription_gone',
          `The webhook subscription of integration ${row.id} (${String(config.subscriptionId)}) was deleted; delete the integration and create it again`,
        );
    },
    async updated(row, config) {
      const f = fields(row);
      const sub = f ? await owned(row, config) : null;
      if (f && sub) await subscriptions().update(sub, wanted(f, config));
    },
    async removing(row, config) {
      const sub = fields(row) ? await owned(row, config) : null;
      if (!sub) return;
      await subscriptions()
        .remove(sub.id)
        .catch((err: unknown) => {
          // Deleted by hand meanwhile: nothing left to remove.
          if (!(err instanceof AppError && err.kind === 'not_found')) throw err;
        });
    },
  };
}

/** Two lifecycles as one: each step runs the first's, then the second's. */
function bothLifecycles(a: IntegrationLifecycle, b: IntegrationLifecycle): IntegrationLifecycle {
  return {
    async created(row, config) {
      const first = await a.created(row, config);
      await b.created(row, config);
      return first;
    },
    async checkUpdate(row, config) {
      await a.checkUpdate?.(row, config);
      await b.checkUpdate?.(row, config);
    },
    async updated(row, config) {
      await a.updated(row, config);
      await b.updated(row, config);
    },
    async removing(row, config) {
      await a.removing(row, config);
      await b.removing(row, config);
    },
  };
}

/** What must exist before serving: built-in templates, and seed 000's default integration. */
export async function bootstrap({ config, logger }: Omit<AppDeps, 'prisma'>, services: Services): Promise<void> {
  // Instances starting together would each "look, then create" the same rows.
  await services.exclusively('bootstrap', async () => {
    await services.templates.ensureBuiltIns();
    await ensureEnvironmentIntegrations(services.providers, config.providerEnv, services.organizations, services.integrations, logger);
  });
}

/** The package version (for the OpenAPI document), from the nearest package.json up: src/ or dist/src/. */
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}
const version = packageVersion();

/** The routes createApp declares itself. */
const healthOperations: Operation[] = [
  { method: 'get', path: '/health', tag: 'Health', summary: 'The process is up', auth: 'none', responses: ok('{ status, uptimeSeconds }') },
  {
    method: 'get',
    path: '/ready',
    tag: 'Health',
    summary: 'The database is reachable and every migration applied',
    auth: 'none',
    responses: { 200: '{ status: "ready" }', 503: 'Not ready: database unreachable or migrations pending' },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'Health',
    summary: 'Prometheus metrics (text format); on METRICS_PORT instead when that is set',
    auth: 'metrics',
    responses: ok('Prometheus text exposition format'),
  },
];

/**
 * Every operation, at the path where createApp mounts its router: the OpenAPI document is
 * built from this (tests/openapi check it against the routes served).
 */
function apiOperations(providers: ProviderRegistry): Operation[] {
  const webhookProviders = providers
    .list()
    .flatMap((m) => (m.webhook ? [{ name: m.definition.name, signatureHeader: m.webhook.signatureHeader }] : []));
  return [
    ...healthOperations,
    ...mountedAt('/api', openApiOperations),
    ...consolePageOperations,
    ...mountedAt('/api/console', consoleSessionOperations),
    ...mountedAt('/api', consoleSignedInOperations),
    ...mountedAt('/api/organizations', portalLinkOperations),
    ...mountedAt('/api/organizations', organizationOperations),
    ...mountedAt('/api/users', userOperations),
    ...mountedAt('/api/api-keys', apiKeyOperations),
    ...mountedAt('/api/internal/sync', pushOperations),
    ...mountedAt('/api/integration-templates', templateOperations),
    ...mountedAt('/api/integrations/oauth', oauthOperations),
    ...mountedAt('/api/integrations/oauth', oauthCallbackOperations),
    ...mountedAt('/integrations/oauth', [...oauthOperations, ...oauthCallbackOperations]),
    ...mountedAt('/api/integrations', integrationOperations),
    ...mountedAt('/api', syncOperations),
    ...mountedAt('/api', exportOperations),
    ...mountedAt('/api', crmPushOperations),
    ...mountedAt('/api', providerApiOperations),
    ...mountedAt('/api', inboundWebhookOperations(webhookProviders)),
    ...mountedAt('/api/webhooks/events', inboundEventOperations),
    ...mountedAt('/api/webhook-subscriptions', subscriptionOperations),
  ];
}

/** Checks the database and the migrations: the readiness answer of every role. */
function readiness(prisma: PrismaClient, logger: Logger) {
  return async (_req: express.Request, res: express.Response) => {
    try {
      const pending = await unappliedMigrations(prisma);
      if (pending.length > 0) {
        res.status(503).json({ status: 'not_ready', database: 'ok', pendingMigrations: pending });
        return;
      }
      res.json({ status: 'ready', database: 'ok', migrations: 'applied' });
    } catch (err) {
      logger.warn('readiness check failed', { err: err instanceof Error ? err.message : String(err) });
      res.status(503).json({ status: 'not_ready', database: 'unreachable' });
    }
  };
}

/**
 * ROLE=worker: the workers and schedules run, and this port answers only /health and /ready
 * (for the orchestrator's probes); everything else is a 404 JSON error.
 */
export function createWorkerApp({ config, prisma, logger }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(helmet());
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', role: config.role, uptimeSeconds: Math.round(process.uptime()) });
  });
  app.get('/ready', readiness(prisma, logger));
  app.use(notFoundHandler);
  app.use(errorHandler(logger, config.isProduction));
  return app;
}

export function createApp(deps: AppDeps, services: Services = createServices(deps)): Express {
  const { config, prisma, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.http.trustProxy);
  // CRMs post here without an API key: the signature authenticates. Raw bodies, their own
  // rate limit, and before helmet: the answer is a JSON ack to a server, never rendered by
  // a browser, so of helmet's headers only nosniff applies; this is the hot path.
  const webhookAdapters = {
    envelope: envelopeWebhook,
    byProvider: (name: string) => {
      const module = services.providers.get(name);
      return module?.webhook ? { adapter: module.webhook, routedByAccount: module.definition.routingKeyField !== null } : undefined;
    },
  };
  const webhookOpts = { bodyLimit: config.webhooks.bodyLimit, publicBaseUrl: config.publicBaseUrl };
  // By sender address only: these requests carry no key, and a made-up x-api-key must not buy
  // a fresh budget. One count for the hot path and the router.
  const webhookLimit = createSharedRateLimit({
    windowMs: config.http.rateLimit.windowMs,
    limit: config.http.rateLimit.webhookMax,
    name: 'webhooks',
    keyOf: ipOf,
  });
  // Plain requests to the receiving endpoints, before the generic middleware (it does their share).
  app.use(
    inboundWebhookHotPath({
      service: services.inbound,
      adapters: webhookAdapters,
      opts: webhookOpts,
      rateLimit: webhookLimit,
      logger,
      metrics: services.metrics,
    }),
  );
  app.use(requestContext(logger, services.metrics));
  app.use(
    '/api',
    (_req, res, next) => {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      next();
    },
    inboundWebhooksRouter(services.inbound, webhookAdapters, webhookOpts, webhookLimit.middleware),
  );
  app.use(helmet());
  const { windowMs, max, syncMax, authFailureMax, authFailureWindowMs } = config.http.rateLimit;
  const authFailures = createAuthFailureLimit({ windowMs: authFailureWindowMs, limit: authFailureMax });

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  });
  app.get('/ready', readiness(prisma, logger));

  // On the main port only when no METRICS_PORT is set; then it needs an admin key.
  if (config.metrics.enabled && config.metrics.port === undefined) {
    app.get('/metrics', authFailures, requireAdminKeyOrBearer(services.authenticator), metricsHandler(services.metrics));
  }

  app.use('/api', openApiRouter(version, apiOperations(services.providers), outboundEventData));
  // The provider's redirect back carries no API key (the state is the credential): before the
  // key check, with the per-address limit of other keyless requests.
  const callbackLimit = createRateLimit({ windowMs, limit: max, name: 'oauth-callback', keyOf: ipOf });
  // Seed 003's paths (/integrations/oauth/google/authorize, /callback) are the same flow.
  for (const at of ['/api/integrations/oauth', '/integrations/oauth']) app.use(at, callbackLimit, oauthCallbackRouter(services.oauth));
  app.use('/console', consoleRouter({ frameAncestors: config.console.frameAncestors }));
  // A portal link's token opens its session: keyless like the callback, and failed tries
  // count against the address as failed keys do.
  app.use(
    '/api/console',
    authFailures,
    callbackLimit,
    jsonBody('4kb'),
    rejectUnstorableInput(),
    consoleSessionsRouter(services.portal),
  );

  const api = Router();
  // Requests are counted against the key they authenticated with, so only after the check;
  // failed checks are counted against the address, with a budget of their own.
  // The upstream push authenticates with its own key (one for the service) and may carry a large body.
  api.use(
    '/internal/sync',
    authFailures,
    requireInternalKey(config.auth.internalApiKey),
    createRateLimit({ windowMs, limit: syncMax, name: 'internal-sync', keyOf: () => 'internal-key' }),
    pushRouter(services.push, config.push.maxBody),
  );
  const apiLimit = createRateLimit({ windowMs, limit: max, name: 'api', keyOf: principalKeyOf });
  api.use(authFailures, requireApiKey(services.authenticator), apiLimit);
  api.use(jsonBody(config.http.jsonLimit));
  api.use(rejectUnstorableInput());
  api.use('/api-keys', apiKeysRouter(services.apiKeys));
  api.use(consoleSignedInRouter(services.portal, services.organizations));
  api.use('/organizations', portalLinksRouter(services.portal, config.publicBaseUrl));
  api.use('/organizations', organizationsRouter(services.organizations, services.users));
  // Before the users router: POST /users/sync is a sync, not a user.
  const schedules = {
    describe: async (organizationId?: number) => [
      ...(await services.jobs.describe(organizationId)),
      await services.keepAlive.describe(organizationId),
      services.retentionJob.describe(),
      services.webhookChannelsJob.describe(),
    ],
  };
  // Before the id-based routers: /integrations/:provider and /integrations/:provider/sync.
  api.use(
    providerApiRouter({
      integrations: services.integrations,
      provider(name) {
        const m = services.providers.get(services.providers.oauthName(name));
        if (!m) return null;
        const d = m.definition;
        return {
          name: d.name,
          displayName: d.displayName,
          pulls: d.pulls !== false,
          pushes: Boolean(d.push),
          defaultDirection: d.push?.defaultDirection ?? 'pull',
        };
      },
      pull: (id, mode) => services.pull.start(id, { mode, trigger: 'manual' }),
      pushBackfill: (id) => services.crmPush.backfill.start(id, 'manual'),
    }),
  );
  api.use(syncRouter(services.pull, services.integrations, services.syncRuns, schedules, config.lists, services.crmPush.backfill));
  api.use(exportsRouter(services.exports, services.integrations));
  api.use(crmPushRouter(services.crmPush.queue, services.integrations, () => services.crmPush.worker.poke(), config.lists));
  api.use('/users', usersRouter(services.users));
  api.use(
    '/integration-templates',
    templatesRouter(services.templates, (name) => ({
      modes: services.providers.get(name)?.definition.authModes ?? ['api_key'],
      oauthReady: services.oauth.isConfigured(name),
      keepsWebhookChannel: Boolean(services.providers.get(name)?.createChannelKeeper),
    })),
  );
  // Before the integrations router: /integrations/oauth/... is not an integration id.
  api.use('/integrations/oauth', oauthRouter(services.oauth));
  api.use(
    '/integrations',
    integrationsRouter(services.integrations, (id) => services.webhookChannels.status(id)),
  );
  api.use('/webhooks/events', inboundEventsRouter(services.inbox, services.inboxWorker, config.lists));
  api.use('/webhook-subscriptions', subscriptionsRouter(services.subscriptions));
  app.use('/api', api);
  app.use(
    '/integrations/oauth',
    authFailures,
    requireApiKey(services.authenticator),
    apiLimit,
    rejectUnstorableInput(),
    oauthRouter(services.oauth),
  );

  app.use(notFoundHandler);
  app.use(errorHandler(logger, config.isProduction));
  return app;
}
