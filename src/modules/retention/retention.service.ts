import type { Logger } from 'winston';
import type { RetentionRepository } from './retention.repository';

/** Days each kind is kept; 0 keeps it forever. */
export interface RetentionSettings {
  inboundPayloadDays: number;
  deliveriesDays: number;
  syncRunsDays: number;
  /** Rows per statement. */
  batch: number;
}

/** What one pass pruned. */
export interface PruneCounts {
  inboundPayloads: number;
  deliveries: number;
  webhookEvents: number;
  syncRuns: number;
}

const DAY_MS = 86_400_000;

/**
 * Prunes what the retention settings let go, in batches: each batch is one short statement,
 * repeated until one affects fewer rows than a batch, so no lock is held long and the
 * workers writing the same tables are not held up.
 */
export class RetentionService {
  private stopping = false;

  constructor(
    private readonly repo: RetentionRepository,
    private readonly logger: Logger,
    private readonly settings: RetentionSettings,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async prune(): Promise<PruneCounts> {
    this.stopping = false;
    const s = this.settings;
    const counts: PruneCounts = { inboundPayloads: 0, deliveries: 0, webhookEvents: 0, syncRuns: 0 };
    counts.inboundPayloads = await this.loop(s.inboundPayloadDays, (at, n) => this.repo.pruneInboundPayloads(at, n));
    counts.deliveries = await this.loop(s.deliveriesDays, (at, n) => this.repo.deleteDeliveredDeliveries(at, n));
    // After the deliveries: their events are left with none only then.
    counts.webhookEvents = await this.loop(s.deliveriesDays, (at, n) => this.repo.deleteUndeliveredEvents(at, n));
    counts.syncRuns = await this.loop(s.syncRunsDays, (at, n) => this.repo.deleteFinishedRuns(at, n));
    this.logger.info('retention pruned', { ...counts });
    return counts;
  }

  /** Ends a pass in progress after its current batch (shutdown). */
  stop(): void {
    this.stopping = true;
  }

  private async loop(days: number, step: (before: Date, limit: number) => Promise<number>): Promise<number> {
    if (days === 0) return 0;
    const before = new Date(this.now().getTime() - days * DAY_MS);
    let total = 0;
    while (!this.stopping) {
      const n = await step(before, this.settings.batch);
      total += n;
      if (n < this.settings.batch) break;
    }
    return total;
  }
}
