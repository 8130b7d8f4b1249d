import type { Db } from '../../src/db/prisma';
import { createInboxQueue } from '../../src/modules/inbound-webhooks/inbox.repository';
import { createWealthboxIntegration } from '../helpers/fixtures';
import { createTestContext, type TestContext } from '../helpers/test-app';

/**
 * The inbox's claim behind a long history. Pending events are the newest few of a table that
 * only grows; with an index on (status, next_attempt_at) alone the planner walked the primary
 * key from the oldest event and filtered out every processed one on each claim (about 190 ms a
 * claim behind 300,000). These tests run the queue's own claim against 20,000 processed events
 * and 4,000 pending ones (the share at which that plan looked cheapest to the planner).
 */
const NO_FAKE = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };
const PROCESSED = 20_000;
const PENDING = 4_000;

let ctx: TestContext;
let firstPending: number;
beforeAll(async () => {
  ctx = await createTestContext();
  const wb = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: 'wealthbox-webhook-secret-claim' });
  // Arrival order: the history, then the pending events; every 10th pending event waits for a
  // retry an hour from now, and one at the start has failed for good.
  await ctx.sql(
    `INSERT INTO inbound_events (integration_id, organization_id, provider, channel, event_type, dedupe_key, payload,
                                 status, outcome, processed_at, next_attempt_at)
     SELECT $1, $2, 'wealthbox', 'wealthbox', 'contact.updated', 'claim-' || g, jsonb_build_object('id', g),
            CASE WHEN g = 1 THEN 'failed' WHEN g <= $3 THEN 'processed' ELSE 'pending' END,
            CASE WHEN g <= $3 THEN 'updated' END,
            CASE WHEN g <= $3 THEN now() END,
            CASE WHEN g > $3 AND g % 10 = 0 THEN now() + interval '1 hour' ELSE now() END
     FROM generate_series(1, $3::int + $4::int) g`,
    [wb.id, wb.orgId, PROCESSED, PENDING],
  );
  await ctx.sql('ANALYZE inbound_events');
  const [row] = await ctx.sql<{ id: number }>(`SELECT min(id)::int AS id FROM inbound_events WHERE status = 'pending'`);
  firstPending = row.id;
}, 60_000);
afterAll(() => ctx.close());

/** The queue's statements explained instead of run. */
function explaining(db: Db): Db {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== '$queryRawUnsafe') return Reflect.get(target, prop, receiver);
      return (sql: string, ...values: unknown[]) => target.$queryRawUnsafe(`EXPLAIN (FORMAT JSON) ${sql}`, ...values);
    },
  });
}

/** Every index a plan reads, depth first. */
function indexesOf(plan: Record<string, unknown>): string[] {
  const own = typeof plan['Index Name'] === 'string' ? [plan['Index Name'] as string] : [];
  const children = (plan.Plans as Record<string, unknown>[] | undefined) ?? [];
  return [...own, ...children.flatMap(indexesOf)];
}

describe('inbox claim behind a long history', () => {
  it('when 500 are claimed, then the plan reads the pending ids alone, not the primary key', async () => {
    const [explained] = (await createInboxQueue(explaining(ctx.prisma)).claim(500)) as unknown as { 'QUERY PLAN': { Plan: Record<string, unknown> }[] }[];
    expect(indexesOf(explained['QUERY PLAN'][0].Plan)).toEqual(['inbound_events_pending_idx']);
  });

  it('when claimed, then it takes the oldest due pending events in arrival order, none waiting for a retry', async () => {
    const claimed = await ctx.prisma.$transaction((tx) => createInboxQueue(tx).claim(500));
    // Ids are consecutive here; those whose position is a multiple of 10 wait an hour.
    const due: number[] = [];
    for (let id = firstPending; due.length < 500; id++) if ((id - firstPending + PROCESSED + 1) % 10 !== 0) due.push(id);
    expect(claimed.map((e) => e.id)).toEqual(due);
  });
});
