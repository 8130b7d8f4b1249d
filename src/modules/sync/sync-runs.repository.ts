import type { Db, Prisma } from '../../db/prisma';

export interface SyncRunWhere {
  organizationId?: number;
  integrationId?: number;
  status?: string;
  trigger?: string;
  operation?: string;
  /** The mode a run was asked for (a first incremental run reads everything, as a full one). */
  requestedMode?: string;
}

/**
 * Every filter field becomes a condition here, for the list and the newest run alike: an
 * implementation that took the filter apart could drop one silently (one did drop the
 * organization, and so showed a tenant another's run).
 */
function whereOf(f: SyncRunWhere): Prisma.SyncRunWhereInput {
  const where: Required<{ [K in keyof SyncRunWhere]: Prisma.SyncRunWhereInput }> = {
    organizationId: f.organizationId !== undefined ? { organizationId: f.organizationId } : {},
    integrationId: f.integrationId !== undefined ? { integrationId: f.integrationId } : {},
    status: f.status ? { status: f.status } : {},
    trigger: f.trigger ? { trigger: f.trigger } : {},
    operation: f.operation ? { operation: f.operation } : {},
    requestedMode: f.requestedMode ? { details: { path: ['requestedMode'], equals: f.requestedMode } } : {},
  };
  return Object.assign({}, ...Object.values(where)) as Prisma.SyncRunWhereInput;
}

export interface SyncRunRepository {
  /** Matching runs newest first (without their checkpoints), below an id when given (a cursor's). */
  find(f: SyncRunWhere, at: { below?: number; skip: number; take: number }): Promise<({ id: number } & Record<string, unknown>)[]>;
  /** How many runs match, counting no further than `take`. */
  count(f: SyncRunWhere, take: number): Promise<number>;
  get(id: number): Promise<({ organizationId: number | null } & Record<string, unknown>) | null>;
  /** The newest run matching every field given. */
  newest(f: SyncRunWhere & { trigger: string }): Promise<{
    id: number;
    status: string;
    operation: string;
    startedAt: Date;
    finishedAt: Date | null;
  } | null>;
}

export function createSyncRunRepository(db: Db): SyncRunRepository {
  return {
    find: (f, at) =>
      db.syncRun.findMany({
        where: at.below === undefined ? whereOf(f) : { AND: [whereOf(f), { id: { lt: at.below } }] },
        orderBy: { id: 'desc' },
        skip: at.skip,
        take: at.take,
        omit: { checkpoint: true },
      }),
    count: (f, take) => db.syncRun.count({ where: whereOf(f), take }),
    get: (id) => db.syncRun.findUnique({ where: { id } }),
    newest: (f) =>
      db.syncRun.findFirst({
        where: whereOf(f),
        orderBy: { id: 'desc' },
        select: { id: true, status: true, operation: true, startedAt: true, finishedAt: true },
      }),
  };
}
