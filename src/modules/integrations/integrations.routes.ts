import { Router, type Response } from 'express';
import { AppError } from '../../lib/errors';
import { idParams, paginated, parse } from '../../lib/http';
import { byId, created, list, noContent, ok, type Operation } from '../../openapi/operation';
import { assertCanSeeOrganization, principalOf, requireAdminPrincipal, scopeOrganization, targetOrganization } from '../auth';
import { createIntegrationBody, listIntegrationsQuery, updateIntegrationBody } from './integrations.schemas';
import type { IntegrationService } from './integrations.service';

export const integrationOperations: Operation[] = [
  {
    method: 'get',
    path: '/',
    tag: 'Integrations',
    summary: 'List integrations',
    auth: 'apiKey',
    query: listIntegrationsQuery,
    responses: list('Integration'),
  },
  {
    method: 'post',
    path: '/',
    tag: 'Integrations',
    summary: "Create an integration; config is checked against the template's JSON Schema",
    auth: 'apiKey',
    body: createIntegrationBody,
    responses: created('{ data: Integration } (secrets masked)'),
  },
  {
    method: 'post',
    path: '/re-encrypt',
    tag: 'Integrations',
    summary: 'Re-seal every secret not under the current key',
    auth: 'admin',
    responses: ok('{ data: { integrations, secrets } }'),
  },
  {
    method: 'get',
    path: '/:id',
    tag: 'Integrations',
    summary: 'One integration',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Integration }'),
  },
  {
    method: 'patch',
    path: '/:id',
    tag: 'Integrations',
    summary: 'Change an integration; config is merged (null removes a field)',
    auth: 'apiKey',
    ...byId,
    body: updateIntegrationBody,
    responses: ok('{ data: Integration }'),
  },
  { method: 'delete', path: '/:id', tag: 'Integrations', summary: 'Delete an integration', auth: 'apiKey', ...byId, responses: noContent },
  {
    method: 'post',
    path: '/:id/test',
    tag: 'Integrations',
    summary: 'One real call to the CRM; the status follows',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ success, message, data }'),
  },
  {
    method: 'get',
    path: '/:id/webhook-channel',
    tag: 'Integrations',
    summary:
      'The webhook channel the service keeps open at the CRM (Zoho): expiry, next renewal, last failure; data null (with a message) when it keeps none for this integration',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: { channelId, notifyUrl, expiresAt, keptAt, nextAttemptAt, failures, lastError } | null, message? }'),
  },
  {
    method: 'post',
    path: '/:id/disconnect',
    tag: 'Integrations',
    summary: 'active → disconnected',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Integration }'),
  },
  {
    method: 'post',
    path: '/:id/reconnect',
    tag: 'Integrations',
    summary: 'disconnected → active, after a passing test',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ success, message, data }'),
  },
];

/** The state of an integration's kept webhook channel (inbound webhooks own it; wired in app.ts). */
export type WebhookChannelLookup = (integrationId: number) => Promise<Record<string, unknown> | null>;

export function integrationsRouter(service: IntegrationService, webhookChannel?: WebhookChannelLookup): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parse(listIntegrationsQuery, req.query, 'query');
    const organizationId = scopeOrganization(principalOf(res), q.organizationId);
    const { rows, total } = await service.list({ ...q, organizationId });
    paginated(res, rows, q.page, q.limit, total);
  });

  router.post('/', async (req, res) => {
    const { organizationId: requested, ...input } = parse(createIntegrationBody, req.body, 'body');
    const organizationId = targetOrganization(principalOf(res), requested);
    res.status(201).json({ data: await service.create(organizationId, input) });
  });

  // Before /:id so "re-encrypt" is not read as an id.
  router.post('/re-encrypt', async (_req, res) => {
    requireAdminPrincipal(principalOf(res));
    res.json({ data: await service.reEncrypt() });
  });

  router.get('/:id', async (req, res) => {
    res.json({ data: service.view(await visible(service, req.params, res)) });
  });

  router.get('/:id/webhook-channel', async (req, res) => {
    const row = await visible(service, req.params, res);
    // None is an answer about an integration that exists, not a missing resource: 200 with null.
    const channel = (await webhookChannel?.(row.id)) ?? null;
    res.json(
      channel
        ? { data: channel }
        : {
            data: null,
            message: `The service keeps no webhook channel for integration ${row.id}: its CRM needs none, PUBLIC_BASE_URL is unset, or it has not been active since`,
          },
    );
  });

  router.patch('/:id', async (req, res) => {
    const row = await visible(service, req.params, res);
    res.json({ data: await service.update(row.id, parse(updateIntegrationBody, req.body, 'body')) });
  });

  router.delete('/:id', async (req, res) => {
    const row = await visible(service, req.params, res);
    await service.remove(row.id);
    res.status(204).end();
  });

  router.post('/:id/test', async (req, res) => {
    const row = await visible(service, req.params, res);
    res.json(await service.test(row.id));
  });

  router.post('/:id/disconnect', async (req, res) => {
    const row = await visible(service, req.params, res);
    res.json({ data: await service.disconnect(row.id) });
  });

  router.post('/:id/reconnect', async (req, res) => {
    const row = await visible(service, req.params, res);
    res.json(await service.reconnect(row.id));
  });

  return router;
}

/** Another organization's integration answers 404, like a missing one. */
export async function visible(service: IntegrationService, params: unknown, res: Response) {
  const { id } = parse(idParams, params, 'params');
  const row = await service.getRow(id);
  assertCanSeeOrganization(principalOf(res), row.organizationId, AppError.notFound('Integration', id));
  return row;
}
