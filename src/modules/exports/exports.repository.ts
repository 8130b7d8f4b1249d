import type { Db, Prisma } from '../../db/prisma';
import { createPullRepository } from '../sync';

/** The user fields an export writes. */
export const exportUserSelect = {
  id: true,
  email: true,
  name: true,
  firstName: true,
  lastName: true,
  phone: true,
  title: true,
  department: true,
  isActive: true,
  isAdmin: true,
  source: true,
  createdAt: true,
  updatedAt: true,
} as const;

export type ExportUser = Prisma.UserGetPayload<{ select: typeof exportUserSelect }>;

export interface ExportRunStart {
  organizationId: number;
  integrationId: number;
  trigger: string;
  source: string;
  details: Record<string, unknown>;
}

/** Reads of users and the bookkeeping of export runs (sync_runs, operation `export`). */
export interface ExportRepository {
  organization(id: number): Promise<{ id: number; slug: string; name: string } | null>;
  /** Users not deleted, for the progress estimate. */
  countUsers(organizationId: number): Promise<number>;
  /** The next page of users not deleted, in id order after `afterId` (keyset paging). */
  usersPage(organizationId: number, afterId: number, take: number): Promise<ExportUser[]>;
  /**
   * The integration's lease (the columns a pull holds too): one run of either kind at a time,
   * across instances, and the integration cannot be deleted meanwhile. False: another holds it.
   */
  acquireLease(integrationId: number, owner: string, seconds: number): Promise<boolean>;
  /** False when the lease is no longer this owner's. */
  renewLease(integrationId: number, owner: string, seconds: number): Promise<boolean>;
  releaseLease(integrationId: number, owner: string): Promise<void>;
  /** Export runs still marked running while we hold the lease: their process is gone. */
  abandonStaleRuns(integrationId: number): Promise<void>;
  /** Whether an export of the integration scheduled for this minute (details.scheduledFor, ISO) was started. */
  scheduledRunExists(integrationId: number, scheduledFor: string): Promise<boolean>;
  createRun(start: ExportRunStart): Promise<number>;
  /** Rows written so far, and the run is alive. */
  heartbeat(runId: number, rows: number): Promise<void>;
  finishRun(runId: number, data: { status: string; total: number; error: string | null; details: Record<string, unknown> }): Promise<void>;
  /** Live integrations of these providers and their config's exportSchedule, when set. */
  schedules(providers: readonly string[]): Promise<{ integrationId: number; schedule: string }[]>;
}

export function createExportRepository(db: Db): ExportRepository {
  const leases = createPullRepository(db);
  return {
    organization: (id) => db.organization.findFirst({ where: { id, deletedAt: null }, select: { id: true, slug: true, name: true } }),
    countUsers: (organizationId) => db.user.count({ where: { organizationId, deletedAt: null } }),
    usersPage: (organizationId, afterId, take) =>
      db.user.findMany({
        where: { organizationId, deletedAt: null, id: { gt: afterId } },
        orderBy: { id: 'asc' },
        take,
        select: exportUserSelect,
      }),
    // The integration's sync lease, as pulls take it: one export or pull of it at a time.
    acquireLease: (integrationId, owner, seconds) => leases.acquireLease(integrationId, owner, seconds),
    async renewLease(integrationId, owner, seconds) {
      const rows = await db.$queryRawUnsafe<unknown[]>(
        `UPDATE integrations SET sync_lease_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND sync_lease_owner = $2 RETURNING id`,
        integrationId,
        owner,
        seconds,
      );
      return rows.length === 1;
    },
    releaseLease: (integrationId, owner) => leases.releaseLease(integrationId, owner),
    async abandonStaleRuns(integrationId) {
      await db.syncRun.updateMany({
        where: { integrationId, operation: 'export', status: 'running' },
        data: { status: 'abandoned', finishedAt: new Date(), error: 'abandoned: the process running it stopped without finishing' },
      });
    },
    async scheduledRunExists(integrationId, scheduledFor) {
      const where = { integrationId, operation: 'export', trigger: 'cron', details: { path: ['scheduledFor'], equals: scheduledFor } };
      return (await db.syncRun.count({ where })) > 0;
    },
    async createRun(start) {
      const run = await db.syncRun.create({
        data: {
          organizationId: start.organizationId,
          integrationId: start.integrationId,
          operation: 'export',
          trigger: start.trigger,
          source: start.source,
          status: 'running',
          details: start.details as Prisma.InputJsonValue,
          heartbeatAt: new Date(),
        },
        select: { id: true },
      });
      return run.id;
    },
    async heartbeat(runId, rows) {
      await db.syncRun.update({ where: { id: runId }, data: { total: rows, heartbeatAt: new Date() } });
    },
    async finishRun(runId, data) {
      const ok = data.status === 'succeeded';
      await db.syncRun.update({
        where: { id: runId },
        data: {
          status: data.status,
          total: data.total,
          successful: ok ? data.total : 0,
          error: data.error,
          details: data.details as Prisma.InputJsonValue,
          finishedAt: new Date(),
          heartbeatAt: new Date(),
        },
      });
    },
    async schedules(providers) {
      const rows = await db.integration.findMany({
        where: { provider: { in: [...providers] }, isActive: true, status: { not: 'disconnected' }, organization: { deletedAt: null } },
        select: { id: true, config: true },
        orderBy: { id: 'asc' },
      });
      return rows.flatMap((r) => {
        const schedule = (r.config as { exportSchedule?: unknown } | null)?.exportSchedule;
        return typeof schedule === 'string' && schedule.trim() ? [{ integrationId: r.id, schedule: schedule.trim() }] : [];
      });
    },
  };
}
