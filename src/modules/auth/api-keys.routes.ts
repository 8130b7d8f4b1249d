import { Router } from 'express';
import { idParams, parse } from '../../lib/http';
import { byId, created, noContent, ok, type Operation } from '../../openapi/operation';
import type { ApiKeyService } from './api-keys.service';
import { createApiKeyBody, listApiKeysQuery } from './api-keys.schemas';
import { principalOf, requireAdminPrincipal } from './principal';

export const apiKeyOperations: Operation[] = [
  {
    method: 'post',
    path: '/',
    tag: 'API keys',
    summary: 'Create a key; the answer holds it, the only time it is shown',
    auth: 'admin',
    body: createApiKeyBody,
    responses: created('{ data: ApiKey & { key } }'),
  },
  {
    method: 'get',
    path: '/',
    tag: 'API keys',
    summary: 'List keys (never the keys themselves)',
    auth: 'admin',
    query: listApiKeysQuery,
    responses: ok('{ data: [ApiKey] }'),
  },
  { method: 'delete', path: '/:id', tag: 'API keys', summary: 'Revoke a key', auth: 'admin', ...byId, responses: noContent },
];

/** Admin-only management of API keys. The clear-text key appears once, in the 201. */
export function apiKeysRouter(service: ApiKeyService): Router {
  const router = Router();
  router.use((_req, res, next) => {
    requireAdminPrincipal(principalOf(res));
    next();
  });

  router.post('/', async (req, res) => {
    const body = parse(createApiKeyBody, req.body, 'body');
    const { key, record } = await service.create(body);
    res.status(201).json({ data: { ...record, key } });
  });

  router.get('/', async (req, res) => {
    const q = parse(listApiKeysQuery, req.query, 'query');
    res.json({ data: await service.list(q.organizationId, q.includeRevoked) });
  });

  router.delete('/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    await service.revoke(id);
    res.status(204).end();
  });

  return router;
}
