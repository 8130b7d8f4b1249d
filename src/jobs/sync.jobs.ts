import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'winston';
import { AppError } from '../lib/errors';
import { PollingLoop } from '../lib/polling-loop';
import type { ClaimedSyncJob, PullMode, PullService, RunOutcome, SyncJobRepository, SyncRunRepository } from '../modules/sync';

export interface JobResult {
  /** The tick's slot. */
  scheduledFor: Date;
  /** Jobs this tick added to the queue (none for an integration already queued for this slot or still waiting). */
  enqueued: number;
  started: number;
  skipped: { integrationId: number; reason: string }[];
  outcomes: RunOutcome[];
}

export interface Job {
  name: string;
  mode: PullMode;
  schedule: string;
  /**
   * A tick for `scheduledFor` (default: now, to the second) without jitter, then the queue
   * worked in this process until nothing is due; tests and operators call it directly.
   */
  run(scheduledFor?: Date): Promise<JobResult>;
}

interface JobEnd {
  job: ClaimedSyncJob;
  outcome: RunOutcome | null;
  /** Why it ended without a run of its own (sync_already_running, ...). */
  reason: string | null;
}

type Begun = { started: { runId: number; done: Promise<RunOutcome> } } | { error: unknown };

// A job whose worker died this many times (it may be what kills it) is given up.
const MAX_ATTEMPTS = 3;
// Finished jobs are kept a week (GET /api/sync/runs keeps the runs), then pruned by the ticks.
const FINISHED_KEPT_SECONDS = 7 * 86_400;
const PRUNE_BATCH = 1000;
// A tick late by up to this much (a busy event loop) still enqueues: its slot dedupes it.
const LATE_TICK_TOLERANCE_MS = 60_000;

/** The cron slot of a tick, to the second: every instance firing it names the same time. */
function slotOf(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * The nightly full sync and the periodic incremental one. A tick (node-cron, on every
 * instance) only queues one job per active integration in sync_jobs, unique per slot, so a
 * second instance's tick adds nothing. Each instance's worker claims due jobs (SKIP LOCKED),
 * at most `concurrency` at a time, round-robin across organizations, and runs each through
 * PullService, whose lease stays the single-flight guarantee.
 */
export class SyncJobs {
  readonly jobs: Job[];
  /** This process's name in sync_jobs.claimed_by. */
  readonly worker = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private tasks: ScheduledTask[] = [];
  private readonly loop: PollingLoop;
  /** Jobs held by this process, each until its end is recorded. */
  private readonly active = new Map<string, Promise<JobEnd>>();
  /** Claims one at a time, so two callers (the loop, run()) never pass the concurrency together. */
  private filling: Promise<unknown> = Promise.resolve();
  private lastRenew = 0;
  private working = false;

  constructor(
    private readonly pull: PullService,
    private readonly queue: SyncJobRepository,
    private readonly runs: SyncRunRepository,
    private readonly logger: Logger,
    private readonly opts: {
      enabled: boolean;
      nightlyCron: string;
      incrementalCron: string;
      timezone: string;
      /** Jobs running at once in this process (SYNC_CONCURRENCY). */
      concurrency: number;
      /** A job is due up to this many seconds after its slot, at random (SYNC_JITTER_SECONDS). */
      jitterSeconds: number;
      /** How long a claimed job stays this process's without renewal (the sync lease's length). */
      lockSeconds: number;
      pollMs?: number;
    },
  ) {
    this.jobs = (
      [
        { name: 'nightly-full-sync', mode: 'full', schedule: opts.nightlyCron },
        { name: 'incremental-sync', mode: 'incremental', schedule: opts.incrementalCron },
      ] as const
    ).map((j) => ({ ...j, run: (at?: Date) => this.runNow(j, slotOf(at ?? new Date())) }));
    this.loop = new PollingLoop(() => this.step(), opts.pollMs ?? 1000);
  }

  start(): void {
    if (!this.opts.enabled) {
      this.logger.info('scheduled syncs are off (CRON_ENABLED=false)');
      return;
    }
    this.tasks = this.jobs.map((job) =>
      cron.schedule(
        job.schedule,
        async (context) => {
          try {
            await this.tick(job, slotOf(context.date), this.opts.jitterSeconds);
          } catch (err) {
            this.logger.error(`${job.name} tick failed`, { error: err instanceof Error ? err.message : String(err) });
          }
        },
        { name: job.name, timezone: this.opts.timezone, noOverlap: true, missedExecutionTolerance: LATE_TICK_TOLERANCE_MS },
      ),
    );
    this.working = true;
    this.loop.start();
    this.logger.info('scheduled syncs started', {
      jobs: this.jobs.map((j) => `${j.name} (${j.schedule} ${this.opts.timezone})`),
      concurrency: this.opts.concurrency,
      worker: this.worker,
    });
  }

  /**
   * No more ticks or claims; the syncs this process runs stop after their current page
   * (checkpointed) and their jobs go back to the queue, where another instance resumes them.
   */
  async stop(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.destroy()));
    this.tasks = [];
    if (!this.working) return;
    this.working = false;
    await this.loop.stop();
    await this.filling;
    if (this.active.size > 0) {
      await this.pull.stop();
      await Promise.allSettled([...this.active.values()]);
    }
  }

  /** For GET /api/sync/jobs: each schedule, its last run and queue (of one organization, if given), its next tick. */
  async describe(organizationId?: number) {
    const queue = await this.queue.queue(organizationId);
    return Promise.all(
      this.jobs.map(async (job) => {
        const task = this.tasks.find((t) => t.name === job.name);
        const last = await this.runs.newest({ trigger: 'cron', requestedMode: job.mode, organizationId });
        const of = (status: string) => queue.find((q) => q.mode === job.mode && q.status === status);
        return {
          name: job.name,
          mode: job.mode,
          schedule: job.schedule,
          timezone: this.opts.timezone,
          enabled: this.opts.enabled,
          nextRunAt: task?.getNextRun() ?? null,
          lastRun: last,
          queue: {
            pending: of('pending')?.count ?? 0,
            running: of('running')?.count ?? 0,
            nextDueAt: of('pending')?.next ?? null,
          },
          concurrencyPerInstance: this.opts.concurrency,
          jitterSeconds: this.opts.jitterSeconds,
        };
      }),
    );
  }

  private async tick(job: { name: string; mode: PullMode }, scheduledFor: Date, jitterSeconds: number) {
    const { active, enqueued } = await this.queue.enqueue(job.mode, scheduledFor, jitterSeconds);
    this.logger.info('sync tick', { job: job.name, scheduledFor: scheduledFor.toISOString(), active, enqueued, worker: this.worker });
    this.loop.wake();
    await this.queue
      .prune(FINISHED_KEPT_SECONDS, PRUNE_BATCH)
      .catch((err: unknown) => this.logger.warn('pruning sync jobs failed', { error: err instanceof Error ? err.message : String(err) }));
    return enqueued;
  }

  private async runNow(job: { name: string; mode: PullMode }, scheduledFor: Date): Promise<JobResult> {
    const enqueued = await this.tick(job, scheduledFor, 0);
    const mine: Promise<JobEnd>[] = [];
    for (;;) {
      const launched = await this.fill();
      mine.push(...launched);
      if (this.active.size === 0) break;
      await Promise.race(this.active.values());
    }
    const ends = await Promise.all(mine);
    const outcomes = ends.flatMap((e) => (e.outcome ? [e.outcome] : []));
    const skipped = ends.flatMap((e) => (e.outcome ? [] : [{ integrationId: e.job.integrationId, reason: e.reason ?? 'not run' }]));
    return { scheduledFor, enqueued, started: outcomes.length, skipped, outcomes };
  }

  private async step(): Promise<boolean> {
    try {
      await this.fill();
    } catch (err) {
      this.logger.error('sync job worker failed', { error: err instanceof Error ? err.message : String(err) });
    }
    // Either the slots are full (a job's end wakes the loop) or nothing is due yet: sleep.
    return false;
  }

  private fill(): Promise<Promise<JobEnd>[]> {
    const next = this.filling.then(() => this.fillNow());
    this.filling = next.catch(() => undefined);
    return next;
  }

  /** Claims what fits in the free slots and starts the runs, one after another (run ids follow the claim order). */
  private async fillNow(): Promise<Promise<JobEnd>[]> {
    await this.renew();
    const free = this.opts.concurrency - this.active.size;
    if (free <= 0) return [];
    const claimed = await this.queue.claim(this.worker, free, this.opts.lockSeconds, MAX_ATTEMPTS);
    const launched: Promise<JobEnd>[] = [];
    for (const job of claimed) {
      const begun = await this.begin(job);
      const end = this.complete(job, begun)
        .catch((err: unknown): JobEnd => {
          // Its lock runs out and another worker takes it again.
          const reason = err instanceof Error ? err.message : String(err);
          this.logger.error('sync job bookkeeping failed', { jobId: job.id, integrationId: job.integrationId, error: reason });
          return { job, outcome: null, reason };
        })
        .finally(() => {
          this.active.delete(job.id);
          this.loop.wake();
        });
      this.active.set(job.id, end);
      launched.push(end);
    }
    return launched;
  }

  private async renew(): Promise<void> {
    if (this.active.size === 0 || Date.now() - this.lastRenew < (this.opts.lockSeconds * 1000) / 4) return;
    this.lastRenew = Date.now();
    await this.queue.renew(this.worker, [...this.active.keys()], this.opts.lockSeconds);
  }

  private async begin(job: ClaimedSyncJob): Promise<Begun> {
    try {
      const started = await this.pull.start(job.integrationId, { mode: job.mode, trigger: 'cron' });
      await this.queue.attachRun(job.id, this.worker, started.runId);
      return { started };
    } catch (error) {
      return { error };
    }
  }

  private async complete(job: ClaimedSyncJob, begun: Begun): Promise<JobEnd> {
    if ('error' in begun) {
      const err = begun.error;
      if (err instanceof AppError && err.code === 'shutting_down') {
        await this.queue.release(job.id, this.worker, 'released: its instance was shutting down');
        return { job, outcome: null, reason: err.message };
      }
      // A sync already running (manual, or another instance's), an integration turned off or
      // deleted since the tick: nothing to do. Anything else is a failure of this job.
      const expected = err instanceof AppError && (err.kind === 'conflict' || err.kind === 'not_found');
      const message = err instanceof Error ? err.message : String(err);
      const reason = err instanceof AppError ? `${err.code}: ${message}` : message;
      await this.queue.finish(job.id, this.worker, { status: expected ? 'done' : 'failed', runId: null, reason });
      this.logger[expected ? 'info' : 'error']('scheduled sync not started', { jobId: job.id, integrationId: job.integrationId, reason });
      return { job, outcome: null, reason: message };
    }
    const outcome = await begun.started.done;
    if (outcome.status === 'interrupted') {
      await this.queue.release(job.id, this.worker, `run ${outcome.runId} interrupted; the next claim resumes it`);
    } else {
      await this.queue.finish(job.id, this.worker, {
        status: outcome.status === 'failed' ? 'failed' : 'done',
        runId: outcome.runId,
        reason: outcome.error,
      });
    }
    return { job, outcome, reason: null };
  }
}
