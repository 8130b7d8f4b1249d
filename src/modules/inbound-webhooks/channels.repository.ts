import type { Db } from '../../db/prisma';

/**
 * A channel due: to keep (opening, renewal, a changed config, a retry), or to release (its
 * integration was disconnected or turned off while the CRM still has the channel open).
 */
export interface DueChannel {
  action: 'keep' | 'release';
  integrationId: number;
  provider: string;
  channelId: string;
  notifyUrl: string;
  failures: number;
  /** Whether the CRM has the channel open (a keep succeeded since the last release). */
  open: boolean;
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
   * Claims up to `limit` due channels: those of active integrations (and of ones in error,
   * whose channel should not lapse while someone fixes them) to keep, and the open ones of
   * integrations disconnected or turned off to release, as soon as the integration changed.
   * Each is not due again for `leaseSeconds`, so instances running the same pass take
   * different ones.
   */
  claimDue(limit: number, leaseSeconds: number): Promise<DueChannel[]>;
  /** The CRM granted the channel until `expiresAt`; next due at `nextAt`. */
  kept(integrationId: number, expiresAt: Date, nextAt: Date): Promise<void>;
  /**
   * No channel is open at the CRM (the integration asks for none, or it was closed): due again
   * at `nextAt`, or sooner when the integration's config changes.
   */
  closed(integrationId: number, nextAt: Date): Promise<void>;
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
      // updated_at is the claim's time: an integration changed after it (disconnected, turned
      // off) makes an open channel due for release at once, whatever its renewal time.
      db.$queryRawUnsafe<DueChannel[]>(
        `WITH due AS (
           SELECT c2.integration_id,
                  CASE WHEN i2.is_active AND i2.status IN ('active', 'error') THEN 'keep' ELSE 'release' END AS action
           FROM webhook_channels c2 JOIN integrations i2 ON i2.id = c2.integration_id
           WHERE (i2.is_active AND i2.status IN ('active', 'error') AND c2.next_attempt_at <= now())
              OR (c2.kept_at IS NOT NULL AND (NOT i2.is_active OR i2.status = 'disconnected')
                  AND (c2.next_attempt_at <= now() OR i2.updated_at > c2.updated_at))
           ORDER BY c2.next_attempt_at LIMIT $1 FOR UPDATE OF c2 SKIP LOCKED)
         UPDATE webhook_channels c SET next_attempt_at = now() + make_interval(secs => $2), updated_at = now()
         FROM due, integrations i
         WHERE c.integration_id = due.integration_id AND i.id = c.integration_id
         RETURNING due.action, c.integration_id AS "integrationId", i.provider, c.channel_id AS "channelId",
                   c.notify_url AS "notifyUrl", c.failures, c.kept_at IS NOT NULL AS open`,
        limit,
        leaseSeconds,
      ),
    async kept(integrationId, expiresAt, nextAt) {
      await db.webhookChannel.update({
        where: { integrationId },
        data: { expiresAt, keptAt: new Date(), nextAttemptAt: nextAt, failures: 0, lastError: null },
      });
    },
    async closed(integrationId, nextAt) {
      await db.webhookChannel.update({
        where: { integrationId },
        data: { nextAttemptAt: nextAt, keptAt: null, expiresAt: null, failures: 0, lastError: null },
      });
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
