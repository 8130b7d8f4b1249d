import { Router } from 'express';
import { AppError } from '../../lib/errors';
import { idParams, paginated, parse } from '../../lib/http';
import { byId, created, list, ok, type Operation } from '../../openapi/operation';
import { cursorList, sendListPage } from '../../lib/list-cursor';
import { assertCanSeeOrganization, principalOf, scopeOrganization, targetOrganization } from '../auth';
import { activitiesQuery, createUserBody, deleteUserQuery, listUsersQuery, updateUserBody } from './users.schemas';
import type { UserService } from './users.service';

export const userOperations: Operation[] = [
  {
    method: 'get',
    path: '/',
    tag: 'Users',
    summary: 'List and search users',
    auth: 'apiKey',
    query: listUsersQuery,
    responses: cursorList('User'),
  },
  {
    method: 'post',
    path: '/',
    tag: 'Users',
    summary: 'Create a user (emits user.created)',
    auth: 'apiKey',
    body: createUserBody,
    responses: created('{ data: User }'),
  },
  {
    method: 'get',
    path: '/:id',
    tag: 'Users',
    summary: 'One user with its identities',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: User }'),
  },
  {
    method: 'patch',
    path: '/:id',
    tag: 'Users',
    summary: 'Change given fields (emits user.updated)',
    auth: 'apiKey',
    ...byId,
    body: updateUserBody,
    responses: ok('{ data: User }'),
  },
  {
    method: 'delete',
    path: '/:id',
    tag: 'Users',
    summary: 'Soft-delete (emits user.deleted); with erase=true also erase the person from stored payloads',
    auth: 'apiKey',
    ...byId,
    query: deleteUserQuery,
    responses: {
      204: 'Deleted (erase absent or false)',
      200: '{ data: { id, erased: { inboundEvents, outboundEvents, identities, activities } } } (erase=true; a deleted user can be erased)',
    },
  },
  {
    method: 'get',
    path: '/:id/activities',
    tag: 'Users',
    summary: 'What CRMs reported about the user (outbound messages), newest first',
    auth: 'apiKey',
    ...byId,
    query: activitiesQuery,
    responses: list('Activity'),
  },
];

export function usersRouter(service: UserService): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parse(listUsersQuery, req.query, 'query');
    const organizationId = scopeOrganization(principalOf(res), q.organizationId);
    sendListPage(res, await service.list({ ...q, organizationId }), q);
  });

  router.get('/:id', async (req, res) => {
    res.json({ data: await visibleUser(service, req.params, res) });
  });

  router.get('/:id/activities', async (req, res) => {
    const user = await visibleUser(service, req.params, res);
    const q = parse(activitiesQuery, req.query, 'query');
    const { rows, total } = await service.activities(user.id, q.page, q.limit);
    paginated(res, rows, q.page, q.limit, total);
  });

  router.post('/', async (req, res) => {
    const { organizationId: requested, ...input } = parse(createUserBody, req.body, 'body');
    const organizationId = targetOrganization(principalOf(res), requested);
    res.status(201).json({ data: await service.create(organizationId, input) });
  });

  router.patch('/:id', async (req, res) => {
    const user = await visibleUser(service, req.params, res);
    const input = parse(updateUserBody, req.body, 'body');
    res.json({ data: await service.update(user, input) });
  });

  router.delete('/:id', async (req, res) => {
    const { erase } = parse(deleteUserQuery, req.query, 'query');
    if (erase) {
      const { id } = parse(idParams, req.params, 'params');
      const user = await service.getForErasure(id);
      assertCanSeeOrganization(principalOf(res), user.organizationId, AppError.notFound('User', id));
      res.json({ data: { id, erased: await service.erase(user) } });
      return;
    }
    const user = await visibleUser(service, req.params, res);
    await service.remove(user.id);
    res.status(204).end();
  });

  return router;
}

/** A user of another organization answers 404, exactly like a missing one. */
async function visibleUser(service: UserService, params: unknown, res: import('express').Response) {
  const { id } = parse(idParams, params, 'params');
  const user = await service.get(id);
  assertCanSeeOrganization(principalOf(res), user.organizationId, AppError.notFound('User', id));
  return user;
}
