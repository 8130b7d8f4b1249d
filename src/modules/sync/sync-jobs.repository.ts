import type { Db } from '../../db/prisma';
import type { PullMode } from './pull.service';

/** A scheduled sync claimed by a worker. */
export interface ClaimedSyncJob {
  id: string;
  integrationId: number;
  organizationId: number;
  mode: PullMode;
  scheduledFor: Date;
  attempts: number;
}

export interface SyncJobQueue {
  mode: string;
  status: 'pending' | 'running';
  count: number;
  /** The earliest not_before among them. */
  next: Date | null;
}

/**
 * One job per active integration for the tick at $2 (the cron slot, so every instance firing
 * the same tick names the same time and the unique key dedupes them). An integration whose
 * job of this mode is still pending gets none: that job has not started yet, so it reads
 * everything a second one would; the queue never holds more than one waiting job per
 * integration and mode, however long the workers were away.
 */
const ENQUEUE = `
  WITH active AS (
    SELECT i.id, i.organization_id FROM integrations i JOIN organizations o ON o.id = i.organization_id
    WHERE i.is_active AND i.status IN ('active', 'pending', 'error') AND o.deleted_at IS NULL
      AND i.config->>'direction' IS DISTINCT FROM 'push'
  ), inserted AS (
    INSERT INTO sync_jobs (integration_id, organization_id, mode, trigger, scheduled_for, not_before)
    SELECT a.id, a.organization_id, $1, 'cron', $2::timestamptz, $2::timestamptz + random() * make_interval(secs => $3)
    FROM active a
    WHERE NOT EXISTS (SELECT 1 FROM sync_jobs p WHERE p.integration_id = a.id AND p.mode = $1 AND p.status = 'pending')
    ORDER BY a.id
    ON CONFLICT (integration_id, mode, scheduled_for) DO NOTHING
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM active)::int AS active, (SELECT count(*) FROM inserted)::int AS enqueued`;

/** Jobs whose workers died $1 times: not claimed again. */
const GIVE_UP = `
  UPDATE sync_jobs SET status = 'failed', finished_at = now(), locked_until = NULL,
    reason = 'abandoned: its worker stopped ' || attempts || ' times without finishing it'
  WHERE id IN (
    SELECT id FROM sync_jobs
    WHERE status = 'running' AND locked_until < now() AND attempts >= $1
    FOR UPDATE SKIP LOCKED
  )`;

const DUE = `
  ((j.status = 'pending' AND j.not_before <= now()) OR (j.status = 'running' AND j.locked_until < now() AND j.attempts < $4))`;

/**
 * Up to $2 due jobs for worker $1, round-robin across organizations: a job's turn is its rank
 * among its organization's due jobs plus the jobs that organization has running or finished
 * lately (on any instance), so one organization with many integrations takes one slot in
 * turn with the others. A job whose integration has another job running waits for it (a
 * nightly full and an incremental of the same slot run one after the other, not one refused).
 * A job running on a worker that stopped renewing its lock is taken again.
 */
const CLAIM = `
  WITH load AS (
    SELECT organization_id, count(*) AS n FROM sync_jobs
    WHERE status = 'running' OR finished_at > now() - interval '15 minutes'
    GROUP BY organization_id
  ), due AS (
    SELECT j.id, j.not_before,
           row_number() OVER (PARTITION BY j.organization_id ORDER BY j.not_before, j.id) + COALESCE(l.n, 0) AS turn
    FROM sync_jobs j LEFT JOIN load l ON l.organization_id = j.organization_id
    WHERE ${DUE}
  ), picked AS (
    SELECT j.id FROM sync_jobs j JOIN due d ON d.id = j.id
    WHERE ${DUE}
      AND NOT EXISTS (
        SELECT 1 FROM sync_jobs r
        WHERE r.integration_id = j.integration_id AND r.id <> j.id AND r.status = 'running' AND r.locked_until >= now()
      )
    ORDER BY d.turn, d.not_before, j.id
    LIMIT $2
    FOR UPDATE OF j SKIP LOCKED
  )
  UPDATE sync_jobs j
  SET status = 'running', claimed_by = $1, attempts = j.attempts + 1, started_at = now(), run_id = NULL,
      locked_until = now() + make_interval(secs => $3)
  FROM picked WHERE j.id = picked.id
  RETURNING j.id::text AS id, j.integration_id AS "integrationId", j.organization_id AS "organizationId", j.mode,
            j.scheduled_for AS "scheduledFor", j.attempts`;

const RENEW = `
  UPDATE sync_jobs SET locked_until = now() + make_interval(secs => $3)
  WHERE claimed_by = $1 AND status = 'running' AND id IN (SELECT jsonb_array_elements_text($2::jsonb)::bigint)`;

/** Only while this worker still holds the job: one that took it over owns its ending. */
const FINISH = `
  UPDATE sync_jobs SET status = $3, run_id = COALESCE($4, run_id), reason = $5, finished_at = now(), locked_until = NULL
  WHERE id = $1::bigint AND claimed_by = $2 AND status = 'running'`;

const ATTACH_RUN = `UPDATE sync_jobs SET run_id = $3 WHERE id = $1::bigint AND claimed_by = $2 AND status = 'running'`;

/** Back to the queue, due at once (this instance is stopping): another instance resumes the run. */
const RELEASE = `
  UPDATE sync_jobs SET status = 'pending', not_before = now(), claimed_by = NULL, locked_until = NULL, reason = $3,
    attempts = GREATEST(attempts - 1, 0)
  WHERE id = $1::bigint AND claimed_by = $2 AND status = 'running'`;

const queueOf = (scope: string) => `
  SELECT mode, status, count(*)::int AS count, min(not_before) AS next FROM sync_jobs
  WHERE status IN ('pending', 'running') ${scope}
  GROUP BY mode, status ORDER BY mode, status`;
const QUEUE_ALL = queueOf('');
const QUEUE_OF_ORGANIZATION = queueOf('AND organization_id = $1');

const PRUNE = `
  DELETE FROM sync_jobs WHERE id IN (
    SELECT id FROM sync_jobs WHERE finished_at < now() - make_interval(secs => $1) ORDER BY finished_at LIMIT $2
  )`;

/**
 * A run stopped at the CRM's daily quota is resumed at $4: its integration's waiting job of
 * that mode (if any) is brought forward to then, otherwise one is queued (trigger 'budget').
 */
const RESUME_LATER = `
  WITH moved AS (
    UPDATE sync_jobs SET not_before = LEAST(not_before, $4::timestamptz)
    WHERE integration_id = $1 AND mode = $3 AND status = 'pending'
    RETURNING 1
  )
  INSERT INTO sync_jobs (integration_id, organization_id, mode, trigger, scheduled_for, not_before)
  SELECT $1, $2, $3, 'budget', $4::timestamptz, $4::timestamptz WHERE NOT EXISTS (SELECT 1 FROM moved)
  ON CONFLICT (integration_id, mode, scheduled_for) DO NOTHING`;

export interface SyncJobRepository {
  /** Jobs for the tick of `mode` at `scheduledFor`, each not before it plus up to `jitterSeconds`. */
  enqueue(mode: PullMode, scheduledFor: Date, jitterSeconds: number): Promise<{ active: number; enqueued: number }>;
  claim(worker: string, limit: number, lockSeconds: number, maxAttempts: number): Promise<ClaimedSyncJob[]>;
  renew(worker: string, ids: string[], lockSeconds: number): Promise<void>;
  attachRun(id: string, worker: string, runId: number): Promise<void>;
  finish(id: string, worker: string, end: { status: 'done' | 'failed'; runId: number | null; reason: string | null }): Promise<void>;
  release(id: string, worker: string, reason: string): Promise<void>;
  /** Waiting and running jobs by mode (of one organization, if given). */
  queue(organizationId?: number): Promise<SyncJobQueue[]>;
  /** Deletes up to `limit` jobs finished more than `olderThanSeconds` ago; returns how many. */
  prune(olderThanSeconds: number, limit: number): Promise<number>;
  /** The integration's `mode` sync is due again at `at` (after a stop at the CRM's quota). */
  resumeLater(job: { integrationId: number; organizationId: number; mode: PullMode; at: Date }): Promise<void>;
}

export function createSyncJobRepository(db: Db): SyncJobRepository {
  return {
    async enqueue(mode, scheduledFor, jitterSeconds) {
      const [row] = await db.$queryRawUnsafe<{ active: number; enqueued: number }[]>(ENQUEUE, mode, scheduledFor, jitterSeconds);
      return row;
    },
    async claim(worker, limit, lockSeconds, maxAttempts) {
      await db.$executeRawUnsafe(GIVE_UP, maxAttempts);
      return db.$queryRawUnsafe<ClaimedSyncJob[]>(CLAIM, worker, limit, lockSeconds, maxAttempts);
    },
    async renew(worker, ids, lockSeconds) {
      if (ids.length > 0) await db.$executeRawUnsafe(RENEW, worker, JSON.stringify(ids), lockSeconds);
    },
    async attachRun(id, worker, runId) {
      await db.$executeRawUnsafe(ATTACH_RUN, id, worker, runId);
    },
    async finish(id, worker, end) {
      await db.$executeRawUnsafe(FINISH, id, worker, end.status, end.runId, end.reason);
    },
    async release(id, worker, reason) {
      await db.$executeRawUnsafe(RELEASE, id, worker, reason);
    },
    queue: (organizationId) =>
      organizationId === undefined
        ? db.$queryRawUnsafe<SyncJobQueue[]>(QUEUE_ALL)
        : db.$queryRawUnsafe<SyncJobQueue[]>(QUEUE_OF_ORGANIZATION, organizationId),
    prune: (olderThanSeconds, limit) => db.$executeRawUnsafe(PRUNE, olderThanSeconds, limit),
    async resumeLater(job) {
      await db.$executeRawUnsafe(RESUME_LATER, job.integrationId, job.organizationId, job.mode, job.at);
    },
  };
}
