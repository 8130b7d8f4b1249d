import type { Db, Prisma } from '../../db/prisma';
import type { SyncRunEventData } from '../outbox';
import { createPeopleRepository, seenKey } from '../people';

/** Where a pull run stands; stored on the run after every page so another run can resume. */
export interface Checkpoint {
  /** Index into the connector's streams. */
  stream: number;
  /** The connector's cursor for the next page of that stream (null: its first page). */
  cursor: string | null;
  /** Incremental runs: the updated_since they read from (ISO). */
  updatedSince: string | null;
  /** The newest source updated_at seen so far (ISO): the next cursor. */
  maxUpdatedAt: string | null;
  /** When the run (or the run it resumes) started (ISO): the next deleted_since. */
  startedAt: string;
  /**
   * Full runs: the pass marked on every identity read (user_identities.seen_pass), the id of
   * the run that started it; a resumed run continues it, so reconciliation still sees every page.
   */
  pass?: number;
}

/** A record of a CRM, as identities key it. */
export interface RecordKey {
  provider: string;
  externalId: string;
}

/**
 * Marks the identities of a page's records ($3, $4: providers and external ids) as read by
 * the full pass $2. Rows already marked (those the page's own upsert wrote) are not written
 * again. The organization's row lock comes first, as in every people write (MATCH, REMOVE), so
 * this never takes identity locks in another order than a concurrent webhook's: the EXISTS is
 * uncorrelated, so PostgreSQL runs it once before reading any row (a one-time filter).
 */
const MARK_SEEN = `
  UPDATE user_identities ui SET seen_pass = $2
  FROM unnest($3::text[], $4::text[]) AS k(provider, external_id)
  WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE)
    AND ui.organization_id = $1 AND ui.provider = k.provider AND ui.external_id = k.external_id
    AND ui.seen_pass IS DISTINCT FROM $2`;

/**
 * The people of the CRM's providers ($2) held on live users, as HELD counts them
 * (src/modules/people), and how many of them the pass $3 did not see.
 */
const COUNT_UNSEEN = `
  SELECT count(*)::int AS held, count(*) FILTER (WHERE ui.seen_pass IS DISTINCT FROM $3)::int AS unseen
  FROM user_identities ui JOIN users u ON u.id = ui.user_id AND u.deleted_at IS NULL
  WHERE ui.organization_id = $1 AND ui.provider = ANY($2::text[])`;

/**
 * One window of the walk over the identities of provider $2: the next $4 in key order (after
 * the external id $5, when given), along the unique (organization_id, provider, external_id)
 * index; the last key of the window, and those of it on live users the pass $3 did not see.
 * A fixed window, not "the next N unseen": with few unseen the planner reads every row after
 * the cursor for each chunk (seen: a bitmap scan and a sort), while windows read each row once.
 */
const unseenWindow = (after: boolean) => `
  WITH win AS MATERIALIZED (
    SELECT ui.external_id, ui.user_id, ui.seen_pass FROM user_identities ui
    WHERE ui.organization_id = $1 AND ui.provider = $2${after ? ' AND ui.external_id > $5' : ''}
    ORDER BY ui.external_id
    LIMIT $4)
  SELECT (SELECT max(external_id) FROM win) AS last,
    COALESCE((SELECT jsonb_agg(w.external_id ORDER BY w.external_id) FROM win w
              JOIN users u ON u.id = w.user_id AND u.deleted_at IS NULL
              WHERE w.seen_pass IS DISTINCT FROM $3), '[]'::jsonb) AS unseen`;

/** Another instance took this run's lease (it judged this process dead): stop, write nothing more. */
export class LeaseLostError extends Error {
  constructor(integrationId: number) {
    super(`lost the sync lease of integration ${integrationId} to another instance`);
    this.name = 'LeaseLostError';
  }
}

export interface PageCounts {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

export interface RunStart {
  organizationId: number;
  integrationId: number;
  /** full, incremental (pulls), push (a push backfill, src/modules/crm-push). */
  operation: 'full' | 'incremental' | 'push';
  trigger: string;
  source: string;
  checkpoint: Checkpoint | Record<string, unknown>;
  details: Record<string, unknown>;
}

export interface RunRow {
  id: number;
  operation: string;
  status: string;
  checkpoint: Prisma.JsonValue;
  startedAt: Date;
}

/** The set-based statements of a pull, and the run/lease bookkeeping around them. */
export interface PullRepository {
  /** Takes (or renews) the integration's lease; false when another holder's lease is live. */
  acquireLease(integrationId: number, owner: string, seconds: number): Promise<boolean>;
  releaseLease(integrationId: number, owner: string): Promise<void>;
  /** Runs left `running` by a process that is gone: marks them abandoned. */
  abandonStaleRuns(integrationId: number): Promise<void>;
  /** The integration's last run of `operations` (pulls by default), when it can be resumed. */
  latestResumable(integrationId: number, operations?: readonly string[]): Promise<RunRow | null>;
  createRun(start: RunStart): Promise<number>;
  /**
   * Records a page's progress and renews the lease, in one statement: false (nothing written)
   * when another holder took the lease. Call in the page's transaction.
   */
  recordPage(args: {
    runId: number;
    integrationId: number;
    leaseOwner: string;
    leaseSeconds: number;
    checkpoint: Checkpoint | Record<string, unknown>;
    totalPages: number | null;
    /** Records read: applied and failed. */
    applied: number;
    failures: { externalId: string; reason: string }[];
    counts: PageCounts;
  }): Promise<boolean>;
  /** Marks `records` as read by the full pass `pass`. Call in the page's transaction. */
  markSeen(organizationId: number, pass: number, records: RecordKey[]): Promise<void>;
  /** How many of the CRM's people we hold, and how many of them the pass did not see. */
  countUnseen(organizationId: number, providers: readonly string[], pass: number): Promise<{ held: number; unseen: number }>;
  /**
   * The next `size` identities of `provider` after the external id `after` (null: from the
   * first), in key order: the last one's id (null: none left) and those the pass did not see.
   */
  unseenWindow(
    organizationId: number,
    provider: string,
    pass: number,
    after: string | null,
    size: number,
  ): Promise<{ last: string | null; unseen: string[] }>;
  /** How many of the CRM's people we hold, and how many of them are among `ids`. */
  countHeld(
    organizationId: number,
    providers: readonly string[],
    ids: { provider: string; externalId: string }[],
  ): Promise<{ held: number; among: number }>;
  /** Ends the run; returns it as the sync events carry it (null when it is gone). */
  finishRun(
    runId: number,
    data: { status: string; deleted: number; error: string | null; details: Record<string, unknown> },
  ): Promise<RunEventRow | null>;
  runCounts(
    runId: number,
  ): Promise<{ total: number; created: number; updated: number; unchanged: number; failed: number; deleted: number; pages: number }>;
  /** Refreshes planner statistics of the tables a bulk load grew. */
  analyze(): Promise<void>;
}

/** A finished run, as sync.completed and sync.failed describe it. */
export type RunEventRow = Omit<SyncRunEventData, 'startedAt' | 'finishedAt'> & { startedAt: Date; finishedAt: Date };

export function createPullRepository(db: Db): PullRepository {
  const people = createPeopleRepository(db);
  return {
    async acquireLease(integrationId, owner, seconds) {
      const rows = await db.$queryRawUnsafe<unknown[]>(
        `UPDATE integrations SET sync_lease_owner = $2, sync_lease_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND (sync_lease_until IS NULL OR sync_lease_until < now() OR sync_lease_owner = $2)
         RETURNING id`,
        integrationId,
        owner,
        seconds,
      );
      return rows.length === 1;
    },
    async releaseLease(integrationId, owner) {
      await db.$executeRawUnsafe(
        'UPDATE integrations SET sync_lease_owner = NULL, sync_lease_until = NULL WHERE id = $1 AND sync_lease_owner = $2',
        integrationId,
        owner,
      );
    },
    async abandonStaleRuns(integrationId) {
      // Called while holding the lease: any run still marked running has lost its process.
      await db.$executeRawUnsafe(
        `UPDATE sync_runs SET status = 'abandoned', finished_at = now(),
                error = COALESCE(error, 'abandoned: the process running it stopped without finishing')
         WHERE integration_id = $1 AND status = 'running'`,
        integrationId,
      );
    },
    async latestResumable(integrationId, operations = ['full', 'incremental']) {
      const last = await db.syncRun.findFirst({
        // A pull resumes pulls, a push backfill pushes: each keeps its own checkpoints.
        where: { integrationId, operation: { in: [...operations] } },
        orderBy: { id: 'desc' },
        select: { id: true, operation: true, status: true, checkpoint: true, startedAt: true, details: true },
      });
      if (!last?.checkpoint) return null;
      // A run stopped at the CRM's API budget ends partial but is resumed like an interrupted one.
      const budgetStop = last.status === 'partial' && (last.details as { stopped?: string } | null)?.stopped === 'api_budget';
      return ['abandoned', 'interrupted', 'failed'].includes(last.status) || budgetStop ? last : null;
    },
    async createRun(start) {
      const run = await db.syncRun.create({
        data: {
          organizationId: start.organizationId,
          integrationId: start.integrationId,
          operation: start.operation,
          trigger: start.trigger,
          source: start.source,
          status: 'running',
          checkpoint: start.checkpoint as unknown as Prisma.InputJsonValue,
          details: start.details as Prisma.InputJsonValue,
          heartbeatAt: new Date(),
        },
        select: { id: true },
      });
      return run.id;
    },
    async recordPage(a) {
      // Progress and the lease renewal in one statement: a live run keeps its lease; if the
      // lease was taken, nothing is updated.
      const renewed = await db.$executeRawUnsafe(
        `WITH lease AS (
           UPDATE integrations SET sync_lease_until = now() + make_interval(secs => $13)
           WHERE id = $11 AND sync_lease_owner = $12 RETURNING id)
         UPDATE sync_runs SET pages = pages + 1, total = total + $2, successful = successful + $3, failed = failed + $4,
           created = created + $5, updated = updated + $6, unchanged = unchanged + $7,
           checkpoint = $8::jsonb, total_pages = COALESCE($9, total_pages), heartbeat_at = now(),
           -- The first 100 failures, with their reasons: the discrepancy report.
           details = CASE WHEN jsonb_array_length($10::jsonb) = 0
                            OR jsonb_array_length(COALESCE(details->'failures', '[]'::jsonb)) >= 100 THEN details
                          ELSE jsonb_set(details, '{failures}', (COALESCE(details->'failures', '[]'::jsonb) || $10::jsonb)) END
         WHERE id = $1 AND EXISTS (SELECT 1 FROM lease)`,
        a.runId,
        a.applied + a.failures.length,
        a.applied,
        a.failures.length,
        a.counts.created,
        a.counts.updated,
        a.counts.unchanged,
        JSON.stringify(a.checkpoint),
        a.totalPages,
        JSON.stringify(a.failures),
        a.integrationId,
        a.leaseOwner,
        a.leaseSeconds,
      );
      return renewed === 1;
    },
    async markSeen(organizationId, pass, records) {
      if (records.length === 0) return;
      await db.$executeRawUnsafe(
        MARK_SEEN,
        organizationId,
        pass,
        records.map((r) => r.provider),
        records.map((r) => r.externalId),
      );
    },
    async countUnseen(organizationId, providers, pass) {
      const [row] = await db.$queryRawUnsafe<{ held: number; unseen: number }[]>(COUNT_UNSEEN, organizationId, [...providers], pass);
      return row;
    },
    async unseenWindow(organizationId, provider, pass, after, size) {
      const params = [organizationId, provider, pass, size, ...(after === null ? [] : [after])];
      const [row] = await db.$queryRawUnsafe<{ last: string | null; unseen: string[] }[]>(unseenWindow(after !== null), ...params);
      return row;
    },
    async countHeld(organizationId, providers, ids) {
      const keys = ids.map((i) => seenKey(i.provider, i.externalId));
      return people.held(organizationId, providers, keys);
    },
    async finishRun(runId, data) {
      const [run] = await db.$queryRawUnsafe<RunEventRow[]>(
        `UPDATE sync_runs SET status = $2, deleted = $3, error = $4, finished_at = now(), heartbeat_at = now(),
           details = details || $5::jsonb
         WHERE id = $1
         RETURNING id AS "syncRunId", organization_id AS "organizationId", integration_id AS "integrationId", operation,
           trigger, source, status, total, created, updated, unchanged, deleted, failed, error, started_at AS "startedAt",
           finished_at AS "finishedAt"`,
        runId,
        data.status,
        data.deleted,
        data.error,
        JSON.stringify(data.details),
      );
      return run ?? null;
    },
    async runCounts(runId) {
      const r = await db.syncRun.findUniqueOrThrow({
        where: { id: runId },
        select: { total: true, created: true, updated: true, unchanged: true, failed: true, deleted: true, pages: true },
      });
      return r;
    },
    async analyze() {
      await db.$executeRawUnsafe('ANALYZE users, user_identities');
    },
  };
}
