import type { Db } from '../../db/prisma';

/** A queue row claimed for sending. */
export interface ClaimedPush {
  id: string;
  userId: number;
  version: number;
  attempts: number;
}

/** A user as a push reads it, with what we hold of its record at the integration's CRM. */
export interface PushUser {
  id: number;
  email: string | null;
  name: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  title: string | null;
  department: string | null;
  isActive: boolean;
  deletedAt: Date | null;
  /** The user's organization's name (seed 003's `company`). */
  company: string;
  /** The CRM's id of the record linked to this user, and what we last pushed to it. */
  externalId: string | null;
  pushedHash: string | null;
}

/** How a claimed row ends: done (with what was done), parked (failed alone), or back to pending at `retryAt`. */
export type PushOutcome =
  | { id: string; status: 'done'; action: string }
  | { id: string; status: 'parked'; error: string }
  | { id: string; status: 'retry'; error: string; retryAt: Date };

/** What was pushed to one record, stored on the user's identity. */
export interface PushedLink {
  userId: number;
  externalId: string;
  /** The id we sent to, when the CRM gave the record another (it was gone there and created again). */
  previousExternalId: string | null;
  hash: string;
  fields: Record<string, unknown>;
}

/** Where a queue row is: waiting, being sent, sent, or refused alone by the CRM. */
export const PUSH_QUEUE_STATUSES = ['pending', 'sending', 'done', 'parked'] as const;
export type PushQueueStatus = (typeof PUSH_QUEUE_STATUSES)[number];

const QUEUE_ROW = `user_id AS "userId", status, attempts, last_action AS "lastAction", last_error AS "lastError",
  next_attempt_at AS "nextAttemptAt", updated_at AS "updatedAt"`;

export interface QueueRow {
  userId: number;
  status: string;
  attempts: number;
  lastAction: string | null;
  lastError: string | null;
  nextAttemptAt: Date;
  updatedAt: Date;
}

const DUE = `
  (q.status = 'pending' AND q.next_attempt_at <= now()) OR (q.status = 'sending' AND q.locked_until < now())`;

/**
 * Integrations with rows due, those waiting longest first; only active ones that still push.
 * Only the oldest due rows are looked at: a large backlog of one integration costs a bounded
 * scan, and the others still come up as their rows age.
 */
const DUE_INTEGRATIONS = `
  SELECT d.integration_id AS id
  FROM (
    SELECT q.integration_id, q.next_attempt_at
    FROM crm_push_queue q JOIN integrations i ON i.id = q.integration_id
    WHERE (${DUE}) AND i.status = 'active' AND i.is_active AND i.config->>'direction' IN ('push', 'both')
    ORDER BY q.next_attempt_at
    LIMIT 2000
  ) d
  GROUP BY d.integration_id
  ORDER BY min(d.next_attempt_at)
  LIMIT $1`;

/** Marks the rows picked by `pick` as being sent. A claim left by a dead worker is taken again after its deadline. */
const claimOf = (pick: string) => `
  UPDATE crm_push_queue q
  SET status = 'sending', sent_version = q.version, attempts = q.attempts + 1,
      locked_until = now() + make_interval(secs => $3), updated_at = now()
  FROM (${pick} ORDER BY q.id LIMIT $2 FOR UPDATE SKIP LOCKED) c
  WHERE q.id = c.id
  RETURNING q.id::text AS id, q.user_id AS "userId", q.version, q.attempts`;

/** Up to $2 due rows of integration $1, oldest first (crm_push_queue_open_idx). */
const CLAIM_DUE = claimOf(`
  SELECT q.id FROM crm_push_queue q
  WHERE q.integration_id = $1 AND q.status IN ('pending', 'sending') AND (${DUE})`);

/** The open rows of users $4 (a backfill's page), due or not. */
const CLAIM_USERS = claimOf(`
  SELECT q.id FROM crm_push_queue q
  WHERE q.integration_id = $1 AND q.user_id IN (SELECT jsonb_array_elements_text($4::jsonb)::int)
    AND (q.status = 'pending' OR (q.status = 'sending' AND q.locked_until < now()))`);

const LOAD_USERS = `
  SELECT u.id, u.email, u.name, u.first_name AS "firstName", u.last_name AS "lastName", u.phone, u.title,
         u.department, u.is_active AS "isActive", u.deleted_at AS "deletedAt", o.name AS company,
         ui.external_id AS "externalId", ui.pushed_hash AS "pushedHash"
  FROM jsonb_array_elements_text($1::jsonb) AS i(v)
  JOIN users u ON u.id = i.v::int
  JOIN organizations o ON o.id = u.organization_id
  LEFT JOIN LATERAL (
    SELECT x.external_id, x.pushed_hash FROM user_identities x
    -- By user_id alone (its index): naming the organization too lets the planner pick the
    -- (organization, provider, external id) index and read every record of the CRM per user.
    WHERE x.user_id = u.id AND x.provider = $2
    ORDER BY x.pushed_at DESC NULLS LAST, x.external_id COLLATE "C"
    LIMIT 1
  ) ui ON true`;

/**
 * Ends claimed rows. A row whose user changed while it was being sent (its version moved on)
 * is due again at once, whatever this send did.
 */
const FINISH = `
  UPDATE crm_push_queue q SET
    status = CASE WHEN d.status = 'retry' OR q.version <> q.sent_version THEN 'pending' ELSE d.status END,
    next_attempt_at = CASE WHEN d.status = 'retry' THEN d.retry_at WHEN q.version <> q.sent_version THEN now() ELSE q.next_attempt_at END,
    attempts = CASE WHEN d.status = 'done' THEN 0 ELSE q.attempts END,
    last_action = COALESCE(d.action, q.last_action),
    last_error = d.error,
    locked_until = NULL,
    done_at = CASE WHEN d.status = 'done' THEN now() ELSE q.done_at END,
    updated_at = now()
  FROM jsonb_to_recordset($1::jsonb) AS d(id bigint, status text, action text, error text, retry_at timestamptz)
  WHERE q.id = d.id AND q.status = 'sending'`;

/** Links users to the records we pushed, with what we pushed; a link of another user is left alone. */
const LINK = `
  INSERT INTO user_identities AS ui (organization_id, user_id, provider, external_id, pushed_hash, pushed_fields, pushed_at)
  SELECT $1, (d->>'userId')::int, $2, d->>'externalId', d->>'hash', d->'fields', now()
  FROM jsonb_array_elements($3::jsonb) AS i(d)
  ORDER BY d->>'externalId'
  ON CONFLICT (organization_id, provider, external_id) DO UPDATE
    SET pushed_hash = EXCLUDED.pushed_hash, pushed_fields = EXCLUDED.pushed_fields, pushed_at = now(), updated_at = now()
    WHERE ui.user_id = EXCLUDED.user_id`;

/** Records that are gone at the CRM: their links go, and a tombstone keeps an old event of them stale. */
const UNLINK = `
  WITH gone AS (
    DELETE FROM user_identities ui USING jsonb_array_elements($3::jsonb) AS i(d)
    WHERE ui.organization_id = $1 AND ui.provider = $2 AND ui.external_id = d->>'externalId' AND ui.user_id = (d->>'userId')::int
    RETURNING ui.external_id, ui.user_id
  )
  INSERT INTO tombstones AS t (organization_id, provider, external_id, deleted_at, user_id)
  SELECT $1, $2, external_id, now(), user_id FROM gone
  ON CONFLICT (organization_id, provider, external_id) DO UPDATE SET deleted_at = GREATEST(t.deleted_at, EXCLUDED.deleted_at)`;

/** A backfill's page: live users of the organization after $2, queued for integration $4 like any change. */
const ENQUEUE_PAGE = `
  WITH page AS (
    SELECT id FROM users WHERE organization_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT $3
  ), queued AS (
    INSERT INTO crm_push_queue AS q (integration_id, organization_id, user_id)
    SELECT $4, $1, id FROM page
    ORDER BY id
    ON CONFLICT (integration_id, user_id) DO UPDATE SET
      version = q.version + 1,
      status = CASE WHEN q.status = 'sending' THEN 'sending' ELSE 'pending' END,
      attempts = CASE WHEN q.status IN ('done', 'parked') THEN 0 ELSE q.attempts END,
      last_error = CASE WHEN q.status = 'parked' THEN NULL ELSE q.last_error END,
      updated_at = now()
  )
  SELECT COALESCE(jsonb_agg(id ORDER BY id), '[]'::jsonb) AS ids FROM page`;

export interface CrmPushRepository {
  dueIntegrations(limit: number): Promise<number[]>;
  claim(integrationId: number, limit: number, lockSeconds: number, userIds?: number[]): Promise<ClaimedPush[]>;
  users(ids: number[], identityProvider: string): Promise<PushUser[]>;
  /** Call in one transaction with `link`/`unlink`: a row is done only with what it wrote. */
  finish(outcomes: PushOutcome[]): Promise<void>;
  link(organizationId: number, identityProvider: string, links: PushedLink[]): Promise<void>;
  unlink(organizationId: number, identityProvider: string, gone: { userId: number; externalId: string }[]): Promise<void>;
  enqueuePage(organizationId: number, integrationId: number, afterUserId: number, limit: number): Promise<number[]>;
  countUsersAfter(organizationId: number, afterUserId: number): Promise<number>;
  /**
   * The queue of one integration by last change, newest first (user id breaking ties), of one
   * status or all: `take` rows after skipping `skip`, or below `before` (a cursor's position).
   */
  list(
    integrationId: number,
    f: { status?: PushQueueStatus },
    at: { before?: { updatedAt: Date; userId: number }; skip: number; take: number },
  ): Promise<QueueRow[]>;
  /** Rows per status, each counted no further than `take`. */
  countsByStatus(integrationId: number, take: number): Promise<Record<PushQueueStatus, number>>;
  /** The parked rows among these users, with why (a backfill page's failures). */
  parkedAmong(integrationId: number, userIds: number[]): Promise<{ userId: number; lastError: string | null }[]>;
  /** Parked rows (all, or of some users) due again now; returns how many. */
  retryParked(integrationId: number, userIds?: number[]): Promise<number>;
  pendingCount(): Promise<number>;
}

export function createCrmPushRepository(db: Db): CrmPushRepository {
  return {
    async dueIntegrations(limit) {
      const rows = await db.$queryRawUnsafe<{ id: number }[]>(DUE_INTEGRATIONS, limit);
      return rows.map((r) => r.id);
    },
    claim: (integrationId, limit, lockSeconds, userIds) =>
      userIds
        ? db.$queryRawUnsafe<ClaimedPush[]>(CLAIM_USERS, integrationId, limit, lockSeconds, JSON.stringify(userIds))
        : db.$queryRawUnsafe<ClaimedPush[]>(CLAIM_DUE, integrationId, limit, lockSeconds),
    users: (ids, identityProvider) => db.$queryRawUnsafe<PushUser[]>(LOAD_USERS, JSON.stringify(ids), identityProvider),
    async finish(outcomes) {
      if (outcomes.length === 0) return;
      const rows = outcomes.map((o) => ({
        id: o.id,
        status: o.status,
        action: o.status === 'done' ? o.action : null,
        error: o.status === 'done' ? null : o.error.slice(0, 1000),
        retry_at: o.status === 'retry' ? o.retryAt.toISOString() : null,
      }));
      await db.$executeRawUnsafe(FINISH, JSON.stringify(rows));
    },
    async link(organizationId, identityProvider, links) {
      if (links.length === 0) return;
      const moved = links.filter((l) => l.previousExternalId !== null && l.previousExternalId !== l.externalId);
      if (moved.length) {
        await this.unlink(
          organizationId,
          identityProvider,
          moved.map((l) => ({ userId: l.userId, externalId: l.previousExternalId as string })),
        );
      }
      await db.$executeRawUnsafe(LINK, organizationId, identityProvider, JSON.stringify(links));
    },
    async unlink(organizationId, identityProvider, gone) {
      if (gone.length === 0) return;
      await db.$executeRawUnsafe(UNLINK, organizationId, identityProvider, JSON.stringify(gone));
    },
    async enqueuePage(organizationId, integrationId, afterUserId, limit) {
      const [row] = await db.$queryRawUnsafe<{ ids: number[] }[]>(ENQUEUE_PAGE, organizationId, afterUserId, limit, integrationId);
      return row?.ids ?? [];
    },
    async countUsersAfter(organizationId, afterUserId) {
      return db.user.count({ where: { organizationId, deletedAt: null, id: { gt: afterUserId } } });
    },
    async list(integrationId, f, at) {
      // Only the known statuses reach the statement (they are written into it).
      const statuses = PUSH_QUEUE_STATUSES.filter((s) => f.status === undefined || s === f.status);
      const before = at.before ? `AND (updated_at, user_id) < ($5::timestamptz, $6::int)` : '';
      // One ordered read of crm_push_queue_list_idx per status, merged: the index leads with
      // the status, so the rows of all statuses in order of change are a merge of four ranges.
      const branches = statuses.map(
        (status) => `(SELECT ${QUEUE_ROW} FROM crm_push_queue
           WHERE integration_id = $1 AND status = '${status}' ${before}
           ORDER BY updated_at DESC, user_id DESC LIMIT $2)`,
      );
      return db.$queryRawUnsafe<QueueRow[]>(
        `SELECT * FROM (${branches.join(' UNION ALL ')}) q ORDER BY "updatedAt" DESC, "userId" DESC OFFSET $3 LIMIT $4`,
        integrationId,
        at.skip + at.take,
        at.skip,
        at.take,
        ...(at.before ? [at.before.updatedAt, at.before.userId] : []),
      );
    },
    async countsByStatus(integrationId, take) {
      // Each status counted through the index, stopping at `take`: a million done rows cost
      // what `take` of them do.
      const [row] = await db.$queryRawUnsafe<Record<PushQueueStatus, number>[]>(
        `SELECT ${PUSH_QUEUE_STATUSES.map(
          (status) =>
            `(SELECT count(*) FROM (SELECT 1 FROM crm_push_queue WHERE integration_id = $1 AND status = '${status}' LIMIT $2) c)::int AS ${status}`,
        ).join(', ')}`,
        integrationId,
        take,
      );
      return row;
    },
    parkedAmong: (integrationId, userIds) =>
      db.crmPushQueue.findMany({
        where: { integrationId, status: 'parked', userId: { in: userIds } },
        select: { userId: true, lastError: true },
        orderBy: { userId: 'asc' },
      }),
    async retryParked(integrationId, userIds) {
      const r = await db.crmPushQueue.updateMany({
        where: { integrationId, status: 'parked', ...(userIds ? { userId: { in: userIds } } : {}) },
        data: { status: 'pending', attempts: 0, nextAttemptAt: new Date(), lastError: null },
      });
      return r.count;
    },
    pendingCount: () => db.crmPushQueue.count({ where: { status: { in: ['pending', 'sending'] } } }),
  };
}
