import { queueDeliveries, subscribe } from '../helpers/deliveries';
import { createOrganization, createOrganizationKey, createWealthboxIntegration } from '../helpers/fixtures';
import { walkPages } from '../helpers/list-pages';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * The operational lists that grow without bound (the inbox, a subscription's deliveries, sync
 * runs) count their totals only up to LIST_EXACT_COUNT_LIMIT (5 here) and page by cursor as
 * well as by page number, newest first.
 */
const NO_FAKE = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };

let ctx: TestContext;
let org: { id: number; key: string; events: number[]; runs: number[] };
let other: { id: number; key: string; events: number[] };
let subscriptionId: number;
let deliveries: number[];

beforeAll(async () => {
  ctx = await createTestContext({ LIST_EXACT_COUNT_LIMIT: '5' });
  const mine = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: 'wealthbox-webhook-secret-lists-1' });
  const theirs = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: 'wealthbox-webhook-secret-lists-2' });
  const events = async (integration: { id: number; orgId: number }, n: number) =>
    (
      await ctx.sql<{ id: number }>(
        `INSERT INTO inbound_events (integration_id, organization_id, provider, channel, event_type, dedupe_key, payload, status, outcome, processed_at)
         SELECT $1, $2, 'wealthbox', 'wealthbox', 'contact.updated', 'list-' || $1::int || '-' || g, '{}', 'processed', 'updated', now()
         FROM generate_series(1, $3::int) g RETURNING id`,
        [integration.id, integration.orgId, n],
      )
    ).map((r) => r.id);
  org = { id: mine.orgId, key: await createOrganizationKey(ctx, mine.orgId), events: await events(mine, 12), runs: [] };
  other = { id: theirs.orgId, key: await createOrganizationKey(ctx, theirs.orgId), events: await events(theirs, 3) };
  org.runs = (
    await ctx.sql<{ id: number }>(
      `INSERT INTO sync_runs (organization_id, integration_id, operation, trigger, source, status)
       SELECT $1, $2, 'pull', 'cron', 'wealthbox', 'succeeded' FROM generate_series(1, 7) RETURNING id`,
      [mine.orgId, mine.id],
    )
  ).map((r) => r.id);
  const subscriber = await createOrganization(ctx);
  subscriptionId = await subscribe(ctx, subscriber.id, 'https://receiver.example.com/hook');
  deliveries = await queueDeliveries(ctx, subscriptionId, 9, 60);
});
afterAll(() => ctx.close());

const newestFirst = (ids: number[]) => [...ids].sort((a, b) => b - a);

/** Every page of a list by cursor: the ids in order, and each page's pagination. */
async function walk(path: string, key: string, query: Record<string, string | number>) {
  const { rows, pages } = await walkPages<{ id: number }>(ctx, path, key, query);
  return { ids: rows.map((r) => r.id), pages };
}

describe('lists that grow without bound: capped totals and cursors', () => {
  it('when the inbox holds more than the limit, then the total stops there ("gte") and the cursors reach every event once, newest first', async () => {
    const { ids, pages } = await walk('/api/webhooks/events', org.key, { limit: 5 });
    expect(ids).toEqual(newestFirst(org.events));
    expect(pages.map((p) => [p.page, p.total, p.totalRelation, p.nextCursor === null])).toEqual([
      [1, 5, 'gte', false],
      [null, 5, 'gte', false],
      [null, 5, 'gte', true],
    ]);
  });

  it('when a list holds fewer than the limit, then its total is exact and the first page has no cursor', async () => {
    const res = await ctx.http.get('/api/webhooks/events').set('x-api-key', other.key);
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: { id: number }) => r.id)).toEqual(newestFirst(other.events));
    expect(res.body.pagination).toEqual({ page: 1, limit: 10, total: 3, totalPages: 1, totalRelation: 'eq', nextCursor: null });
  });

  it('when pages are asked by number, then they are the same events as by cursor', async () => {
    const second = await ctx.http.get('/api/webhooks/events').query({ limit: 5, page: 2 }).set('x-api-key', org.key);
    expect(second.body.data.map((r: { id: number }) => r.id)).toEqual(newestFirst(org.events).slice(5, 10));
    expect(second.body.pagination).toMatchObject({ page: 2, total: 5, totalRelation: 'gte' });
  });

  it("when one organization's cursor is sent with another's key or filter, then it is refused, naming the cursor", async () => {
    const first = await ctx.http.get('/api/webhooks/events').query({ limit: 5 }).set('x-api-key', org.key);
    const cursor = first.body.pagination.nextCursor as string;
    const theirs = await ctx.http.get('/api/webhooks/events').query({ limit: 5, cursor }).set('x-api-key', other.key);
    expect(theirs.status).toBe(400);
    expect(theirs.body).toMatchObject({ code: 'cursor_mismatch', details: [{ path: 'query.cursor' }] });
    const filtered = await ctx.http.get('/api/webhooks/events').query({ limit: 5, cursor, status: 'failed' }).set('x-api-key', org.key);
    expect([filtered.status, filtered.body.code]).toEqual([400, 'cursor_mismatch']);
    const both = await ctx.http.get('/api/webhooks/events').query({ limit: 5, cursor, page: 2 }).set('x-api-key', org.key);
    expect(both.status).toBe(400);
    expect(both.body.details).toEqual([{ path: 'query.cursor', message: 'cannot be combined with page; send one of them' }]);
    const forged = await ctx.http.get('/api/webhooks/events').query({ cursor: 'not-a-cursor' }).set('x-api-key', org.key);
    expect(forged.status).toBe(400);
    expect(forged.body.code).toBe('invalid_cursor');
  });

  it('when sync runs are walked by cursor, then every run comes once, newest first, under a capped total', async () => {
    const { ids, pages } = await walk('/api/sync/runs', ADMIN_KEY, { limit: 3, organizationId: org.id });
    expect(ids).toEqual(newestFirst(org.runs));
    expect(pages.map((p) => [p.total, p.totalRelation])).toEqual([
      [5, 'gte'],
      [5, 'gte'],
      [5, 'gte'],
    ]);
  });

  it("when a subscription's deliveries are walked by cursor, then every delivery comes once, newest first", async () => {
    const { ids, pages } = await walk(`/api/webhook-subscriptions/${subscriptionId}/deliveries`, ADMIN_KEY, { limit: 4 });
    expect(ids).toEqual(newestFirst(deliveries));
    expect(pages.map((p) => [p.total, p.totalRelation, p.nextCursor === null])).toEqual([
      [5, 'gte', false],
      [5, 'gte', false],
      [5, 'gte', true],
    ]);
  });
});
