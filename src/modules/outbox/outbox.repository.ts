import type { Db } from '../../db/prisma';
import type { OutboundEventType, UserEventType } from './event-payloads';

/**
 * The transactional outbox. Each call is one statement in the caller's transaction: the
 * event row and one delivery per subscription that asked for it are written with the change,
 * or not at all. An organization with no subscription for the type gets no row, so bulk
 * writes of organizations nobody listens to cost one index probe.
 */
export interface EventRecorder {
  /**
   * One event per user, carrying the user as it is now (after the change), and the users
   * queued for every integration that pushes them. `origin`: the provider the change came
   * from (a pull or a webhook of that CRM), which is not pushed back to it.
   */
  users(organizationId: number, type: UserEventType, userIds: Iterable<number>, origin?: string | null): Promise<number>;
  record(organizationId: number, type: OutboundEventType, data: Record<string, unknown>): Promise<number>;
}

// Deliveries to a disabled subscription are written as `skipped`: recovery redelivers them.
const FAN_OUT = `
  INSERT INTO webhook_deliveries (event_id, subscription_id, status, next_attempt_at)
  SELECT ev.id, subs.id, CASE WHEN subs.is_active THEN 'pending' ELSE 'skipped' END,
         CASE WHEN subs.is_active THEN now() END
  FROM ev CROSS JOIN subs`;

const SUBSCRIBERS = `subs AS (SELECT id, is_active FROM webhook_subscriptions WHERE organization_id = $1 AND $2 = ANY(events))`;

const USER_JSON = `jsonb_build_object(
  'id', u.id, 'organizationId', u.organization_id, 'email', u.email, 'name', u.name,
  'firstName', u.first_name, 'lastName', u.last_name, 'phone', u.phone, 'title', u.title,
  'department', u.department, 'isActive', u.is_active, 'isAdmin', u.is_admin, 'source', u.source,
  'createdAt', u.created_at, 'updatedAt', u.updated_at, 'deletedAt', u.deleted_at)`;

const USER_EVENTS = `
  WITH ${SUBSCRIBERS}, ev AS (
    INSERT INTO webhook_events (id, organization_id, type, data)
    SELECT gen_random_uuid(), $1, $2, ${USER_JSON}
    FROM users u
    WHERE u.id IN (SELECT jsonb_array_elements_text($3::jsonb)::int) AND u.organization_id = $1
      AND EXISTS (SELECT 1 FROM subs)
    ORDER BY u.id
    RETURNING id
  )
  ${FAN_OUT}`;

const ONE_EVENT = `
  WITH ${SUBSCRIBERS}, ev AS (
    INSERT INTO webhook_events (id, organization_id, type, data)
    SELECT gen_random_uuid(), $1, $2, $3::jsonb
    WHERE EXISTS (SELECT 1 FROM subs)
    RETURNING id
  )
  ${FAN_OUT}`;

/**
 * The push queue (src/modules/crm-push) is fed here, in the change's transaction, as
 * deliveries are: one row per pushing integration and user. A user already queued gets a new
 * version (the worker sends the latest state, so a burst of changes is one call and they
 * arrive in order); one being sent stays claimed and is sent again after. A row waiting out a
 * CRM outage keeps its backoff; a done or parked one is due now. An organization without a
 * pushing integration costs one index probe.
 */
const ENQUEUE_PUSHES = `
  INSERT INTO crm_push_queue AS q (integration_id, organization_id, user_id)
  SELECT i.id, $1, u.id
  FROM integrations i CROSS JOIN (SELECT DISTINCT jsonb_array_elements_text($2::jsonb)::int AS id) u
  WHERE i.organization_id = $1 AND i.is_active AND i.config->>'direction' IN ('push', 'both')
    AND i.provider IS DISTINCT FROM $3
  ORDER BY i.id, u.id
  ON CONFLICT (integration_id, user_id) DO UPDATE SET
    version = q.version + 1,
    status = CASE WHEN q.status = 'sending' THEN 'sending' ELSE 'pending' END,
    attempts = CASE WHEN q.status IN ('done', 'parked') THEN 0 ELSE q.attempts END,
    next_attempt_at = CASE WHEN q.status IN ('done', 'parked') THEN now() ELSE q.next_attempt_at END,
    last_error = CASE WHEN q.status = 'parked' THEN NULL ELSE q.last_error END,
    updated_at = now()`;

export function eventRecorder(db: Db): EventRecorder {
  return {
    async users(organizationId, type, userIds, origin = null) {
      const ids = JSON.stringify([...userIds]);
      if (ids === '[]') return 0;
      await db.$executeRawUnsafe(ENQUEUE_PUSHES, organizationId, ids, origin);
      return db.$executeRawUnsafe(USER_EVENTS, organizationId, type, ids);
    },
    record: (organizationId, type, data) => db.$executeRawUnsafe(ONE_EVENT, organizationId, type, JSON.stringify(data)),
  };
}
