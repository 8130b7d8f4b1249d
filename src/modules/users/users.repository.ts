import type { Db, Prisma } from '../../db/prisma';
import { escapeLike } from '../../lib/http';
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
}

export interface UserRepository {
  list(filter: UserListFilter): Promise<{ rows: UserRecord[]; total: number }>;
  get(id: number): Promise<UserWithIdentities | null>;
  emailTaken(organizationId: number, email: string, exceptId?: number): Promise<boolean>;
  findDeletedByEmail(organizationId: number, email: string): Promise<number | null>;
  create(data: Prisma.UserUncheckedCreateInput): Promise<UserRecord>;
  update(id: number, data: Prisma.UserUncheckedUpdateInput): Promise<UserRecord>;
  softDelete(id: number): Promise<UserRecord>;
  /** A user, soft-deleted or not: erasure applies to both. */
  findIncludingDeleted(id: number): Promise<{ id: number; organizationId: number; deletedAt: Date | null } | null>;
  /** What CRMs reported about the user besides profile changes (messages, ...), newest first. */
  activities(userId: number, page: number, limit: number): Promise<{ rows: unknown[]; total: number }>;
}

export function createUserRepository(db: Db): UserRepository {
  return {
    async list(f) {
      // Plain SQL so the search can use users_search_trgm_idx, an expression index that
      // Prisma's query builder cannot target. Values are always bound parameters.
      const params: unknown[] = [];
      const bind = (v: unknown) => `$${params.push(v)}`;
      // Users of soft-deleted organizations are gone with them.
      const where = ['u.deleted_at IS NULL', 'u.organization_id IN (SELECT id FROM organizations WHERE deleted_at IS NULL)'];
      if (f.organizationId !== undefined) where.push(`u.organization_id = ${bind(f.organizationId)}`);
      if (f.isActive !== undefined) where.push(`u.is_active = ${bind(f.isActive)}`);
      if (f.isAdmin !== undefined) where.push(`u.is_admin = ${bind(f.isAdmin)}`);
      if (f.source !== undefined) where.push(`u.source = ${bind(f.source)}`);
      if (f.department !== undefined) where.push(`u.department = ${bind(f.department)}`);
      if (f.search) where.push(`${SEARCH_EXPRESSION} ILIKE ${bind(`%${escapeLike(f.search)}%`)}`);
      const from = `FROM users u WHERE ${where.join(' AND ')}`;
      const dir = f.sort.direction === 'asc' ? 'ASC' : 'DESC';
      // id breaks ties so pages are stable.
      // NULLS LAST only where a column can be null: on NOT NULL columns it would stop the
      // planner from reading (organization_id, created_at, id) backwards for "-createdAt".
      const nulls = NULLABLE_SORT.has(f.sort.field) ? ' NULLS LAST' : '';
      // With a search term, the sort key is hidden from the b-tree indexes (a no-op
      // expression). Otherwise the planner may walk (organization_id, created_at) backwards
      // hoping to meet matches soon, and read most of a large organization when the matches
      // are old (seen: 490 ms on 1M users instead of 11 ms). The trigram bitmap plus a top-N
      // sort costs no more than the count, which scans every match anyway.
      const key = (column: string) =>
        f.search ? `(${column} ${column === 'u.id' ? '+ 0' : column.endsWith('_at') ? "+ interval '0'" : "|| ''"})` : column;
      const order =
        f.sort.field === 'id' ? `${key('u.id')} ${dir}` : `${key(SORT_COLUMNS[f.sort.field])} ${dir}${nulls}, ${key('u.id')} ${dir}`;
      const countParams = [...params];
      const page = `LIMIT ${bind(f.limit)} OFFSET ${bind((f.page - 1) * f.limit)}`;
      const [rows, [{ total }]] = await Promise.all([
        db.$queryRawUnsafe<UserRecord[]>(`SELECT ${USER_COLUMNS} ${from} ORDER BY ${order} ${page}`, ...params),
        db.$queryRawUnsafe<{ total: number }[]>(`SELECT count(*)::int AS total ${from}`, ...countParams),
      ]);
      return { rows, total };
    },
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
    softDelete: (id) => db.user.update({ where: { id }, data: { deletedAt: new Date(), isActive: false }, select: userSelect }),
    findIncludingDeleted: (id) =>
      db.user.findFirst({ where: { id, organization: { deletedAt: null } }, select: { id: true, organizationId: true, deletedAt: true } }),
  };
}
