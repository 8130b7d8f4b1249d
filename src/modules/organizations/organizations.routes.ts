import { Router } from 'express';
import { idParams, parse } from '../../lib/http';
import { byId, created, noContent, ok, type Operation } from '../../openapi/operation';
import { assertCanSeeOrganization, principalOf, requireAdminPrincipal } from '../auth';
import { cursorList, sendListPage } from '../../lib/list-cursor';
import { listUsersQuery, type UserService } from '../users';
import { createOrganizationBody, listOrganizationsQuery, updateOrganizationBody } from './organizations.schemas';
import type { OrganizationService } from './organizations.service';

export const organizationOperations: Operation[] = [
  {
    method: 'get',
    path: '/',
    tag: 'Organizations',
    summary: 'List organizations',
    auth: 'apiKey',
    query: listOrganizationsQuery,
    responses: cursorList('Organization'),
  },
  {
    method: 'post',
    path: '/',
    tag: 'Organizations',
    summary: 'Create an organization',
    auth: 'admin',
    body: createOrganizationBody,
    responses: created('{ data: Organization }'),
  },
  {
    method: 'get',
    path: '/:id',
    tag: 'Organizations',
    summary: 'One organization',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Organization }'),
  },
  {
    method: 'patch',
    path: '/:id',
    tag: 'Organizations',
    summary: 'Change given fields (emits organization.updated)',
    auth: 'apiKey',
    ...byId,
    body: updateOrganizationBody,
    responses: ok('{ data: Organization }'),
  },
  { method: 'delete', path: '/:id', tag: 'Organizations', summary: 'Soft-delete', auth: 'admin', ...byId, responses: noContent },
  {
    method: 'get',
    path: '/:id/users',
    tag: 'Organizations',
    summary: "The organization's users",
    auth: 'apiKey',
    ...byId,
    query: listUsersQuery.omit({ organizationId: true }),
    responses: cursorList('User'),
  },
  {
    method: 'get',
    path: '/:id/stats',
    tag: 'Organizations',
    summary: 'User counts by state, department, role and source; last sync run',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Stats }'),
  },
];

export function organizationsRouter(service: OrganizationService, users: UserService): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parse(listOrganizationsQuery, req.query, 'query');
    const p = principalOf(res);
    sendListPage(res, await service.list({ ...q, onlyId: p.kind === 'organization' ? p.organizationId : undefined }), q);
  });

  router.post('/', async (req, res) => {
    requireAdminPrincipal(principalOf(res));
    const body = parse(createOrganizationBody, req.body, 'body');
    res.status(201).json({ data: await service.create(body) });
  });

  router.get('/:id', async (req, res) => {
    res.json({ data: await service.get(visibleId(req.params, res)) });
  });

  router.patch('/:id', async (req, res) => {
    const id = visibleId(req.params, res);
    const body = parse(updateOrganizationBody, req.body, 'body');
    res.json({ data: await service.update(id, body) });
  });

  router.delete('/:id', async (req, res) => {
    requireAdminPrincipal(principalOf(res));
    await service.remove(visibleId(req.params, res));
    res.status(204).end();
  });

  router.get('/:id/users', async (req, res) => {
    const id = visibleId(req.params, res);
    const { organizationId: _ignored, ...q } = parse(listUsersQuery, req.query, 'query');
    await service.get(id);
    sendListPage(res, await users.list({ ...q, organizationId: id }), q);
  });

  router.get('/:id/stats', async (req, res) => {
    res.json({ data: await service.stats(visibleId(req.params, res)) });
  });

  return router;
}

function visibleId(params: unknown, res: import('express').Response): number {
  const { id } = parse(idParams, params, 'params');
  assertCanSeeOrganization(principalOf(res), id);
  return id;
}
