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

export interface OrganizationListFilter {
  search?: string;
  onlyId?: number;
  /** Only these ids. */
  ids?: number[];
  page: number;
  limit: number;
  /** Resume after this id (a keyset cursor) instead of skipping (page - 1) * limit rows. */
  afterId?: number;
  /** Count exactly up to this many; past it `total` is this figure and not exact. Unset: always exact. */
  countLimit?: number;
}

export interface OrganizationRepository {
  list(
    filter: OrganizationListFilter,
  ): Promise<{ rows: OrganizationRecord[]; total: number; totalExact: boolean; nextAfterId: number | null }>;
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
    async list({ search, onlyId, ids, page, limit, afterId, countLimit }) {
      const where: Prisma.OrganizationWhereInput = {
        deletedAt: null,
        ...(onlyId !== undefined || ids ? { AND: [{ id: onlyId }, { id: ids && { in: ids } }] } : {}),
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
      const skip = afterId === undefined ? (page - 1) * limit : 0;
      const toResult = (found: OrganizationRecord[], total: number, totalExact: boolean) => {
        const rows = found.slice(0, limit);
        return { rows, total, totalExact, nextAfterId: found.length > limit ? (rows[rows.length - 1]?.id ?? null) : null };
      };
      // By id (the primary key), one row more than the page to know whether another follows.
      const walk = () =>
        db.organization.findMany({
          where: afterId === undefined ? where : { AND: [where, { id: { gt: afterId } }] },
          select,
          orderBy: { id: 'asc' },
          skip,
          take: limit + 1,
        });

      if (search && countLimit !== undefined) {
        // As the users list does: up to countLimit + 1 matches through the trigram indexes,
        // counted, and the page sorted out of them when they are all. Walking the primary key
        // for a rare term reads most of the table (seen: 30 ms for 11 of 50,000).
        const params: unknown[] = [`%${escapeLike(search)}%`, `%${escapeLike(search.toLowerCase())}%`, search, countLimit + 1];
        const p = (v: unknown) => `$${params.push(v)}`;
        const scope = onlyId === undefined ? '' : `AND id = ${p(onlyId)}`;
        const after = afterId === undefined ? '' : `AND m.id > ${p(afterId)}`;
        const found = await db.$queryRawUnsafe<(OrganizationRecord & { total: number })[]>(
          `WITH m AS MATERIALIZED (
                 SELECT id FROM organizations
                 WHERE deleted_at IS NULL ${scope} AND (name ILIKE $1 OR slug LIKE $2 OR external_id = $3) LIMIT $4),
                c AS (SELECT count(*)::int AS total FROM m),
                p AS (SELECT m.id FROM m, c WHERE c.total < $4 ${after} ORDER BY m.id LIMIT ${p(limit + 1)} OFFSET ${p(skip)})
           SELECT c.total, o.id, o.name, o.slug, o.external_id AS "externalId", o.subdomain, o.metadata,
                  o.created_at AS "createdAt", o.updated_at AS "updatedAt"
           FROM c LEFT JOIN (p JOIN organizations o ON o.id = p.id) ON true ORDER BY o.id`,
          ...params,
        );
        const total = found[0]?.total ?? 0;
        if (total <= countLimit)
          return toResult(
            found.filter((o) => o.id !== null).map(({ total: _t, ...o }) => o),
            total,
            true,
          );
        // A common term: the primary key meets its matches soon.
        return toResult(await walk(), countLimit, false);
      }

      // The count stops at countLimit + 1 rows.
      const [found, counted] = await Promise.all([
        walk(),
        db.organization.count({ where, ...(countLimit === undefined ? {} : { take: countLimit + 1 }) }),
      ]);
      const exact = countLimit === undefined || counted <= countLimit;
      return toResult(found, exact ? counted : countLimit, exact);
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
