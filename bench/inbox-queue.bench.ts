/**
 * npm run bench:inbox-queue
 *
 * The inbox's queue behind a long history: BENCH_PENDING (60,000) pending events drained by
 * the inbox's own claim and record statements (createInboxQueue, 500 a transaction, as the
 * worker does, without applying the events) behind BENCH_HISTORY (300,000) processed ones.
 * Baseline, same run: the same drain with no history. A third side drains behind the same
 * history with the index the claim had before (status, next_attempt_at), to show what the
 * pending-id index changed; BENCH_SKIP_BEFORE=1 leaves it out.
 *
 * Then the inbox list's first page over the whole table (history and drained events): the
 * events and a total counted up to LIST_EXACT_COUNT_LIMIT's default, as GET
 * /api/webhooks/events reads them now, against the exact count every page used to make;
 * median of 5 each.
 *
 * The rows are written straight into a scratch database with foreign keys off for the fill
 * (session_replication_role), which needs a superuser: the embedded PostgreSQL's default.
 */
import pg from 'pg';
import { createPrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import { createInboxQueue, createInboxRepository, type EventResult } from '../src/modules/inbound-webhooks/inbox.repository';
import { scratchDatabase } from './scratch-database';
import { medianOf5 } from './timing';

const HISTORY = Number(process.env.BENCH_HISTORY ?? 300_000);
const PENDING = Number(process.env.BENCH_PENDING ?? 60_000);
const BATCH = 500;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function fill(c: pg.Client, history: number): Promise<void> {
  await c.query('TRUNCATE inbound_events CASCADE');
  await c.query('SET session_replication_role = replica');
  await c.query(
    `INSERT INTO inbound_events (integration_id, organization_id, provider, channel, event_type, dedupe_key, payload, status, outcome, processed_at)
     SELECT 1, 1, 'wealthbox', 'wealthbox', 'contact.updated', 'bench-' || g,
            jsonb_build_object('id', g, 'first_name', 'Name ' || g, 'email', 'person' || g || '@example.com', 'pad', repeat('x', 300)),
            CASE WHEN g <= $1 THEN 'processed' ELSE 'pending' END, CASE WHEN g <= $1 THEN 'updated' END, CASE WHEN g <= $1 THEN now() END
     FROM generate_series(1, $1::int + $2::int) g`,
    [history, PENDING],
  );
  await c.query('SET session_replication_role = origin');
  await c.query('VACUUM ANALYZE inbound_events');
}

async function drain(url: string): Promise<{ events: number; ms: number; claimMs: number }> {
  const prisma = createPrismaClient(url, { poolMax: 2, transactionTimeoutMs: 60_000 });
  try {
    const started = performance.now();
    let events = 0;
    let claimMs = 0;
    let lastLog = started;
    for (;;) {
      const n = await prisma.$transaction(async (tx) => {
        const queue = createInboxQueue(tx);
        const t = performance.now();
        const claimed = await queue.claim(BATCH);
        claimMs += performance.now() - t;
        const results: EventResult[] = claimed.map((e) => ({ id: e.id, status: 'processed', outcome: 'updated', error: null, next: null }));
        if (results.length > 0) await queue.record(results);
        return claimed.length;
      });
      if (n === 0) break;
      events += n;
      const now = performance.now();
      if (now - lastLog > 5000) {
        const rate = events / ((now - started) / 1000);
        console.log(`    ${fmt(events)} of ${fmt(PENDING)} events, ${fmt(rate)}/s, about ${fmt((PENDING - events) / rate)} s left`);
        lastLog = now;
      }
    }
    return { events, ms: performance.now() - started, claimMs };
  } finally {
    await prisma.$disconnect();
  }
}

/** The inbox list's first page (50 events), its total capped at 1,000 and, as before, exact. */
async function listPage(url: string): Promise<void> {
  const prisma = createPrismaClient(url, { poolMax: 2, transactionTimeoutMs: 60_000 });
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const repo = createInboxRepository(prisma, pool, { prepared: false });
    const rows = await prisma.inboundEvent.count();
    const page = () => repo.find({}, { skip: 0, take: 51 });
    const capped = await medianOf5(() => Promise.all([page(), repo.count({}, 1_001)]));
    const exact = await medianOf5(() => Promise.all([page(), prisma.inboundEvent.count()]));
    console.log(`\nThe inbox list's first page over ${fmt(rows)} events (median of 5):`);
    console.log(`  total counted up to 1,000 (now)      ${capped.toFixed(1).padStart(7)} ms`);
    console.log(`  total counted exactly (before)       ${exact.toFixed(1).padStart(7)} ms`);
    console.log(`  ratio (before / now): ${(exact / capped).toFixed(1)}x`);
  } finally {
    await pool.end();
    await prisma.$disconnect();
  }
}

async function main() {
  const logger = createLogger({ level: 'error', json: true, silent: true });
  const db = await scratchDatabase(logger);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    console.log(`\nInbox queue: ${fmt(PENDING)} pending events drained ${BATCH} a transaction (claim + record, nothing applied)\n`);
    const sides: { name: string; history: number; before?: boolean }[] = [
      { name: 'no history (baseline)', history: 0 },
      { name: `behind ${fmt(HISTORY)} processed`, history: HISTORY },
      ...(process.env.BENCH_SKIP_BEFORE ? [] : [{ name: `same, index of before`, history: HISTORY, before: true }]),
    ];
    const results: { name: string; ms: number }[] = [];
    for (const side of sides) {
      if (side.before) {
        await c.query('DROP INDEX inbound_events_pending_idx');
        await c.query('CREATE INDEX inbound_events_status_next_attempt_at_idx ON inbound_events (status, next_attempt_at)');
      }
      await fill(c, side.history);
      const r = await drain(db.url);
      if (r.events !== PENDING) throw new Error(`${side.name}: drained ${r.events} of ${PENDING}`);
      const claims = Math.ceil(PENDING / BATCH);
      console.log(
        `  ${side.name.padEnd(34)} ${fmt(r.ms).padStart(7)} ms  ${fmt((PENDING / r.ms) * 1000).padStart(7)} events/s  claim ${(r.claimMs / claims).toFixed(1)} ms each`,
      );
      results.push({ name: side.name, ms: r.ms });
    }
    const [base, ...rest] = results;
    for (const r of rest) console.log(`  ratio (${r.name} / no history): ${(r.ms / base.ms).toFixed(2)}x the time`);
    await listPage(db.url);
  } finally {
    await c.end();
    await db.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
