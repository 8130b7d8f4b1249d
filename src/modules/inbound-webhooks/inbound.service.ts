import type { Logger } from 'winston';
import { sha256Hex } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { GroupBatcher } from '../../lib/group-batcher';
import { findUnstorable } from '../../lib/input-guard';
import type { Metrics } from '../../lib/metrics';
import { WebhookPayloadError } from '../../providers/connector';
import { StaleWebhookError, type WebhookAdapter, type WebhookEvent, type WebhookRequest } from '../../providers/provider';
import type { IntegrationRow, IntegrationService } from '../integrations';
import type { InboxRepository, NewInboundEvent, StoredEvent } from './inbox.repository';

/** How requests find their integrations and what verifies them. */
export type IntegrationLookup = Pick<IntegrationService, 'find' | 'defaultOf' | 'byRoutingKey' | 'decrypt'>;

/** An integration a request may be for, with what verifies its signatures. */
interface Source {
  integrationId: number;
  organizationId: number;
  provider: string;
  status: string;
  isActive: boolean;
  routingKey: string | null;
  config: Record<string, unknown>;
  extraSecrets: string[];
}

/** A request as received: the body's bytes and how the sender called us. */
export interface IncomingWebhook {
  raw: Buffer;
  header(name: string): string | undefined;
  method: string;
  /** The full URL as the sender called it. */
  url: string;
}

export interface Receipt {
  /** Every event of the request was already stored. */
  duplicate: boolean;
  /** The first event's stored id (for a repeat, the one stored first). */
  eventId: number;
  integrationId: number;
  events: { eventId: number; duplicate: boolean; integrationId: number }[];
}

/** How a request finds its integrations: by the path's id, seed 000's default, or routing keys. */
type Route =
  | { kind: 'id'; integrationId: number; provider: string }
  | { kind: 'default'; provider: string }
  | { kind: 'key'; provider: string | null; preferred?: string };

// Integrations and their decrypted configs, kept briefly: the request path then costs one
// INSERT. An old secret, a disconnection or a deactivation applies within SOURCE_TTL_MS on
// every instance. A new secret within SOURCE_RECHECK_MS: a signature that fails against a
// copy older than that is checked again against a fresh read (so bad signatures cost at most
// one read per integration per SOURCE_RECHECK_MS).
const SOURCE_TTL_MS = 5_000;
const SOURCE_RECHECK_MS = 1_000;
const SOURCE_CACHE_MAX = 1_000;
// Inserts in flight at once. A batch's time is mostly its commit's wait for the disk; a
// second batch in flight takes the requests that arrive meanwhile instead of holding them
// until the first commits, and PostgreSQL flushes concurrent commits together.
const STORE_CONCURRENCY = 2;

/**
 * The request path of inbound webhooks: split the request into events, find each event's
 * integration, verify the signature for each integration involved (over the raw bytes),
 * store the events (deduplicated), answer. No CRM call and no user write happens here; the
 * inbox worker does those.
 */
export class InboundWebhookService {
  private readonly sources = new Map<string, { loadedAt: number; source: Promise<Source | null> }>();
  private readonly store: GroupBatcher<NewInboundEvent, StoredEvent>;

  constructor(
    private readonly repo: InboxRepository,
    private readonly integrations: IntegrationLookup,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly opts: {
      /** Secrets a provider's default integration accepts besides its own (seed 000). */
      extraSecrets: (provider: string) => string[];
      onStored: () => void;
    },
  ) {
    this.store = new GroupBatcher((events) => this.repo.insertMany(events), 500, STORE_CONCURRENCY);
  }

  /**
   * A CRM's own endpoint: /api/webhooks/<provider>[/:integrationId]. Without an id, a CRM
   * whose events name their account is routed by it; another goes to seed 000's default.
   */
  receiveFromProvider(
    adapter: WebhookAdapter,
    provider: string,
    req: IncomingWebhook,
    opts: { integrationId?: number; routedByAccount: boolean },
  ) {
    const route: Route =
      opts.integrationId !== undefined
        ? { kind: 'id', integrationId: opts.integrationId, provider }
        : opts.routedByAccount
          ? { kind: 'key', provider }
          : { kind: 'default', provider };
    return this.receive(provider, adapter, req, route, provider);
  }

  /**
   * Seed 002's envelope at /api/webhook: the integration is the one whose CRM account id
   * (routing key, unique per provider) is payload.locationId; `source` names the provider
   * when two providers' integrations share that id.
   */
  receiveEnvelope(adapter: WebhookAdapter, req: IncomingWebhook) {
    return this.receive('envelope', adapter, req, { kind: 'key', provider: null }, null);
  }

  private async receive(
    channel: string,
    adapter: WebhookAdapter,
    req: IncomingWebhook,
    route: Route,
    provider: string | null,
  ): Promise<Receipt> {
    const count = (outcome: string) => this.metrics.webhookInbound.inc({ channel, outcome });
    // Logged about a rejection: never the body (personal data), only its size and hash.
    const reject = (outcome: string, error: AppError, source?: Source): never => {
      count(outcome);
      this.logger.warn('inbound webhook rejected', {
        channel,
        reason: error.code,
        integrationId: source?.integrationId,
        bytes: req.raw.length,
        bodySha256: sha256Hex(req.raw).slice(0, 16),
      });
      throw error;
    };
    if (!Buffer.isBuffer(req.raw) || req.raw.length === 0) {
      reject('rejected_invalid', new AppError('invalid_data', 'empty_body', 'The webhook body is empty'));
    }
    if (adapter.signatureHeader && !req.header(adapter.signatureHeader)) {
      reject('rejected_signature', new AppError('unauthorized', 'missing_signature', `Missing ${adapter.signatureHeader} header`));
    }
    let json: unknown;
    let problem: AppError | null = null;
    try {
      json = JSON.parse(req.raw.toString('utf8'));
      const unstorable = findUnstorable(json, 'body');
      if (unstorable) problem = new AppError('invalid_data', 'invalid_payload', 'Webhook payload rejected', [unstorable]);
    } catch {
      problem = new AppError('invalid_data', 'malformed_json', 'Request body is not valid JSON');
    }
    const wreq: WebhookRequest = { ...req, json, integrationId: route.kind === 'id' ? route.integrationId : null };
    let events: WebhookEvent[] = [];
    if (!problem) {
      try {
        events = adapter.events(wreq);
        if (events.length === 0) problem = new AppError('invalid_data', 'invalid_payload', 'The webhook holds no event');
      } catch (err) {
        if (!(err instanceof WebhookPayloadError)) throw err;
        problem = new AppError('invalid_data', 'invalid_payload', 'Webhook payload rejected', err.problems);
      }
    }

    // Which integration each event is for. Routing by the body needs a readable body; a
    // route by path is checked for its signature before the body's faults are told.
    if (route.kind === 'key' && problem) return reject('rejected_invalid', problem);
    const sourcesOf = async (maxAgeMs: number) => {
      try {
        if (route.kind === 'key') {
          return await this.routeByKeys(events, route.provider, provider === null ? this.envelopeSource(json) : undefined, maxAgeMs);
        }
        const source = await this.pathSource(route, maxAgeMs);
        return events.length ? events.map(() => source) : [source];
      } catch (err) {
        if (!(err instanceof AppError)) throw err; // the database, not the sender
        return reject('rejected_unknown_integration', err);
      }
    };
    const distinct = (sources: (Source | null)[]) => [
      ...new Map(sources.filter((s): s is Source => s !== null).map((s) => [s.integrationId, s])).values(),
    ];
    let byEvent = await sourcesOf(SOURCE_TTL_MS);
    let involved = distinct(byEvent);
    const unsignedOf = (sources: Source[]) => sources.filter((source) => !this.signedBy(adapter, wreq, source));
    let unsigned = unsignedOf(involved);
    if (unsigned.length > 0) {
      // A kept copy may hold a secret rotated since: judge by a recent read before refusing.
      byEvent = await sourcesOf(SOURCE_RECHECK_MS);
      involved = distinct(byEvent);
      unsigned = unsignedOf(involved);
    }
    if (involved.length === 0) {
      return reject(
        'rejected_unknown_integration',
        new AppError('not_found', 'integration_not_found', 'No integration has the account id these events name'),
      );
    }
    // Why a signature was refused, for the answer and the count.
    for (const source of unsigned) {
      const credentials = { config: source.config, extraSecrets: source.extraSecrets };
      if (adapter.configured && !adapter.configured(credentials)) {
        reject(
          'rejected_signature',
          new AppError(
            'unauthorized',
            'webhook_secret_not_configured',
            `Integration ${source.integrationId} has no webhook secret configured`,
          ),
          source,
        );
      }
      let ok = false;
      try {
        ok = adapter.verify(wreq, credentials);
      } catch (err) {
        if (!(err instanceof StaleWebhookError)) throw err;
        reject('rejected_stale', new AppError('unauthorized', 'stale_signature', err.message), source);
      }
      if (!ok) reject('rejected_signature', new AppError('unauthorized', 'invalid_signature', 'Webhook signature does not match'), source);
    }
    if (problem) return reject('rejected_invalid', problem, involved[0]);
    if (route.kind === 'id') {
      const source = involved[0];
      const foreign = events.find((e) => e.routingKey !== null && source.routingKey !== null && e.routingKey !== source.routingKey);
      if (foreign) {
        reject(
          'rejected_invalid',
          new AppError('invalid_data', 'wrong_integration', `An event names account ${foreign.routingKey}, not this integration's`),
          source,
        );
      }
    }
    const off = involved.find((s) => !s.isActive || s.status === 'disconnected');
    if (off) {
      reject(
        'rejected_disconnected',
        new AppError('conflict', 'integration_disconnected', `Integration ${off.integrationId} is disconnected or turned off`),
        off,
      );
    }
    const dropped = byEvent.filter((s) => s === null).length;
    if (dropped > 0) {
      // Events of accounts no integration claims, in a batch that also has ours: theirs are
      // nobody's to store (a CRM may batch one app's events across accounts).
      this.metrics.webhookInbound.inc({ channel, outcome: 'rejected_unknown_integration' }, dropped);
      this.logger.warn('inbound webhook events for unknown accounts dropped', { channel, dropped });
    }

    // One delivery's events go in one statement, in the order the sender listed them: their ids
    // are the order the inbox applies them in.
    const ours = events.flatMap((event, i) => {
      const source = byEvent[i];
      if (!source) return [];
      const payload = JSON.stringify(event.payload);
      return [
        {
          source,
          row: {
            integrationId: source.integrationId,
            organizationId: source.organizationId,
            provider: source.provider,
            channel,
            eventType: event.type.slice(0, 100),
            dedupeKey: event.eventId !== null ? `id:${event.eventId}` : `sha256:${sha256Hex(payload)}`,
            payload,
          },
        },
      ];
    });
    const written = await this.store.addAll(ours.map((o) => o.row));
    const kept = written.map((s, i) => ({ ...s, integrationId: ours[i].source.integrationId }));
    for (const s of kept) count(s.duplicate ? 'duplicate' : 'accepted');
    if (kept.some((s) => !s.duplicate)) this.opts.onStored();
    return {
      duplicate: kept.every((s) => s.duplicate),
      eventId: kept[0].id,
      integrationId: kept[0].integrationId,
      events: kept.map((s) => ({ eventId: s.id, duplicate: s.duplicate, integrationId: s.integrationId })),
    };
  }

  /** Whether the request's signature is good for this integration (the verdict's details come later). */
  private signedBy(adapter: WebhookAdapter, req: WebhookRequest, source: Source): boolean {
    const credentials = { config: source.config, extraSecrets: source.extraSecrets };
    try {
      return (!adapter.configured || adapter.configured(credentials)) && adapter.verify(req, credentials);
    } catch {
      return false;
    }
  }

  /** The path's integration, or seed 000's default one of the provider. */
  private async pathSource(route: Extract<Route, { kind: 'id' | 'default' }>, maxAgeMs: number): Promise<Source> {
    const key = route.kind === 'id' ? `id:${route.integrationId}` : `default:${route.provider}`;
    const source = await this.cached(
      key,
      async () => {
        const row =
          route.kind === 'id' ? await this.integrations.find(route.integrationId) : await this.integrations.defaultOf(route.provider);
        return row ? this.toSource(row, route.kind === 'default') : null;
      },
      maxAgeMs,
    );
    // The path's provider picks the verifier: another provider's integration is not found
    // here, or one CRM's adapter would judge requests with another's secrets.
    if (source && source.provider === route.provider) return source;
    throw route.kind === 'default'
      ? new AppError(
          'not_found',
          'integration_not_found',
          `No default ${route.provider} integration; post to /api/webhooks/${route.provider}/<integrationId> instead`,
        )
      : AppError.notFound('Integration', route.integrationId);
  }

  /**
   * Each event's integration by its routing key, through the unique index on (provider,
   * routing key). The envelope (no provider) may match integrations of several providers:
   * `preferred` (its `source`) picks one, else it is ambiguous (409).
   */
  private async routeByKeys(
    events: WebhookEvent[],
    provider: string | null,
    preferred: string | undefined,
    maxAgeMs: number,
  ): Promise<(Source | null)[]> {
    const keys = [...new Set(events.map((e) => e.routingKey))];
    const found = new Map<string | null, Source | null>();
    for (const key of keys) {
      if (key === null) {
        throw new AppError('invalid_data', 'validation_failed', 'Webhook payload rejected', [
          { path: 'body', message: "names no account: post to the integration's own URL (/api/webhooks/<provider>/<integrationId>)" },
        ]);
      }
      const problem = findUnstorable(key, 'routing key');
      if (problem) throw new AppError('invalid_data', 'validation_failed', 'Webhook payload rejected', [problem]);
      found.set(
        key,
        await this.cached(
          `key:${provider ?? '*'}:${preferred ?? ''}:${key}`,
          async () => {
            const rows = await this.integrations.byRoutingKey(key, provider ?? undefined);
            const mine = rows.filter((r) => r.provider === preferred);
            const candidates = mine.length > 0 ? mine : rows;
            if (candidates.length > 1) {
              throw new AppError(
                'conflict',
                'ambiguous_routing_key',
                `Integrations of several providers have the account id ${key}; name the provider in "source"`,
              );
            }
            return candidates[0] ? this.toSource(candidates[0], false) : null;
          },
          maxAgeMs,
        ),
      );
    }
    return events.map((e) => found.get(e.routingKey) ?? null);
  }

  /** The envelope's `source`: a provider name, when it gives one. */
  private envelopeSource(json: unknown): string | undefined {
    const s = (json as { source?: unknown } | null)?.source;
    return typeof s === 'string' ? s : undefined;
  }

  /** The kept source if it was read less than `maxAgeMs` ago, else a new read (shared by the requests asking meanwhile). */
  private cached(key: string, load: () => Promise<Source | null>, maxAgeMs: number): Promise<Source | null> {
    const hit = this.sources.get(key);
    if (hit && Date.now() - hit.loadedAt < maxAgeMs) return hit.source;
    const source = load();
    // Bounded: ids in URLs are the sender's choice, and each one would stay here otherwise.
    if (this.sources.size >= SOURCE_CACHE_MAX) this.sources.clear();
    this.sources.set(key, { loadedAt: Date.now(), source });
    // A miss is not kept: an account id learned a moment later (HubSpot's portalId at the
    // connection test) must route the next event, and CRMs do not retry a 404.
    source.then(
      (s) => {
        if (s === null && this.sources.get(key)?.source === source) this.sources.delete(key);
      },
      () => this.sources.delete(key),
    );
    return source;
  }

  private toSource(row: IntegrationRow, isDefault: boolean): Source {
    return {
      integrationId: row.id,
      organizationId: row.organizationId,
      provider: row.provider,
      status: row.status,
      isActive: row.isActive,
      routingKey: row.routingKey,
      config: this.integrations.decrypt(row),
      extraSecrets: isDefault ? this.opts.extraSecrets(row.provider) : [],
    };
  }
}
