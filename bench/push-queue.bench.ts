/**
 * npm run bench:push-queue
 *
 * The push queue list (GET /api/integrations/:id/push-queue) of an integration whose queue
 * holds BENCH_QUEUE_ROWS (1,000,000) rows: 90% done, 9% pending, 1% parked, changed over a
 * month. Now: the repository's list (one ordered range of crm_push_queue_list_idx per status,
 * merged) and its per-status counts stopped at 1,001, as the route reads them. Baseline, same
 * run: the statements the route ran before (Prisma: sorted by change with an offset, an exact
 * count and an exact count per status), after the list index is dropped as it was then.
 * Median of 5 each, for the first page of all statuses, the first page of the parked ones, and
 * the page after the first (by cursor now, by page=2 before).
 *
 * The rows are written straight into a scratch database with foreign keys off for the fill
 * (session_replication_role), which needs a superuser: the embedded PostgreSQL's default.
 */
import pg from 'pg';
import { createPrismaClient, type PrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import { createCrmPushRepository } from '../src/modules/crm-push/crm-push.repository';
import { scratchDatabase } from './scratch-database';
import { medianOf5 } from './timing';

const ROWS = Number(process.env.BENCH_QUEUE_ROWS ?? 1_000_000);
const LIMIT = 50;
const CAP = 1_000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** What the route read before this change, statement for statement. */
function before(prisma: PrismaClient, status: string | undefined, page: number) {
  const where = { integrationId: 1, ...(status ? { status } : {}) };
  return Promise.all([
    prisma.crmPushQueue.findMany({
      where,
      orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
      skip: (page - 1) * LIMIT,
      take: LIMIT,
      select: { userId: true, status: true, attempts: true, lastAction: true, lastError: true, nextAttemptAt: true, updatedAt: true },
    }),
    prisma.crmPushQueue.count({ where }),
    prisma.crmPushQueue.groupBy({ by: ['status'], where: { integrationId: 1 }, _count: { _all: true } }),
  ]);
}

async function main() {
  const logger = createLogger({ level: 'error', json: true, silent: true });
  const db = await scratchDatabase(logger);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const prisma = createPrismaClient(db.url, { poolMax: 4, transactionTimeoutMs: 60_000 });
  try {
    console.log(`\nPush queue list: one integration, ${fmt(ROWS)} queue rows (90% done, 9% pending, 1% parked)\n`);
    const t = performance.now();
    await c.query('SET session_replication_role = replica');
    await c.query(
      `INSERT INTO crm_push_queue (integration_id, organization_id, user_id, status, last_action, last_error, updated_at)
       SELECT 1, 1, g,
              CASE WHEN g % 100 = 0 THEN 'parked' WHEN g % 100 < 10 THEN 'pending' ELSE 'done' END,
              CASE WHEN g % 100 >= 10 THEN 'updated' END,
              CASE WHEN g % 100 = 0 THEN 'refused: invalid email' END,
              timestamptz '2026-10-01T00:00:00Z' + (hashint4(g)::bigint & 2147483647) % 2592000000 * interval '1 millisecond'
       FROM generate_series(1, $1::int) g`,
      [ROWS],
    );
    await c.query('SET session_replication_role = origin');
    await c.query('VACUUM ANALYZE crm_push_queue');
    console.log(`  filled in ${fmt(performance.now() - t)} ms\n`);

    const repo = createCrmPushRepository(prisma);
    const now = (status: 'parked' | undefined, below?: { updatedAt: Date; userId: number }) =>
      Promise.all([repo.list(1, { status }, { before: below, skip: 0, take: LIMIT + 1 }), repo.countsByStatus(1, CAP + 1)]);
    const [firstPage] = await now(undefined);
    const last = firstPage[LIMIT - 1];
    const after = { updatedAt: last.updatedAt, userId: last.userId };
    const cases: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
      ['first page, all statuses', () => now(undefined), () => before(prisma, undefined, 1)],
      ['first page, parked', () => now('parked'), () => before(prisma, 'parked', 1)],
      ['second page, all statuses', () => now(undefined, after), () => before(prisma, undefined, 2)],
    ];
    const measured: [string, number][] = [];
    for (const [name, fn] of cases) measured.push([name, await medianOf5(fn)]);
    await c.query('DROP INDEX crm_push_queue_list_idx');
    await c.query('ANALYZE crm_push_queue');
    for (const [i, [name, , fn]] of cases.entries()) {
      const was = await medianOf5(fn);
      const is = measured[i][1];
      console.log(
        `  ${name.padEnd(28)} now ${is.toFixed(1).padStart(7)} ms   before ${was.toFixed(1).padStart(8)} ms   ratio ${(was / is).toFixed(1)}x`,
      );
    }
  } finally {
    await prisma.$disconnect();
    await c.end();
    await db.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
