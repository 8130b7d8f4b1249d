import { ADMIN_KEY, type TestContext } from './test-app';

/** A subscription of `orgId` to user.created at `url`, through the API. */
export async function subscribe(ctx: TestContext, orgId: number, url: string): Promise<number> {
  const res = await ctx.http
    .post('/api/webhook-subscriptions')
    .set('x-api-key', ADMIN_KEY)
    .send({ organizationId: orgId, url, events: ['user.created'] });
  if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.id;
}

/**
 * `n` due deliveries for a subscription, written straight to the tables, the first
 * `ageSeconds` old and each next one a millisecond younger; their ids, ascending.
 */
export async function queueDeliveries(ctx: TestContext, subId: number, n: number, ageSeconds: number): Promise<number[]> {
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

/** A subscription's deliveries counted by status. */
export async function deliveryStatuses(ctx: TestContext, subId: number): Promise<Record<string, number>> {
  const rows = await ctx.sql<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = $1 GROUP BY status',
    [subId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}
