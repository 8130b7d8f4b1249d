import { Router, type Response } from 'express';
import { AppError } from '../../lib/errors';
import { idParams, parse } from '../../lib/http';
import { cursorList, newestFirstPage, sendListPage } from '../../lib/list-cursor';
import { byId, ok, type Operation } from '../../openapi/operation';
import { assertCanSeeOrganization, principalOf, scopeOrganization } from '../auth';
import { visibleIntegration as visible, type IntegrationService } from '../integrations';
import type { PullService, RunOutcome } from './pull.service';
import type { SyncRunRepository } from './sync-runs.repository';
import { listRunsQuery, syncJobsQuery, syncQuery, usersSyncQuery } from './sync.schemas';

export const syncOperations: Operation[] = [
  {
    method: 'post',
    path: '/integrations/:id/sync',
    tag: 'Sync',
    summary: 'Start a pull, or with direction=push a push backfill (202 with the run id; wait=true answers when it ends)',
    auth: 'apiKey',
    ...byId,
    query: syncQuery,
    responses: { 200: '{ data: Run } (wait=true)', 202: '{ data: { runId, integrationId, mode, status } }' },
  },
  {
    method: 'post',
    path: '/users/sync',
    tag: 'Sync',
    summary: "Seed 000: sync every active integration of the caller's organization",
    auth: 'apiKey',
    query: usersSyncQuery,
    responses: ok('{ message, total, runs }'),
  },
  {
    method: 'get',
    path: '/sync/runs',
    tag: 'Sync',
    summary: 'Runs of pushes and pulls',
    auth: 'apiKey',
    query: listRunsQuery,
    responses: cursorList('Run'),
  },
  { method: 'get', path: '/sync/runs/:id', tag: 'Sync', summary: 'One run', auth: 'apiKey', ...byId, responses: ok('{ data: Run }') },
  {
    method: 'get',
    path: '/sync/jobs',
    tag: 'Sync',
    summary: 'Each schedule with its last and next run, and the queue of scheduled syncs',
    auth: 'apiKey',
    query: syncJobsQuery,
    responses: ok('{ data: [Job] }'),
  },
];

/** The scheduled syncs, as GET /api/sync/jobs shows them (src/jobs; it depends on this module, not back). */
export interface JobSchedule {
  describe(organizationId?: number): Promise<unknown[]>;
}

/** The push backfill (src/modules/crm-push; given by the composition root, which keeps this module free of it). */
export interface PushBackfill {
  start(integrationId: number, trigger: string): Promise<{ runId: number; done: Promise<unknown> }>;
}

/** Manual pulls and the run log: /api/integrations/:id/sync, /api/users/sync, /api/sync/runs. */
export function syncRouter(
  pull: PullService,
  integrations: IntegrationService,
  runs: SyncRunRepository,
  jobs: JobSchedule,
  lists: { exactCountLimit: number },
  backfill?: PushBackfill,
): Router {
  const router = Router();

  router.post('/integrations/:id/sync', async (req, res) => {
    const row = await visible(integrations, req.params, res);
    const q = parse(syncQuery, req.query, 'query');
    if (q.direction === 'push') {
      if (!backfill) throw new AppError('conflict', 'push_not_supported', 'This service pushes to no CRM');
      const started = await backfill.start(row.id, 'manual');
      if (!q.wait) {
        res.status(202).json({ data: { runId: started.runId, integrationId: row.id, direction: 'push', status: 'running' } });
        return;
      }
      res.json({ data: await started.done });
      return;
    }
    const { runId, mode, done } = await pull.start(row.id, { mode: q.mode, trigger: 'manual' });
    if (!q.wait) {
      res.status(202).json({ data: { runId, integrationId: row.id, mode, status: 'running' } });
      return;
    }
    res.json({ data: await done });
  });

  // Seed 000: sync the caller's organization (or one integration); { message, total } plus the runs.
  router.post('/users/sync', async (req, res) => {
    const q = parse(usersSyncQuery, req.query, 'query');
    const p = principalOf(res);
    let ids: number[];
    if (q.integrationId !== undefined) {
      const row = await visible(integrations, { id: q.integrationId }, res);
      ids = [row.id];
    } else {
      ids = await integrations.activeIds(scopeOrganization(p, q.organizationId));
    }
    const { started, skipped } = await pull.startMany(ids, { mode: q.mode, trigger: 'manual' });
    if (!q.wait) {
      res.status(202).json({
        message: `Started ${started.length} sync(s)${skipped.length ? `, skipped ${skipped.length}` : ''}`,
        total: started.length,
        runs: started.map((s) => ({ integrationId: s.integrationId, runId: s.runId })),
        skipped,
      });
      return;
    }
    const outcomes: RunOutcome[] = await Promise.all(started.map((s) => s.done));
    const total = outcomes.reduce((n, o) => n + o.total, 0);
    res.json({ message: `Synced ${total} people from ${outcomes.length} integration(s)`, total, runs: outcomes, skipped });
  });

  router.get('/sync/jobs', async (req, res) => {
    const q = parse(syncJobsQuery, req.query, 'query');
    res.json({ data: await jobs.describe(scopeOrganization(principalOf(res), q.organizationId)) });
  });

  router.get('/sync/runs', async (req, res) => {
    const { page, cursor, limit, ...q } = parse(listRunsQuery, req.query, 'query');
    const filter = { ...q, organizationId: scopeOrganization(principalOf(res), q.organizationId) };
    const at = { page, cursor, limit };
    sendListPage(res, await newestFirstPage('sync-runs', filter, at, lists.exactCountLimit, runs), at);
  });

  router.get('/sync/runs/:id', async (req, res) => {
    res.json({ data: await visibleRun(runs, req.params, res) });
  });

  return router;
}

async function visibleRun(runs: SyncRunRepository, params: unknown, res: Response) {
  const { id } = parse(idParams, params, 'params');
  const run = await runs.get(id);
  if (!run) throw AppError.notFound('Sync run', id);
  assertCanSeeOrganization(principalOf(res), run.organizationId, AppError.notFound('Sync run', id));
  return run;
}
