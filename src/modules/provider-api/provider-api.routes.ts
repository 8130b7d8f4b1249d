import { Router, type NextFunction, type Request, type Response } from 'express';
import { AppError } from '../../lib/errors';
import { parse } from '../../lib/http';
import { created, ok, type Operation } from '../../openapi/operation';
import { principalOf, targetOrganization } from '../auth';
import type { IntegrationRow, IntegrationService } from '../integrations';
import { connectBody, providerParams, providerQuery, providerSyncQuery } from './provider-api.schemas';

/** What a run answers when it ends (a pull's RunOutcome, a backfill's outcome). */
interface RunResult {
  status: string;
  total: number;
  error: string | null;
}

/** What this router needs of the rest of the service (given by the composition root). */
export interface ProviderApiDeps {
  integrations: IntegrationService;
  /** The provider a name means (itself, or the provider listing it as an alias); null when there is none. */
  provider(name: string): { name: string; displayName: string; pulls: boolean; pushes: boolean; defaultDirection: string } | null;
  pull(integrationId: number, mode: 'full' | 'incremental'): Promise<{ runId: number; done: Promise<RunResult> }>;
  pushBackfill(integrationId: number): Promise<{ runId: number; done: Promise<unknown> }>;
}

const byProvider = { params: providerParams };

export const providerApiOperations: Operation[] = [
  {
    method: 'post',
    path: '/integrations/connect',
    tag: 'Integrations by provider (seed 003)',
    summary: "Connect a provider for the caller's organization: creates (201) or updates (200) its integration, then tests it",
    auth: 'apiKey',
    body: connectBody,
    responses: { ...created('{ data: Integration, test: { success, message } }'), 200: '{ data: Integration, test } (updated)' },
  },
  {
    method: 'delete',
    path: '/integrations/:provider',
    tag: 'Integrations by provider (seed 003)',
    summary: "Disconnect and delete the organization's integration with this provider",
    auth: 'apiKey',
    ...byProvider,
    query: providerQuery,
    responses: ok('{ success: true }'),
  },
  {
    method: 'post',
    path: '/integrations/:provider/sync',
    tag: 'Integrations by provider (seed 003)',
    summary: 'Sync it: a pull from a CRM, a push backfill to a list or a push-only CRM (wait=true: 201 with contactsSynced)',
    auth: 'apiKey',
    ...byProvider,
    query: providerSyncQuery,
    responses: {
      201: '{ message, contactsSynced, data: Run } (wait=true)',
      202: '{ data: { runId, integrationId, direction, status } }',
      502: '{ success: false, code: "sync_failed", error, data: Run } (wait=true, the run failed)',
    },
  },
];

/**
 * Seed 003's provider-named API: the same services as the id-based routes, found by the
 * organization's integration with that provider (there is one at most). Mounted before the
 * id-based routers: a numeric segment is an id and passes through to them.
 */
export function providerApiRouter(deps: ProviderApiDeps): Router {
  const router = Router();
  const isId = (req: Request) => /^[0-9]+$/.test(String(req.params.provider));

  /** The organization's integration with the provider; 404 when it has none. */
  async function find(req: Request, res: Response): Promise<{ row: IntegrationRow; displayName: string }> {
    const { provider: name } = parse(providerParams, req.params, 'params');
    const q = parse(providerQuery.passthrough(), req.query, 'query');
    const organizationId = targetOrganization(principalOf(res), q.organizationId);
    const provider = deps.provider(name);
    if (!provider) throw new AppError('not_found', 'provider_not_found', `No provider named ${name}`);
    const { rows } = await deps.integrations.list({ organizationId, provider: provider.name, page: 1, limit: 1 });
    if (rows.length === 0) {
      throw new AppError('not_found', 'integration_not_found', `Organization ${organizationId} has no ${provider.name} integration`);
    }
    return { row: await deps.integrations.getRow(rows[0].id), displayName: provider.displayName };
  }

  router.post('/integrations/connect', async (req, res) => {
    const body = parse(connectBody, req.body, 'body');
    const organizationId = targetOrganization(principalOf(res), body.organizationId);
    const provider = deps.provider(body.provider);
    if (!provider) {
      throw new AppError('invalid_data', 'validation_failed', 'Request validation failed', [
        { path: 'body.provider', message: `no provider named ${body.provider}` },
      ]);
    }
    const { rows } = await deps.integrations.list({ organizationId, provider: provider.name, page: 1, limit: 1 });
    const existing = rows[0];
    const view = existing
      ? await deps.integrations.update(existing.id, { config: body.credentials, ...(body.name ? { name: body.name } : {}) })
      : await deps.integrations.create(organizationId, {
          provider: provider.name,
          name: body.name ?? provider.displayName,
          config: body.credentials,
        });
    const test = await deps.integrations.test(view.id);
    // What the create showed once (a subscription's signing secret) stays in this answer.
    const once = 'revealedOnce' in view ? { revealedOnce: view.revealedOnce } : {};
    res
      .status(existing ? 200 : 201)
      .json({ data: { ...(await deps.integrations.get(view.id)), ...once }, test: { success: test.success, message: test.message } });
  });

  router.delete('/integrations/:provider', async (req: Request, res: Response, next: NextFunction) => {
    if (isId(req)) return next();
    const { row } = await find(req, res);
    await deps.integrations.remove(row.id);
    res.json({ success: true });
  });

  router.post('/integrations/:provider/sync', async (req: Request, res: Response, next: NextFunction) => {
    if (isId(req)) return next();
    const { row, displayName } = await find(req, res);
    const q = parse(providerSyncQuery, req.query, 'query');
    const provider = deps.provider(row.provider);
    const direction = (deps.integrations.decrypt(row).direction as string | undefined) ?? provider?.defaultDirection ?? 'pull';
    const push = provider?.pushes && (direction === 'push' || !provider.pulls);
    if (!push && !provider?.pulls) {
      throw new AppError(
        'conflict',
        'nothing_to_sync',
        `${displayName} holds no contacts to sync; exports use POST /api/integrations/${row.id}/export`,
      );
    }
    const started = push ? await deps.pushBackfill(row.id) : await deps.pull(row.id, q.mode);
    if (!q.wait) {
      res.status(202).json({ data: { runId: started.runId, integrationId: row.id, direction: push ? 'push' : 'pull', status: 'running' } });
      return;
    }
    const run = (await started.done) as RunResult;
    if (run.status === 'failed') {
      res
        .status(502)
        .json({ success: false, code: 'sync_failed', error: `${displayName} sync failed: ${run.error ?? 'unknown error'}`, data: run });
      return;
    }
    res.status(201).json({ message: `${displayName} sync completed`, contactsSynced: run.total, data: run });
  });

  return router;
}
