import { Router } from 'express';
import { parse } from '../../lib/http';
import { byId, ok, type Operation } from '../../openapi/operation';
import { visibleIntegration as visible, type IntegrationService } from '../integrations';
import type { CrmPushRepository } from './crm-push.repository';
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
    responses: ok('{ data: [{ userId, status, attempts, lastAction, lastError, nextAttemptAt, updatedAt }], counts, pagination }'),
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
export function crmPushRouter(queue: CrmPushRepository, integrations: IntegrationService, poke: () => void): Router {
  const router = Router();

  router.get('/integrations/:id/push-queue', async (req, res) => {
    const row = await visible(integrations, req.params, res);
    const q = parse(pushQueueQuery, req.query, 'query');
    const [{ rows, total }, counts] = await Promise.all([queue.list(row.id, q), queue.countsByStatus(row.id)]);
    res.json({ data: rows, counts, pagination: { page: q.page, limit: q.limit, total, totalPages: Math.ceil(total / q.limit) } });
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
