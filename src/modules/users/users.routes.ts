import { Router } from 'express';
import { AppError } from '../../lib/errors';
import { idParams, paginated, parse } from '../../lib/http';
import { assertCanSeeOrganization, principalOf, scopeOrganization, targetOrganization } from '../auth/principal';
import { activitiesQuery, createUserBody, listUsersQuery, updateUserBody } from './users.schemas';
import type { UserService } from './users.service';

export function usersRouter(service: UserService): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parse(listUsersQuery, req.query, 'query');
    const organizationId = scopeOrganization(principalOf(res), q.organizationId);
    const { rows, total } = await service.list({ ...q, organizationId });
    paginated(res, rows, q.page, q.limit, total);
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
