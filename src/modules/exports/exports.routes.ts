import { Router } from 'express';
import { parse } from '../../lib/http';
import { byId, type Operation } from '../../openapi/operation';
import { visibleIntegration as visible, type IntegrationService } from '../integrations';
import type { ExportService } from './exports.service';
import { exportQuery } from './exports.schemas';

export const exportOperations: Operation[] = [
  {
    method: 'post',
    path: '/integrations/:id/export',
    tag: 'Exports',
    summary:
      "Write the organization's users as CSV (users-<org slug>-<YYYY-MM-DD>.csv) to the integration's storage (202 with the run id; wait=true answers when the file is written). 409: export_running, export_not_supported, integration_inactive, integration_disconnected",
    auth: 'apiKey',
    ...byId,
    query: exportQuery,
    responses: {
      200: '{ data: ExportOutcome } (wait=true): runId, status, total, fileName, fileId, path, bytes, error',
      202: '{ data: { runId, integrationId, fileName, status: "running" } }',
    },
  },
];

/** POST /api/integrations/:id/export; the runs are listed with GET /api/sync/runs?operation=export. */
export function exportsRouter(service: ExportService, integrations: IntegrationService): Router {
  const router = Router();

  router.post('/integrations/:id/export', async (req, res) => {
    const row = await visible(integrations, req.params, res);
    const q = parse(exportQuery, req.query, 'query');
    const { runId, fileName, done } = await service.start(row.id, { trigger: 'manual' });
    if (!q.wait) {
      res.status(202).json({ data: { runId, integrationId: row.id, fileName, status: 'running' } });
      return;
    }
    res.json({ data: await done });
  });

  return router;
}
