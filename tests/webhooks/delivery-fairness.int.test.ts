import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDeliveryRepository } from '../../src/modules/outbound-webhooks/deliveries.repository';
import { createOrganization } from '../helpers/fixtures';
import { Receiver, waitFor } from '../helpers/receiver';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * Issue 14: at most WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION deliveries of one subscription in
 * flight, counted in the table (so across instances), and claims that take turns across
 * subscriptions and organizations: a hanging endpoint cannot occupy the delivery pool.
 */
const admin = { 'x-api-key': ADMIN_KEY };
// A pool of 8, 2 per subscription; attempts that would hang for a minute without the cap.
const env = { WEBHOOK_DELIVERY_CONCURRENCY: '8', WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: '2', WEBHOOK_TIMEOUT_MS: '60000' };

/** An endpoint that accepts requests and never answers; counts what it holds open, per subscription. */
class HangingEndpoint {
  readonly open = new Map<string, number>();
  readonly peak = new Map<string, number>();
  private readonly server = http.createServer((req, res) => {
    const sub = String(req.headers['x-webhook-id']);
    this.open.set(sub, (this.open.get(sub) ?? 0) + 1);
    this.peak.set(sub, Math.max(this.peak.get(sub) ?? 0, this.open.get(sub) ?? 0));
    res.on('close', () => this.open.set(sub, (this.open.get(sub) ?? 1) - 1));
    req.resume();
  });
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  held(subId: number): number {
    return this.open.get(String(subId)) ?? 0;
  }

  /** Refuses new connections and drops the held ones: the attempts fail and are recorded. */
  async stop(): Promise<void> {
    const closed = new Promise((r) => this.server.close(r));
    this.server.closeAllConnections();
    await closed;
  }
}

async function subscribe(ctx: TestContext, orgId: number, url: string): Promise<number> {
  const res = await ctx.http
    .post('/api/webhook-subscriptions')
    .set(admin)
    .send({ organizationId: orgId, url, events: ['user.created'] });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

/** `n` due deliveries for a subscription, the first `ageSeconds` old and each next one a millisecond younger. */
async function queue(ctx: TestContext, subId: number, n: number, ageSeconds: number): Promise<number[]> {
  const rows = await ctx.sql<{ id: number }>(
    `WITH ev AS (
       INSERT INTO webhook_events (id, organization_id, type, data)
       SELECT gen_random_uuid(), s.organization_id, 'user.created', jsonb_build_object('n', i)
       FROM webhook_subscriptions s, generate_series(1, $2::int) i WHERE s.id = $1
       RETURNING id, (data->>'n')::int AS n)
     INSERT INTO webhook_deliveries (event_id, subscription_id, status, next_attempt_at)
     SELECT ev.id, $1, 'pending', now() - make_interval(secs => $3::int) + ev.n * interval '1 millisecond' FROM ev ORDER BY ev.n
     RETURNING id`,
    [subId, n, ageSeconds],
  );
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

const statuses = async (ctx: TestContext, subId: number) =>
  Object.fromEntries(
    (
      await ctx.sql<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = $1 GROUP BY status',
        [subId],
      )
    ).map((r) => [r.status, r.n]),
  );

describe('outbound delivery fairness', () => {
  let receiver: Receiver;
  let hanging: HangingEndpoint;
  const contexts: TestContext[] = [];

  beforeEach(async () => {
    receiver = await new Receiver().start();
    hanging = await new HangingEndpoint().start();
  });
  afterEach(async () => {
    // The endpoint lets go first: stopping a worker waits for its sends in flight.
    await hanging.stop();
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    await receiver.stop();
  });
  const context = async (over: Record<string, string> = {}) => {
    const ctx = await createTestContext({ ...env, ...over });
    contexts.push(ctx);
    return ctx;
  };

  it("when one subscription's endpoint hangs with 50 pending, then another's 10 are delivered and the hanging one holds at most 2 of the pool", async () => {
    const ctx = await context();
    const org = await createOrganization(ctx);
    const slow = await subscribe(ctx, org.id, hanging.url);
    const healthy = await subscribe(ctx, org.id, receiver.url);
    // The hanging subscription's deliveries are all older: oldest-first alone would give it the pool.
    await queue(ctx, slow, 50, 600);
    await queue(ctx, healthy, 10, 60);
    let sendingPeak = 0;
    ctx.services.deliveries.start();
    await waitFor('the healthy subscription delivered', async () => {
      const [row] = await ctx.sql<{ n: number }>(
        "SELECT count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = $1 AND status = 'sending'",
        [slow],
      );
      sendingPeak = Math.max(sendingPeak, row.n);
      return (await statuses(ctx, healthy)).succeeded === 10;
    });
    await waitFor('the hanging subscription to get its share', () => hanging.held(slow) === 2);
    expect(receiver.received).toHaveLength(10);
    expect(hanging.peak.get(String(slow))).toBe(2);
    expect(sendingPeak).toBeLessThanOrEqual(2);
    expect(await statuses(ctx, slow)).toEqual({ sending: 2, pending: 48 });

    // Another instance counts the same rows: it takes none of the hanging subscription's.
    const other = await context({ DATABASE_URL: ctx.databaseUrl });
    expect(await createDeliveryRepository(other.prisma).claim(8, 60, 2)).toEqual([]);
    expect(hanging.peak.get(String(slow))).toBe(2);
  });

  it('when hanging endpoints hold more than half of the pool, then the free slots still serve the others', async () => {
    const ctx = await context();
    const org = await createOrganization(ctx);
    const slow = [
      await subscribe(ctx, org.id, hanging.url),
      await subscribe(ctx, org.id, hanging.url),
      await subscribe(ctx, org.id, hanging.url),
    ];
    for (const id of slow) await queue(ctx, id, 10, 600);
    ctx.services.deliveries.start();
    // 6 of 8 slots hang for the whole timeout.
    await waitFor('three hanging subscriptions at their cap', () => slow.every((id) => hanging.held(id) === 2));
    const healthy = await subscribe(ctx, org.id, receiver.url);
    await queue(ctx, healthy, 5, 1);
    await waitFor('the healthy subscription delivered', async () => (await statuses(ctx, healthy)).succeeded === 5);
    expect(slow.map((id) => hanging.peak.get(String(id)))).toEqual([2, 2, 2]);
  });

  it('one claim takes turns across organizations, then across their subscriptions, oldest due first in each', async () => {
    const ctx = await context();
    const repo = createDeliveryRepository(ctx.prisma);
    const [orgA, orgB] = [await createOrganization(ctx), await createOrganization(ctx)];
    const a1 = await queue(ctx, await subscribe(ctx, orgA.id, receiver.url), 5, 300);
    const a2 = await queue(ctx, await subscribe(ctx, orgA.id, receiver.url), 5, 200);
    const b1 = await queue(ctx, await subscribe(ctx, orgB.id, receiver.url), 5, 100);
    const ids = (rows: { id: number }[]) => rows.map((r) => r.id).sort((x, y) => x - y);

    // Turns: (a1, b1), (a2, b1), (a1, b1). Organization B's one subscription gets as much as A's two.
    expect(ids(await repo.claim(6, 60, 4))).toEqual([...a1.slice(0, 2), a2[0], ...b1.slice(0, 3)]);
    // Room left under the cap of 4: a1 2, a2 3, b1 1, each its oldest.
    expect(ids(await repo.claim(20, 60, 4))).toEqual([...a1.slice(2, 4), ...a2.slice(1, 4), b1[3]]);
    // Every subscription has 4 in flight: nothing, though each has one more due.
    expect(await repo.claim(20, 60, 4)).toEqual([]);

    // b1's sender died (its locks expired): its 4 are taken again, and still no more than 4.
    await ctx.sql("UPDATE webhook_deliveries SET locked_until = now() - interval '1 second' WHERE id = ANY($1)", [b1.slice(0, 4)]);
    const again = await repo.claim(20, 60, 4);
    expect(ids(again)).toEqual(b1.slice(0, 4));
    expect(again.map((d) => d.attempts)).toEqual([2, 2, 2, 2]);
  });

  it('a delivery made due with now() is due to a claim in the same millisecond', async () => {
    // timestamptz(3) rounds half up: `next_attempt_at = now()` may store a time up to 0.5 ms
    // after now(), and a claim comparing with its own now() then missed it (the manual retry
    // test's flake: an attempt skipped by one of its drain loops). In one transaction now()
    // is the same instant; about every other try rounds up.
    const ctx = await context();
    const org = await createOrganization(ctx);
    const [id] = await queue(ctx, await subscribe(ctx, org.id, receiver.url), 1, 1);
    let claimed = 0;
    for (let i = 0; i < 20; i++) {
      await ctx.prisma
        .$transaction(async (tx) => {
          await tx.$executeRawUnsafe("UPDATE webhook_deliveries SET next_attempt_at = now(), status = 'pending' WHERE id = $1", id);
          claimed += (await createDeliveryRepository(tx).claim(1, 60, 4)).length;
          throw new Error('rolled back');
        })
        .catch((err: Error) => expect(err.message).toBe('rolled back'));
    }
    expect(claimed).toBe(20);
  });
});
