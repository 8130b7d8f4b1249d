/**
 * npm run bench:pull: a pull of BENCH_CONTACTS (100,000) contacts from the fake server of
 * BENCH_PROVIDER (wealthbox | hubspot | gohighlevel | salesforce | zoho; pages of 100, no artificial delay, the
 * fake's rate limits off), through the same PullService the API uses:
 *
 * 1. a full sync of an empty organization: time and records/s;
 * 2. 1% of the contacts changed at the source, then an incremental sync;
 * 3. a full sync with nothing changed: it must write no user row;
 * 4. baseline, in the same run: a per-record loop (find the identity, else the user by
 *    email, then create or update, through Prisma) over BENCH_BASELINE_CONTACTS (2,000).
 */
import { startFakeKit } from '../fake-crm/kits';
import { bootstrap, createServices } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createPrismaClient, type PrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import type { PersonRecord } from '../src/providers/connector';
import { scratchDatabase } from './scratch-database';

const N = Number(process.env.BENCH_CONTACTS ?? 100_000);
const PROVIDER = process.env.BENCH_PROVIDER ?? 'wealthbox';
const BASELINE_N = Number(process.env.BENCH_BASELINE_CONTACTS ?? 2_000);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** The obvious loop: one lookup or two and one write per record. */
async function perRecord(prisma: PrismaClient, organizationId: number, records: PersonRecord[]) {
  for (const r of records) {
    const identity = await prisma.userIdentity.findUnique({
      where: { organizationId_provider_externalId: { organizationId, provider: r.provider, externalId: r.externalId } },
    });
    const user = identity
      ? await prisma.user.findUnique({ where: { id: identity.userId } })
      : r.email
        ? await prisma.user.findFirst({ where: { organizationId, email: r.email } })
        : null;
    const fields = {
      name: r.name,
      firstName: r.firstName,
      lastName: r.lastName,
      phone: r.phone,
      title: r.title,
      isActive: r.isActive,
      lastSyncedAt: new Date(),
    };
    const saved = user
      ? await prisma.user.update({ where: { id: user.id }, data: fields })
      : await prisma.user.create({ data: { ...fields, organizationId, email: r.email, source: r.provider } });
    if (!identity) {
      await prisma.userIdentity.create({
        data: { organizationId, userId: saved.id, provider: r.provider, externalId: r.externalId, data: r.data as object },
      });
    }
  }
}

async function main(): Promise<void> {
  const logger = createLogger({ level: 'info', json: false });
  const quiet = createLogger({ level: 'warn', json: false });
  const db = await scratchDatabase(quiet);
  const config = loadConfig({
    DATABASE_URL: db.url,
    ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64'),
    CRON_ENABLED: 'false',
    ALLOW_PRIVATE_URLS: 'true',
  });
  const prisma = createPrismaClient(db.url, config.database);
  const services = createServices({ config, prisma, logger });
  await bootstrap({ config, logger: quiet }, services);

  const fake = await startFakeKit(PROVIDER, N);
  const org = await services.organizations.create({ name: 'Bench Advisors' });
  const integration = await services.integrations.create(org.id, { provider: PROVIDER, name: 'bench', config: fake.config });
  const run = async (mode: 'full' | 'incremental') => (await services.pull.start(integration.id, { mode, trigger: 'manual' })).done;

  console.log(
    `\nbench:pull: ${fmt(N)} contacts${fake.extraPeople ? ` + ${fake.extraPeople} staff` : ''} from the fake ${PROVIDER} (pages of 100, no delay)\n`,
  );
  const full = await timed(() => run('full'));

  const changed = Math.max(1, Math.round(N / 100));
  fake.changeSome(changed);
  const incremental = await timed(() => run('incremental'));

  const [{ before }] = await prisma.$queryRawUnsafe<{ before: Date }[]>('SELECT now() AS before');
  const again = await timed(() => run('full'));
  const [{ written }] = await prisma.$queryRawUnsafe<{ written: number }[]>(
    'SELECT count(*)::int AS written FROM users WHERE organization_id = $1 AND updated_at >= $2',
    org.id,
    before,
  );

  // Baseline: the same kind of records, one at a time, into another organization.
  const baseOrg = await services.organizations.create({ name: 'Baseline Advisors' });
  const connector = services.integrations.connector(await services.integrations.getRow(integration.id));
  const records: PersonRecord[] = [];
  for (let cursor: string | null = null; records.length < BASELINE_N;) {
    const page = await connector.listPeople(connector.streams[0], { cursor, updatedSince: null });
    records.push(...page.records);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  const baseline = await timed(() => perRecord(prisma, baseOrg.id, records.slice(0, BASELINE_N)));

  const line = (label: string, ms: number, n: number, extra = '') =>
    console.log(`${label.padEnd(34)} ${fmt(ms).padStart(8)} ms  ${fmt((n / ms) * 1000).padStart(8)} records/s  ${extra}`);
  console.log('');
  line('full sync (empty organization)', full.ms, full.value.total, `${full.value.created} created`);
  line(
    `incremental (${fmt(changed)} changed)`,
    incremental.ms,
    incremental.value.total,
    `${incremental.value.total} read, ${incremental.value.updated} updated`,
  );
  line('full sync, nothing changed', again.ms, again.value.total, `${again.value.unchanged} unchanged, ${written} user rows written`);
  line(`per-record baseline (${fmt(BASELINE_N)})`, baseline.ms, BASELINE_N);
  const ratio = full.value.total / full.ms / (BASELINE_N / baseline.ms);
  console.log(`\nratio full sync / per-record: ${ratio.toFixed(1)}x records/s`);
  console.log(
    `targets: full <= 60 s (${full.ms <= 60_000 ? 'met' : 'NOT met'}), incremental <= 5 s (${incremental.ms <= 5000 ? 'met' : 'NOT met'}), unchanged full writes no user rows (${written === 0 ? 'met' : 'NOT met'})\n`,
  );
  for (const r of [full.value, incremental.value, again.value])
    if (r.status !== 'succeeded') throw new Error(`a run ended ${r.status}: ${r.error}`);

  await services.pull.stop();
  await prisma.$disconnect();
  await fake.stop();
  await db.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
