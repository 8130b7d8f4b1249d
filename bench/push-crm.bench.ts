/**
 * npm run bench:push-crm: BENCH_CHANGES (10,000) user changes pushed to the fake HubSpot
 * through the push queue and worker the service runs (batch upsert, 100 per call):
 *
 * 1. unthrottled (the fake's limits off, no client pace): 10,000 new users (user.created),
 *    then the same 10,000 changed (user.updated: batch update by the stored id): changes/s;
 * 2. baseline, in the same run: the same path with one request per change (the writer's batch
 *    size forced to 1) over BENCH_BASELINE_CHANGES (1,000) new users: changes/s, and the ratio;
 * 3. throttled: the fake enforcing HubSpot's 100 requests per 10 s and the integration at its
 *    default pace (10/s): the 10,000 changes again, and the 429s the fake had to serve (target 0).
 */
import { FakeHubSpot } from '../fake-crm/hubspot/fake-hubspot';
import { bootstrap, createServices, type Services } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createPrismaClient, type PrismaClient } from '../src/db/prisma';
import { createUnitOfWork } from '../src/db/unit-of-work';
import { createLogger } from '../src/lib/logger';
import { createCrmPushRepository, CrmPushSender } from '../src/modules/crm-push';
import type { IntegrationService } from '../src/modules/integrations';
import { scratchDatabase } from './scratch-database';

const N = Number(process.env.BENCH_CHANGES ?? 10_000);
const BASELINE_N = Number(process.env.BENCH_BASELINE_CHANGES ?? 1_000);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

function pushBody(tenant: string, from: number, to: number, title: string) {
  return {
    operation: 'user_sync',
    tenant: { id: tenant, name: `Company ${tenant}`, subdomain: tenant.toLowerCase() },
    users: Array.from({ length: to - from }, (_, k) => ({
      id: `u-${from + k}`,
      email: `user${from + k}@${tenant.toLowerCase()}.example`,
      name: `User ${from + k}`,
      isActive: true,
      isAdmin: false,
      title,
    })),
    metadata: { syncTime: new Date().toISOString(), syncedBy: 'bench', syncType: 'full', applicationCode: 'crm' },
  };
}

/** An organization (made by a seed 001 push of one user) with a HubSpot integration that pushes to `fake`. */
async function setUp(services: Services, prisma: PrismaClient, tenant: string, fake: FakeHubSpot, config: Record<string, unknown>) {
  await services.push.push(pushBody(tenant, 0, 1, 'first') as never, 'wrapper');
  const org = await prisma.organization.findUnique({ where: { externalId: tenant }, select: { id: true } });
  if (!org) throw new Error(`organization ${tenant} not found`);
  const integration = await services.integrations.create(org.id, {
    provider: 'hubspot',
    name: `bench ${tenant}`,
    config: { accessToken: fake.token, baseUrl: fake.url, direction: 'push', ...config },
  });
  const test = await services.integrations.test(integration.id);
  if (!test.success) throw new Error(`connection test failed: ${test.message}`);
  return integration.id;
}

/** Queues users `from`..`to` of the tenant (created, or updated with a new title) in pushes of 2,000. */
async function change(services: Services, tenant: string, from: number, to: number, title: string) {
  for (let i = from; i < to; i += 2000) await services.push.push(pushBody(tenant, i, Math.min(i + 2000, to), title) as never, 'wrapper');
}

async function main(): Promise<void> {
  const logger = createLogger({ level: 'warn', json: false });
  const db = await scratchDatabase(logger);
  const config = loadConfig({
    DATABASE_URL: db.url,
    ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64'),
    CRON_ENABLED: 'false',
    ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_WORKERS_ENABLED: 'false',
  });
  const prisma = createPrismaClient(db.url, config.database);
  const services = createServices({ config, prisma, logger });
  await bootstrap({ config, logger }, services);
  const drain = () => services.crmPush.worker.drain();
  const parked = async () => await prisma.crmPushQueue.count({ where: { status: { not: 'done' } } });
  console.log(`\nbench:push-crm: ${fmt(N)} user changes to the fake HubSpot (batch upsert/update, 100 per call)\n`);

  // 1. Unthrottled.
  const free = await new FakeHubSpot({ contacts: 0, rateLimitMax: 1e9, dailyLimit: null, portalId: 1001 }).start();
  const freeId = await setUp(services, prisma, 'BenchFree', free, { requestsPerSecond: 0 });
  await drain();
  await change(services, 'BenchFree', 1, N + 1, 'Engineer');
  const callsBefore = free.calls;
  const created = await timed(drain);
  const createCalls = free.calls - callsBefore;
  await change(services, 'BenchFree', 1, N + 1, 'Senior Engineer');
  const callsMid = free.calls;
  const updated = await timed(drain);
  const updateCalls = free.calls - callsMid;
  const atCrm = [...free.contacts.values()].filter((c) => c.properties.jobtitle === 'Senior Engineer').length;

  // 2. Baseline: the same path, one request per change.
  const base = await new FakeHubSpot({ contacts: 0, rateLimitMax: 1e9, dailyLimit: null, portalId: 1002 }).start();
  const baseId = await setUp(services, prisma, 'BenchOne', base, { requestsPerSecond: 0 });
  await drain();
  const integrations = services.integrations;
  const onePerCall: IntegrationService = Object.create(integrations);
  onePerCall.freshWriter = async (row) => Object.assign(Object.create(await integrations.freshWriter(row)), { maxBatch: 1 });
  const sender = new CrmPushSender(
    createCrmPushRepository(prisma),
    createUnitOfWork(prisma, (d) => ({ push: createCrmPushRepository(d) })),
    onePerCall,
    (p) => services.providers.get(p)?.definition.push,
    logger,
    config.crmPush,
  );
  await change(services, 'BenchOne', 1, BASELINE_N + 1, 'Engineer');
  const baseCalls = base.calls;
  const baseline = await timed(async () => {
    while ((await sender.sendBatch(baseId)).claimed > 0) {
      /* one change per call */
    }
  });
  const oneCalls = base.calls - baseCalls;

  // 3. Throttled: HubSpot's limit at the fake, the integration's default pace.
  const limited = await new FakeHubSpot({ contacts: 0, portalId: 1003 }).start();
  const limitedId = await setUp(services, prisma, 'BenchLimited', limited, {});
  await drain();
  await change(services, 'BenchLimited', 1, N + 1, 'Engineer');
  const throttled = await timed(drain);

  const line = (label: string, ms: number, n: number, extra = '') =>
    console.log(`${label.padEnd(40)} ${fmt(ms).padStart(8)} ms  ${fmt((n / ms) * 1000).padStart(8)} changes/s  ${extra}`);
  line(`created (${fmt(N)} users, unthrottled)`, created.ms, N, `${fmt(createCalls)} requests`);
  line(`updated (${fmt(N)} users, unthrottled)`, updated.ms, N, `${fmt(updateCalls)} requests, ${fmt(atCrm)} updated at the CRM`);
  line(`baseline: one request per change (${fmt(BASELINE_N)})`, baseline.ms, BASELINE_N, `${fmt(oneCalls)} requests`);
  line(`throttled (${fmt(N)} users, 100 per 10 s)`, throttled.ms, N, `${limited.rateLimitViolations} 429s served by the fake`);
  const ratio = N / created.ms / (BASELINE_N / baseline.ms);
  const ratioUpdate = N / updated.ms / (BASELINE_N / baseline.ms);
  console.log(`\nratio batched / one request per change: ${ratio.toFixed(1)}x (created), ${ratioUpdate.toFixed(1)}x (updated)`);
  const left = await parked();
  console.log(
    `targets: >= 10x (${Math.min(ratio, ratioUpdate) >= 10 ? 'met' : 'NOT met'}), 0 rate-limit violations throttled (${limited.rateLimitViolations === 0 ? 'met' : 'NOT met'}), nothing left in the queues: ${left === 0 ? 'yes' : `NO (${left})`}\n`,
  );
  void freeId;
  void limitedId;

  await Promise.all([free.stop(), base.stop(), limited.stop()]);
  await prisma.$disconnect();
  await db.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
