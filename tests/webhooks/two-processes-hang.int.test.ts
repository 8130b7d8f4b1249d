import { deliveryStatuses, queueDeliveries, subscribe } from '../helpers/deliveries';
import { createOrganization } from '../helpers/fixtures';
import { HangingEndpoint } from '../helpers/hanging-endpoint';
import { Receiver } from '../helpers/receiver';
import { freePort, healthy, killAll, startServiceProcess, until, type ServiceProcess } from '../helpers/service-process';
import { createTestContext, createTestDatabase, type TestContext } from '../helpers/test-app';

/**
 * Issue 14, with two real service processes on one database: a subscription whose endpoint
 * never answers holds at most WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION deliveries in flight,
 * counted in the table across processes, and another subscription's deliveries all go
 * through meanwhile.
 *
 * The second process starts once the first holds the hanging subscription's cap: two claims
 * in the same milliseconds can each see the same count (the README says so), and this test is
 * about the count the second one reads, not about that race.
 */
const CAP = 2;
const env = (pool: number) => ({
  CRON_ENABLED: 'false',
  WEBHOOK_WORKERS_ENABLED: 'true',
  WEBHOOK_DELIVERY_CONCURRENCY: String(pool),
  WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION: String(CAP),
  // Longer than the test: a held attempt never times out and frees its slot meanwhile.
  WEBHOOK_TIMEOUT_MS: '120000',
  WEBHOOK_POLL_MS: '50',
  LOG_LEVEL: 'warn',
});

let databaseUrl: string;
let ctx: TestContext;
let receiver: Receiver;
let hanging: HangingEndpoint;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  ctx = await createTestContext({ DATABASE_URL: databaseUrl });
  receiver = await new Receiver().start();
  hanging = await new HangingEndpoint().start();
});
afterAll(async () => {
  // The endpoint lets go first, so nothing waits on a held request.
  await hanging.stop();
  await killAll(processes);
  await ctx.close();
  await receiver.stop();
});

it("when one subscription's endpoint hangs, then a second process takes none of its backlog and delivers another subscription's in full", async () => {
  // The first process's pool is the cap: the hanging endpoint fills it, so whatever else is
  // delivered, the second process delivered.
  const first = startServiceProcess({ databaseUrl, port: await freePort(), env: env(CAP) });
  processes.push(first);
  const org = await createOrganization(ctx);
  const slow = await subscribe(ctx, org.id, hanging.url);
  const other = await subscribe(ctx, org.id, receiver.url);
  await queueDeliveries(ctx, slow, 50, 600);
  await healthy(first);
  await until('the hanging subscription at its cap', () => (hanging.held(slow) >= CAP ? true : undefined), 10_000);

  // The second process has 4 free slots and the hanging subscription's 48 older deliveries due.
  const second = startServiceProcess({ databaseUrl, port: await freePort(), env: env(4) });
  processes.push(second);
  await healthy(second);
  await queueDeliveries(ctx, other, 10, 60);
  await until(
    'the other subscription delivered',
    async () => ((await deliveryStatuses(ctx, other)).succeeded === 10 ? true : undefined),
    20_000,
  );

  // All ten arrived, every one after the hanging endpoint took its two and while it held them:
  // the second process's claims (two at a time: the cap applies to this subscription too)
  // counted the first's sends in the table and never took a third.
  expect(receiver.received).toHaveLength(10);
  expect(hanging.arrivals.map((a) => a.sub)).toEqual([String(slow), String(slow)]);
  expect(hanging.held(slow)).toBe(CAP);
  expect(receiver.received.every((r) => r.at > hanging.arrivals[CAP - 1].at)).toBe(true);
  expect(await deliveryStatuses(ctx, slow)).toEqual({ sending: CAP, pending: 50 - CAP });
}, 60_000);
