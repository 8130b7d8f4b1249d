import { Router } from 'express';
import { idParams, parse } from '../../lib/http';
import { principalOf, requireAdminPrincipal } from '../auth/principal';
import { createTemplateBody, updateTemplateBody } from './templates.schemas';
import type { TemplateService } from './templates.service';

/** /api/integration-templates (seed 002): any key reads, admins write. */
export function templatesRouter(service: TemplateService): Router {
  const router = Router();

  router.get('/', async (_req, res) => {
    const p = principalOf(res);
    // An organization key sees how many of its own integrations use each template.
    res.json({ data: await service.list(p.kind === 'organization' ? p.organizationId : undefined) });
  });

  router.get('/:id', async (req, res) => {
    res.json({ data: await service.get(parse(idParams, req.params, 'params').id) });
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
