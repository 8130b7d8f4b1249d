import type { Db, Prisma } from '../../db/prisma';
import { escapeLike } from '../../lib/http';
import { isCursorTime, type CursorPosition } from '../../lib/list-cursor';
import type { SortField } from './users.schemas';

export const userSelect = {
  id: true,
  organizationId: true,
  email: true,
  name: true,
  firstName: true,
  lastName: true,
  phone: true,
  title: true,
  department: true,
  avatarUrl: true,
  isActive: true,
  isAdmin: true,
  roles: true,
  permissions: true,
  source: true,
  lastActiveAt: true,
  lastSyncedAt: true,
  createdAt: true,
  updatedAt: true,
} as const;

export type UserRecord = Prisma.UserGetPayload<{ select: typeof userSelect }>;

/** The same expression as users_search_trgm_idx, so the planner can use that index. */
const SEARCH_EXPRESSION = `(coalesce(u.name, '') || ' ' || coalesce(u.email, ''))`;

const SORT_COLUMNS: Record<SortField, string> = {
  id: 'u.id',
  name: 'u.name',
  email: 'u.email',
  createdAt: 'u.created_at',
  updatedAt: 'u.updated_at',
  lastActiveAt: 'u.last_active_at',
  lastSyncedAt: 'u.last_synced_at',
};

const NULLABLE_SORT = new Set<SortField>(['email', 'lastActiveAt', 'lastSyncedAt']);
/** Rows of the sort index a common search term walks before it takes the trigram path instead. */
const WALK_ROWS = 2000;
const TIME_SORT = new Set<SortField>(['createdAt', 'updatedAt', 'lastActiveAt', 'lastSyncedAt']);

/** Whether a cursor's sort value can belong to a sort on this field (its type, null only where the column allows it). */
export function validSortValue(field: SortField, v: string | number | null): boolean {
  if (field === 'id') return v === null;
  if (v === null) return NULLABLE_SORT.has(field);
  if (typeof v !== 'string') return false;
  return TIME_SORT.has(field) ? isCursorTime(v) : true;
}

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const USER_COLUMNS = Object.keys(userSelect)
  .map((k) => `u.${snake(k)} AS "${k}"`)
  .join(', ');
export type UserWithIdentities = UserRecord & {
  identities: { id: number; provider: string; externalId: string; createdAt: Date; updatedAt: Date }[];
};

export interface UserListFilter {
  organizationId?: number;
  search?: string;
  isActive?: boolean;
  isAdmin?: boolean;
  source?: string;
  department?: string;
  sort: { field: SortField; direction: 'asc' | 'desc' };
  page: number;
  limit: number;
  /** Resume after this row (a keyset cursor) instead of skipping (page - 1) * limit rows. */
  after?: CursorPosition;
  /** Count exactly up to this many matches; past it `total` is this figure and not exact. Unset: always exact. */
  countLimit?: number;
}

export interface UserListResult {
  rows: UserRecord[];
  total: number;
  totalExact: boolean;
  /** The last row's position when more rows follow; null on the last page. */
  next: CursorPosition | null;
}

export interface UserRepository {
  list(filter: UserListFilter): Promise<UserListResult>;
  get(id: number): Promise<UserWithIdentities | null>;
  emailTaken(organizationId: number, email: string, exceptId?: number): Promise<boolean>;
  findDeletedByEmail(organizationId: number, email: string): Promise<number | null>;
  create(data: Prisma.UserUncheckedCreateInput): Promise<UserRecord>;
  update(id: number, data: Prisma.UserUncheckedUpdateInput): Promise<UserRecord>;
  /** Marks the user deleted; null when it was deleted already (a concurrent delete won). */
  softDelete(id: number): Promise<UserRecord | null>;
  /** Brings a soft-deleted user back with `data`; null when it is not deleted (a concurrent revive won). */
  revive(id: number, data: Prisma.UserUncheckedUpdateInput): Promise<UserRecord | null>;
  /** A user, soft-deleted or not: erasure applies to both. */
  findIncludingDeleted(id: number): Promise<{ id: number; organizationId: number; deletedAt: Date | null } | null>;
  /** What CRMs reported about the user besides profile changes (messages, ...), newest first. */
  activities(userId: number, page: number, limit: number): Promise<{ rows: unknown[]; total: number }>;
}

export function createUserRepository(db: Db): UserRepository {
  return {
    list: (f) => listUsers(db, f),
    get: (id) =>
      db.user.findFirst({
        where: { id, deletedAt: null, organization: { deletedAt: null } },
        select: {
          ...userSelect,
          identities: { select: { id: true, provider: true, externalId: true, createdAt: true, updatedAt: true }, orderBy: { id: 'asc' } },
        },
      }),
    async emailTaken(organizationId, email, exceptId) {
      return (await db.user.count({ where: { organizationId, email, ...(exceptId ? { NOT: { id: exceptId } } : {}) } })) > 0;
    },
    async findDeletedByEmail(organizationId, email) {
      const found = await db.user.findFirst({ where: { organizationId, email, NOT: { deletedAt: null } }, select: { id: true } });
      return found?.id ?? null;
    },
    create: (data) => db.user.create({ data, select: userSelect }),
    update: (id, data) => db.user.update({ where: { id }, data, select: userSelect }),
    async activities(userId, page, limit) {
      const where = { userId };
      const [rows, total] = await Promise.all([
        db.userActivity.findMany({
          where,
          orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }],
          skip: (page - 1) * limit,
          take: limit,
          select: { id: true, type: true, data: true, occurredAt: true, integrationId: true, inboundEventId: true, createdAt: true },
        }),
        db.userActivity.count({ where }),
      ]);
      return { rows, total };
    },
    softDelete: (id) =>
      onlyIf(db.user.update({ where: { id, deletedAt: null }, data: { deletedAt: new Date(), isActive: false }, select: userSelect })),
    revive: (id, data) =>
      onlyIf(db.user.update({ where: { id, deletedAt: { not: null } }, data: { ...data, deletedAt: null }, select: userSelect })),
    findIncludingDeleted: (id) =>
      db.user.findFirst({ where: { id, organization: { deletedAt: null } }, select: { id: true, organizationId: true, deletedAt: true } }),
  };
}

/** A conditional update's row, or null when the condition no longer held (Prisma's P2025). */
async function onlyIf<T>(update: Promise<T>): Promise<T | null> {
  try {
    return await update;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'P2025') return null;
    throw err;
  }
}

/*
 * The users list. Plain SQL so the search can use users_search_trgm_idx, an expression index
 * that Prisma's query builder cannot target. Values are always bound parameters.
 *
 * Without a search term every sort reads an index in order: (organization_id, <column>, id)
 * within an organization, (<column>, id) across all of them (migration
 * 20261123050000_list_indexes). A nullable column is read in two segments, its values and
 * then its nulls (by id), because NULLS LAST in both directions is not one index order; each
 * segment is a plain index range.
 *
 * With a search term and a count limit, one statement collects up to countLimit + 1 matches
 * through the trigram index, counts them and, when they are all the matches, sorts the page
 * out of them. When there are more, the term is common and walking the sort index usually
 * meets enough matches within WALK_ROWS rows; when it does not, the trigram bitmap and a sort
 * of every match do. An unbounded walk for a rarer term is what to avoid (seen: 490 ms on 1M
 * users when the matches are old).
 */
async function listUsers(db: Db, f: UserListFilter): Promise<UserListResult> {
  const params: unknown[] = [];
  const bind = (v: unknown) => `$${params.push(v)}`;
  // Users of soft-deleted organizations are gone with them. Within one organization that is
  // one check made once (an uncorrelated EXISTS), not a join probed for every row counted.
  const where = ['u.deleted_at IS NULL'];
  if (f.organizationId === undefined) where.push('u.organization_id IN (SELECT id FROM organizations WHERE deleted_at IS NULL)');
  else {
    const org = bind(f.organizationId);
    where.push(`u.organization_id = ${org}`, `EXISTS (SELECT 1 FROM organizations WHERE id = ${org} AND deleted_at IS NULL)`);
  }
  if (f.isActive !== undefined) where.push(`u.is_active = ${bind(f.isActive)}`);
  if (f.isAdmin !== undefined) where.push(`u.is_admin = ${bind(f.isAdmin)}`);
  if (f.source !== undefined) where.push(`u.source = ${bind(f.source)}`);
  if (f.department !== undefined) where.push(`u.department = ${bind(f.department)}`);
  const unsearched = where.join(' AND ');
  const pattern = f.search ? bind(`%${escapeLike(f.search)}%`) : undefined;
  if (pattern) where.push(`${SEARCH_EXPRESSION} ILIKE ${pattern}`);
  const base = where.join(' AND ');
  /** Runs SQL on the filter's parameters plus `extra`; `p(extra)` names the next extra one. */
  const statement = () => {
    const extra: unknown[] = [];
    return {
      p: (v: unknown) => `$${params.length + extra.push(v)}`,
      run: <T>(sql: string) => db.$queryRawUnsafe<T[]>(sql, ...params, ...extra),
    };
  };

  const field = f.sort.field;
  const column = SORT_COLUMNS[field];
  const nullable = NULLABLE_SORT.has(field);
  const dir = f.sort.direction === 'asc' ? 'ASC' : 'DESC';
  const cmp = f.sort.direction === 'asc' ? '>' : '<';
  const cast = TIME_SORT.has(field) ? 'timestamptz' : 'text';
  const want = f.limit + 1; // one row more than the page says whether another page follows
  const offset = f.after ? 0 : (f.page - 1) * f.limit;
  const finish = (page: UserRecord[], total: number, totalExact: boolean): UserListResult => {
    const rows = page.slice(0, f.limit);
    const last = rows[rows.length - 1];
    const next =
      page.length > f.limit && last ? { value: field === 'id' ? null : positionValue(last[field as keyof UserRecord]), id: last.id } : null;
    return { rows, total, totalExact, next };
  };

  // How a page is read: "index" walks the sort index; "bounded" walks at most WALK_ROWS rows
  // of it and filters them by the search term; "trigram" hides the sort key from the b-tree
  // indexes (a no-op expression), so the planner takes the trigram bitmap and sorts the matches.
  type Mode = 'index' | 'bounded' | 'trigram';
  const key = (c: string, mode: Mode) =>
    mode === 'trigram' ? `(${c} ${c === 'u.id' ? '+ 0' : c.endsWith('_at') ? "+ interval '0'" : "|| ''"})` : c;

  if (f.search && f.countLimit !== undefined) {
    const s = statement();
    const cap = s.p(f.countLimit + 1);
    // The position among at most countLimit rows in memory: no index to keep, NULLS LAST as usual.
    let position = '';
    if (f.after && field === 'id') position = `AND m.id ${cmp} ${s.p(f.after.id)}`;
    else if (f.after && f.after.value === null) position = `AND m.k IS NULL AND m.id ${cmp} ${s.p(f.after.id)}`;
    else if (f.after)
      position = `AND (${nullable ? 'm.k IS NULL OR ' : ''}(m.k, m.id) ${cmp} (${s.p(f.after.value)}::${cast}, ${s.p(f.after.id)}))`;
    const order = (t: string) => `${t}.k ${dir}${nullable ? ' NULLS LAST' : ''}, ${t}.id ${dir}`;
    const found = await s.run<UserRecord & { total: number }>(
      `WITH m AS MATERIALIZED (SELECT u.id, ${column} AS k FROM users u WHERE ${base} LIMIT ${cap}),
            c AS (SELECT count(*)::int AS total FROM m),
            p AS (SELECT m.id, m.k FROM m, c WHERE c.total < ${cap} ${position} ORDER BY ${order('m')} LIMIT ${s.p(want)} OFFSET ${s.p(offset)})
       SELECT c.total, ${USER_COLUMNS} FROM c LEFT JOIN (p JOIN users u ON u.id = p.id) ON true ORDER BY ${order('p')}`,
    );
    const total = found[0]?.total ?? 0;
    if (total <= f.countLimit) {
      return finish(
        found.filter((r) => r.id !== null).map(({ total: _t, ...user }) => user),
        total,
        true,
      );
    }
    // More matches than countLimit: the term is common, so walking the sort index meets them
    // soon, unless they cluster far down the sort order (a name searched in a list sorted by
    // name). The walk is bounded; when it falls short, the trigram bitmap and a sort of the
    // matches give the page.
    const walked = await readSorted('bounded');
    return finish(walked.length === want ? walked : await readSorted('trigram'), f.countLimit, false);
  }

  /** One index range: a segment's rows after a position, in sort order. */
  function read(mode: Mode, segment: 'all' | 'values' | 'nulls', after: CursorPosition | undefined, skip: number, limit: number) {
    const s = statement();
    const conditions = [mode === 'bounded' ? unsearched : base];
    if (segment === 'values') conditions.push(`${column} IS NOT NULL`);
    if (segment === 'nulls') conditions.push(`${column} IS NULL`);
    // id breaks ties so pages are stable.
    const byId = field === 'id' || segment === 'nulls';
    if (after) {
      conditions.push(
        byId
          ? `${key('u.id', mode)} ${cmp} ${s.p(after.id)}`
          : `(${key(column, mode)}, ${key('u.id', mode)}) ${cmp} (${s.p(after.value)}::${cast}, ${s.p(after.id)})`,
      );
    }
    const order = byId ? `${key('u.id', mode)} ${dir}` : `${key(column, mode)} ${dir}, ${key('u.id', mode)} ${dir}`;
    const rows = `SELECT ${USER_COLUMNS} FROM users u WHERE ${conditions.join(' AND ')} ORDER BY ${order}`;
    if (mode !== 'bounded') return s.run<UserRecord>(`${rows} LIMIT ${s.p(limit)} OFFSET ${s.p(skip)}`);
    const outer = byId ? `w.id ${dir}` : `w."${field}" ${dir}, w.id ${dir}`;
    return s.run<UserRecord>(
      `SELECT w.* FROM (${rows} LIMIT ${WALK_ROWS}) w
       WHERE (coalesce(w.name, '') || ' ' || coalesce(w.email, '')) ILIKE ${pattern}
       ORDER BY ${outer} LIMIT ${s.p(limit)} OFFSET ${s.p(skip)}`,
    );
  }
  async function readSorted(mode: Mode): Promise<UserRecord[]> {
    if (!nullable) return read(mode, 'all', f.after, offset, want);
    if (f.after?.value === null) return read(mode, 'nulls', f.after, 0, want);
    const values = await read(mode, 'values', f.after, offset, want);
    // A bounded walk that fell short may have stopped inside the values: its caller takes the
    // trigram path instead.
    if (values.length === want || mode === 'bounded') return values;
    // The page reaches into the nulls: skip what the offset has left after the values.
    let skip = 0;
    if (values.length === 0 && offset > 0) {
      const s = statement();
      const [{ n }] = await s.run<{ n: number }>(
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM users u WHERE ${base} AND ${column} IS NOT NULL LIMIT ${s.p(offset)}) v`,
      );
      skip = offset - n;
    }
    return [...values, ...(await read(mode, 'nulls', undefined, skip, want - values.length))];
  }
  // Exact up to countLimit: counting stops at countLimit + 1 rows.
  async function count(): Promise<{ total: number; totalExact: boolean }> {
    const s = statement();
    if (f.countLimit === undefined) {
      const [{ total }] = await s.run<{ total: number }>(`SELECT count(*)::int AS total FROM users u WHERE ${base}`);
      return { total, totalExact: true };
    }
    const [{ total }] = await s.run<{ total: number }>(
      `SELECT count(*)::int AS total FROM (SELECT 1 FROM users u WHERE ${base} LIMIT ${s.p(f.countLimit + 1)}) s`,
    );
    return total > f.countLimit ? { total: f.countLimit, totalExact: false } : { total, totalExact: true };
  }

  // With a search term but no count limit (the exact count every page used to make), the
  // trigram path, for the reason above.
  const [page, { total, totalExact }] = await Promise.all([readSorted(f.search ? 'trigram' : 'index'), count()]);
  return finish(page, total, totalExact);
}

function positionValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v.toISOString() : String(v);
}
