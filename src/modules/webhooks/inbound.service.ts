import type { Logger } from 'winston';
import { sha256Hex } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import type { Metrics } from '../../lib/metrics';
import { WebhookPayloadError, type WebhookAdapter } from '../integrations/connectors/connector';
import type { IntegrationRow } from '../integrations/integrations.repository';
import type { IntegrationService } from '../integrations/integrations.service';
import { GroupBatcher } from '../../lib/group-batcher';
import { assertStorable, findUnstorable } from '../../lib/input-guard';
import type { InboxRepository, NewInboundEvent, StoredEvent } from './inbox.repository';

/** Who may have sent a request: its integration and the secrets that may have signed it. */
interface Source {
  integrationId: number;
  organizationId: number;
  provider: string;
  status: string;
  isActive: boolean;
  secrets: string[];
}

/** A request's header by name (Express's req.get). */
export type HeaderGetter = (name: string) => string | undefined;

export interface Receipt {
  duplicate: boolean;
  /** The stored event: this one, or for a repeat the one stored first. */
  eventId: number;
  integrationId: number;
}

// Integrations and their decrypted secrets, kept briefly: the request path then costs one
// INSERT. A changed secret applies within this long.
const SOURCE_TTL_MS = 5_000;
const SOURCE_CACHE_MAX = 1_000;

/**
 * The request path of inbound webhooks: verify the signature over the raw bytes, check the
 * shape, store the event (deduplicated), answer. No CRM call and no user write happens here;
 * the inbox worker does those.
 */
export class InboundWebhookService {
  private readonly sources = new Map<string, { until: number; source: Promise<Source | null> }>();
  private readonly store: GroupBatcher<NewInboundEvent, StoredEvent>;

  constructor(
    private readonly repo: InboxRepository,
    private readonly integrations: IntegrationService,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly opts: { defaultWealthboxSecret?: string; onStored: () => void },
  ) {
    this.store = new GroupBatcher((events) => this.repo.insertMany(events));
  }

  /** A CRM's own endpoint: /api/webhooks/<provider>[/:integrationId]. */
  receiveFromProvider(adapter: WebhookAdapter, provider: string, raw: Buffer, headers: HeaderGetter, integrationId?: number) {
    const channel = provider;
    return this.receive(channel, adapter, raw, headers, async () => {
      const key = integrationId === undefined ? `default:${provider}` : `id:${integrationId}`;
      const source = await this.cached(key, async () => {
        const row = integrationId === undefined ? await this.repo.defaultIntegration(provider) : await this.repo.integration(integrationId);
        if (!row || row.provider !== provider) return null;
        const extra = integrationId === undefined && provider === 'wealthbox' ? this.opts.defaultWealthboxSecret : undefined;
        return this.toSource(row, extra);
      });
      if (!source) {
        throw integrationId === undefined
          ? new AppError(
              'not_found',
              'integration_not_found',
              `No default ${provider} integration; post to /api/webhooks/${provider}/<integrationId> instead`,
            )
          : AppError.notFound('Integration', integrationId);
      }
      return source;
    });
  }

  /**
   * Seed 002's envelope at /api/webhook: the integration is the one whose CRM account id
   * (routing key, unique per provider) is payload.locationId; `source` names the provider
   * when two providers' integrations share that id.
   */
  receiveEnvelope(adapter: WebhookAdapter, raw: Buffer, headers: HeaderGetter) {
    return this.receive('envelope', adapter, raw, headers, async (json) => {
      const body = json as { source?: unknown; payload?: { locationId?: unknown } } | null;
      const locationId = body?.payload?.locationId;
      if (typeof locationId !== 'string' || locationId === '') {
        throw new AppError('invalid_data', 'validation_failed', 'Webhook payload rejected', [
          { path: 'body.payload.locationId', message: 'is required: it names the integration' },
        ]);
      }
      assertStorable(locationId, 'body.payload.locationId');
      const provider = typeof body?.source === 'string' ? body.source : undefined;
      const source = await this.cached(`location:${provider ?? ''}:${locationId}`, async () => {
        const rows = await this.repo.byRoutingKey(locationId);
        const mine = rows.filter((r) => r.provider === provider);
        const candidates = mine.length > 0 ? mine : rows;
        if (candidates.length > 1) {
          throw new AppError(
            'conflict',
            'ambiguous_routing_key',
            `Integrations of several providers have locationId ${locationId}; name the provider in "source"`,
          );
        }
        return candidates[0] ? this.toSource(candidates[0]) : null;
      });
      if (!source) throw new AppError('not_found', 'integration_not_found', `No integration has locationId ${locationId}`);
      return source;
    });
  }

  private async receive(
    channel: string,
    adapter: WebhookAdapter,
    raw: Buffer,
    headers: HeaderGetter,
    find: (json: unknown) => Promise<Source>,
  ): Promise<Receipt> {
    const count = (outcome: string) => this.metrics.webhookInbound.inc({ channel, outcome });
    // Logged about a rejection: never the body (personal data), only its size and hash.
    const reject = (outcome: string, error: AppError, source?: Source): never => {
      count(outcome);
      this.logger.warn('inbound webhook rejected', {
        channel,
        reason: error.code,
        integrationId: source?.integrationId,
        bytes: raw.length,
        bodySha256: sha256Hex(raw).slice(0, 16),
      });
      throw error;
    };
    if (!Buffer.isBuffer(raw) || raw.length === 0) {
      reject('rejected_invalid', new AppError('invalid_data', 'empty_body', 'The webhook body is empty'));
    }
    const signature = headers(adapter.signatureHeader);
    if (!signature) {
      reject('rejected_signature', new AppError('unauthorized', 'missing_signature', `Missing ${adapter.signatureHeader} header`));
    }
    const text = raw.toString('utf8');
    const malformed = () => new AppError('invalid_data', 'malformed_json', 'Request body is not valid JSON');
    let json: unknown;
    let parsedOk = true;
    try {
      json = JSON.parse(text);
    } catch {
      parsedOk = false;
    }
    let source: Source;
    try {
      source = await find(json);
    } catch (err) {
      if (!(err instanceof AppError)) throw err; // the database, not the sender
      if (!parsedOk) reject('rejected_invalid', malformed());
      return reject('rejected_unknown_integration', err);
    }
    // An integration without a secret rejects: it never skips the check.
    if (source.secrets.length === 0) {
      reject(
        'rejected_signature',
        new AppError(
          'unauthorized',
          'webhook_secret_not_configured',
          `Integration ${source.integrationId} has no webhookSecret configured`,
        ),
        source,
      );
    }
    if (!adapter.verify(raw, signature as string, source.secrets)) {
      reject('rejected_signature', new AppError('unauthorized', 'invalid_signature', 'Webhook signature does not match'), source);
    }
    if (!parsedOk) reject('rejected_invalid', malformed(), source);
    const unstorable = findUnstorable(json, 'body');
    if (unstorable) {
      reject('rejected_invalid', new AppError('invalid_data', 'invalid_payload', 'Webhook payload rejected', [unstorable]), source);
    }
    if (!source.isActive || source.status === 'disconnected') {
      reject(
        'rejected_disconnected',
        new AppError('conflict', 'integration_disconnected', `Integration ${source.integrationId} is disconnected or turned off`),
        source,
      );
    }
    let parsed;
    try {
      parsed = adapter.parse(json, source.provider);
    } catch (err) {
      if (!(err instanceof WebhookPayloadError)) throw err;
      return reject('rejected_invalid', new AppError('invalid_data', 'invalid_payload', 'Webhook payload rejected', err.problems), source);
    }
    const stored = await this.store.add({
      integrationId: source.integrationId,
      organizationId: source.organizationId,
      provider: source.provider,
      channel,
      eventType: parsed.type,
      dedupeKey: parsed.eventId !== null ? `id:${parsed.eventId}` : `sha256:${sha256Hex(raw)}`,
      payload: text,
    });
    count(stored.duplicate ? 'duplicate' : 'accepted');
    if (!stored.duplicate) this.opts.onStored();
    return { duplicate: stored.duplicate, eventId: stored.id, integrationId: source.integrationId };
  }

  private cached(key: string, load: () => Promise<Source | null>): Promise<Source | null> {
    const hit = this.sources.get(key);
    if (hit && hit.until > Date.now()) return hit.source;
    const source = load();
    // Bounded: ids in URLs are the sender's choice, and each one would stay here otherwise.
    if (this.sources.size >= SOURCE_CACHE_MAX) this.sources.clear();
    this.sources.set(key, { until: Date.now() + SOURCE_TTL_MS, source });
    source.catch(() => this.sources.delete(key));
    return source;
  }

  private toSource(row: IntegrationRow, extraSecret?: string): Source {
    const config = this.integrations.decrypt(row);
    const secrets = [config.webhookSecret, extraSecret].filter((s): s is string => typeof s === 'string' && s.length > 0);
    return {
      integrationId: row.id,
      organizationId: row.organizationId,
      provider: row.provider,
      status: row.status,
      isActive: row.isActive,
      secrets: [...new Set(secrets)],
    };
  }
}
