import { listFingerprint } from '../../src/lib/list-cursor';
import { createUser, createWealthboxIntegration } from '../helpers/fixtures';
import { walkPages } from '../helpers/list-pages';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * GET /api/integrations/:id/push-queue at any size: rows by last change (newest first, the user
 * id breaking ties), counts per status that stop at LIST_EXACT_COUNT_LIMIT (5 here), and a
 * cursor beside the page number. The rows are written straight to the queue table.
 */
const NO_FAKE = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };

let ctx: TestContext;
let integrationId: number;
/** The queue's user ids in the list's order. */
let expected: { userId: number; status: string }[];

beforeAll(async () => {
  ctx = await createTestContext({ LIST_EXACT_COUNT_LIMIT: '5' });
  const wb = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: 'wealthbox-webhook-secret-queue-list' });
  integrationId = wb.id;
  // 8 done, 3 parked, 2 pending, 1 sending; every third row shares its time with the one
  // before, so the user id has to break ties.
  const statuses = [
    'done',
    'done',
    'parked',
    'done',
    'pending',
    'done',
    'done',
    'sending',
    'parked',
    'done',
    'pending',
    'done',
    'parked',
    'done',
  ];
  const rows: { userId: number; status: string; at: number }[] = [];
  for (const [i, status] of statuses.entries()) {
    const user = await createUser(ctx, wb.orgId, { email: `queued-${i}@example.com`, name: `Queued ${i}` });
    rows.push({ userId: user.id, status, at: i % 3 === 2 ? rows[i - 1].at : i * 1000 });
  }
  await ctx.sql(
    `INSERT INTO crm_push_queue (integration_id, organization_id, user_id, status, updated_at)
     SELECT $1, $2, r.user_id, r.status, timestamptz '2026-11-01T00:00:00Z' + r.at * interval '1 millisecond'
     FROM json_to_recordset($3::json) AS r(user_id int, status text, at int)`,
    [wb.id, wb.orgId, JSON.stringify(rows.map((r) => ({ user_id: r.userId, status: r.status, at: r.at })))],
  );
  expected = [...rows].sort((a, b) => b.at - a.at || b.userId - a.userId).map(({ userId, status }) => ({ userId, status }));
});
afterAll(() => ctx.close());

const get = (query: Record<string, string | number>) =>
  ctx.http.get(`/api/integrations/${integrationId}/push-queue`).query(query).set('x-api-key', ADMIN_KEY);

async function walk(query: Record<string, string | number>) {
  const { rows, pages } = await walkPages<{ userId: number; status: string }>(
    ctx,
    `/api/integrations/${integrationId}/push-queue`,
    ADMIN_KEY,
    query,
  );
  return { seen: rows.map(({ userId, status }) => ({ userId, status })), pages };
}

describe('the push queue list', () => {
  it('when walked by cursor, then every row comes once, newest change first, ties by user id', async () => {
    const { seen, pages } = await walk({ limit: 4 });
    expect(seen).toEqual(expected);
    expect(pages.map((p) => [p.page, p.total, p.totalRelation, p.nextCursor === null])).toEqual([
      [1, 11, 'gte', false],
      [null, 11, 'gte', false],
      [null, 11, 'gte', false],
      [null, 11, 'gte', true],
    ]);
  });

  it('when counted, then each status stops at the limit and says so', async () => {
    const res = await get({});
    expect(res.body.counts).toEqual({ pending: 2, sending: 1, done: 5, parked: 3 });
    expect(res.body.countsRelation).toEqual({ pending: 'eq', sending: 'eq', done: 'gte', parked: 'eq' });
  });

  it('when one status is asked for, then only its rows come, in the same order, with its own exact total', async () => {
    const { seen, pages } = await walk({ status: 'parked', limit: 2 });
    expect(seen).toEqual(expected.filter((r) => r.status === 'parked'));
    expect(pages.map((p) => [p.total, p.totalRelation])).toEqual([
      [3, 'eq'],
      [3, 'eq'],
    ]);
  });

  it('when pages are asked by number, then they hold the rows the cursor gives', async () => {
    const third = await get({ limit: 4, page: 3 });
    expect(third.body.data.map((r: { userId: number }) => r.userId)).toEqual(expected.slice(8, 12).map((r) => r.userId));
  });

  it('when a cursor is sent with another status, or is not one of ours, then 400 names query.cursor', async () => {
    const first = await get({ limit: 4 });
    const other = await get({ limit: 4, status: 'done', cursor: first.body.pagination.nextCursor });
    expect([other.status, other.body.code, other.body.details[0].path]).toEqual([400, 'cursor_mismatch', 'query.cursor']);
    const forged = Buffer.from(JSON.stringify({ l: 'x', v: 'yesterday', i: 1 })).toString('base64url');
    const bad = await get({ cursor: forged });
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_cursor']);
  });

  it('when a cursor of this list is edited, then a time PostgreSQL would refuse is a 400 and a plausible one just moves within the list', async () => {
    const edited = (v: string, i: number) =>
      Buffer.from(JSON.stringify({ l: listFingerprint('push-queue', { integrationId }), v, i })).toString('base64url');
    for (const time of ['0000-01-01T00:00:00.000Z', '2026-02-30T00:00:00.000Z', '2026-13-01T00:00:00.000Z']) {
      const res = await get({ cursor: edited(time, 1) });
      expect([time, res.status, res.body.code]).toEqual([time, 400, 'invalid_cursor']);
    }
    const later = await get({ cursor: edited('2099-01-01T00:00:00.000Z', 2_147_483_647) });
    expect(later.status).toBe(200);
    expect(later.body.data.map((r: { userId: number }) => r.userId)).toEqual(expected.slice(0, 10).map((r) => r.userId));
  });
});
