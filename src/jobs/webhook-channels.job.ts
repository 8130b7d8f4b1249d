import type { ScheduledTask } from 'node-cron';
import type { Logger } from 'winston';
import { passFacts, schedulePass } from './scheduled-pass';
import type { WebhookChannelService } from '../modules/inbound-webhooks';

/**
 * Keeps CRM webhook channels open (Zoho's watch channels expire within a week): every pass
 * opens the missing ones and renews those near expiry. Instances firing together claim
 * different channels (SKIP LOCKED), so each is kept once.
 */
export class WebhookChannelsJob {
  readonly name = 'webhook-channels';
  private task: ScheduledTask | null = null;

  constructor(
    private readonly channels: WebhookChannelService,
    private readonly logger: Logger,
    private readonly opts: { enabled: boolean; schedule: string; timezone: string },
  ) {}

  /** One pass; tests call it directly. */
  run() {
    return this.channels.keepDue();
  }

  start(): void {
    this.task = schedulePass(
      this.name,
      this.opts,
      this.logger,
      () => this.run(),
      (r) => r.kept + r.released + r.failed > 0,
    );
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    this.task = null;
  }

  /** For GET /api/sync/jobs. */
  describe() {
    return passFacts(this.name, this.opts, this.task);
  }
}
