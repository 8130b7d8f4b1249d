import type { Logger } from 'winston';
import { PollingLoop } from '../../lib/polling-loop';
import type { CrmPushRepository } from './crm-push.repository';
import type { CrmPushSender } from './crm-push.service';

/**
 * Pushes queued user changes to CRMs in the background. Each step takes the integrations with
 * rows due (those waiting longest first) and sends one batch for each, up to `concurrency` at
 * once, one batch per integration at a time in this process (the integration's limiter paces
 * its calls). Several instances may run it: claims use SKIP LOCKED.
 */
export class CrmPushWorker {
  private readonly loop: PollingLoop;
  private readonly busy = new Set<number>();

  constructor(
    private readonly repo: CrmPushRepository,
    private readonly sender: CrmPushSender,
    private readonly logger: Logger,
    private readonly opts: { concurrency: number; pollMs: number },
  ) {
    this.loop = new PollingLoop(() => this.step(), opts.pollMs);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  poke(): void {
    this.loop.wake();
  }

  /** Sends everything due now, then returns (tests, scripts, benchmarks). */
  async drain(): Promise<void> {
    while (await this.step()) {
      /* more was due */
    }
  }

  /** One round: true when it sent something (there may be more due). */
  private async step(): Promise<boolean> {
    let ids: number[];
    try {
      ids = (await this.repo.dueIntegrations(this.opts.concurrency * 2)).filter((id) => !this.busy.has(id));
    } catch (err) {
      this.logger.error('push: looking for due work failed', { err: (err as Error).message });
      return false;
    }
    const round = ids.slice(0, this.opts.concurrency);
    const claimed = await Promise.all(
      round.map(async (id) => {
        this.busy.add(id);
        try {
          return (await this.sender.sendBatch(id)).claimed;
        } catch (err) {
          this.logger.warn('push: batch failed', { integrationId: id, error: (err as Error).message.slice(0, 300) });
          return 0;
        } finally {
          this.busy.delete(id);
        }
      }),
    );
    return claimed.some((n) => n > 0);
  }
}
