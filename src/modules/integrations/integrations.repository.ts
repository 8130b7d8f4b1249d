import type { Db, Prisma } from '../../db/prisma';

/** Seed 000's single-tenant organization: integrations from the environment live there. */
export const DEFAULT_ORGANIZATION_SLUG = 'default';

export const integrationSelect = {
  id: true,
  organizationId: true,
  templateId: true,
  provider: true,
  name: true,
  description: true,
  config: true,
  secrets: true,
  status: true,
  errorMessage: true,
  isActive: true,
  lastSyncAt: true,
  lastTestedAt: true,
  syncCursor: true,
  routingKey: true,
  createdAt: true,
  updatedAt: true,
} as const;

export type IntegrationRow = Prisma.IntegrationGetPayload<{ select: typeof integrationSelect }>;

export interface IntegrationFilter {
  organizationId?: number;
  status?: string;
  provider?: string;
  page: number;
  limit: number;
}

export interface IntegrationRepository {
  list(f: IntegrationFilter): Promise<{ rows: IntegrationRow[]; total: number }>;
  get(id: number): Promise<IntegrationRow | null>;
  /** The provider's integration in seed 000's default organization. */
  defaultOf(provider: string): Promise<IntegrationRow | null>;
  /** Live integrations whose CRM account id is `key` (at most one per provider: a unique index). */
  byRoutingKey(key: string, provider?: string): Promise<IntegrationRow[]>;
  create(data: Prisma.IntegrationUncheckedCreateInput): Promise<IntegrationRow>;
  update(id: number, data: Prisma.IntegrationUncheckedUpdateInput): Promise<IntegrationRow>;
  /**
   * Writes only if the row is still as read (its updatedAt), and moves updatedAt strictly
   * forward; null when another write came between (the caller reads again and merges again).
   */
  updateIf(id: number, readAt: Date, data: Prisma.IntegrationUncheckedUpdateInput): Promise<IntegrationRow | null>;
  /** Locks the row (FOR UPDATE) and reads its status; null when it is gone. */
  lockStatus(id: number): Promise<string | null>;
  delete(id: number): Promise<void>;
  /** Ids of active integrations, for schedules and "sync everything of this organization". */
  activeIds(organizationId?: number): Promise<number[]>;
  /** id and secrets of every integration, in id order from `afterId`, for key rotation. */
  secretsPage(afterId: number, take: number): Promise<{ id: number; secrets: Prisma.JsonValue }[]>;
  isSyncing(id: number): Promise<boolean>;
  /** Which uniqueness rule another integration already breaks for these values, if any. */
  findClash(u: {
    organizationId: number;
    provider: string;
    routingKey: string | null;
    exceptId?: number;
  }): Promise<'organization' | 'routingKey' | null>;
}

export function createIntegrationRepository(db: Db): IntegrationRepository {
  return {
    async list(f) {
      const where: Prisma.IntegrationWhereInput = {
        organization: { deletedAt: null },
        ...(f.organizationId !== undefined ? { organizationId: f.organizationId } : {}),
        ...(f.status ? { status: f.status } : {}),
        ...(f.provider ? { provider: f.provider } : {}),
      };
      const [rows, total] = await Promise.all([
        db.integration.findMany({ where, select: integrationSelect, orderBy: { id: 'asc' }, skip: (f.page - 1) * f.limit, take: f.limit }),
        db.integration.count({ where }),
      ]);
      return { rows, total };
    },
    get: (id) => db.integration.findFirst({ where: { id, organization: { deletedAt: null } }, select: integrationSelect }),
    defaultOf: (provider) =>
      db.integration.findFirst({
        where: { provider, organization: { slug: DEFAULT_ORGANIZATION_SLUG, deletedAt: null } },
        select: integrationSelect,
        orderBy: { id: 'asc' },
      }),
    byRoutingKey: (key, provider) =>
      db.integration.findMany({
        where: { routingKey: key, ...(provider !== undefined ? { provider } : {}), organization: { deletedAt: null } },
        select: integrationSelect,
        orderBy: { id: 'asc' },
        take: 10,
      }),
    create: (data) => db.integration.create({ data, select: integrationSelect }),
    update: (id, data) => db.integration.update({ where: { id }, data, select: integrationSelect }),
    async updateIf(id, readAt, data) {
      const updatedAt = new Date(Math.max(Date.now(), readAt.getTime() + 1));
      const { count } = await db.integration.updateMany({ where: { id, updatedAt: readAt }, data: { ...data, updatedAt } });
      return count ? db.integration.findFirst({ where: { id }, select: integrationSelect }) : null;
    },
    async lockStatus(id) {
      const [row] = await db.$queryRawUnsafe<{ status: string }[]>('SELECT status FROM integrations WHERE id = $1 FOR UPDATE', id);
      return row?.status ?? null;
    },
    async delete(id) {
      await db.integration.delete({ where: { id } });
    },
    async activeIds(organizationId) {
      const rows = await db.integration.findMany({
        where: {
          isActive: true,
          status: { in: ['active', 'pending', 'error'] },
          organization: { deletedAt: null },
          ...(organizationId !== undefined ? { organizationId } : {}),
        },
        select: { id: true },
        orderBy: { id: 'asc' },
      });
      return rows.map((r) => r.id);
    },
    secretsPage: (afterId, take) =>
      db.integration.findMany({ where: { id: { gt: afterId } }, select: { id: true, secrets: true }, orderBy: { id: 'asc' }, take }),
    async findClash({ organizationId, provider, routingKey, exceptId }) {
      const others = exceptId === undefined ? {} : { id: { not: exceptId } };
      if ((await db.integration.count({ where: { organizationId, provider, ...others } })) > 0) return 'organization';
      if (routingKey !== null && (await db.integration.count({ where: { provider, routingKey, ...others } })) > 0) return 'routingKey';
      return null;
    },
    async isSyncing(id) {
      return (await db.integration.count({ where: { id, syncLeaseUntil: { gt: new Date() } } })) > 0;
    },
  };
}
