import { createDeliveryRepository } from '../../src/modules/outbound-webhooks/deliveries.repository';
import { deliveryStatuses as statuses, queueDeliveries as queue, subscribe } from '../helpers/deliveries';
import { createOrganization } from '../helpers/fixtures';
import { HangingEndpoint } from '../helpers/hanging-endpoint';
import { Receiver, waitFor } from '../helpers/receiver';
import { createTestContext, type TestContext } from '../helpers/test-app';

/**
 * Issue 14: at most WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION deliveries of one subscription in
 * flight, counted in the table (so across instances), and claims that take turns across
 * subscriptions and organizations: a hanging endpoint cannot occupy the delivery pool.
 */
// A pool of 8, 2 per subscription; attempts that would hang for a minute without the cap.
const env = { WEBHOOK_DELIVERY_CONCURRENCY: '8', WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: '2', WEBHOOK_TIMEOUT_MS: '60000' };

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
