import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createOrganization, createOrganizationKey } from '../helpers/fixtures';

/**
 * Users lists at scale, on a small table: totals exact up to LIST_EXACT_COUNT_LIMIT (20 here)
 * and "at least" past it; keyset cursors through every sort, with ties, nulls and rows
 * inserted while paging; cursors refused when they belong to another list or organization.
 */
const COUNT_LIMIT = 20;
let ctx: TestContext;
let orgA: number;
let orgB: number;
let keyA: string;

/**
 * 60 live users in A (and one deleted), 15 in B. Names repeat (ties broken by id); every 7th
 * has no email, every 3rd no lastActiveAt; createdAt repeats four times. "Common" matches 45
 * of A's users (past the count limit), "Rare" 15.
 */
async function seed(organizationId: number, n: number, prefix: string): Promise<void> {
  await ctx.sql(
    `INSERT INTO users (organization_id, email, name, source, created_at, updated_at, last_active_at)
     SELECT $1, CASE WHEN g % 7 = 0 THEN NULL ELSE $2 || g || '@list.test' END,
            (ARRAY['Ann Common','Bob Common','Cy Rare','Dee Common'])[1 + g % 4] || ' ' || (g % 5),
            'api', timestamptz '2026-01-01' + (g / 4) * interval '1 hour',
            timestamptz '2026-02-01' + (g % 9) * interval '1 minute',
            CASE WHEN g % 3 = 0 THEN NULL ELSE timestamptz '2026-03-01' + (g % 11) * interval '1 day' END
     FROM generate_series(1, $3::int) g`,
    [organizationId, prefix, n],
  );
}

beforeAll(async () => {
  ctx = await createTestContext({ LIST_EXACT_COUNT_LIMIT: String(COUNT_LIMIT) });
  orgA = (await createOrganization(ctx)).id;
  orgB = (await createOrganization(ctx)).id;
  keyA = await createOrganizationKey(ctx, orgA);
  await seed(orgA, 60, 'a');
  await seed(orgB, 15, 'b');
  await ctx.sql(`INSERT INTO users (organization_id, email, name, deleted_at) VALUES ($1, 'gone@list.test', 'Ann Common gone', now())`, [
    orgA,
  ]);
});
afterAll(() => ctx.close());

const get = (path: string, key = ADMIN_KEY) => ctx.http.get(path).set('x-api-key', key);

const COLUMNS: Record<string, string> = {
  id: 'id',
  name: 'name',
  email: 'email',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  lastActiveAt: 'last_active_at',
  lastSyncedAt: 'last_synced_at',
};

/** The order the API promises, from SQL: the column, nulls last either way, id breaking ties. */
async function expectedIds(organizationId: number, sort: string, search?: string): Promise<number[]> {
  const field = sort.replace(/^-/, '');
  const dir = sort.startsWith('-') ? 'DESC' : 'ASC';
  const rows = await ctx.sql<{ id: number }>(
    `SELECT id FROM users WHERE organization_id = $1 AND deleted_at IS NULL
       AND ($2::text IS NULL OR (coalesce(name, '') || ' ' || coalesce(email, '')) ILIKE '%' || $2 || '%')
     ORDER BY ${COLUMNS[field]} ${dir} NULLS LAST, id ${dir}`,
    [organizationId, search ?? null],
  );
  return rows.map((r) => r.id);
}

/** Every page of a list by cursor; `between` runs after each page. */
async function walk(path: string, key = ADMIN_KEY, between?: (page: number) => Promise<void>): Promise<number[]> {
  const ids: number[] = [];
  let cursor: string | null = null;
  for (let page = 1; page <= 100; page++) {
    const res = await get(cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : path, key);
    expect(res.status).toBe(200);
    ids.push(...res.body.data.map((u: { id: number }) => u.id));
    cursor = res.body.pagination.nextCursor;
    if (page > 1) expect(res.body.pagination.page).toBeNull();
    if (!cursor) return ids;
    await between?.(page);
  }
  throw new Error('more than 100 pages');
}

const cursorOf = async (path: string, key = ADMIN_KEY): Promise<string> => {
  const res = await get(path, key);
  expect(res.status).toBe(200);
  expect(typeof res.body.pagination.nextCursor).toBe('string');
  return res.body.pagination.nextCursor;
};

const reencode = (cursor: string, change: (c: Record<string, unknown>) => void): string => {
  const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  change(c);
  return Buffer.from(JSON.stringify(c)).toString('base64url');
};

describe('GET /api/users: totals', () => {
  it('when more users match than LIST_EXACT_COUNT_LIMIT, then total is the limit with totalRelation gte', async () => {
    const res = await get(`/api/users?organizationId=${orgA}`);
    expect(res.status).toBe(200);
    expect(res.body.pagination).toMatchObject({ page: 1, limit: 10, total: COUNT_LIMIT, totalPages: 2, totalRelation: 'gte' });
    expect(res.body.data).toHaveLength(10);
  });

  it('when at most LIST_EXACT_COUNT_LIMIT users match, then total is exact with totalRelation eq', async () => {
    const b = await get(`/api/users?organizationId=${orgB}`);
    expect(b.body.pagination).toMatchObject({ total: 15, totalRelation: 'eq' });
    const rare = await get(`/api/users?organizationId=${orgA}&search=rare`);
    expect(rare.body.pagination).toMatchObject({ total: 15, totalRelation: 'eq' });
  });

  it('when a search matches more than the limit, then the count says gte and the page is still the right one', async () => {
    const res = await get(`/api/users?organizationId=${orgA}&search=common&sort=name&limit=5`);
    expect(res.body.pagination).toMatchObject({ total: COUNT_LIMIT, totalRelation: 'gte' });
    expect(res.body.data.map((u: { id: number }) => u.id)).toEqual((await expectedIds(orgA, 'name', 'common')).slice(0, 5));
  });

  it('when the organizations list is filtered by a key of one organization, then the organization users route caps alike', async () => {
    const res = await get(`/api/organizations/${orgA}/users`, keyA);
    expect(res.status).toBe(200);
    expect(res.body.pagination).toMatchObject({ total: COUNT_LIMIT, totalRelation: 'gte' });
  });
});

describe('GET /api/users: cursors', () => {
  it.each([
    '-createdAt',
    'createdAt',
    'name',
    '-name',
    'email',
    '-email',
    'id',
    '-id',
    'updatedAt',
    '-lastActiveAt',
    'lastActiveAt',
    'lastSyncedAt',
  ])('when paging by %s with cursors, then every user comes once, in the sort order, nulls last', async (sort) => {
    const ids = await walk(`/api/users?organizationId=${orgA}&sort=${sort}&limit=7`);
    expect(ids).toEqual(await expectedIds(orgA, sort));
  });

  it.each(['name', '-lastActiveAt', 'email'])(
    'when paging a search by %s with cursors (the rare and the common path), then the matches come once, in order',
    async (sort) => {
      for (const term of ['rare', 'common']) {
        expect(await walk(`/api/users?organizationId=${orgA}&search=${term}&sort=${sort}&limit=4`)).toEqual(
          await expectedIds(orgA, sort, term),
        );
      }
    },
  );

  it('when a common term sorts after thousands of other users, then its pages are still right and complete', async () => {
    // 2,500 users sort before the 30 matches by name: the bounded walk of the sort index
    // (2,000 rows) meets none, so the page comes from the trigram path.
    const orgC = (await createOrganization(ctx)).id;
    await ctx.sql(
      `INSERT INTO users (organization_id, email, name, last_active_at)
       SELECT $1, 'c' || g || '@list.test', CASE WHEN g > 2500 THEN 'Zed Needle ' || g ELSE 'Aaron Hay ' || g END,
              CASE WHEN g % 2 = 0 THEN timestamptz '2026-01-01' + g * interval '1 minute' END
       FROM generate_series(1, 2530) g`,
      [orgC],
    );
    for (const sort of ['name', '-lastActiveAt']) {
      const first = await get(`/api/users?organizationId=${orgC}&search=needle&sort=${sort}&limit=4`);
      expect(first.body.pagination).toMatchObject({ total: COUNT_LIMIT, totalRelation: 'gte' });
      expect(await walk(`/api/users?organizationId=${orgC}&search=needle&sort=${sort}&limit=4`)).toEqual(
        await expectedIds(orgC, sort, 'needle'),
      );
    }
  });

  it('when offset pages reach into the nulls of a nullable sort, then they agree with the cursor pages', async () => {
    const expected = await expectedIds(orgA, '-lastActiveAt');
    const byPage: number[] = [];
    for (let page = 1; page <= 9; page++) {
      byPage.push(
        ...(await get(`/api/users?organizationId=${orgA}&sort=-lastActiveAt&limit=7&page=${page}`)).body.data.map(
          (u: { id: number }) => u.id,
        ),
      );
    }
    expect(byPage).toEqual(expected);
  });

  it('when users are inserted while paging, then no user is returned twice and none of the existing ones is skipped', async () => {
    const before = await expectedIds(orgA, 'name');
    let n = 0;
    const seen = await walk(`/api/users?organizationId=${orgA}&sort=name&limit=6`, ADMIN_KEY, async () => {
      // One name sorting first (before the position by now), one last (after it).
      n++;
      await ctx.sql(`INSERT INTO users (organization_id, email, name) VALUES ($1, $2, 'Aaron New'), ($1, $3, 'Zed New')`, [
        orgA,
        `first${n}@list.test`,
        `last${n}@list.test`,
      ]);
    });
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => before.includes(id))).toEqual(before);
    // Rows inserted after the position are met; they come in the sort order with the rest.
    const after = await expectedIds(orgA, 'name');
    expect(seen).toEqual(after.filter((id) => seen.includes(id)));
    expect(seen.length).toBeGreaterThan(before.length);
    await ctx.sql(`DELETE FROM users WHERE organization_id = $1 AND name IN ('Aaron New', 'Zed New')`, [orgA]);
  });

  it('when a page is read by cursor, then page is null and the answer has the same shape', async () => {
    const cursor = await cursorOf(`/api/users?organizationId=${orgB}&limit=5`);
    const res = await get(`/api/users?organizationId=${orgB}&limit=5&cursor=${cursor}`);
    expect(res.body.pagination).toEqual({
      page: null,
      limit: 5,
      total: 15,
      totalPages: 3,
      totalRelation: 'eq',
      nextCursor: expect.any(String),
    });
  });
});

describe('GET /api/users: bad cursors', () => {
  it.each([
    ['not base64url', 'abc!!'],
    ['base64 of no JSON', Buffer.from('hello').toString('base64url')],
    ['JSON of another shape', Buffer.from(JSON.stringify({ page: 2 })).toString('base64url')],
    ['a negative id', Buffer.from(JSON.stringify({ l: 'x', v: null, i: -1 })).toString('base64url')],
    ['an id past int4', Buffer.from(JSON.stringify({ l: 'x', v: null, i: 2 ** 31 })).toString('base64url')],
  ])('when the cursor is %s, then 400 invalid_cursor names query.cursor', async (_what, cursor) => {
    const res = await get(`/api/users?organizationId=${orgA}&cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_cursor');
    expect(res.body.details[0].path).toBe('query.cursor');
  });

  it.each([
    ['-createdAt', 'yesterday'],
    ['-createdAt', '2026-02-30T00:00:00.000Z'],
    ['-createdAt', '0000-01-01T00:00:00.000Z'],
    ['updatedAt', '2026-13-01T00:00:00.000Z'],
    ['lastActiveAt', '-000001-01-01T00:00:00.000Z'],
    ['-createdAt', 12],
    ['name', 'nul\u0000byte'],
    ['name', null],
    ['id', 'x'],
  ])('when a cursor of sort %s carries the value %p, then 400 invalid_cursor and no database error', async (sort, value) => {
    const cursor = await cursorOf(`/api/users?organizationId=${orgA}&sort=${sort}`);
    const res = await get(`/api/users?organizationId=${orgA}&sort=${sort}&cursor=${reencode(cursor, (c) => (c.v = value))}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_cursor');
  });

  it.each([
    ['another sort', 'sort=-createdAt', 'sort=name'],
    ['another direction', 'sort=name', 'sort=-name'],
    ['another search', 'search=common', 'search=rare'],
    ['another filter', 'isActive=true', 'isActive=false'],
  ])('when a cursor made for %s is sent, then 400 cursor_mismatch names query.cursor', async (_what, made, used) => {
    const cursor = await cursorOf(`/api/users?organizationId=${orgA}&${made}&limit=3`);
    const res = await get(`/api/users?organizationId=${orgA}&${used}&limit=3&cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('cursor_mismatch');
    expect(res.body.details[0].path).toBe('query.cursor');
  });

  it('when page and cursor are both sent, then 400 names query.cursor', async () => {
    const cursor = await cursorOf(`/api/users?organizationId=${orgA}`);
    const res = await get(`/api/users?organizationId=${orgA}&page=2&cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.body.details[0].path).toBe('query.cursor');
  });

  it('when the cursor is longer than 8000 characters, then 400 names query.cursor', async () => {
    const res = await get(`/api/users?cursor=${'a'.repeat(8001)}`);
    expect(res.status).toBe(400);
    expect(res.body.details[0].path).toBe('query.cursor');
  });
});

describe('GET /api/users: cursors and organizations', () => {
  it('when an organization key pages by cursor, then it walks its own users only', async () => {
    expect(await walk('/api/users?sort=name&limit=9', keyA)).toEqual(await expectedIds(orgA, 'name'));
  });

  it("when an organization key sends a cursor made for another organization's list, then 400 cursor_mismatch", async () => {
    const ofB = await cursorOf(`/api/users?organizationId=${orgB}&limit=3`);
    const res = await get(`/api/users?limit=3&cursor=${ofB}`, keyA);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('cursor_mismatch');
    const allOrgs = await cursorOf('/api/users?limit=3');
    expect((await get(`/api/users?limit=3&cursor=${allOrgs}`, keyA)).status).toBe(400);
  });

  it("when an organization key edits its cursor to point at another organization's user, then it still sees only its own users", async () => {
    const own = await cursorOf('/api/users?sort=id&limit=3', keyA);
    const [firstOfB] = await expectedIds(orgB, 'id');
    const edited = reencode(own, (c) => (c.i = firstOfB - 1));
    const res = await get(`/api/users?sort=id&limit=100&cursor=${edited}`, keyA);
    expect(res.status).toBe(200);
    const ids: number[] = res.body.data.map((u: { id: number; organizationId: number }) => u.id);
    const ofA = await expectedIds(orgA, 'id');
    expect(ids.every((id) => ofA.includes(id))).toBe(true);
    expect(res.body.data.every((u: { organizationId: number }) => u.organizationId === orgA)).toBe(true);
  });

  it('when a cursor of /api/users?organizationId=A is used on /api/organizations/A/users, then it is the same list', async () => {
    const cursor = await cursorOf(`/api/users?organizationId=${orgA}&sort=name&limit=5`);
    const res = await get(`/api/organizations/${orgA}/users?sort=name&limit=5&cursor=${cursor}`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((u: { id: number }) => u.id)).toEqual((await expectedIds(orgA, 'name')).slice(5, 10));
  });
});
