import type { Db } from '../../db/prisma';

/**
 * Pruning, one batch per call: each call is one statement (its own short transaction), takes
 * its oldest `limit` candidates through an index (see migration 20261123040100_retention) and
 * skips rows a worker holds, so it never waits on the hot paths. Returns the rows affected.
 */
export interface RetentionRepository {
  /** Processed or parked inbound events received before `before`: the payload becomes the pruned marker; the row and its dedupe key stay. */
  pruneInboundPayloads(before: Date, limit: number): Promise<number>;
  /** Deliveries that succeeded before `before` (their attempts cascade). */
  deleteDeliveredDeliveries(before: Date, limit: number): Promise<number>;
  /** Outbound events created before `before` with no delivery left. */
  deleteUndeliveredEvents(before: Date, limit: number): Promise<number>;
  /** Finished sync runs started before `before`, except each integration's newest of each operation (resume reads it). */
  deleteFinishedRuns(before: Date, limit: number): Promise<number>;
}

/** What an erasure changed (a type, not an interface: it is handed on as a plain record). */
export type ErasureCounts = {
  inboundEvents: number;
  outboundEvents: number;
  identities: number;
  activities: number;
};

/** Removes a user's personal data; call in the transaction that deletes the user. */
export interface ErasureRepository {
  /** Inbound payloads, identities' stored records, activities, and the row itself (outboundEvents: 0). */
  eraseUser(userId: number): Promise<ErasureCounts>;
  /** Outbound user.* events about the user: call after the last one (user.deleted) is written. */
  eraseOutboundEvents(userId: number): Promise<number>;
}

// The same predicate as inbound_events_prunable_idx, so the planner can read that index.
const PRUNE_INBOUND = `
  UPDATE inbound_events SET payload = jsonb_build_object('pruned', true, 'at', now())
  WHERE id IN (
    SELECT id FROM inbound_events
    WHERE status IN ('processed', 'failed') AND NOT (payload @> '{"pruned": true}'::jsonb) AND received_at < $1
    ORDER BY received_at LIMIT $2
    FOR UPDATE SKIP LOCKED)`;

const DELETE_DELIVERIES = `
  DELETE FROM webhook_deliveries
  WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE status = 'succeeded' AND delivered_at < $1
    ORDER BY delivered_at LIMIT $2
    FOR UPDATE SKIP LOCKED)`;

// Events still carrying a failed or skipped delivery stay (recovery may redeliver them).
const DELETE_EVENTS = `
  DELETE FROM webhook_events
  WHERE id IN (
    SELECT e.id FROM webhook_events e
    WHERE e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
    ORDER BY e.created_at LIMIT $2
    FOR UPDATE SKIP LOCKED)`;

// A pull resumes from its integration's newest pull run and a backfill from its newest
// backfill run (src/modules/sync/pull.repository.ts latestResumable): the newest run of
// each operation is kept, however old.
const DELETE_RUNS = `
  DELETE FROM sync_runs
  WHERE id IN (
    SELECT r.id FROM sync_runs r
    WHERE r.started_at < $1 AND r.finished_at IS NOT NULL AND r.status <> 'running'
      AND (r.integration_id IS NULL OR EXISTS (
        SELECT 1 FROM sync_runs n WHERE n.integration_id = r.integration_id AND n.operation = r.operation AND n.id > r.id))
    ORDER BY r.started_at LIMIT $2
    FOR UPDATE SKIP LOCKED)`;

export function createRetentionRepository(db: Db): RetentionRepository {
  return {
    pruneInboundPayloads: (before, limit) => db.$executeRawUnsafe(PRUNE_INBOUND, before, limit),
    deleteDeliveredDeliveries: (before, limit) => db.$executeRawUnsafe(DELETE_DELIVERIES, before, limit),
    deleteUndeliveredEvents: (before, limit) => db.$executeRawUnsafe(DELETE_EVENTS, before, limit),
    deleteFinishedRuns: (before, limit) => db.$executeRawUnsafe(DELETE_RUNS, before, limit),
  };
}

/**
 * Inbound payloads that name the user: its email anywhere in the text (case-insensitive, as
 * a whole address), or one of its CRM record ids (identities, and tombstones of records
 * deleted at the source) as a whole JSON value, string or number, in events of that CRM.
 * Only the user's organization is read (inbound_events_organization_id_received_at_idx),
 * and a plain substring test runs before the regular expression and the JSON path walk, so
 * most payloads cost one strpos. Events still pending are settled as `erased`: processing
 * them would write the person back.
 */
const ERASE_INBOUND = `
  WITH u AS (
    SELECT id, organization_id, lower(email) AS email,
           '(^|[^a-z0-9._%+-])' || regexp_replace(lower(email), '([^a-z0-9])', '\\\\\\1', 'g') || '($|[^a-z0-9._%+-])' AS email_re
    FROM users WHERE id = $1
  ), ids AS (
    SELECT provider, external_id FROM user_identities WHERE user_id = $1
    UNION
    SELECT t.provider, t.external_id FROM tombstones t JOIN u ON t.organization_id = u.organization_id WHERE t.user_id = $1
  ), refs AS (
    SELECT provider, external_id,
           jsonb_build_object('s', to_jsonb(external_id),
             -- A CRM that sends the id as a JSON number ("007" is not the number 7).
             'n', CASE WHEN external_id ~ '^-?(0|[1-9][0-9]{0,14})$' THEN to_jsonb(external_id::numeric) ELSE to_jsonb(external_id) END) AS vars
    FROM ids
  )
  UPDATE inbound_events e
  SET payload = jsonb_build_object('pruned', true, 'erased', true, 'at', now()),
      status = CASE WHEN e.status = 'pending' THEN 'processed' ELSE e.status END,
      outcome = CASE WHEN e.status = 'pending' THEN 'erased' ELSE e.outcome END,
      processed_at = COALESCE(e.processed_at, now())
  FROM u
  WHERE e.organization_id = u.organization_id
    AND NOT (e.payload @> '{"pruned": true}'::jsonb)
    AND (
      (u.email IS NOT NULL AND strpos(lower(e.payload::text), u.email) > 0 AND lower(e.payload::text) ~ u.email_re)
      OR EXISTS (
        SELECT 1 FROM refs
        WHERE refs.provider = e.provider AND strpos(e.payload::text, refs.external_id) > 0
          AND jsonb_path_exists(e.payload, 'strict $.** ? (@ == $s || @ == $n)', refs.vars)))`;

/** Outbound user.* events about the user (and so the bodies of their deliveries, built from them). */
const ERASE_OUTBOUND = `
  UPDATE webhook_events e
  SET data = jsonb_build_object('id', u.id, 'organizationId', u.organization_id, 'erased', true)
  FROM users u
  WHERE u.id = $1 AND e.organization_id = u.organization_id AND e.type LIKE 'user.%'
    AND e.data->>'id' = u.id::text AND NOT (e.data @> '{"erased": true}'::jsonb)`;

// The row stays (ids elsewhere point to it, and its identities keep a CRM record from coming
// back as a new person); what describes the person goes. name is NOT NULL: empty.
const BLANK_USER = `
  UPDATE users SET email = NULL, name = '', first_name = NULL, last_name = NULL, phone = NULL, title = NULL,
         department = NULL, avatar_url = NULL, updated_at = now()
  WHERE id = $1`;

export function createErasureRepository(db: Db): ErasureRepository {
  return {
    async eraseUser(userId) {
      // Inbound first: it matches on the email, which BLANK_USER removes. It also locks
      // inbound rows before the user's row, in the inbox worker's order (no deadlock).
      const inboundEvents = await db.$executeRawUnsafe(ERASE_INBOUND, userId);
      const identities = await db.$executeRawUnsafe(
        `UPDATE user_identities SET data = NULL, pushed_fields = NULL, updated_at = now() WHERE user_id = $1`,
        userId,
      );
      const activities = await db.$executeRawUnsafe(`DELETE FROM user_activities WHERE user_id = $1`, userId);
      await db.$executeRawUnsafe(BLANK_USER, userId);
      return { inboundEvents, outboundEvents: 0, identities, activities };
    },
    eraseOutboundEvents: (userId) => db.$executeRawUnsafe(ERASE_OUTBOUND, userId),
  };
}
