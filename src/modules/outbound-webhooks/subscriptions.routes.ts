import { Router, type Response } from 'express';
import { AppError } from '../../lib/errors';
import { idParams, paginated, parse } from '../../lib/http';
import { cursorList, sendListPage } from '../../lib/list-cursor';
import { byId, created, list, noContent, ok, type Operation } from '../../openapi/operation';
import { assertCanSeeOrganization, principalOf, scopeOrganization, targetOrganization } from '../auth';
import {
  createSubscriptionBody,
  deliveryOutcomesQuery,
  deliveryParams,
  listDeliveriesQuery,
  listSubscriptionsQuery,
  recoverQuery,
  rotateSecretBody,
  updateSubscriptionBody,
} from './subscriptions.schemas';
import type { SubscriptionService } from './subscriptions.service';

export const subscriptionOperations: Operation[] = [
  {
    method: 'get',
    path: '/',
    tag: 'Outbound webhooks',
    summary:
      'List subscriptions, each with its newest delivery (lastDelivery: { id, status, lastStatusCode, createdAt, deliveredAt } or null)',
    auth: 'apiKey',
    query: listSubscriptionsQuery,
    responses: list('Subscription'),
  },
  {
    method: 'post',
    path: '/',
    tag: 'Outbound webhooks',
    summary: 'Subscribe; the answer holds the whsec_ secret, the only time it is shown',
    auth: 'apiKey',
    body: createSubscriptionBody,
    responses: created('{ data: Subscription & { secret } }'),
  },
  {
    method: 'get',
    path: '/:id',
    tag: 'Outbound webhooks',
    summary: 'One subscription',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Subscription }'),
  },
  {
    method: 'patch',
    path: '/:id',
    tag: 'Outbound webhooks',
    summary: 'Change a subscription; isActive: true re-enables it',
    auth: 'apiKey',
    ...byId,
    body: updateSubscriptionBody,
    responses: ok('{ data: Subscription }'),
  },
  { method: 'delete', path: '/:id', tag: 'Outbound webhooks', summary: 'Delete', auth: 'apiKey', ...byId, responses: noContent },
  {
    method: 'post',
    path: '/:id/rotate-secret',
    tag: 'Outbound webhooks',
    summary: 'A new secret; the old one signs beside it for the grace period',
    auth: 'apiKey',
    ...byId,
    body: rotateSecretBody,
    responses: ok('{ data: Subscription & { secret } }'),
  },
  {
    method: 'post',
    path: '/:id/recover',
    tag: 'Outbound webhooks',
    summary: 'Re-enable and redeliver what failed or was skipped since a time',
    auth: 'apiKey',
    ...byId,
    query: recoverQuery,
    responses: ok('{ data: { requeued, subscription } }'),
  },
  {
    method: 'get',
    path: '/:id/deliveries',
    tag: 'Outbound webhooks',
    summary: 'Deliveries with their attempt log',
    auth: 'apiKey',
    ...byId,
    query: listDeliveriesQuery,
    responses: cursorList('Delivery'),
  },
  {
    method: 'get',
    path: '/:id/deliveries/outcomes',
    tag: 'Outbound webhooks',
    summary: 'Deliveries per hour or day (UTC) since a time, counted by status: a chart of outcomes',
    auth: 'apiKey',
    ...byId,
    query: deliveryOutcomesQuery,
    responses: ok('{ data: { bucket, since, points: [{ at, succeeded, failed, pending, sending, skipped }] } }'),
  },
  {
    method: 'post',
    path: '/:id/deliveries/:deliveryId/retry',
    tag: 'Outbound webhooks',
    summary: 'A new round of attempts for a finished delivery',
    auth: 'apiKey',
    params: deliveryParams,
    responses: { 202: '{ success, message }' },
  },
];

/** Seed 003's webhook management, under /api/webhook-subscriptions. */
export function subscriptionsRouter(service: SubscriptionService): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parse(listSubscriptionsQuery, req.query, 'query');
    const organizationId = scopeOrganization(principalOf(res), q.organizationId);
    const { rows, total } = await service.list({ ...q, organizationId });
    paginated(res, rows, q.page, q.limit, total);
  });

  router.post('/', async (req, res) => {
    const { organizationId: requested, ...input } = parse(createSubscriptionBody, req.body, 'body');
    const organizationId = targetOrganization(principalOf(res), requested);
    res.status(201).json({ data: await service.create(organizationId, input) });
  });

  router.get('/:id', async (req, res) => {
    res.json({ data: service.view(await visible(service, req.params, res)) });
  });

  router.patch('/:id', async (req, res) => {
    const row = await visible(service, req.params, res);
    res.json({ data: await service.update(row, parse(updateSubscriptionBody, req.body, 'body')) });
  });

  router.delete('/:id', async (req, res) => {
    const row = await visible(service, req.params, res);
    await service.remove(row.id);
    res.status(204).end();
  });

  router.post('/:id/rotate-secret', async (req, res) => {
    const row = await visible(service, req.params, res);
    const body = parse(rotateSecretBody, req.body ?? {}, 'body');
    res.json({ data: await service.rotateSecret(row, body.graceHours) });
  });

  router.post('/:id/recover', async (req, res) => {
    const row = await visible(service, req.params, res);
    const { since } = parse(recoverQuery, req.query, 'query');
    res.json({ data: await service.recover(row, new Date(since)) });
  });

  router.get('/:id/deliveries', async (req, res) => {
    const row = await visible(service, req.params, res);
    const { page, cursor, limit, ...q } = parse(listDeliveriesQuery, req.query, 'query');
    const at = { page, cursor, limit };
    sendListPage(res, await service.deliveries({ ...q, subscriptionId: row.id }, at), at);
  });

  router.get('/:id/deliveries/outcomes', async (req, res) => {
    const row = await visible(service, req.params, res);
    const q = parse(deliveryOutcomesQuery, req.query, 'query');
    res.json({ data: await service.deliveryOutcomes(row, q.bucket, q.since ? new Date(q.since) : undefined) });
  });

  router.post('/:id/deliveries/:deliveryId/retry', async (req, res) => {
    const { id, deliveryId } = parse(deliveryParams, req.params, 'params');
    const row = await visible(service, { id }, res);
    await service.retryDelivery(row, deliveryId);
    res.status(202).json({ success: true, message: `Delivery ${deliveryId} queued for another attempt` });
  });

  return router;
}

/** Another organization's subscription answers 404, like a missing one. */
async function visible(service: SubscriptionService, params: unknown, res: Response) {
  const { id } = parse(idParams, params, 'params');
  const row = await service.getRow(id);
  assertCanSeeOrganization(principalOf(res), row.organizationId, AppError.notFound('Webhook subscription', id));
  return row;
}
