import type { Db, Prisma } from '../../db/prisma';
import { escapeLike } from '../../lib/http';

export interface OrganizationRecord {
  id: number;
  name: string;
  slug: string;
  externalId: string | null;
  subdomain: string | null;
  metadata: unknown;
  createdAt: Date;
  updatedAt: Date;
}

export interface OrganizationStats {
  users: { total: number; active: number; inactive: number; admins: number };
  byDepartment: { department: string | null; count: number }[];
  byRole: { role: string; count: number }[];
  bySource: { source: string; count: number }[];
  lastSyncRun: unknown;
  newestUser: { id: number; name: string; email: string | null; createdAt: Date } | null;
  oldestUser: { id: number; name: string; email: string | null; createdAt: Date } | null;
}

export interface OrganizationRepository {
  list(filter: { search?: string; onlyId?: number; page: number; limit: number }): Promise<{ rows: OrganizationRecord[]; total: number }>;
  get(id: number): Promise<OrganizationRecord | null>;
  findBySlug(slug: string): Promise<OrganizationRecord | null>;
  exists(id: number): Promise<boolean>;
  slugTaken(slug: string, exceptId?: number): Promise<boolean>;
  create(data: {
    name: string;
    slug: string;
    externalId?: string | null;
    subdomain?: string | null;
    metadata?: Prisma.InputJsonValue;
  }): Promise<OrganizationRecord>;
  update(id: number, data: Prisma.OrganizationUpdateInput): Promise<OrganizationRecord>;
  softDelete(id: number): Promise<void>;
  stats(id: number): Promise<OrganizationStats>;
}

const select = {
  id: true,
  name: true,
  slug: true,
  externalId: true,
  subdomain: true,
  metadata: true,
  createdAt: true,
  updatedAt: true,
} as const;

const userSummary = { id: true, name: true, email: true, createdAt: true } as const;

export function createOrganizationRepository(db: Db): OrganizationRepository {
  return {
    async list({ search, onlyId, page, limit }) {
      const where: Prisma.OrganizationWhereInput = {
        deletedAt: null,
        ...(onlyId !== undefined ? { id: onlyId } : {}),
        ...(search
          ? {
              OR: [
                { name: { contains: escapeLike(search), mode: 'insensitive' } },
                { slug: { contains: escapeLike(search.toLowerCase()) } },
                { externalId: search },
              ],
            }
          : {}),
      };
      const [rows, total] = await Promise.all([
        db.organization.findMany({ where, select, orderBy: { id: 'asc' }, skip: (page - 1) * limit, take: limit }),
        db.organization.count({ where }),
      ]);
      return { rows, total };
    },
    get: (id) => db.organization.findFirst({ where: { id, deletedAt: null }, select }),
    findBySlug: (slug) => db.organization.findFirst({ where: { slug, deletedAt: null }, select }),
    async exists(id) {
      return (await db.organization.count({ where: { id, deletedAt: null } })) > 0;
    },
    async slugTaken(slug, exceptId) {
      return (await db.organization.count({ where: { slug, ...(exceptId ? { NOT: { id: exceptId } } : {}) } })) > 0;
    },
    create: (data) => db.organization.create({ data, select }),
    update: (id, data) => db.organization.update({ where: { id }, data, select }),
    async softDelete(id) {
      // Its integrations give up their CRM account ids, so another organization may claim them.
      await db.organization.update({ where: { id }, data: { deletedAt: new Date() } });
      await db.integration.updateMany({ where: { organizationId: id }, data: { routingKey: null } });
    },
    async stats(id) {
      const live = { organizationId: id, deletedAt: null };
      const [total, active, admins, byDepartment, bySource, byRole, lastSyncRun, newestUser, oldestUser] = await Promise.all([
        db.user.count({ where: live }),
        db.user.count({ where: { ...live, isActive: true } }),
        db.user.count({ where: { ...live, isAdmin: true } }),
        db.user.groupBy({ by: ['department'], where: live, _count: { _all: true }, orderBy: { department: 'asc' } }),
        db.user.groupBy({ by: ['source'], where: live, _count: { _all: true }, orderBy: { source: 'asc' } }),
        // Roles are a JSON array per user; Prisma cannot group by array elements.
        db.$queryRaw<{ role: string; count: bigint }[]>`
          SELECT r.role, count(*) AS count
          FROM users u CROSS JOIN LATERAL jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(u.roles) = 'array' THEN u.roles ELSE '[]'::jsonb END) AS r(role)
          WHERE u.organization_id = ${id} AND u.deleted_at IS NULL
          GROUP BY r.role ORDER BY count DESC, r.role ASC`,
        db.syncRun.findFirst({ where: { organizationId: id }, orderBy: { id: 'desc' } }),
        db.user.findFirst({ where: live, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], select: userSummary }),
        db.user.findFirst({ where: live, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: userSummary }),
      ]);
      return {
        users: { total, active, inactive: total - active, admins },
        byDepartment: byDepartment.map((d) => ({ department: d.department, count: d._count._all })),
        byRole: byRole.map((r) => ({ role: r.role, count: Number(r.count) })),
        bySource: bySource.map((s) => ({ source: s.source, count: s._count._all })),
        lastSyncRun,
        newestUser,
        oldestUser,
      };
    },
  };
}
