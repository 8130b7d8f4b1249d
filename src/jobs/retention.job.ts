import type { ScheduledTask } from 'node-cron';
import type { Logger } from 'winston';
import { passFacts, schedulePass } from './scheduled-pass';
import type { PruneCounts, RetentionService } from '../modules/retention';

/**
 * The retention prune (RETENTION_CRON, hourly by default). Every instance fires it; an
 * advisory lock lets one prune at a time, and one that waited finds little left to do.
 */
export class RetentionJob {
  readonly name = 'retention';
  private task: ScheduledTask | null = null;
  private last: { at: Date; pruned: PruneCounts } | null = null;

  constructor(
    private readonly retention: RetentionService,
    /** Runs `fn` as the only instance doing so (services.exclusively's lock). */
    private readonly exclusively: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly logger: Logger,
    private readonly opts: {
      enabled: boolean;
      schedule: string;
      timezone: string;
      days: { inboundPayloads: number; deliveries: number; syncRuns: number };
    },
  ) {}

  /** One pass; tests call it directly. */
  async run(): Promise<PruneCounts> {
    const pruned = await this.exclusively(() => this.retention.prune());
    this.last = { at: new Date(), pruned };
    return pruned;
  }

  start(): void {
    this.task = schedulePass(this.name, this.opts, this.logger, () => this.run());
  }

  async stop(): Promise<void> {
    this.retention.stop();
    await this.task?.destroy();
    this.task = null;
  }

  /** For GET /api/sync/jobs: the schedule, the days kept (0 = forever), and this instance's last pass. */
  describe() {
    return {
      ...passFacts(this.name, this.opts, this.task),
      keepDays: this.opts.days,
      lastRun: this.last,
    };
  }
}
