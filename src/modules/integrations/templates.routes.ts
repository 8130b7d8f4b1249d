import { Router } from 'express';
import { idParams, parse } from '../../lib/http';
import { byId, created, noContent, ok, type Operation } from '../../openapi/operation';
import { principalOf, requireAdminPrincipal } from '../auth';
import { secretFields } from './config-schema';
import { createTemplateBody, updateTemplateBody } from './templates.schemas';
import type { TemplateService } from './templates.service';

export const templateOperations: Operation[] = [
  {
    method: 'get',
    path: '/',
    tag: 'Integrations',
    summary: 'List templates, each with how it connects (connect: { modes, oauthReady, secretFields })',
    auth: 'apiKey',
    responses: ok('{ data: [Template & { integrationCount, connect: { modes, oauthReady, secretFields } }] }'),
  },
  {
    method: 'get',
    path: '/:id',
    tag: 'Integrations',
    summary: 'One template, with how it connects',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Template & { connect: { modes, oauthReady, secretFields } } }'),
  },
  {
    method: 'post',
    path: '/',
    tag: 'Integrations',
    summary: 'Create a template',
    auth: 'admin',
    body: createTemplateBody,
    responses: created('{ data: Template }'),
  },
  {
    method: 'patch',
    path: '/:id',
    tag: 'Integrations',
    summary: 'Change a template',
    auth: 'admin',
    ...byId,
    body: updateTemplateBody,
    responses: ok('{ data: Template }'),
  },
  {
    method: 'delete',
    path: '/:id',
    tag: 'Integrations',
    summary: 'Delete a template no integration uses',
    auth: 'admin',
    ...byId,
    responses: noContent,
  },
];

/**
 * How an integration of a template is connected: by a pasted key (the config form), by OAuth,
 * or both; `oauthReady` says whether the operator configured the OAuth app, so a console
 * offers the button only when the flow can start.
 */
export interface ConnectWays {
  modes: readonly ('api_key' | 'oauth2')[];
  oauthReady: boolean;
  /** The service keeps the CRM's webhook channel open (Zoho): GET /api/integrations/:id/webhook-channel tells its state. */
  keepsWebhookChannel?: boolean;
}

/** /api/integration-templates (seed 002): any key reads, admins write. */
export function templatesRouter(
  service: TemplateService,
  connectWays: (name: string) => ConnectWays = () => ({ modes: ['api_key'], oauthReady: false }),
): Router {
  const router = Router();
  // secretFields: the top-level fields the service seals (by schema mark or by name), so a
  // form shows them as password fields by the service's own rule rather than a copy of it.
  const withConnect = <T extends { name: string; configSchema: unknown }>(t: T) => ({
    ...t,
    connect: { ...connectWays(t.name), secretFields: secretFields((t.configSchema ?? {}) as Record<string, unknown>) },
  });

  router.get('/', async (_req, res) => {
    const p = principalOf(res);
    // An organization key sees how many of its own integrations use each template.
    res.json({ data: (await service.list(p.kind === 'organization' ? p.organizationId : undefined)).map(withConnect) });
  });

  router.get('/:id', async (req, res) => {
    res.json({ data: withConnect(await service.get(parse(idParams, req.params, 'params').id)) });
  });

  router.post('/', async (req, res) => {
    requireAdminPrincipal(principalOf(res));
    res.status(201).json({ data: await service.create(parse(createTemplateBody, req.body, 'body')) });
  });

  router.patch('/:id', async (req, res) => {
    requireAdminPrincipal(principalOf(res));
    const { id } = parse(idParams, req.params, 'params');
    res.json({ data: await service.update(id, parse(updateTemplateBody, req.body, 'body')) });
  });

  router.delete('/:id', async (req, res) => {
    requireAdminPrincipal(principalOf(res));
    await service.remove(parse(idParams, req.params, 'params').id);
    res.status(204).end();
  });

  return router;
}
