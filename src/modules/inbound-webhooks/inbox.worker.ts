import type { Logger } from 'winston';
import type { UnitOfWork } from '../../db/unit-of-work';
import { findUnstorable } from '../../lib/input-guard';
import type { Metrics } from '../../lib/metrics';
import { PollingLoop } from '../../lib/polling-loop';
import type { CrmConnector, InboundChange, PersonRecord } from '../../providers/connector';
import type { WebhookAdapter } from '../../providers/provider';
import { seenKey, trustedSourceTime, type PeopleRepository, type Removal } from '../people';
import type { ClaimedEvent as Claimed, EventResult as Result, InboxQueue } from './inbox.repository';
import { isEmail } from '../../lib/email';

/** What one batch's transaction writes through. */
export interface InboxRepositories {
  queue: InboxQueue;
  people: PeopleRepository;
}

class RetryLater extends Error {}

const MAX_BACKOFF_MS = 3600_000;
const POKE_DELAY_MS = 200;

/**
 * Processes stored inbound events. A batch is claimed with FOR UPDATE SKIP LOCKED and its
 * effects, and the events' new status, commit in that one transaction: a crash before the
 * commit leaves them pending (processed after restart), after it they are done: each event
 * takes effect once. Several instances share the work.
 *
 * Within a batch, events about the same person collapse to the newest (by the source's time;
 * a deletion wins a tie); the older ones are recorded as superseded. A deletion leaves a
 * tombstone, so an older event arriving in a later batch is stale. If the batch fails as a
 * whole, each event is tried alone, so one bad event cannot hold up the others.
 */
export class InboxWorker {
  private readonly loop: PollingLoop;

  constructor(
    /** Outside a transaction: the attempt count of an event whose effects rolled back. */
    private readonly queue: InboxQueue,
    private readonly uow: UnitOfWork<InboxRepositories>,
    private readonly adapters: (channel: string) => WebhookAdapter | undefined,
    /** The integration's connector, for CRMs whose webhooks name records without their content. */
    private readonly connectorOf: (integrationId: number) => Promise<CrmConnector>,
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
      await this.uow.transactional(async (repos) => {
        claimed = await repos.queue.claim(this.opts.batch);
        if (claimed.length === 0) return;
        await this.record(repos.queue, await this.apply(repos.people, claimed));
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
      await this.uow.transactional(async (repos) => {
        const event = await repos.queue.claimOne(id);
        if (event) await this.record(repos.queue, await this.apply(repos.people, [event]));
      });
    } catch (err) {
      // The effects rolled back; count the attempt in a transaction of its own.
      const attempts = await this.queue.attempts(id);
      if (attempts !== null) await this.record(this.queue, [this.failure(id, attempts, err as Error)]);
    }
  }

  private failure(id: number, attempts: number, err: Error): Result {
    const done = attempts + 1;
    const error = err.message.slice(0, 1000);
    if (done >= this.opts.maxAttempts) return { id, status: 'failed', outcome: 'failed', error, next: null };
    const delay = Math.min(this.opts.retryBaseMs * 2 ** (done - 1), MAX_BACKOFF_MS) * (0.8 + Math.random() * 0.4);
    return { id, status: 'pending', outcome: 'retry', error, next: new Date(Date.now() + delay).toISOString() };
  }

  private async record(queue: InboxQueue, results: Result[]): Promise<void> {
    await queue.record(results);
    for (const r of results) {
      this.metrics.webhookProcessed.inc({ outcome: r.outcome });
      if (r.status === 'failed') this.logger.warn('inbound webhook event failed for good', { eventId: r.id, error: r.error });
    }
  }

  private async apply(people: PeopleRepository, events: Claimed[]): Promise<Result[]> {
    const results = new Map<number, Result>();
    const done = (id: number, outcome: string) => results.set(id, { id, status: 'processed', outcome, error: null, next: null });
    const parsed: { event: Claimed; change: InboundChange }[] = [];
    for (const event of events) {
      const adapter = this.adapters(event.channel);
      try {
        if (!adapter) throw new Error(`no webhook adapter for ${event.channel}`);
        const change = adapter.change(event.payload, event.event_type, event.provider);
        // A time the sender wrote that PostgreSQL cannot store (year 0, past 9999) would fail
        // the whole batch: the event fails alone instead, saying which field.
        const unfit = findUnstorable(change, 'event');
        if (unfit) throw new Error(`${unfit.path} ${unfit.message}`);
        parsed.push({ event, change });
      } catch (err) {
        // Checked at the door, but for its times; otherwise only a stored event from an older
        // version can fail here.
        results.set(event.id, { id: event.id, status: 'failed', outcome: 'invalid', error: (err as Error).message, next: null });
      }
    }
    // Per integration: its organization, and its provider as the users' source.
    const groups = new Map<number, typeof parsed>();
    for (const p of parsed) groups.set(p.event.integration_id, [...(groups.get(p.event.integration_id) ?? []), p]);
    for (const group of groups.values()) {
      const { organization_id: org, provider: source, integration_id: integrationId } = group[0].event;
      await this.resolveFetches(integrationId, group);
      const crm = { source, providers: this.identityProviders(source, group) };
      // The newest event per person wins; "newest" by the source's time, a deletion winning a
      // tie (nothing changes a record after its deletion), then arrival.
      const latest = new Map<string, { event: Claimed; change: InboundChange }>();
      const order = (a: (typeof group)[number], b: (typeof group)[number]) =>
        sourceTime(a) - sourceTime(b) || Number(a.change.kind === 'delete') - Number(b.change.kind === 'delete') || a.event.id - b.event.id;
      for (const p of [...group].sort(order)) {
        const key = personKey(p.change);
        if (key === null) continue;
        const before = latest.get(key);
        if (before) done(before.event.id, 'superseded');
        latest.set(key, p);
      }
      const open = group.filter((p) => !results.has(p.event.id));
      // People first, so an activity about a contact created in this batch finds its user.
      const upserts = open.flatMap((p) => (p.change.kind === 'upsert' ? [{ id: p.event.id, person: p.change.person }] : []));
      const { outcomes } = await people.apply(
        org,
        crm,
        upserts.map((u) => u.person),
      );
      upserts.forEach((u, i) => done(u.id, outcomes[i]));
      // Activities before deletions, so one about a contact deleted in this batch finds it.
      for (const { event, change } of open) {
        if (change.kind === 'ignore') done(event.id, 'ignored');
        else if (change.kind === 'activity') {
          try {
            done(event.id, await this.activity(people, org, integrationId, event.id, change));
          } catch (err) {
            if (!(err instanceof RetryLater)) throw err;
            results.set(event.id, this.failure(event.id, event.attempts, err));
          }
        }
      }
      // Deletions, unless what we hold is newer; each leaves a tombstone with its time (the
      // arrival time when the sender gives none), even for a person we do not hold yet.
      const deletions: { id: number; removal: Removal }[] = [];
      for (const { event, change } of open) {
        if (change.kind === 'delete')
          deletions.push({
            id: event.id,
            removal: { provider: change.provider, externalId: change.externalId, at: change.at ?? event.received_at },
          });
      }
      const removed = await people.remove(
        org,
        crm,
        deletions.map((d) => d.removal),
      );
      for (const d of deletions) done(d.id, removed.outcomes.get(seenKey(d.removal.provider, d.removal.externalId)) ?? 'unknown');
    }
    return events.map((e) => results.get(e.id) as Result);
  }

  /**
   * Events that name a record without its content (some CRMs') become upserts of the record
   * as the CRM has it now, read in one batch per integration, or deletions when the CRM no
   * longer has it. A CRM that fails the read fails the batch: its events are retried.
   */
  private async resolveFetches(integrationId: number, group: { event: Claimed; change: InboundChange }[]): Promise<void> {
    const fetches = group.filter((p) => p.change.kind === 'fetch');
    if (fetches.length === 0) return;
    const connector = await this.connectorOf(integrationId);
    if (!connector.fetchPeople) throw new Error(`${connector.provider} cannot read records by id`);
    const wanted = new Map<string, Set<string>>();
    for (const { change } of fetches) {
      const c = change as Extract<InboundChange, { kind: 'fetch' }>;
      wanted.set(c.provider, (wanted.get(c.provider) ?? new Set()).add(c.externalId));
    }
    const read = new Map<string, { found: Map<string, PersonRecord>; missing: Set<string> }>();
    for (const [provider, ids] of wanted) {
      const { found, missing } = await connector.fetchPeople(provider, [...ids]);
      read.set(provider, { found: new Map(found.map((r) => [r.externalId, r])), missing: new Set(missing) });
    }
    for (const p of fetches) {
      const c = p.change as Extract<InboundChange, { kind: 'fetch' }>;
      const got = read.get(c.provider);
      const record = got?.found.get(c.externalId);
      if (record) {
        const unfit =
          findUnstorable(record, 'record') ??
          (record.email !== null && !isEmail(record.email) ? { path: 'email', message: 'is not an email address' } : undefined);
        p.change = unfit
          ? { kind: 'ignore', reason: `the CRM's record was refused: ${unfit.path} ${unfit.message}` }
          : { kind: 'upsert', person: record };
      } else if (got?.missing.has(c.externalId)) {
        p.change = { kind: 'delete', provider: c.provider, externalId: c.externalId, at: c.at };
      } else {
        p.change = { kind: 'ignore', reason: `${c.provider} did not say whether it has ${c.externalId}` };
      }
    }
  }

  /**
   * The CRM's identity providers (a user stays while a record of any of them points to it):
   * its own adapter's list, the integration's provider, and those of these events.
   */
  private identityProviders(source: string, group: { change: InboundChange }[]): string[] {
    const providers = new Set([...(this.adapters(source)?.identityProviders ?? []), source]);
    for (const { change } of group) {
      if (change.kind === 'upsert') providers.add(change.person.provider);
      if (change.kind === 'delete') providers.add(change.provider);
    }
    return [...providers];
  }

  /** An activity on the person's user; a person we do not know yet may arrive later. */
  private async activity(
    people: PeopleRepository,
    org: number,
    integrationId: number,
    eventId: number,
    change: Extract<InboundChange, { kind: 'activity' }>,
  ) {
    const linked = await people.addActivity({
      organizationId: org,
      integrationId,
      inboundEventId: eventId,
      type: change.activityType,
      data: change.data,
      occurredAt: change.occurredAt,
      provider: change.provider,
      externalId: change.externalId,
    });
    if (!linked) throw new RetryLater(`no user is linked to ${change.provider} contact ${change.externalId} yet`);
    return 'activity';
  }
}

/** Events about one person collapse; activities never do (each is its own record). */
function personKey(c: InboundChange): string | null {
  if (c.kind === 'upsert') return seenKey(c.person.provider, c.person.externalId);
  if (c.kind === 'delete') return seenKey(c.provider, c.externalId);
  return null;
}

/** The source's time as the ordering guard trusts it (see trustedSourceTime), else the arrival. */
function sourceTime({ event, change }: { event: Claimed; change: InboundChange }): number {
  const t = change.kind === 'upsert' ? change.person.updatedAt : change.kind === 'delete' ? change.at : null;
  return trustedSourceTime(t) ?? event.received_at.getTime();
}
