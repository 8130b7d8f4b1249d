import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createOrganization, createOrganizationKey, uniq } from '../helpers/fixtures';

/** GET /api/organizations: totals capped at LIST_EXACT_COUNT_LIMIT (5 here) and cursors by id. */
const COUNT_LIMIT = 5;
let ctx: TestContext;
let keyOfFirst: string;
let first: number;
const marker = uniq('Cursorco');

beforeAll(async () => {
  ctx = await createTestContext({ LIST_EXACT_COUNT_LIMIT: String(COUNT_LIMIT) });
  first = (await createOrganization(ctx, { name: `${marker} 0` })).id;
  for (let i = 1; i < 12; i++) await createOrganization(ctx, { name: i % 3 === 0 ? `Other ${i}` : `${marker} ${i}` });
  keyOfFirst = await createOrganizationKey(ctx, first);
});
afterAll(() => ctx.close());

const get = (path: string, key = ADMIN_KEY) => ctx.http.get(path).set('x-api-key', key);
const liveIds = async (nameLike = '%') =>
  (await ctx.sql<{ id: number }>(`SELECT id FROM organizations WHERE deleted_at IS NULL AND name ILIKE $1 ORDER BY id`, [nameLike])).map(
    (r) => r.id,
  );

async function walk(path: string, key = ADMIN_KEY, between?: () => Promise<void>): Promise<number[]> {
  const ids: number[] = [];
  let cursor: string | null = null;
  for (let page = 1; page <= 50; page++) {
    const res = await get(cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : path, key);
    expect(res.status).toBe(200);
    ids.push(...res.body.data.map((o: { id: number }) => o.id));
    cursor = res.body.pagination.nextCursor;
    if (!cursor) return ids;
    await between?.();
  }
  throw new Error('more than 50 pages');
}

describe('GET /api/organizations: totals and cursors', () => {
  it('when more organizations match than LIST_EXACT_COUNT_LIMIT, then total is the limit with totalRelation gte', async () => {
    const res = await get('/api/organizations?limit=2');
    expect(res.status).toBe(200);
    expect(res.body.pagination).toEqual({
      page: 1,
      limit: 2,
      total: COUNT_LIMIT,
      totalPages: 3,
      totalRelation: 'gte',
      nextCursor: expect.any(String),
    });
  });

  it('when few match, then total is exact with totalRelation eq', async () => {
    const res = await get(`/api/organizations?search=${encodeURIComponent(`${marker} 1`)}`);
    // "<marker> 1", "<marker> 10", "<marker> 11"
    expect(res.body.pagination).toMatchObject({ total: 3, totalRelation: 'eq', nextCursor: null });
  });

  it('when organizations are created while paging by cursor, then each existing one comes once, in id order', async () => {
    const before = await liveIds();
    const seen = await walk('/api/organizations?limit=3', ADMIN_KEY, async () => {
      await createOrganization(ctx, { name: uniq('Meanwhile') });
    });
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, before.length)).toEqual(before);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen).toEqual(await liveIds());
  });

  it('when a search is paged by cursor, then exactly its matches come, past the count limit and within it', async () => {
    expect(await walk(`/api/organizations?search=${marker}&limit=2`)).toEqual(await liveIds(`%${marker}%`));
    const few = await walk(`/api/organizations?search=${encodeURIComponent(`${marker} 1`)}&limit=1`);
    expect(few).toHaveLength(3);
    expect(few).toEqual(await liveIds(`%${marker} 1%`));
  });

  it('when an organization key pages, then it sees its own organization only, with no next cursor', async () => {
    const res = await get('/api/organizations?limit=1', keyOfFirst);
    expect(res.body.data.map((o: { id: number }) => o.id)).toEqual([first]);
    expect(res.body.pagination).toMatchObject({ total: 1, totalRelation: 'eq', nextCursor: null });
  });

  it("when an organization key sends an admin's cursor, then 400 cursor_mismatch rather than other organizations", async () => {
    const cursor = (await get('/api/organizations?limit=1')).body.pagination.nextCursor;
    const res = await get(`/api/organizations?limit=1&cursor=${cursor}`, keyOfFirst);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('cursor_mismatch');
  });

  it('when a cursor of another search or of the users list is sent, then 400 names query.cursor', async () => {
    const other = (await get(`/api/organizations?search=${marker}&limit=1`)).body.pagination.nextCursor;
    const mismatch = await get(`/api/organizations?search=other&limit=1&cursor=${other}`);
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.code).toBe('cursor_mismatch');
    await ctx.sql(`INSERT INTO users (organization_id, email, name) VALUES ($1, 'a@c.test', 'A'), ($1, 'b@c.test', 'B')`, [first]);
    const ofUsers = (await get(`/api/users?organizationId=${first}&sort=id&limit=1`)).body.pagination.nextCursor;
    expect(typeof ofUsers).toBe('string');
    const res = await get(`/api/organizations?cursor=${ofUsers}`);
    expect(res.status).toBe(400);
    expect(res.body.details[0].path).toBe('query.cursor');
  });

  it('when the cursor is garbage or sent with page, then 400 names query.cursor', async () => {
    for (const qs of ['cursor=%25%25', 'cursor=e30', 'page=2&cursor=abc']) {
      const res = await get(`/api/organizations?${qs}`);
      expect(res.status).toBe(400);
      expect(res.body.details[0].path).toBe('query.cursor');
    }
  });
});
