import { randomUUID } from 'node:crypto';
import type { Logger } from 'winston';
import type { UnitOfWork } from '../../db/unit-of-work';
import { AppError } from '../../lib/errors';
import type { PushFacts } from '../../providers/writer';
import type { IntegrationService } from '../integrations';
import { syncRunEvent, type EventRecorder } from '../outbox';
import { LeaseLostError, type PullRepository } from '../sync';
import type { CrmPushRepository } from './crm-push.repository';
import { emptyCounts, type BatchCounts, type CrmPushSender } from './crm-push.service';

/** Where a backfill stands: users are walked by id. */
interface BackfillCheckpoint {
  afterUserId: number;
  startedAt: string;
}

export interface BackfillOutcome {
  runId: number;
  integrationId: number;
  status: 'succeeded' | 'partial' | 'failed' | 'interrupted';
  total: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  failed: number;
  error: string | null;
}

const PAGE = 500;
const PROGRESS_EVERY_MS = 2000;
/** A page whose rows the CRM keeps refusing as a whole is tried this often before the run stops. */
const PAGE_TRIES = 3;
const RESUME_WINDOW_MS = 24 * 3600_000;

/**
 * `POST /api/integrations/:id/sync?direction=push`: every live user of the organization is
 * queued for the integration a page at a time and that page sent at once (users whose last
 * push is still what they are count as unchanged and cost no call). A sync run with counts,
 * progress and a checkpoint (the last user id done), resumed like a pull by the next start.
 * It holds the integration's sync lease, so it never runs beside a pull of the same CRM.
 */
export class CrmPushBackfill {
  private readonly instance = randomUUID().slice(0, 8);
  private stopping = false;
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly runs: PullRepository,
    private readonly runsUow: UnitOfWork<{ pull: PullRepository; events: EventRecorder }>,
    private readonly queue: CrmPushRepository,
    private readonly sender: CrmPushSender,
    private readonly integrations: IntegrationService,
    private readonly factsOf: (provider: string) => PushFacts | undefined,
    private readonly logger: Logger,
    private readonly opts: { leaseSeconds: number },
  ) {}

  async start(integrationId: number, trigger: string): Promise<{ runId: number; done: Promise<BackfillOutcome> }> {
    if (this.stopping) throw new AppError('unavailable', 'shutting_down', 'The service is shutting down');
    const row = await this.integrations.getRow(integrationId);
    const facts = this.factsOf(row.provider);
    if (!facts) throw new AppError('conflict', 'push_not_supported', `${row.provider} takes no pushed users`);
    const direction = (this.integrations.decrypt(row).direction as string | undefined) ?? facts.defaultDirection;
    if (direction === 'pull') {
      throw new AppError(
        'conflict',
        'push_not_enabled',
        `Integration ${integrationId} only pulls: set config.direction to push or both first`,
      );
    }
    if (!row.isActive)
      throw new AppError('conflict', 'integration_inactive', `Integration ${integrationId} is turned off (isActive: false)`);
    if (row.status !== 'active') {
      throw new AppError('conflict', 'integration_not_active', `Integration ${integrationId} is ${row.status}; test or reconnect it first`);
    }
    const owner = `${this.instance}:${randomUUID().slice(0, 8)}`;
    if (!(await this.runs.acquireLease(integrationId, owner, this.opts.leaseSeconds))) {
      throw new AppError('conflict', 'sync_already_running', `A sync of integration ${integrationId} is already running`);
    }
    try {
      await this.runs.abandonStaleRuns(integrationId);
      const previous = await this.runs.latestResumable(integrationId, ['push']);
      const resume =
        previous && Date.now() - previous.startedAt.getTime() < RESUME_WINDOW_MS
          ? (previous.checkpoint as unknown as BackfillCheckpoint)
          : null;
      const checkpoint: BackfillCheckpoint = resume ?? { afterUserId: 0, startedAt: new Date().toISOString() };
      const runId = await this.runs.createRun({
        organizationId: row.organizationId,
        integrationId,
        operation: 'push',
        trigger,
        source: row.provider,
        checkpoint: { ...checkpoint },
        details: { direction: 'push', ...(resume ? { resumedFromRunId: previous?.id } : {}), failures: [] },
      });
      this.logger.info('push backfill started', {
        runId,
        integrationId,
        provider: row.provider,
        trigger,
        resumedFromRunId: resume ? previous?.id : undefined,
      });
      const done = this.execute(runId, row.organizationId, integrationId, owner, checkpoint)
        .catch((err: unknown): BackfillOutcome => {
          const error = err instanceof Error ? err.message : String(err);
          this.logger.error('push backfill bookkeeping failed', { runId, integrationId, error });
          return { runId, integrationId, status: 'failed', total: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0, error };
        })
        .finally(() => {
          this.running.delete(done);
          return this.runs.releaseLease(integrationId, owner).catch(() => undefined);
        });
      this.running.add(done);
      return { runId, done };
    } catch (err) {
      await this.runs.releaseLease(integrationId, owner);
      throw err;
    }
  }

  /** Stops taking runs; a run in progress stops after its page (checkpointed: the next run resumes it). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running]);
  }

  private async execute(runId: number, organizationId: number, integrationId: number, owner: string, cp: BackfillCheckpoint) {
    const started = Date.now();
    const total = await this.queue.countUsersAfter(organizationId, cp.afterUserId);
    const sum = emptyCounts();
    let pages = 0;
    let lastLog = 0;
    let error: string | null = null;
    let status: BackfillOutcome['status'] = 'succeeded';
    try {
      for (;;) {
        if (this.stopping) {
          status = 'interrupted';
          error = 'interrupted by shutdown; the next run resumes from the checkpoint';
          break;
        }
        const ids = await this.queue.enqueuePage(organizationId, integrationId, cp.afterUserId, PAGE);
        if (ids.length === 0) break;
        const page = await this.sendPage(integrationId, ids);
        pages++;
        // A page the CRM kept refusing is not behind the checkpoint: the next run starts with it.
        if (!page.stalled) cp = { ...cp, afterUserId: ids[ids.length - 1] };
        const failures = page.failures;
        const applied = page.counts.created + page.counts.updated + page.counts.unchanged + page.counts.skipped;
        const renewed = await this.runs.recordPage({
          runId,
          integrationId,
          leaseOwner: owner,
          leaseSeconds: this.opts.leaseSeconds,
          checkpoint: { ...cp },
          totalPages: Math.ceil(total / PAGE),
          applied,
          failures,
          counts: {
            created: page.counts.created,
            updated: page.counts.updated,
            unchanged: page.counts.unchanged + page.counts.skipped,
            failed: 0,
          },
        });
        if (!renewed) throw new LeaseLostError(integrationId);
        for (const k of Object.keys(sum) as (keyof BatchCounts)[]) sum[k] += page.counts[k];
        if (page.stalled) {
          status = 'failed';
          error = `the CRM kept refusing a page (${page.stalled}); the next run resumes from the checkpoint`;
          break;
        }
        if (Date.now() - lastLog >= PROGRESS_EVERY_MS) {
          lastLog = Date.now();
          const done = sum.claimed;
          const seconds = (Date.now() - started) / 1000;
          const rate = done / Math.max(seconds, 0.001);
          this.logger.info('push backfill progress', {
            runId,
            integrationId,
            page: pages,
            totalPages: Math.ceil(total / PAGE),
            users: done,
            usersPerSecond: Math.round(rate),
            etaSeconds: rate > 0 ? Math.round(Math.max(total - done, 0) / rate) : null,
          });
        }
      }
      if (status === 'succeeded' && sum.parked > 0) status = 'partial';
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.logger.warn('push backfill stopped: lease taken over', { runId, integrationId });
        status = 'interrupted';
        error = err.message;
      } else {
        status = 'failed';
        error = err instanceof Error ? err.message : String(err);
      }
    }
    const durationMs = Date.now() - started;
    await this.runsUow.transactional(async ({ pull, events }) => {
      const run = await pull.finishRun(runId, {
        status,
        deleted: 0,
        error,
        details: { pages, parked: sum.parked, durationMs, usersPerSecond: Math.round((sum.claimed / Math.max(durationMs, 1)) * 1000) },
      });
      if (run && status !== 'interrupted') {
        await events.record(run.organizationId, status === 'failed' ? 'sync.failed' : 'sync.completed', syncRunEvent(run));
      }
    });
    const counts = await this.runs.runCounts(runId);
    this.logger.info('push backfill finished', { runId, integrationId, status, ...counts, parked: sum.parked, durationMs });
    return { runId, integrationId, status, ...counts, deleted: 0, error } satisfies BackfillOutcome;
  }

  /**
   * Sends a page's queued rows (in the writer's batch size). Rows the live worker holds are
   * its to send; rows the CRM refused as a whole (an outage) are tried again a few times.
   */
  private async sendPage(integrationId: number, ids: number[]) {
    const counts = emptyCounts();
    let stalled: string | null = null;
    for (let tries = 0; ;) {
      const c = await this.sender.sendBatch(integrationId, ids);
      if (c.claimed === 0) break;
      for (const k of Object.keys(counts) as (keyof BatchCounts)[]) counts[k] += c[k];
      if (c.retried > 0 && ++tries >= PAGE_TRIES) {
        stalled = `${c.retried} record(s) not accepted after ${PAGE_TRIES} tries`;
        break;
      }
    }
    // Every parked row of this page (the queue's newest 100 parked rows could be other pages').
    const parked = await this.queue.parkedAmong(integrationId, ids);
    const failures = parked.map((r) => ({ externalId: `user:${r.userId}`, reason: r.lastError ?? 'refused' }));
    return { counts, failures, stalled };
  }
}
