import { Router } from 'express';
import { idParams, paginated, parse } from '../../lib/http';
import { assertCanSeeOrganization, principalOf, requireAdminPrincipal } from '../auth/principal';
import { listUsersQuery } from '../users/users.schemas';
import type { UserService } from '../users/users.service';
import { createOrganizationBody, listOrganizationsQuery, updateOrganizationBody } from './organizations.schemas';
import type { OrganizationService } from './organizations.service';

export function organizationsRouter(service: OrganizationService, users: UserService): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parse(listOrganizationsQuery, req.query, 'query');
    const p = principalOf(res);
    const { rows, total } = await service.list({ ...q, onlyId: p.kind === 'organization' ? p.organizationId : undefined });
    paginated(res, rows, q.page, q.limit, total);
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
    const { rows, total } = await users.list({ ...q, organizationId: id });
    paginated(res, rows, q.page, q.limit, total);
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
