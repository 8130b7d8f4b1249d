import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify, type Options as CsvOptions } from 'csv-stringify';
import type { Logger } from 'winston';
import { AppError } from '../../lib/errors';
import { CrmAuthError } from '../../providers/connector';
import type { FileSink, FileUpload } from '../../providers/writer';
import { canTransition, type IntegrationRow, type IntegrationService, type IntegrationStatus } from '../integrations';
import type { ExportRepository, ExportUser } from './exports.repository';

export type ExportTrigger = 'manual' | 'cron';

export interface ExportOutcome {
  runId: number;
  integrationId: number;
  status: 'succeeded' | 'failed' | 'interrupted';
  /** Rows written (users; the header row not counted). */
  total: number;
  fileName: string;
  fileId: string | null;
  path: string | null;
  bytes: number;
  error: string | null;
}

/** The columns, in order; the header row names them so. */
export const EXPORT_COLUMNS = [
  'id',
  'email',
  'name',
  'firstName',
  'lastName',
  'phone',
  'title',
  'department',
  'isActive',
  'isAdmin',
  'source',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof ExportUser)[];

/**
 * RFC 4180 CSV (CRLF, fields quoted when they hold a comma, quote, CR or LF; quotes doubled),
 * UTF-8 with a byte order mark so spreadsheet programs read non-ASCII names right.
 * escape_formulas is the OWASP guard against CSV injection: a cell starting with = + - @ tab
 * or CR (or their full-width forms) gets a leading single quote, so a spreadsheet shows it as
 * text instead of evaluating it as a formula (https://owasp.org/www-community/attacks/CSV_Injection).
 */
export const CSV_OPTIONS: CsvOptions = {
  header: true,
  columns: [...EXPORT_COLUMNS],
  bom: true,
  record_delimiter: 'windows',
  // csv-stringify turns this off whenever record_delimiter is set, and then a field holding a
  // bare LF or CR would go out unquoted and split its row.
  quote_record_delimiter: true,
  escape_formulas: true,
  cast: { boolean: (v) => (v ? 'true' : 'false'), date: (v) => v.toISOString() },
};

const PROGRESS_EVERY_MS = 2000;
const MIME_TYPE = 'text/csv';

class Interrupted extends Error {}
class LeaseLost extends Error {}

/**
 * Exports an organization's users as CSV to an integration's cloud storage (Google Drive,
 * Dropbox). Users are read in keyset pages and streamed through the CSV writer into the
 * provider's upload, so memory stays at a page and a chunk whatever the organization's size.
 * One export per integration at a time, across instances, through the integration's lease;
 * each export is a sync run (operation `export`) recording the file.
 */
export class ExportService {
  private readonly instance = randomUUID().slice(0, 8);
  private readonly running = new Map<number, Promise<ExportOutcome>>();
  private stopping = false;

  constructor(
    private readonly repo: ExportRepository,
    private readonly integrations: IntegrationService,
    private readonly logger: Logger,
    private readonly opts: {
      leaseSeconds: number;
      /** The providers that store files (definition.exports): those schedules are read for. */
      providers: readonly string[];
      pageSize?: number;
    },
  ) {}

  /** Starts an export once the lease is held (409 otherwise); the file is written in the background. */
  async start(
    integrationId: number,
    opts: { trigger: ExportTrigger; scheduledAt?: Date },
  ): Promise<{ runId: number; fileName: string; done: Promise<ExportOutcome> }> {
    if (this.stopping) throw new AppError('unavailable', 'shutting_down', 'The service is shutting down');
    const row = await this.integrations.getRow(integrationId);
    if (!row.isActive)
      throw new AppError('conflict', 'integration_inactive', `Integration ${integrationId} is turned off (isActive: false)`);
    if (row.status === 'disconnected')
      throw new AppError('conflict', 'integration_disconnected', `Integration ${integrationId} is disconnected; reconnect it first`);
    const sink = await this.integrations.freshFileSink(row);
    const org = await this.repo.organization(row.organizationId);
    if (!org) throw AppError.notFound('Organization', row.organizationId);

    const owner = `${this.instance}:${randomUUID().slice(0, 8)}`;
    if (!(await this.repo.acquireLease(integrationId, owner, this.opts.leaseSeconds))) {
      throw new AppError('conflict', 'export_running', `An export (or sync) of integration ${integrationId} is already running`);
    }
    try {
      // Every instance fires a schedule: the first one to take the lease runs it, and the
      // others, coming later, find its run for the same minute and skip. The minute is the
      // schedule's, not the database's clock, so clock skew cannot make it run twice.
      const scheduledFor = opts.scheduledAt ? new Date(Math.floor(opts.scheduledAt.getTime() / 60_000) * 60_000).toISOString() : null;
      if (scheduledFor && (await this.repo.scheduledRunExists(integrationId, scheduledFor))) {
        throw new AppError(
          'conflict',
          'export_already_ran',
          `The export of integration ${integrationId} scheduled for ${scheduledFor} already ran`,
        );
      }
      await this.repo.abandonStaleRuns(integrationId);
      const fileName = exportFileName(org.slug, new Date());
      const expected = await this.repo.countUsers(org.id);
      const details = { fileName, expectedRows: expected, ...(scheduledFor ? { scheduledFor } : {}) };
      const runId = await this.repo.createRun({
        organizationId: org.id,
        integrationId,
        trigger: opts.trigger,
        source: row.provider,
        details,
      });
      this.logger.info('export started', {
        runId,
        integrationId,
        provider: row.provider,
        trigger: opts.trigger,
        fileName,
        expectedRows: expected,
      });
      const done = this.execute({ row, sink, runId, owner, fileName, expected, details })
        // Nobody may be waiting on a background export: a failure of the bookkeeping itself is
        // logged, never an unhandled rejection.
        .catch((err: unknown): ExportOutcome => {
          const error = err instanceof Error ? err.message : String(err);
          this.logger.error('export bookkeeping failed', { runId, integrationId, error });
          return { runId, integrationId, status: 'failed', total: 0, fileName, fileId: null, path: null, bytes: 0, error };
        })
        .finally(() => this.running.delete(runId));
      this.running.set(runId, done);
      return { runId, fileName, done };
    } catch (err) {
      await this.repo.releaseLease(integrationId, owner);
      throw err;
    }
  }

  /** Integrations with an export schedule (config `exportSchedule`), for the job. */
  schedules(): Promise<{ integrationId: number; schedule: string }[]> {
    return this.repo.schedules(this.opts.providers);
  }

  /** Takes no new exports; those running stop at their next page (the upload is abandoned). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running.values()]);
  }

  private async execute(a: {
    row: IntegrationRow;
    sink: FileSink;
    runId: number;
    owner: string;
    fileName: string;
    expected: number;
    /** The run's details so far; the end keeps them (scheduledFor is what stops a second scheduled run). */
    details: Record<string, unknown>;
  }): Promise<ExportOutcome> {
    const { row, runId, fileName } = a;
    const started = Date.now();
    const progress = { rows: 0, bytes: 0, lost: false, lastLog: started };
    // The lease is renewed on a timer, not per page: one slow chunk upload must not let it lapse.
    const renew = setInterval(
      () => {
        void (async () => {
          if (!(await this.repo.renewLease(row.id, a.owner, this.opts.leaseSeconds))) progress.lost = true;
          await this.repo.heartbeat(runId, progress.rows);
        })().catch((err: unknown) => this.logger.warn('export heartbeat failed', { runId, error: (err as Error).message }));
      },
      Math.max(1000, (this.opts.leaseSeconds * 1000) / 3),
    );
    renew.unref();
    let upload: FileUpload | null = null;
    try {
      const out = await a.sink.begin(fileName, MIME_TYPE);
      upload = out;
      await pipeline(
        Readable.from(this.records(row, a, progress, started)),
        stringify(CSV_OPTIONS),
        async (csv: AsyncIterable<Buffer | string>) => {
          for await (const chunk of csv) {
            const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
            progress.bytes += bytes.length;
            await out.append(bytes);
          }
        },
      );
      const file = await out.finish();
      const durationMs = Date.now() - started;
      const details = {
        ...a.details,
        fileId: file.id,
        path: file.path,
        bytes: file.bytes,
        durationMs,
        rowsPerSecond: Math.round((progress.rows / Math.max(durationMs, 1)) * 1000),
      };
      await this.repo.finishRun(runId, { status: 'succeeded', total: progress.rows, error: null, details });
      this.logger.info('export finished', { runId, integrationId: row.id, rows: progress.rows, ...details });
      return {
        runId,
        integrationId: row.id,
        status: 'succeeded',
        total: progress.rows,
        fileName,
        fileId: file.id,
        path: file.path,
        bytes: file.bytes,
        error: null,
      };
    } catch (err) {
      await upload?.abort().catch(() => undefined);
      const interrupted = err instanceof Interrupted;
      const message = err instanceof Error ? err.message : String(err);
      await this.repo.finishRun(runId, {
        status: interrupted ? 'interrupted' : 'failed',
        total: progress.rows,
        error: message,
        details: { ...a.details, bytesSent: progress.bytes, durationMs: Date.now() - started },
      });
      if (err instanceof CrmAuthError) await this.markFailed(row.id, `Authentication failed: ${message}`);
      this.logger[interrupted ? 'warn' : 'error']('export stopped', { runId, integrationId: row.id, rows: progress.rows, error: message });
      return {
        runId,
        integrationId: row.id,
        status: interrupted ? 'interrupted' : 'failed',
        total: progress.rows,
        fileName,
        fileId: null,
        path: null,
        bytes: progress.bytes,
        error: message,
      };
    } finally {
      clearInterval(renew);
      await this.repo.releaseLease(row.id, a.owner).catch(() => undefined);
    }
  }

  /** The organization's users, page by page in id order, as CSV records; logs progress. */
  private async *records(
    row: IntegrationRow,
    a: { runId: number; expected: number },
    progress: { rows: number; lost: boolean; lastLog: number },
    started: number,
  ): AsyncGenerator<Record<string, unknown>> {
    const pageSize = this.opts.pageSize ?? 1000;
    for (let after = 0; ;) {
      if (this.stopping) throw new Interrupted('interrupted by shutdown; the file was not finished');
      if (progress.lost) throw new LeaseLost(`lost the lease of integration ${row.id} to another instance`);
      const page = await this.repo.usersPage(row.organizationId, after, pageSize);
      for (const user of page) yield { ...user };
      progress.rows += page.length;
      const last = page.length < pageSize;
      if (last || Date.now() - progress.lastLog >= PROGRESS_EVERY_MS) {
        progress.lastLog = Date.now();
        const seconds = (Date.now() - started) / 1000;
        const rate = progress.rows / Math.max(seconds, 0.001);
        this.logger.info('export progress', {
          runId: a.runId,
          integrationId: row.id,
          rows: progress.rows,
          expectedRows: a.expected,
          rowsPerSecond: Math.round(rate),
          etaSeconds: rate > 0 ? Math.round(Math.max(a.expected - progress.rows, 0) / rate) : null,
        });
      }
      if (last) return;
      after = page[page.length - 1].id;
    }
  }

  /** The integration's state after an export its storage refused the credentials of. */
  private async markFailed(integrationId: number, errorMessage: string): Promise<void> {
    try {
      const now = (await this.integrations.getRow(integrationId)).status as IntegrationStatus;
      await this.integrations.updateFields(integrationId, { ...(canTransition(now, 'error') ? { status: 'error' } : {}), errorMessage });
    } catch (err) {
      if (!(err instanceof AppError && err.kind === 'not_found')) throw err;
    }
  }
}

/** users-<org slug>-<YYYY-MM-DD>.csv, the date in UTC; the slug kept to file-name-safe characters. */
export function exportFileName(slug: string, at: Date): string {
  return `users-${slug.replace(/[^A-Za-z0-9._-]/g, '-')}-${at.toISOString().slice(0, 10)}.csv`;
}
