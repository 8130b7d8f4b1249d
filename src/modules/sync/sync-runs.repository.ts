import type { Db, Prisma } from '../../db/prisma';

export interface SyncRunFilter {
  organizationId?: number;
  integrationId?: number;
  status?: string;
  trigger?: string;
  operation?: string;
  page: number;
  limit: number;
}

export interface SyncRunRepository {
  list(f: SyncRunFilter): Promise<{ rows: unknown[]; total: number }>;
  get(id: number): Promise<({ organizationId: number | null } & Record<string, unknown>) | null>;
  lastByTrigger(
    trigger: string,
    operation: string,
    organizationId?: number,
  ): Promise<{ id: number; status: string; startedAt: Date; finishedAt: Date | null } | null>;
}

export function createSyncRunRepository(db: Db): SyncRunRepository {
  return {
    async list(f) {
      const where: Prisma.SyncRunWhereInput = {
        ...(f.organizationId !== undefined ? { organizationId: f.organizationId } : {}),
        ...(f.integrationId !== undefined ? { integrationId: f.integrationId } : {}),
        ...(f.status ? { status: f.status } : {}),
        ...(f.trigger ? { trigger: f.trigger } : {}),
        ...(f.operation ? { operation: f.operation } : {}),
      };
      const [rows, total] = await Promise.all([
        db.syncRun.findMany({ where, orderBy: { id: 'desc' }, skip: (f.page - 1) * f.limit, take: f.limit, omit: { checkpoint: true } }),
        db.syncRun.count({ where }),
      ]);
      return { rows, total };
    },
    get: (id) => db.syncRun.findUnique({ where: { id } }),
    lastByTrigger: (trigger) =>
      db.syncRun.findFirst({
        where: { trigger },
        orderBy: { id: 'desc' },
        select: { id: true, status: true, startedAt: true, finishedAt: true },
      }),
  };
}
