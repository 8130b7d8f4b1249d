import type { Logger } from 'winston';
import type { IntegrationRow } from '../integrations';
import type { WebhookChannelKeeper } from '../../providers/provider';
import type { DueChannel, WebhookChannelRepository } from './channels.repository';

/** What the channel keeper needs of the integrations. */
export interface ChannelIntegrations {
  find(id: number): Promise<IntegrationRow | null>;
  freshChannelKeeper(row: IntegrationRow): Promise<WebhookChannelKeeper | null>;
}

export interface ChannelPassResult {
  kept: number;
  /** Closed at the CRM: the integration was disconnected or turned off, or its token removed. */
  released: number;
  idle: number;
  failed: number;
}

const MINUTE = 60_000;
/** A failed keep is tried again after 5 minutes, doubling up to 6 hours. */
const retryDelay = (failures: number) => Math.min(5 * MINUTE * 2 ** Math.min(failures, 10), 360 * MINUTE);

/**
 * Keeps open the webhook channels of CRMs whose channels expire (Zoho's watch channels last
 * at most a week): opens one for each active integration of such a provider, renews it well
 * before it expires, sends a changed token or URL at once, and retries failures with backoff.
 * Without PUBLIC_BASE_URL there is no address to give the CRM, and nothing is opened.
 */
export class WebhookChannelService {
  private warnedNoBaseUrl = false;

  constructor(
    private readonly repo: WebhookChannelRepository,
    private readonly integrations: ChannelIntegrations,
    private readonly providers: () => string[],
    private readonly logger: Logger,
    private readonly opts: {
      publicBaseUrl: string | undefined;
      /** How long a channel is asked for (the CRM may grant less). */
      lifetimeMs: number;
      /** Renewed this long before it expires. */
      renewAheadMs: number;
      batch: number;
      leaseSeconds: number;
      /** How long a deletion waits for the CRM to close the channel (default 5 s). */
      releaseTimeoutMs?: number;
    },
  ) {}

  /** One pass: every due channel, in batches. */
  async keepDue(): Promise<ChannelPassResult> {
    const result: ChannelPassResult = { kept: 0, released: 0, idle: 0, failed: 0 };
    const providers = this.providers();
    if (providers.length === 0) return result;
    const base = this.opts.publicBaseUrl?.replace(/\/+$/, '');
    if (!base) {
      // Said once, and only to a deployment that has such an integration to keep a channel for.
      if (!this.warnedNoBaseUrl && (await this.repo.anyCandidate(providers))) {
        this.warnedNoBaseUrl = true;
        this.logger.warn('webhook channels not opened: PUBLIC_BASE_URL is not set, so there is no address to give the CRM', {
          providers,
        });
      }
      return result;
    }
    await this.repo.ensure(providers, base);
    for (;;) {
      const due = await this.repo.claimDue(this.opts.batch, this.opts.leaseSeconds);
      for (const c of due) result[await this.keepOne(c)]++;
      if (due.length < this.opts.batch) return result;
    }
  }

  /** The integration's config changed: its channel is sent again on the next pass. */
  touch(integrationId: number): Promise<void> {
    return this.repo.touch(integrationId);
  }

  /**
   * The integration is being deleted: its channel is closed at the CRM, so the CRM stops
   * posting to an address that now answers 404. Best effort and bounded: a CRM that fails or
   * hangs does not stop the deletion (the channel then lapses at its expiry, within a week).
   */
  async release(row: IntegrationRow): Promise<void> {
    const channel = await this.repo.get(row.id);
    if (!channel?.keptAt) return;
    const attempt = (async () => {
      const keeper = await this.integrations.freshChannelKeeper(row);
      await keeper?.release(channel.channelId);
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.opts.releaseTimeoutMs ?? 5000);
    });
    try {
      if ((await Promise.race([attempt, timeout])) === 'timeout') {
        attempt.catch(() => undefined);
        this.logger.warn('webhook channel not closed in time; it lapses at its expiry', {
          integrationId: row.id,
          expiresAt: channel.expiresAt,
        });
      }
    } catch (err) {
      this.logger.warn('webhook channel not closed; it lapses at its expiry', {
        integrationId: row.id,
        expiresAt: channel.expiresAt,
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  status(integrationId: number) {
    return this.repo.get(integrationId);
  }

  private async keepOne(c: DueChannel): Promise<keyof ChannelPassResult> {
    const now = Date.now();
    try {
      const row = await this.integrations.find(c.integrationId);
      const keeper = row && (await this.integrations.freshChannelKeeper(row));
      if (c.action === 'release') {
        // Disconnected or turned off: the CRM would post to an address that answers 409.
        await keeper?.release(c.channelId);
        // Due again at once: it is kept as soon as the integration is active again.
        await this.repo.closed(c.integrationId, new Date(now));
        this.logger.info('webhook channel released', { integrationId: c.integrationId, provider: c.provider });
        return 'released';
      }
      const granted =
        keeper && (await keeper.keep({ id: c.channelId, notifyUrl: c.notifyUrl, until: new Date(now + this.opts.lifetimeMs) }));
      if (!granted) {
        // No token set: nothing to open until the config changes (touch), or a day from now.
        // A channel opened with a token since removed is closed: its notifications would be refused.
        if (c.open) await keeper?.release(c.channelId);
        await this.repo.closed(c.integrationId, new Date(now + 24 * 60 * MINUTE));
        return c.open ? 'released' : 'idle';
      }
      const left = granted.expiresAt.getTime() - now;
      const next = new Date(Math.max(now + left / 2, granted.expiresAt.getTime() - this.opts.renewAheadMs));
      await this.repo.kept(c.integrationId, granted.expiresAt, next);
      this.logger.info('webhook channel kept', {
        integrationId: c.integrationId,
        provider: row.provider,
        expiresAt: granted.expiresAt.toISOString(),
        nextRenewalAt: next.toISOString(),
      });
      return 'kept';
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const next = new Date(now + retryDelay(c.failures));
      await this.repo.failed(c.integrationId, message, next);
      this.logger.warn(`webhook channel not ${c.action === 'keep' ? 'kept' : 'released'}`, {
        integrationId: c.integrationId,
        error: message,
        failures: c.failures + 1,
        nextAttemptAt: next.toISOString(),
      });
      return 'failed';
    }
  }
}
