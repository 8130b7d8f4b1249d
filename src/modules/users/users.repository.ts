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
  softDelete(id: number): Promise<void>;
}

export function createUserRepository(db: Db): UserRepository {
  return {
    async list(f) {
      const where: Prisma.UserWhereInput = {
        deletedAt: null,
        // Users of soft-deleted organizations are gone with them.
        organization: { deletedAt: null },
        ...(f.organizationId !== undefined ? { organizationId: f.organizationId } : {}),
        ...(f.isActive !== undefined ? { isActive: f.isActive } : {}),
        ...(f.isAdmin !== undefined ? { isAdmin: f.isAdmin } : {}),
        ...(f.source !== undefined ? { source: f.source } : {}),
        ...(f.department !== undefined ? { department: f.department } : {}),
        // ILIKE '%term%' on name or email; served by the pg_trgm GIN indexes.
        ...(f.search
          ? {
              OR: [
                { name: { contains: escapeLike(f.search), mode: 'insensitive' } },
                { email: { contains: escapeLike(f.search), mode: 'insensitive' } },
              ],
            }
          : {}),
      };
      // id breaks ties so pages are stable.
      const orderBy: Prisma.UserOrderByWithRelationInput[] = [
        { [f.sort.field]: f.sort.field === 'lastActiveAt' || f.sort.field === 'lastSyncedAt' || f.sort.field === 'email' ? { sort: f.sort.direction, nulls: 'last' } : f.sort.direction },
        ...(f.sort.field === 'id' ? [] : [{ id: f.sort.direction }]),
      ];
      const [rows, total] = await Promise.all([
        db.user.findMany({ where, select: userSelect, orderBy, skip: (f.page - 1) * f.limit, take: f.limit }),
        db.user.count({ where }),
      ]);
      return { rows, total };
    },
    get: (id) =>
      db.user.findFirst({
        where: { id, deletedAt: null, organization: { deletedAt: null } },
        select: { ...userSelect, identities: { select: { id: true, provider: true, externalId: true, createdAt: true, updatedAt: true }, orderBy: { id: 'asc' } } },
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
    async softDelete(id) {
      await db.user.update({ where: { id }, data: { deletedAt: new Date(), isActive: false } });
    },
  };
}
