import type { Logger } from 'winston';
import { sha256Hex } from '../../lib/crypto';
import type { UnitOfWork } from '../../db/unit-of-work';
import { CrmAuthError, CrmBudgetError } from '../../providers/connector';
import {
  effectiveMapping,
  type CrmWriter,
  type DeletePolicy,
  type OutgoingPerson,
  type OutgoingRemoval,
  type PushFacts,
  type PushResult,
  type PushSourceField,
} from '../../providers/writer';
import { canTransition, type IntegrationRow, type IntegrationService, type IntegrationStatus } from '../integrations';
import { ECHO_FIELDS } from '../people';
import type { ClaimedPush, CrmPushRepository, PushedLink, PushOutcome, PushUser } from './crm-push.repository';

export interface CrmPushRepositories {
  push: CrmPushRepository;
}

/** What one batch did, by outcome. */
export interface BatchCounts {
  claimed: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  skipped: number;
  parked: number;
  retried: number;
}

export const emptyCounts = (): BatchCounts => ({
  claimed: 0,
  created: 0,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  skipped: 0,
  parked: 0,
  retried: 0,
});

export interface CrmPushOptions {
  /** How long a claim holds before another worker may assume its sender died. */
  lockSeconds: number;
  /** Backoff after a failed call: base doubling per attempt, capped. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** After the CRM's API budget ran out (CrmBudgetError). */
  budgetWaitMs: number;
}

/** The user's value of one of our fields. */
function valueOf(user: PushUser, field: PushSourceField): string | null {
  return field === 'company' ? user.company : (user[field] ?? null);
}

/**
 * Sends queued users to an integration's CRM: the shared step of the worker and the backfill.
 * A batch is claimed (SKIP LOCKED), each user read as it is now and mapped, those unchanged
 * since the last push skipped, the rest sent in the provider's batch calls; results, identity
 * links and queue states are written in one transaction.
 */
export class CrmPushSender {
  constructor(
    private readonly repo: CrmPushRepository,
    private readonly uow: UnitOfWork<CrmPushRepositories>,
    private readonly integrations: IntegrationService,
    private readonly factsOf: (provider: string) => PushFacts | undefined,
    private readonly logger: Logger,
    private readonly opts: CrmPushOptions,
  ) {}

  /**
   * Sends one batch of the integration's due rows (or of `userIds`, due or not: a backfill's
   * page). Returns what it did; `claimed` 0 means nothing was due.
   */
  async sendBatch(integrationId: number, userIds?: number[]): Promise<BatchCounts> {
    const counts = emptyCounts();
    const row = await this.integrations.getRow(integrationId);
    const facts = this.factsOf(row.provider);
    if (!facts) return counts;
    let writer: CrmWriter;
    try {
      writer = await this.integrations.freshWriter(row);
    } catch (err) {
      if (err instanceof CrmAuthError) await this.authFailed(row, err);
      throw err;
    }
    const claimed = await this.repo.claim(integrationId, Math.max(1, writer.maxBatch), this.opts.lockSeconds, userIds);
    counts.claimed = claimed.length;
    if (claimed.length === 0) return counts;

    const config = this.integrations.decrypt(row);
    const mapping = effectiveMapping(facts, config.pushMapping);
    const policy = (typeof config.onUserDeleted === 'string' ? config.onUserDeleted : 'none') as DeletePolicy;
    const users = new Map(
      (
        await this.repo.users(
          claimed.map((c) => c.userId),
          writer.identityProvider,
        )
      ).map((u) => [u.id, u]),
    );

    const outcomes: PushOutcome[] = [];
    const links: PushedLink[] = [];
    const gone: { userId: number; externalId: string }[] = [];
    const toSend: { row: ClaimedPush; person: OutgoingPerson; hash: string; fields: Record<string, unknown> }[] = [];
    const toRemove: { row: ClaimedPush; removal: OutgoingRemoval }[] = [];
    for (const c of claimed) {
      const user = users.get(c.userId);
      if (!user) {
        outcomes.push({ id: c.id, status: 'done', action: 'skipped' });
        continue;
      }
      if (user.deletedAt) {
        if (policy === 'none' || !user.externalId) outcomes.push({ id: c.id, status: 'done', action: 'skipped' });
        else toRemove.push({ row: c, removal: { userId: user.id, externalId: user.externalId, email: user.email } });
        continue;
      }
      const fields: Record<string, string | null> = {};
      const echo: Record<string, unknown> = {};
      for (const [ours, theirs] of Object.entries(mapping) as [PushSourceField, string][]) {
        fields[theirs] = valueOf(user, ours);
        if ((ECHO_FIELDS as readonly string[]).includes(ours)) echo[ours] = valueOf(user, ours);
      }
      // What decides "nothing new": the request's content, so a mapping change pushes again.
      const hash = sha256Hex(JSON.stringify([user.email, user.isActive, Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1))]));
      if (user.externalId && user.pushedHash === hash) {
        outcomes.push({ id: c.id, status: 'done', action: 'unchanged' });
        continue;
      }
      toSend.push({
        row: c,
        hash,
        fields: echo,
        person: { userId: user.id, externalId: user.externalId, email: user.email, name: user.name, fields, isActive: user.isActive },
      });
    }

    if (toSend.length) {
      const results = await this.call(row, () => writer.upsert(toSend.map((s) => s.person)));
      for (const s of toSend) {
        const r = results.ok ? results.byUser.get(s.row.userId) : undefined;
        const outcome = this.outcomeOf(s.row, r, results);
        outcomes.push(outcome);
        if (r?.ok)
          links.push({
            userId: r.userId,
            externalId: r.externalId,
            previousExternalId: s.person.externalId,
            hash: s.hash,
            fields: s.fields,
          });
      }
    }
    if (toRemove.length && policy !== 'none') {
      const results = await this.call(row, () =>
        writer.remove(
          toRemove.map((s) => s.removal),
          policy,
        ),
      );
      for (const s of toRemove) {
        const r = results.ok ? results.byUser.get(s.row.userId) : undefined;
        outcomes.push(this.outcomeOf(s.row, r, results));
        if (r?.ok) gone.push({ userId: s.removal.userId, externalId: s.removal.externalId });
      }
    }

    await this.uow.transactional(async ({ push }) => {
      await push.link(row.organizationId, writer.identityProvider, links);
      await push.unlink(row.organizationId, writer.identityProvider, gone);
      await push.finish(outcomes);
    });
    for (const o of outcomes) {
      if (o.status === 'done') {
        if (o.action === 'created') counts.created++;
        else if (o.action === 'updated') counts.updated++;
        else if (o.action === 'deleted' || o.action === 'archived') counts.deleted++;
        else if (o.action === 'unchanged') counts.unchanged++;
        else counts.skipped++;
      } else if (o.status === 'parked') counts.parked++;
      else counts.retried++;
    }
    const parked = outcomes.filter((o) => o.status === 'parked');
    if (parked.length) {
      this.logger.warn('push: records refused by the CRM were parked', {
        integrationId,
        provider: row.provider,
        parked: parked.length,
        first: (parked[0] as { error: string }).error.slice(0, 200),
      });
    }
    return counts;
  }

  /** Runs a writer call; a failure of the whole call is a retry of every row in it, later. */
  private async call(
    row: IntegrationRow,
    fn: () => Promise<PushResult[]>,
  ): Promise<{ ok: true; byUser: Map<number, PushResult> } | { ok: false; error: string; retryMs: number | null }> {
    try {
      const results = await fn();
      return { ok: true, byUser: new Map(results.map((r) => [r.userId, r])) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof CrmAuthError) await this.authFailed(row, err);
      this.logger.warn('push: call failed, will retry', { integrationId: row.id, provider: row.provider, error: message.slice(0, 300) });
      if (!(err instanceof CrmBudgetError)) return { ok: false, error: message, retryMs: null };
      // The shared quota says when a call may look again; else the configured wait.
      const until = err.resumeAfter ? err.resumeAfter.getTime() - Date.now() : 0;
      return { ok: false, error: message, retryMs: Math.max(until, this.opts.budgetWaitMs) };
    }
  }

  private outcomeOf(
    c: ClaimedPush,
    r: PushResult | undefined,
    results: { ok: true; byUser: Map<number, PushResult> } | { ok: false; error: string; retryMs: number | null },
  ): PushOutcome {
    if (!results.ok) return { id: c.id, status: 'retry', error: results.error, retryAt: this.retryAt(c.attempts, results.retryMs) };
    if (!r)
      return { id: c.id, status: 'retry', error: 'the CRM answered nothing for this record', retryAt: this.retryAt(c.attempts, null) };
    return r.ok ? { id: c.id, status: 'done', action: r.action } : { id: c.id, status: 'parked', error: r.error };
  }

  private retryAt(attempts: number, fixedMs: number | null): Date {
    const backoff = fixedMs ?? Math.min(this.opts.retryBaseMs * 2 ** Math.max(attempts - 1, 0), this.opts.retryMaxMs);
    // Jitter, so integrations failing together do not come back together.
    return new Date(Date.now() + backoff * (0.75 + Math.random() * 0.25));
  }

  /** Refused credentials: the integration needs a person (status error); its queue waits. */
  private async authFailed(row: IntegrationRow, err: Error): Promise<void> {
    const now = (await this.integrations.getRow(row.id)).status as IntegrationStatus;
    await this.integrations.updateFields(row.id, {
      ...(canTransition(now, 'error') ? { status: 'error' } : {}),
      errorMessage: `Push failed: ${err.message}`.slice(0, 1000),
    });
  }
}
