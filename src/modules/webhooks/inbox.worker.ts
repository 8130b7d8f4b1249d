import type { Logger } from 'winston';
import type { Db, TxDb } from '../../db/prisma';
import type { Metrics } from '../../lib/metrics';
import { PollingLoop } from '../../lib/polling-loop';
import type { InboundChange, WebhookAdapter } from '../integrations/connectors/connector';
import { applyPeople, removePeople, seenKey } from '../sync/people.repository';

interface Claimed {
  id: number;
  integration_id: number;
  organization_id: number;
  provider: string;
  channel: string;
  payload: unknown;
  attempts: number;
  received_at: Date;
}

/** What processing decided for one event. */
interface Result {
  id: number;
  status: 'processed' | 'pending' | 'failed';
  outcome: string;
  error: string | null;
  /** pending: when to try again. */
  next: string | null;
}

class RetryLater extends Error {}

const CLAIM = `
  SELECT id, integration_id, organization_id, provider, channel, payload, attempts, received_at
  FROM inbound_events
  WHERE status = 'pending' AND next_attempt_at <= now()
  ORDER BY id
  LIMIT $1
  FOR UPDATE SKIP LOCKED`;

const RECORD = `
  UPDATE inbound_events e SET
    status = r->>'status', outcome = r->>'outcome', attempts = e.attempts + 1, last_error = r->>'error',
    processed_at = CASE WHEN r->>'status' = 'processed' THEN now() END,
    next_attempt_at = COALESCE((r->>'next')::timestamptz, e.next_attempt_at)
  FROM jsonb_array_elements($1::jsonb) AS x(r)
  WHERE e.id = (r->>'id')::int`;

const MAX_BACKOFF_MS = 3600_000;
const POKE_DELAY_MS = 200;

/**
 * Processes stored inbound events. A batch is claimed with FOR UPDATE SKIP LOCKED and its
 * effects, and the events' new status, commit in that one transaction: a crash before the
 * commit leaves them pending (processed after restart), after it they are done: each event
 * takes effect once. Several instances share the work.
 *
 * Within a batch, events about the same person collapse to the newest (by the source's time);
 * the older ones are recorded as superseded. If the batch fails as a whole, each event is
 * tried alone, so one bad event cannot hold up the others.
 */
export class InboxWorker {
  private readonly loop: PollingLoop;

  constructor(
    private readonly prisma: TxDb,
    private readonly adapters: (channel: string) => WebhookAdapter | undefined,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly opts: { batch: number; maxAttempts: number; retryBaseMs: number; pollMs: number },
  ) {
    this.loop = new PollingLoop(async () => {
      try {
        return (await this.processBatch()) === this.opts.batch;
      } catch (err) {
        this.logger.error('inbound webhook processing failed', { err: (err as Error).message });
        return false;
      }
    }, opts.pollMs);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /**
   * New events arrived. The wake-up waits a moment so that a stream of events is processed
   * in batches, not one transaction per event.
   */
  poke(): void {
    this.loop.wake(POKE_DELAY_MS);
  }

  /** Processes everything due now, then returns (tests, scripts). */
  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.processBatch(); n > 0; n = await this.processBatch()) total += n;
    return total;
  }

  /** One claimed batch; returns how many events it took. */
  async processBatch(): Promise<number> {
    let claimed: Claimed[] = [];
    try {
      await this.prisma.$transaction(async (tx) => {
        claimed = await tx.$queryRawUnsafe<Claimed[]>(CLAIM, this.opts.batch);
        if (claimed.length === 0) return;
        await this.record(tx, await this.apply(tx, claimed));
      });
      return claimed.length;
    } catch (err) {
      if (claimed.length === 0) throw err;
      this.logger.warn('inbound webhook batch failed; processing its events one by one', { err: (err as Error).message });
    }
    for (const event of claimed) await this.processOne(event.id);
    return claimed.length;
  }

  private async processOne(id: number): Promise<void> {
    try {
      await this.prisma.$transaction(async (tx) => {
        const rows = await tx.$queryRawUnsafe<Claimed[]>(CLAIM.replace('WHERE', 'WHERE id = $2 AND'), 1, id);
        if (rows.length) await this.record(tx, await this.apply(tx, rows));
      });
    } catch (err) {
      // The effects rolled back; count the attempt in a transaction of its own.
      const [row] = await this.prisma.$queryRawUnsafe<{ attempts: number }[]>('SELECT attempts FROM inbound_events WHERE id = $1', id);
      if (row) await this.record(this.prisma, [this.failure(id, row.attempts, err as Error)]);
    }
  }

  private failure(id: number, attempts: number, err: Error): Result {
    const done = attempts + 1;
    const error = err.message.slice(0, 1000);
    if (done >= this.opts.maxAttempts) return { id, status: 'failed', outcome: 'failed', error, next: null };
    const delay = Math.min(this.opts.retryBaseMs * 2 ** (done - 1), MAX_BACKOFF_MS) * (0.8 + Math.random() * 0.4);
    return { id, status: 'pending', outcome: 'retry', error, next: new Date(Date.now() + delay).toISOString() };
  }

  private async record(db: Db, results: Result[]): Promise<void> {
    await db.$executeRawUnsafe(RECORD, JSON.stringify(results));
    for (const r of results) {
      this.metrics.webhookProcessed.inc({ outcome: r.outcome });
      if (r.status === 'failed') this.logger.warn('inbound webhook event failed for good', { eventId: r.id, error: r.error });
    }
  }

  private async apply(tx: Db, events: Claimed[]): Promise<Result[]> {
    const results = new Map<number, Result>();
    const done = (id: number, outcome: string) => results.set(id, { id, status: 'processed', outcome, error: null, next: null });
    const parsed: { event: Claimed; change: InboundChange }[] = [];
    for (const event of events) {
      const adapter = this.adapters(event.channel);
      try {
        if (!adapter) throw new Error(`no webhook adapter for ${event.channel}`);
        parsed.push({ event, change: adapter.parse(event.payload, event.provider).change });
      } catch (err) {
        // Checked at the door; only a stored event from an older version can fail here.
        results.set(event.id, { id: event.id, status: 'failed', outcome: 'invalid', error: (err as Error).message, next: null });
      }
    }
    // Per integration: its organization, and its provider as the users' source.
    const groups = new Map<number, typeof parsed>();
    for (const p of parsed) groups.set(p.event.integration_id, [...(groups.get(p.event.integration_id) ?? []), p]);
    for (const group of groups.values()) {
      const { organization_id: org, provider: source, integration_id: integrationId } = group[0].event;
      // The newest event per person wins; "newest" by the source's time, then arrival.
      const latest = new Map<string, { event: Claimed; change: InboundChange }>();
      for (const p of [...group].sort((a, b) => sourceTime(a) - sourceTime(b) || a.event.id - b.event.id)) {
        const key = personKey(p.change);
        if (key === null) continue;
        const before = latest.get(key);
        if (before) done(before.event.id, 'superseded');
        latest.set(key, p);
      }
      const open = group.filter((p) => !results.has(p.event.id));
      // People first, so an activity about a contact created in this batch finds its user.
      const upserts = open.flatMap((p) => (p.change.kind === 'upsert' ? [{ id: p.event.id, person: p.change.person }] : []));
      const { outcomes } = await applyPeople(
        tx,
        org,
        source,
        upserts.map((u) => u.person),
      );
      upserts.forEach((u, i) => done(u.id, outcomes[i]));
      for (const { event, change } of open) {
        if (change.kind === 'ignore') done(event.id, 'ignored');
        else if (change.kind === 'delete') done(event.id, await this.remove(tx, org, source, change, event.received_at));
        else if (change.kind === 'activity') {
          try {
            done(event.id, await this.activity(tx, org, integrationId, event.id, change));
          } catch (err) {
            if (!(err instanceof RetryLater)) throw err;
            results.set(event.id, this.failure(event.id, event.attempts, err));
          }
        }
      }
    }
    return events.map((e) => results.get(e.id) as Result);
  }

  /** Deletion, unless what we hold is newer than the deletion. */
  private async remove(tx: Db, org: number, source: string, change: Extract<InboundChange, { kind: 'delete' }>, receivedAt: Date) {
    const at = change.at ?? receivedAt;
    const [held] = await tx.$queryRawUnsafe<{ held: string | null }[]>(
      `SELECT data->>'sourceUpdatedAt' AS held FROM user_identities WHERE organization_id = $1 AND provider = $2 AND external_id = $3`,
      org,
      change.provider,
      change.externalId,
    );
    if (!held) return 'unknown';
    if (held.held && Date.parse(held.held) > at.getTime()) return 'stale';
    const r = await removePeople(tx, org, source, [change.provider], [seenKey(change.provider, change.externalId)], false);
    // The deletion's time stays on the identity, so an older update arriving later is stale.
    await tx.$executeRawUnsafe(
      `UPDATE user_identities SET data = jsonb_set(COALESCE(data, '{}'::jsonb), '{sourceUpdatedAt}', to_jsonb($4::text)), updated_at = now()
       WHERE organization_id = $1 AND provider = $2 AND external_id = $3`,
      org,
      change.provider,
      change.externalId,
      at.toISOString(),
    );
    return r.deleted > 0 ? 'deleted' : r.unlinked > 0 ? 'unlinked' : 'unchanged';
  }

  /** An activity on the person's user; a person we do not know yet may arrive later. */
  private async activity(
    tx: Db,
    org: number,
    integrationId: number,
    eventId: number,
    change: Extract<InboundChange, { kind: 'activity' }>,
  ) {
    const rows = await tx.$queryRawUnsafe<{ id: number }[]>(
      `INSERT INTO user_activities (organization_id, user_id, integration_id, inbound_event_id, type, data, occurred_at)
       SELECT $1, ui.user_id, $2, $3, $4, $5::jsonb, COALESCE($6::timestamptz, now())
       FROM user_identities ui WHERE ui.organization_id = $1 AND ui.provider = $7 AND ui.external_id = $8
       ON CONFLICT (inbound_event_id) DO UPDATE SET data = EXCLUDED.data
       RETURNING id`,
      org,
      integrationId,
      eventId,
      change.activityType,
      JSON.stringify(change.data),
      change.occurredAt?.toISOString() ?? null,
      change.provider,
      change.externalId,
    );
    if (rows.length === 0) throw new RetryLater(`no user is linked to ${change.provider} contact ${change.externalId} yet`);
    return 'activity';
  }
}

/** Events about one person collapse; activities never do (each is its own record). */
function personKey(c: InboundChange): string | null {
  if (c.kind === 'upsert') return seenKey(c.person.provider, c.person.externalId);
  if (c.kind === 'delete') return seenKey(c.provider, c.externalId);
  return null;
}

function sourceTime({ event, change }: { event: Claimed; change: InboundChange }): number {
  const t = change.kind === 'upsert' ? change.person.updatedAt : change.kind === 'delete' ? change.at : null;
  return (t ?? event.received_at).getTime();
}
