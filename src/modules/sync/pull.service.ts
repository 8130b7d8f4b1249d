import { randomUUID } from 'node:crypto';
import type { Logger } from 'winston';
import { AppError } from '../../lib/errors';
import { findUnstorable, isStorableTime, storableText } from '../../lib/input-guard';
import type { Metrics } from '../../lib/metrics';
import type { UnitOfWork } from '../../db/unit-of-work';
import { CrmAuthError, CrmBudgetError, type CrmConnector, type PersonRecord } from '../../providers/connector';
import { canTransition, type IntegrationRow, type IntegrationService, type IntegrationStatus } from '../integrations';
import { syncRunEvent, type EventRecorder } from '../outbox';
import { type PeopleRepository, type PeopleSource, type Removal } from '../people';
import { LeaseLostError, type Checkpoint, type PageCounts, type PullRepository, type RecordKey } from './pull.repository';
import { isEmail } from '../../lib/email';

/** What one pull transaction writes through. */
export interface PullRepositories {
  pull: PullRepository;
  people: PeopleRepository;
  events: EventRecorder;
}

export type PullMode = 'full' | 'incremental';

export interface RunOutcome {
  runId: number;
  integrationId: number;
  status: 'succeeded' | 'partial' | 'failed' | 'interrupted';
  total: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  failed: number;
  error: string | null;
}

class Interrupted extends Error {}

// A run this old is not resumed: the source has moved on, start over (a full run's seen pass too).
const RESUME_WINDOW_MS = 24 * 3600_000;
const PROGRESS_EVERY_MS = 2000;
const BULK_LOAD = 1000;
// Unseen records are checked with the CRM this many at a time, the lease renewed in between.
const LOOKUP_CHUNK = 100;
// Reconciliation walks the identities held this many at a time (PullRepository.unseenWindow).
const RECONCILE_WINDOW = 2000;
// In a small account one or two deletions are a large share; this many never trip the bound.
const ALWAYS_DELETABLE = 10;

/**
 * Pulls people from CRMs: full runs (every page, then reconciliation) and incremental runs
 * (changes since the cursor, then deletions). One run per integration at a time, across
 * instances, through the integration's lease; each page is applied with its checkpoint in
 * one transaction, so a run cut short is resumed, not repeated.
 */
export class PullService {
  private readonly instance = randomUUID().slice(0, 8);
  private readonly running = new Map<number, Promise<RunOutcome>>();
  private stopping = false;

  constructor(
    private readonly repo: PullRepository,
    private readonly uow: UnitOfWork<PullRepositories>,
    private readonly integrations: IntegrationService,
    private readonly logger: Logger,
    private readonly opts: {
      leaseSeconds: number;
      overlapSeconds: number;
      /** The largest share of the people held that one run may delete (SYNC_MAX_DELETE_FRACTION). */
      maxDeleteFraction?: number;
      metrics?: Metrics;
      /** Queues the run's resumption for when the CRM's quota may be back (sync_jobs). */
      resumeLater?: (job: { integrationId: number; organizationId: number; mode: PullMode; at: Date }) => Promise<void>;
    },
  ) {}

  /** Starts a run once the lease is held (409 otherwise); the pages are read in the background. */
  async start(
    integrationId: number,
    opts: { mode: PullMode; trigger: string },
  ): Promise<{ runId: number; mode: PullMode; done: Promise<RunOutcome> }> {
    if (this.stopping) throw new AppError('unavailable', 'shutting_down', 'The service is shutting down');
    const row = await this.integrations.getRow(integrationId);
    if (!row.isActive)
      throw new AppError('conflict', 'integration_inactive', `Integration ${integrationId} is turned off (isActive: false)`);
    if (row.status === 'disconnected')
      throw new AppError('conflict', 'integration_disconnected', `Integration ${integrationId} is disconnected; reconnect it first`);
    // An integration set to push only (config.direction) is never read from.
    if ((row.config as { direction?: unknown } | null)?.direction === 'push') {
      throw new AppError(
        'conflict',
        'pull_not_enabled',
        `Integration ${integrationId} only pushes (config.direction is push); nothing is pulled`,
      );
    }
    const connector = await this.integrations.freshConnector(row);
    if (connector.streams.length === 0) {
      throw new AppError('conflict', 'nothing_to_pull', `Integration ${integrationId} (${row.provider}) holds no people to pull`);
    }

    const owner = `${this.instance}:${randomUUID().slice(0, 8)}`;
    if (!(await this.repo.acquireLease(integrationId, owner, this.opts.leaseSeconds))) {
      throw new AppError('conflict', 'sync_already_running', `A sync of integration ${integrationId} is already running`);
    }
    try {
      await this.repo.abandonStaleRuns(integrationId);
      const cursor = (row.syncCursor ?? {}) as { updatedSince?: string; deletedSince?: string };
      // A mark in the future (one a CRM's bad time set before marks were capped at their run's
      // start) would skip every change until then: it counts as none.
      const since = cursor.updatedSince && Date.parse(cursor.updatedSince) <= Date.now() ? cursor.updatedSince : null;
      // Without a cursor there is nothing to be incremental from.
      const mode: PullMode = opts.mode === 'incremental' && !since ? 'full' : opts.mode;
      const previous = await this.repo.latestResumable(integrationId);
      const resume =
        previous && previous.operation === mode && Date.now() - previous.startedAt.getTime() < RESUME_WINDOW_MS
          ? (previous.checkpoint as unknown as Checkpoint)
          : null;
      const checkpoint: Checkpoint = resume ?? {
        stream: 0,
        cursor: null,
        updatedSince: mode === 'incremental' ? since : null,
        maxUpdatedAt: since,
        startedAt: new Date().toISOString(),
      };
      const runId = await this.repo.createRun({
        organizationId: row.organizationId,
        integrationId,
        operation: mode,
        trigger: opts.trigger,
        source: row.provider,
        checkpoint,
        details: { requestedMode: opts.mode, ...(resume ? { resumedFromRunId: previous?.id } : {}), failures: [] },
      });
      this.logger.info('sync started', {
        runId,
        integrationId,
        provider: row.provider,
        mode,
        trigger: opts.trigger,
        resumedFromRunId: resume ? previous?.id : undefined,
      });
      const done = this.execute({
        row,
        connector,
        runId,
        owner,
        mode,
        checkpoint,
        deletedSince: cursor.deletedSince ?? null,
      })
        // Nobody may be waiting on a background run: its failure is logged, never an
        // unhandled rejection (which would end the process).
        .catch((err: unknown): RunOutcome => {
          const error = err instanceof Error ? err.message : String(err);
          this.logger.error('sync bookkeeping failed', { runId, integrationId, error });
          return { runId, integrationId, status: 'failed', total: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0, error };
        })
        .finally(() => this.running.delete(runId));
      this.running.set(runId, done);
      return { runId, mode, done };
    } catch (err) {
      await this.repo.releaseLease(integrationId, owner);
      throw err;
    }
  }

  /** Runs every active integration (of one organization, or all); skips those already syncing. */
  async startMany(ids: number[], opts: { mode: PullMode; trigger: string }) {
    const started: { integrationId: number; runId: number; done: Promise<RunOutcome> }[] = [];
    const skipped: { integrationId: number; reason: string }[] = [];
    for (const integrationId of ids) {
      try {
        const { runId, done } = await this.start(integrationId, opts);
        started.push({ integrationId, runId, done });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        skipped.push({ integrationId, reason: err.message });
      }
    }
    return { started, skipped };
  }

  /** Stops taking new runs; runs in progress stop after their current page (checkpointed). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running.values()]);
  }

  private async execute(a: {
    row: IntegrationRow;
    connector: CrmConnector;
    runId: number;
    owner: string;
    mode: PullMode;
    checkpoint: Checkpoint;
    deletedSince: string | null;
  }): Promise<RunOutcome> {
    const { row, connector, runId } = a;
    const started = Date.now();
    // A full run marks what it reads with its pass; a resumed run continues the pass it
    // resumes. A checkpoint without one (nothing read yet, or written before passes) starts
    // one: pages read before are then unseen, asked of the CRM, and never deleted unasked.
    let cp: Checkpoint = a.mode === 'full' ? { ...a.checkpoint, pass: a.checkpoint.pass ?? runId } : a.checkpoint;
    let pagesInStream = 0;
    // Some CRMs tell the total on a stream's first page only (Salesforce's totalSize): the ETA keeps it.
    let streamTotal: number | null = null;
    let records = 0;
    let lastLog = 0;
    let deleted = 0;
    let refused = false;
    let created = 0;
    let nextAnalyze = BULK_LOAD;
    const details: Record<string, unknown> = {};
    const crm = { source: row.provider, providers: connector.identityProviders };
    try {
      const fetchPage = (at: Checkpoint) =>
        connector.listPeople(connector.streams[at.stream], {
          cursor: at.cursor,
          updatedSince: at.updatedSince ? new Date(at.updatedSince) : null,
        });
      let pending = cp.stream < connector.streams.length ? fetchPage(cp) : null;
      while (pending) {
        const page = await pending;
        pending = null;
        if (this.stopping) throw new Interrupted('interrupted by shutdown; the next run resumes from the checkpoint');
        const stream = connector.streams[cp.stream];
        const { valid, failures } = screen(page.records);
        // The next incremental run asks for changes since this mark. A time the CRM wrote past
        // this run's start (a clock ahead, a bad record, year 33658 from an epoch in
        // microseconds) counts as the start: taken as it is, the mark would skip every change
        // until then. A time that cannot be stored is no time.
        let maxUpdatedAt = cp.maxUpdatedAt ? Date.parse(cp.maxUpdatedAt) : 0;
        for (const r of page.records) {
          const t = r.updatedAt?.getTime();
          if (t !== undefined && isStorableTime(t)) maxUpdatedAt = Math.max(maxUpdatedAt, Math.min(t, started));
        }
        const next: Checkpoint = {
          ...cp,
          ...(page.nextCursor === null ? { stream: cp.stream + 1, cursor: null } : { cursor: page.nextCursor }),
          maxUpdatedAt: maxUpdatedAt ? new Date(maxUpdatedAt).toISOString() : null,
        };
        // The next page is fetched while this one is written; an error surfaces when awaited.
        if (next.stream < connector.streams.length) {
          pending = fetchPage(next);
          pending.catch(() => undefined);
        }
        const applied = await this.applyPage({
          organizationId: row.organizationId,
          crm,
          records: valid,
          // Every record read counts as seen, refused ones too: the CRM has them.
          seen: cp.pass === undefined ? null : { pass: cp.pass, records: page.records },
          runId,
          integrationId: row.id,
          leaseOwner: a.owner,
          leaseSeconds: this.opts.leaseSeconds,
          checkpoint: next,
          totalPages: cp.stream === 0 ? page.totalPages : null,
          failures,
        });
        // A bulk load leaves the planner believing the tables small, and it then picks plans
        // that read them whole (seen: a 100k-contact sync slowing from 36 to 100 ms a page, and
        // the next full sync at a quarter of its speed until autovacuum caught up). Fresh
        // statistics each time the rows created by this run double keep the plans right.
        created += applied.created;
        if (created >= nextAnalyze) {
          await this.repo.analyze();
          nextAnalyze = created * 2;
        }
        pagesInStream++;
        records += page.records.length;
        if (page.totalPages !== null) streamTotal = page.totalPages;
        if (Date.now() - lastLog >= PROGRESS_EVERY_MS || next.stream >= connector.streams.length) {
          lastLog = Date.now();
          this.logProgress(runId, row.id, stream, pagesInStream, streamTotal, records, started);
        }
        if (next.stream !== cp.stream) {
          pagesInStream = 0;
          streamTotal = null;
        }
        cp = next;
      }

      if (a.mode === 'full') {
        const r = await this.reconcile(row, connector, a.owner, cp.pass as number, (n) => (deleted += n));
        refused = 'refused' in r;
        details.reconciliation = r;
      } else {
        const since = a.deletedSince ?? cp.startedAt;
        const gone = await connector.listDeletedSince(new Date(since));
        const bound =
          gone.length > ALWAYS_DELETABLE ? await this.repo.countHeld(row.organizationId, connector.identityProviders, gone) : null;
        const refusal = bound && this.refusal(bound.among, bound.held);
        if (bound && refusal) {
          refused = true;
          details.deletions = { since, reported: gone.length, deleted: 0, unlinked: 0, held: bound.held, refused: refusal };
        } else {
          const r = await this.removeDeleted(
            row.organizationId,
            crm,
            gone.map((p) => ({ ...p, at: null })),
          );
          deleted = r.deleted;
          details.deletions = {
            since,
            reported: gone.length,
            ...r,
            ...(connector.lastDeletedWindowNote ? { note: connector.lastDeletedWindowNote } : {}),
          };
        }
      }
      if (refused) {
        this.logger.warn('sync deletions refused', {
          runId,
          integrationId: row.id,
          mode: a.mode,
          maxDeleteFraction: this.maxDeleteFraction,
          ...((details.reconciliation ?? details.deletions) as object),
        });
      }

      const counts = await this.repo.runCounts(runId);
      if (created >= BULK_LOAD) await this.repo.analyze();
      const status = counts.failed > 0 || refused ? 'partial' : 'succeeded';
      const overlap = this.opts.overlapSeconds * 1000;
      const durationMs = Date.now() - started;
      await this.finishRun(runId, {
        status,
        deleted,
        error: null,
        details: { ...details, durationMs, recordsPerSecond: Math.round((records / Math.max(durationMs, 1)) * 1000) },
      });
      await this.integrations.updateFields(row.id, {
        ...(await this.statusAfter(row.id, 'active')),
        errorMessage: null,
        lastSyncAt: new Date(),
        syncCursor: {
          updatedSince: cp.maxUpdatedAt ? new Date(Date.parse(cp.maxUpdatedAt) - overlap).toISOString() : null,
          // Refused deletions are listed again by the next incremental run.
          deletedSince:
            refused && a.mode === 'incremental' && a.deletedSince
              ? a.deletedSince
              : new Date(Date.parse(cp.startedAt) - overlap).toISOString(),
        },
      });
      this.logger.info('sync finished', { runId, integrationId: row.id, status, ...counts, deleted, durationMs });
      this.observe(row.provider, a.mode, status, durationMs, { ...counts, deleted });
      return { runId, integrationId: row.id, status, ...counts, deleted, error: null };
    } catch (err) {
      if (err instanceof LeaseLostError) {
        // The instance that took the lease has marked this run abandoned and carries on.
        this.logger.warn('sync stopped: lease taken over', { runId, integrationId: row.id });
        return { runId, integrationId: row.id, status: 'failed', ...(await this.repo.runCounts(runId)), deleted, error: err.message };
      }
      if (err instanceof CrmBudgetError) return await this.stopForBudget(a, err, { details, deleted, started, records });
      const interrupted = err instanceof Interrupted;
      const message = err instanceof Error ? err.message : String(err);
      await this.finishRun(runId, {
        status: interrupted ? 'interrupted' : 'failed',
        deleted,
        error: message,
        details: { ...details, durationMs: Date.now() - started },
      });
      if (!interrupted) {
        const prefix = err instanceof CrmAuthError ? 'Authentication failed' : 'Sync failed';
        await this.markFailed(row.id, `${prefix}: ${message}`);
      }
      this.logger[interrupted ? 'warn' : 'error']('sync stopped', { runId, integrationId: row.id, error: message });
      const counts = await this.repo.runCounts(runId);
      this.observe(row.provider, a.mode, interrupted ? 'interrupted' : 'failed', Date.now() - started, { ...counts, deleted });
      return { runId, integrationId: row.id, status: interrupted ? 'interrupted' : 'failed', ...counts, deleted, error: message };
    } finally {
      // Only releases a lease this run still holds.
      await this.repo.releaseLease(row.id, a.owner).catch(() => undefined);
    }
  }

  /**
   * The CRM account's API budget is down to its reserve: the run ends partial, keeping its
   * checkpoint (the next run resumes it, once the budget is back), the integration stays
   * active, and the run says why it stopped.
   */
  private async stopForBudget(
    a: { row: IntegrationRow; runId: number; mode: PullMode },
    err: CrmBudgetError,
    at: { details: Record<string, unknown>; deleted: number; started: number; records: number },
  ): Promise<RunOutcome> {
    const { row, runId } = a;
    const durationMs = Date.now() - at.started;
    const resumeAfter = err.resumeAfter && this.opts.resumeLater ? err.resumeAfter : null;
    const message = `stopped at the API budget's reserve: ${err.message}; ${
      resumeAfter ? `resumed from the checkpoint after ${resumeAfter.toISOString()}` : 'the next run resumes from the checkpoint'
    }`;
    await this.finishRun(runId, {
      status: 'partial',
      deleted: at.deleted,
      error: message,
      details: {
        ...at.details,
        stopped: 'api_budget',
        apiUsage: { used: err.used, limit: err.limit },
        ...(resumeAfter ? { resumeAfter: resumeAfter.toISOString() } : {}),
        durationMs,
      },
    });
    if (resumeAfter) {
      await this.opts.resumeLater?.({ integrationId: row.id, organizationId: row.organizationId, mode: a.mode, at: resumeAfter });
    }
    await this.integrations.updateFields(row.id, { lastSyncAt: new Date() });
    this.logger.warn('sync stopped at the API budget', {
      runId,
      integrationId: row.id,
      used: err.used,
      limit: err.limit,
      resumeAfter,
      records: at.records,
    });
    const counts = await this.repo.runCounts(runId);
    this.observe(row.provider, a.mode, 'partial', durationMs, { ...counts, deleted: at.deleted });
    return { runId, integrationId: row.id, status: 'partial', ...counts, deleted: at.deleted, error: message };
  }

  /**
   * One page of people and the run's progress, in one transaction. When another instance took
   * the lease, nothing is written: the page rolls back and the run stops.
   */
  private applyPage(a: {
    organizationId: number;
    crm: PeopleSource;
    records: PersonRecord[];
    /** A full run's pass and every record the page read. */
    seen: { pass: number; records: RecordKey[] } | null;
    runId: number;
    integrationId: number;
    leaseOwner: string;
    leaseSeconds: number;
    checkpoint: Checkpoint;
    totalPages: number | null;
    failures: { externalId: string; reason: string }[];
  }): Promise<PageCounts> {
    return this.uow.transactional(async ({ pull, people }) => {
      const counts: PageCounts = { created: 0, updated: 0, unchanged: 0, failed: a.failures.length };
      const { outcomes } = await people.apply(a.organizationId, a.crm, a.records, a.seen?.pass);
      // A stale record (older than what a webhook already brought) counts as unchanged.
      for (const o of outcomes) counts[o === 'stale' ? 'unchanged' : o]++;
      if (a.seen) await pull.markSeen(a.organizationId, a.seen.pass, a.seen.records);
      const renewed = await pull.recordPage({
        runId: a.runId,
        integrationId: a.integrationId,
        leaseOwner: a.leaseOwner,
        leaseSeconds: a.leaseSeconds,
        checkpoint: a.checkpoint,
        totalPages: a.totalPages,
        applied: a.records.length,
        failures: a.failures,
        counts,
      });
      if (!renewed) throw new LeaseLostError(a.integrationId);
      return counts;
    });
  }

  /** Soft-deletes (or unlinks) the people deleted at the source, leaving tombstones. */
  private async removeDeleted(organizationId: number, crm: PeopleSource, removals: Removal[]) {
    const { deleted, unlinked } = await this.uow.transactional(({ people }) => people.remove(organizationId, crm, removals));
    return { deleted, unlinked };
  }

  /** Ends the run and, unless it was interrupted (the next run resumes it), writes its sync event. */
  private finishRun(runId: number, data: { status: string; deleted: number; error: string | null; details: Record<string, unknown> }) {
    return this.uow.transactional(async ({ pull, events }) => {
      const run = await pull.finishRun(runId, data);
      if (run && data.status !== 'interrupted') {
        await events.record(run.organizationId, data.status === 'failed' ? 'sync.failed' : 'sync.completed', syncRunEvent(run));
      }
    });
  }

  private get maxDeleteFraction(): number {
    return this.opts.maxDeleteFraction ?? 0.5;
  }

  /**
   * Why deleting `count` of the `held` people is refused, or null when it is not. A run that
   * would delete more than the configured share is more likely reading wrong (an empty or
   * truncated listing) than watching a mass deletion; it deletes nothing and says so.
   */
  private refusal(count: number, held: number): string | null {
    if (count <= ALWAYS_DELETABLE || count <= this.maxDeleteFraction * held) return null;
    return `would delete ${count} of the ${held} people held, more than SYNC_MAX_DELETE_FRACTION (${this.maxDeleteFraction}); nothing deleted`;
  }

  /**
   * The end of a complete full pass: the people of this CRM we hold that the pass did not see.
   * Unseen is not gone: paging by page number skips records when others are deleted meanwhile,
   * and records created after their page was read are unseen too. So the bound is applied to
   * the count first (nothing deleted past it); then the identities are walked in key order a
   * window at a time (never all ids in memory), the CRM asked which of the window's unseen it
   * still has, a chunk at a time (the lease renewed before each), and only those it no longer
   * has are deleted; the others are read by the next pass. Cut short, the run is resumed here,
   * with the same pass.
   */
  private async reconcile(
    row: IntegrationRow,
    connector: CrmConnector,
    owner: string,
    pass: number,
    onDeleted: (n: number) => void,
  ): Promise<Record<string, unknown>> {
    const providers = connector.identityProviders;
    const { held, unseen } = await this.repo.countUnseen(row.organizationId, providers, pass);
    const refusal = this.refusal(unseen, held);
    if (refusal) return { pass, deleted: 0, unlinked: 0, unseen, held, refused: refusal };
    const crm = { source: row.provider, providers };
    let deleted = 0;
    let unlinked = 0;
    let stillExisting = 0;
    const carryOn = async () => {
      if (this.stopping) throw new Interrupted('interrupted by shutdown; the next run resumes from the checkpoint');
      if (!(await this.repo.acquireLease(row.id, owner, this.opts.leaseSeconds))) throw new LeaseLostError(row.id);
    };
    for (const provider of unseen > 0 ? providers : []) {
      for (let after: string | null = null; ;) {
        await carryOn();
        const window = await this.repo.unseenWindow(row.organizationId, provider, pass, after, RECONCILE_WINDOW);
        for (let i = 0; i < window.unseen.length; i += LOOKUP_CHUNK) {
          if (i > 0) await carryOn();
          const chunk: RecordKey[] = window.unseen.slice(i, i + LOOKUP_CHUNK).map((externalId) => ({ provider, externalId }));
          const existing = new Set((await connector.stillExisting(chunk)).map((p) => p.externalId));
          const gone = chunk.filter((p) => !existing.has(p.externalId));
          stillExisting += chunk.length - gone.length;
          if (gone.length === 0) continue;
          const r = await this.removeDeleted(
            row.organizationId,
            crm,
            gone.map((p) => ({ ...p, at: null })),
          );
          deleted += r.deleted;
          unlinked += r.unlinked;
          onDeleted(r.deleted);
        }
        if (window.last === null) break;
        after = window.last;
      }
    }
    return { pass, deleted, unlinked, unseen, held, stillExisting };
  }

  private observe(
    provider: string,
    operation: string,
    outcome: string,
    durationMs: number,
    counts: { created: number; updated: number; unchanged: number; failed: number; deleted: number },
  ): void {
    const m = this.opts.metrics;
    if (!m) return;
    m.syncRuns.inc({ provider, operation, outcome });
    m.syncDuration.observe({ provider, operation }, durationMs / 1000);
    for (const result of ['created', 'updated', 'unchanged', 'failed', 'deleted'] as const) {
      if (counts[result] > 0) m.syncRecords.inc({ provider, result }, counts[result]);
    }
  }

  /** The status to write, unless someone moved the integration meanwhile (e.g. disconnected it). */
  private async statusAfter(integrationId: number, next: IntegrationStatus): Promise<{ status?: IntegrationStatus }> {
    const now = (await this.integrations.getRow(integrationId)).status as IntegrationStatus;
    return canTransition(now, next) ? { status: next } : {};
  }

  /** The integration's state after a failed run; nothing when it was deleted meanwhile. */
  private async markFailed(integrationId: number, errorMessage: string): Promise<void> {
    try {
      await this.integrations.updateFields(integrationId, { ...(await this.statusAfter(integrationId, 'error')), errorMessage });
    } catch (err) {
      if (!(err instanceof AppError && err.kind === 'not_found') && (err as { code?: string }).code !== 'P2025') throw err;
      this.logger.warn('sync failed for an integration deleted meanwhile', { integrationId });
    }
  }

  private logProgress(
    runId: number,
    integrationId: number,
    stream: string,
    page: number,
    totalPages: number | null,
    records: number,
    started: number,
  ): void {
    const seconds = (Date.now() - started) / 1000;
    const perPage = page > 0 ? seconds / page : 0;
    this.logger.info('sync progress', {
      runId,
      integrationId,
      stream,
      page,
      totalPages,
      records,
      recordsPerSecond: Math.round(records / Math.max(seconds, 0.001)),
      etaSeconds: totalPages ? Math.round(Math.max(totalPages - page, 0) * perPage) : null,
    });
  }
}

/** Records we refuse before writing: the run's discrepancy report names them. */
function screen(records: PersonRecord[]): { valid: PersonRecord[]; failures: { externalId: string; reason: string }[] } {
  const valid: PersonRecord[] = [];
  const failures: { externalId: string; reason: string }[] = [];
  for (const r of records) {
    const externalId = storableText(`${r.provider}:${r.externalId}`);
    // Text PostgreSQL cannot store (a NUL, a lone surrogate) would fail the whole page.
    const unstorable = findUnstorable(r, 'record');
    if (unstorable) failures.push({ externalId, reason: `${storableText(unstorable.path)} ${unstorable.message}` });
    else if (r.email !== null && !isEmail(r.email)) failures.push({ externalId, reason: `invalid email "${r.email}"` });
    else valid.push(r);
  }
  return { valid, failures };
}
