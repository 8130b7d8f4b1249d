import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'winston';
import type { IntegrationService } from '../modules/integrations';
import type { PullMode, PullService, RunOutcome, SyncRunRepository } from '../modules/sync';

export interface JobResult {
  started: number;
  skipped: { integrationId: number; reason: string }[];
  outcomes: RunOutcome[];
}

export interface Job {
  name: string;
  mode: PullMode;
  schedule: string;
  /** One pass over every active integration; tests call it directly. */
  run(): Promise<JobResult>;
}

/**
 * The nightly full sync and the periodic incremental one (node-cron, in-process). Several
 * instances may fire the same job: each integration's lease lets only one of them run it;
 * the others skip it.
 */
export class SyncJobs {
  readonly jobs: Job[];
  private tasks: ScheduledTask[] = [];

  constructor(
    private readonly pull: PullService,
    private readonly integrations: IntegrationService,
    private readonly runs: SyncRunRepository,
    private readonly logger: Logger,
    private readonly opts: { enabled: boolean; nightlyCron: string; incrementalCron: string; timezone: string },
  ) {
    this.jobs = [
      { name: 'nightly-full-sync', mode: 'full', schedule: opts.nightlyCron, run: () => this.runAll('full') },
      { name: 'incremental-sync', mode: 'incremental', schedule: opts.incrementalCron, run: () => this.runAll('incremental') },
    ];
  }

  start(): void {
    if (!this.opts.enabled) {
      this.logger.info('scheduled syncs are off (CRON_ENABLED=false)');
      return;
    }
    this.tasks = this.jobs.map((job) =>
      cron.schedule(
        job.schedule,
        async () => {
          try {
            const r = await job.run();
            this.logger.info(`${job.name} done`, {
              started: r.started,
              skipped: r.skipped.length,
              failed: r.outcomes.filter((o) => o.status === 'failed').length,
            });
          } catch (err) {
            this.logger.error(`${job.name} failed`, { error: err instanceof Error ? err.message : String(err) });
          }
        },
        { name: job.name, timezone: this.opts.timezone, noOverlap: true },
      ),
    );
    this.logger.info('scheduled syncs started', { jobs: this.jobs.map((j) => `${j.name} (${j.schedule} ${this.opts.timezone})`) });
  }

  async stop(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.destroy()));
    this.tasks = [];
  }

  /** For GET /api/sync/jobs: each schedule, its last run (of one organization, if given) and its next run. */
  async describe(organizationId?: number) {
    return Promise.all(
      this.jobs.map(async (job) => {
        const task = this.tasks.find((t) => t.name === job.name);
        const last = await this.runs.newest({ trigger: 'cron', requestedMode: job.mode, organizationId });
        return {
          name: job.name,
          mode: job.mode,
          schedule: job.schedule,
          timezone: this.opts.timezone,
          enabled: this.opts.enabled,
          nextRunAt: task?.getNextRun() ?? null,
          lastRun: last,
        };
      }),
    );
  }

  private async runAll(mode: PullMode): Promise<JobResult> {
    const ids = await this.integrations.activeIds();
    const { started, skipped } = await this.pull.startMany(ids, { mode, trigger: 'cron' });
    const outcomes = await Promise.all(started.map((s) => s.done));
    return { started: started.length, skipped, outcomes };
  }
}
