import { Router } from 'express';
import { parse } from '../../lib/http';
import { assertOnePosition, decodeCursor, encodeCursor, isCursorTime, listFingerprint, sendListPage } from '../../lib/list-cursor';
import { byId, ok, type Operation } from '../../openapi/operation';
import { visibleIntegration as visible, type IntegrationService } from '../integrations';
import { PUSH_QUEUE_STATUSES, type CrmPushRepository, type PushQueueStatus } from './crm-push.repository';
import { pushQueueQuery, retryPushBody } from './crm-push.schemas';

export const crmPushOperations: Operation[] = [
  {
    method: 'get',
    path: '/integrations/:id/push-queue',
    tag: 'Push to CRMs',
    summary: "The integration's push queue: one row per user, parked ones with the CRM's reason",
    auth: 'apiKey',
    ...byId,
    query: pushQueueQuery,
    responses: ok(
      '{ data: [{ userId, status, attempts, lastAction, lastError, nextAttemptAt, updatedAt }], counts: { pending, sending, done, parked }, ' +
        'countsRelation: { <status>: "eq" | "gte" }, pagination: { page, limit, total, totalPages, totalRelation, nextCursor } }. ' +
        'Newest change first. Counts stop at LIST_EXACT_COUNT_LIMIT ("gte": at least that many); nextCursor is sent back as `cursor` for the next page.',
    ),
  },
  {
    method: 'post',
    path: '/integrations/:id/push-queue/retry',
    tag: 'Push to CRMs',
    summary: 'Send parked users again (all, or `userIds`), after fixing their data or the mapping',
    auth: 'apiKey',
    ...byId,
    body: retryPushBody,
    responses: ok('{ data: { requeued } }'),
  },
];

/** The push queue of an integration, as its organization sees it. */
export function crmPushRouter(
  queue: CrmPushRepository,
  integrations: IntegrationService,
  poke: () => void,
  lists: { exactCountLimit: number },
): Router {
  const router = Router();

  router.get('/integrations/:id/push-queue', async (req, res) => {
    const row = await visible(integrations, req.params, res);
    const q = parse(pushQueueQuery, req.query, 'query');
    assertOnePosition(q);
    // A cursor holds the last row's change time and user id, for this integration and status.
    const fingerprint = listFingerprint('push-queue', { integrationId: row.id, status: q.status });
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, fingerprint, isCursorTime);
    const cap = lists.exactCountLimit;
    const [found, counted] = await Promise.all([
      queue.list(
        row.id,
        { status: q.status },
        {
          before: after ? { updatedAt: new Date(after.value as string), userId: after.id } : undefined,
          skip: after ? 0 : ((q.page ?? 1) - 1) * q.limit,
          take: q.limit + 1,
        },
      ),
      queue.countsByStatus(row.id, cap + 1),
    ]);
    const shown: readonly PushQueueStatus[] = q.status ? [q.status] : PUSH_QUEUE_STATUSES;
    const counts = Object.fromEntries(PUSH_QUEUE_STATUSES.map((s) => [s, Math.min(counted[s], cap)]));
    const countsRelation = Object.fromEntries(PUSH_QUEUE_STATUSES.map((s) => [s, counted[s] > cap ? 'gte' : 'eq']));
    const rows = found.slice(0, q.limit);
    const last = rows[rows.length - 1];
    const page = {
      rows,
      total: shown.reduce((n: number, s) => n + counts[s], 0),
      totalExact: shown.every((s) => countsRelation[s] === 'eq'),
      nextCursor:
        found.length > q.limit && last ? encodeCursor(fingerprint, { value: last.updatedAt.toISOString(), id: last.userId }) : null,
    };
    sendListPage(res, page, q, { counts, countsRelation });
  });

  router.post('/integrations/:id/push-queue/retry', async (req, res) => {
    const row = await visible(integrations, req.params, res);
    const body = parse(retryPushBody, req.body ?? {}, 'body');
    const requeued = await queue.retryParked(row.id, body.userIds);
    if (requeued > 0) poke();
    res.json({ data: { requeued } });
  });

  return router;
}
