import type { Db } from '../../db/prisma';

/** A channel due for a keep (opening, renewal, a changed config, a retry). */
export interface DueChannel {
  integrationId: number;
  provider: string;
  channelId: string;
  notifyUrl: string;
  failures: number;
}

export interface WebhookChannelRepository {
  /**
   * Adds a row for each active integration of these providers that has none, and points every
   * row at its notify URL under `baseUrl` (PUBLIC_BASE_URL may change): a changed URL is due now.
   */
  ensure(providers: string[], baseUrl: string): Promise<void>;
  /** Whether any active integration of these providers would have a channel. */
  anyCandidate(providers: string[]): Promise<boolean>;
  /**
   * Claims up to `limit` due channels of active integrations: each is not due again for
   * `leaseSeconds`, so instances running the same pass take different ones.
   */
  claimDue(limit: number, leaseSeconds: number): Promise<DueChannel[]>;
  /** The CRM granted the channel until `expiresAt`; next due at `nextAt`. */
  kept(integrationId: number, expiresAt: Date, nextAt: Date): Promise<void>;
  /** The integration asks for no channel (no token): looked at again at `nextAt` or when its config changes. */
  idle(integrationId: number, nextAt: Date): Promise<void>;
  failed(integrationId: number, error: string, nextAt: Date): Promise<void>;
  /** Due now: the integration's config changed (a new token goes to the CRM). */
  touch(integrationId: number): Promise<void>;
  get(integrationId: number): Promise<{
    channelId: string;
    notifyUrl: string;
    expiresAt: Date | null;
    keptAt: Date | null;
    nextAttemptAt: Date;
    failures: number;
    lastError: string | null;
  } | null>;
}

export function createWebhookChannelRepository(db: Db): WebhookChannelRepository {
  return {
    async ensure(providers, baseUrl) {
      // The notify URL is the provider's inbound path with the integration's id. The channel id
      // is a random number of 15-16 digits (Zoho's SDKs type it a long), drawn once: the
      // integration's id would be the same number in another deployment (staging beside
      // production) on the same CRM account, and each would replace the other's channel.
      await db.$executeRawUnsafe(
        `INSERT INTO webhook_channels (integration_id, channel_id, notify_url)
         SELECT i.id, (100000000000000 + floor(random() * 8900000000000000))::bigint::text,
                $2 || '/api/webhooks/' || i.provider || '/' || i.id
         FROM integrations i
         WHERE i.provider = ANY($1::text[]) AND i.status = 'active' AND i.is_active
         ON CONFLICT (integration_id) DO UPDATE SET notify_url = EXCLUDED.notify_url, next_attempt_at = now(), updated_at = now()
         WHERE webhook_channels.notify_url <> EXCLUDED.notify_url`,
        providers,
        baseUrl,
      );
    },
    async anyCandidate(providers) {
      const found = await db.integration.findFirst({
        where: { provider: { in: providers }, status: 'active', isActive: true },
        select: { id: true },
      });
      return found !== null;
    },
    claimDue: (limit, leaseSeconds) =>
      db.$queryRawUnsafe<DueChannel[]>(
        `UPDATE webhook_channels c SET next_attempt_at = now() + make_interval(secs => $2), updated_at = now()
         FROM integrations i
         WHERE i.id = c.integration_id AND c.integration_id IN (
           SELECT c2.integration_id FROM webhook_channels c2 JOIN integrations i2 ON i2.id = c2.integration_id
           WHERE c2.next_attempt_at <= now() AND i2.status = 'active' AND i2.is_active
           ORDER BY c2.next_attempt_at LIMIT $1 FOR UPDATE OF c2 SKIP LOCKED)
         RETURNING c.integration_id AS "integrationId", i.provider, c.channel_id AS "channelId", c.notify_url AS "notifyUrl", c.failures`,
        limit,
        leaseSeconds,
      ),
    async kept(integrationId, expiresAt, nextAt) {
      await db.webhookChannel.update({
        where: { integrationId },
        data: { expiresAt, keptAt: new Date(), nextAttemptAt: nextAt, failures: 0, lastError: null },
      });
    },
    async idle(integrationId, nextAt) {
      await db.webhookChannel.update({ where: { integrationId }, data: { nextAttemptAt: nextAt, failures: 0, lastError: null } });
    },
    async failed(integrationId, error, nextAt) {
      await db.webhookChannel.update({
        where: { integrationId },
        data: { lastError: error.slice(0, 1000), nextAttemptAt: nextAt, failures: { increment: 1 } },
      });
    },
    async touch(integrationId) {
      await db.webhookChannel.updateMany({ where: { integrationId }, data: { nextAttemptAt: new Date() } });
    },
    get: (integrationId) =>
      db.webhookChannel.findUnique({
        where: { integrationId },
        select: { channelId: true, notifyUrl: true, expiresAt: true, keptAt: true, nextAttemptAt: true, failures: true, lastError: true },
      }),
  };
}
