import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'winston';
import { AppError } from '../lib/errors';
import type { ExportOutcome, ExportService } from '../modules/exports';

const RECONCILE_EVERY_MS = 60_000;

/**
 * Scheduled exports: each integration whose config has `exportSchedule` (Drive, Dropbox) gets
 * a node-cron task in SYNC_TIMEZONE. The list is read again every minute, so a schedule
 * added, changed or removed through the API applies without a restart. Every instance runs
 * the same tasks; the export's lease and its "already ran this minute" check let exactly one
 * of them write the file.
 */
export class ExportJobs {
  private readonly tasks = new Map<number, { schedule: string; task: ScheduledTask }>();
  private reconciler?: NodeJS.Timeout;
  private reconciling: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly exports: Pick<ExportService, 'start' | 'schedules'>,
    private readonly logger: Logger,
    private readonly opts: { enabled: boolean; timezone: string; reconcileMs?: number },
  ) {}

  start(): void {
    if (!this.opts.enabled) {
      this.logger.info('scheduled exports are off (CRON_ENABLED=false)');
      return;
    }
    const tick = () => {
      this.reconciling = this.reconcile().catch((err: unknown) =>
        this.logger.error('export schedules not read', { error: err instanceof Error ? err.message : String(err) }),
      );
    };
    tick();
    this.reconciler = setInterval(tick, this.opts.reconcileMs ?? RECONCILE_EVERY_MS);
    this.reconciler.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.reconciler);
    this.reconciler = undefined;
    await this.reconciling;
    await Promise.all([...this.tasks.values()].map(({ task }) => task.destroy()));
    this.tasks.clear();
  }

  /** The schedules in force: integration id → cron expression. */
  scheduled(): Map<number, string> {
    return new Map([...this.tasks].map(([id, t]) => [id, t.schedule]));
  }

  /** Brings the tasks in line with the integrations' configs; tests call it directly. */
  async reconcile(): Promise<{ added: number; removed: number }> {
    const wanted = new Map<number, string>();
    for (const { integrationId, schedule } of await this.exports.schedules()) {
      // The config schema checks the shape; node-cron has the last word on the values.
      if (cron.validate(schedule)) wanted.set(integrationId, schedule);
      else this.logger.warn('export schedule ignored: not a cron expression', { integrationId, schedule });
    }
    let added = 0;
    let removed = 0;
    for (const [id, held] of this.tasks) {
      if (wanted.get(id) === held.schedule) continue;
      await held.task.destroy();
      this.tasks.delete(id);
      removed++;
    }
    for (const [id, schedule] of wanted) {
      if (this.tasks.has(id)) continue;
      const task = cron.schedule(schedule, (ctx) => this.runScheduled(id, ctx.date), {
        name: `export-${id}`,
        timezone: this.opts.timezone,
        noOverlap: true,
      });
      this.tasks.set(id, { schedule, task });
      added++;
    }
    if (added || removed) this.logger.info('export schedules updated', { added, removed, scheduled: this.tasks.size });
    return { added, removed };
  }

  /**
   * One scheduled export of one integration, for the time it was scheduled at. null: another
   * instance ran it (or is running it), or the integration cannot export now; logged, not thrown.
   */
  async runScheduled(integrationId: number, scheduledAt: Date): Promise<ExportOutcome | null> {
    try {
      const { done } = await this.exports.start(integrationId, { trigger: 'cron', scheduledAt });
      const outcome = await done;
      this.logger.info('scheduled export done', { integrationId, runId: outcome.runId, status: outcome.status, rows: outcome.total });
      return outcome;
    } catch (err) {
      if (err instanceof AppError && err.kind !== 'internal') {
        this.logger.info('scheduled export skipped', { integrationId, reason: err.message });
      } else {
        this.logger.error('scheduled export failed', { integrationId, error: err instanceof Error ? err.message : String(err) });
      }
      return null;
    }
  }
}
