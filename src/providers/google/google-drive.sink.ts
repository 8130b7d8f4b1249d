import type { AxiosInstance, AxiosResponse } from 'axios';
import { CrmAuthError, CrmUnavailableError } from '../connector';
import { bearerReauthorize, createCrmHttpClient } from '../http-client';
import type { ConnectorContext } from '../provider';
import type { FileSink, FileUpload } from '../writer';
import { bearer } from './google.oauth';

export const DRIVE_URL = 'https://www.googleapis.com';
/** Every chunk but the last must be a multiple of this (Drive's resumable upload rule). */
export const DRIVE_CHUNK_UNIT = 256 * 1024;
export const DRIVE_DEFAULT_CHUNK = 8 * 1024 * 1024;
// A chunk of several MiB may take longer than one API call's timeout on a slow link.
const MIN_CHUNK_TIMEOUT_MS = 60_000;

const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);
/** 403 reasons about the credentials themselves (Drive's "Resolve errors" guide). */
const AUTH_REASONS = new Set(['authError', 'insufficientPermissions']);

interface Http {
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
}

/**
 * Google Drive as an export target: a resumable upload (POST .../files?uploadType=resumable,
 * then PUTs of chunks to the session URI with Content-Range). Bytes are buffered until a
 * chunk is full; a chunk whose answer is lost (5xx, timeout) is not sent blindly again: the
 * session is asked how much it holds (Content-Range: bytes *\/…, 308 + Range) and the upload
 * goes on from there, which is how Google documents resuming.
 */
export function createDriveSink(config: Record<string, unknown>, ctx: ConnectorContext, requestsPerSecond: number): FileSink {
  const uploadBase = text(config.uploadUrl) ?? text(config.baseUrl) ?? DRIVE_URL;
  const origin = new URL(uploadBase).origin;
  const folderId = text(config.folderId);
  const chunkBytes = chunkSize(config.uploadChunkBytes);
  const http = createCrmHttpClient({
    provider: 'google_drive',
    baseURL: uploadBase,
    headers: { Accept: 'application/json', ...bearer(text(config.accessToken) ?? '') },
    limiter: ctx.limiter(requestsPerSecond),
    logger: ctx.logger,
    reauthorize: bearerReauthorize(ctx.reauthorize),
    ...ctx.http,
  });
  return {
    async begin(name, mimeType) {
      const res = await withRetries(ctx.http, () =>
        http.post(
          '/upload/drive/v3/files',
          { name, mimeType, ...(folderId ? { parents: [folderId] } : {}) },
          {
            // supportsAllDrives: the folder may be in a shared drive.
            params: { uploadType: 'resumable', supportsAllDrives: 'true' },
            headers: { 'Content-Type': 'application/json; charset=UTF-8', 'X-Upload-Content-Type': mimeType },
            validateStatus: (s) => (s >= 200 && s < 300) || s === 403,
          },
        ),
      );
      const location = typeof res.headers.location === 'string' ? res.headers.location : '';
      if (!location) throw new CrmUnavailableError('google_drive started no upload session (no Location header)');
      const session = new URL(location, `${uploadBase}/`);
      // The session URI is the upload host's: one elsewhere is not followed (it would carry our token).
      if (session.origin !== origin)
        throw new CrmUnavailableError(`google_drive gave an upload session on another host (${session.origin}); not followed`);
      return new DriveUpload(http, session.toString(), mimeType, chunkBytes, ctx.http);
    },
  };
}

class DriveUpload implements FileUpload {
  private parts: Buffer[] = [];
  private buffered = 0;
  /** Bytes the session confirmed holding. */
  private offset = 0;
  private file: { id: string } | null = null;

  constructor(
    private readonly http: AxiosInstance,
    private readonly session: string,
    private readonly mimeType: string,
    private readonly chunkBytes: number,
    private readonly opts: Http,
  ) {}

  async append(chunk: Buffer): Promise<void> {
    if (this.file) throw new Error('upload already finished');
    this.parts.push(chunk);
    this.buffered += chunk.length;
    // Strictly more than a chunk: the last PUT always carries bytes (and so the total).
    if (this.buffered > this.chunkBytes) await this.send(false);
  }

  async finish(): Promise<{ id: string; path: string | null; bytes: number }> {
    if (!this.file) await this.send(true);
    return { id: (this.file as { id: string }).id, path: null, bytes: this.offset };
  }

  async abort(): Promise<void> {
    // Google answers a DELETE of the session URI with 499 and drops the session.
    await this.http
      .delete(this.session, { 'axios-retry': { retries: 0 }, maxRedirects: 0, validateStatus: () => true })
      .catch(() => undefined);
  }

  /** Sends full chunks (final: everything, the last one closing the file). */
  private async send(final: boolean): Promise<void> {
    let data = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    let failures = 0;
    while (final ? !this.file : data.length > this.chunkBytes) {
      const last = final && data.length <= this.chunkBytes;
      const piece = last ? data : data.subarray(0, this.chunkBytes);
      const total = last ? this.offset + piece.length : null;
      let held: number;
      try {
        held = this.answer(await this.put(piece, total), this.offset + piece.length);
        failures = 0;
      } catch (err) {
        if (!retryable(err) || ++failures > this.opts.maxRetries) throw err;
        await sleep(backoff(this.opts.retryBaseMs, failures));
        // The chunk may have arrived and only its answer been lost: ask, and go on from there.
        held = this.answer(await this.put(Buffer.alloc(0), total, true), this.offset + piece.length);
      }
      if (held < this.offset || held > this.offset + data.length)
        throw new CrmUnavailableError(`google_drive's upload session holds ${held} bytes; ${this.offset} were confirmed before`);
      data = data.subarray(held - this.offset);
      this.offset = held;
    }
    this.parts = data.length > 0 ? [data] : [];
    this.buffered = data.length;
  }

  /**
   * One PUT to the session: bytes at the current offset, or (query) none, asking how much it
   * holds. `total` is known on the last chunk only. Not retried by the client: a blind resend
   * of a chunk that did arrive would be refused.
   */
  private async put(piece: Buffer, total: number | null, query = false): Promise<AxiosResponse> {
    const range =
      query || piece.length === 0 ? `bytes */${total ?? '*'}` : `bytes ${this.offset}-${this.offset + piece.length - 1}/${total ?? '*'}`;
    const res = await this.http.put(this.session, piece, {
      headers: { 'Content-Range': range, 'Content-Type': this.mimeType },
      timeout: Math.max(this.opts.timeoutMs, MIN_CHUNK_TIMEOUT_MS),
      maxRedirects: 0,
      // A status query is safe to repeat; a chunk is resumed by send() instead.
      ...(query ? {} : { 'axios-retry': { retries: 0 } }),
      validateStatus: (s) => (s >= 200 && s < 300) || s === 308 || s === 403,
    });
    return rateLimitOr(res);
  }

  /** How many bytes the session holds after an answer; a 200/201 is the finished file (all `sent` bytes). */
  private answer(res: AxiosResponse, sent: number): number {
    if (res.status === 308) {
      const m = /^bytes=0-(\d+)$/.exec(String(res.headers.range ?? '').trim());
      return m ? Number(m[1]) + 1 : 0;
    }
    const id = (res.data as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || !id) throw new CrmUnavailableError(`google_drive finished the upload without a file id (${res.status})`);
    this.file = { id };
    return sent;
  }
}

/**
 * Drive answers 403 for rate limits as often as 429: those are retried (as a 429). A 403 about
 * the credentials (a token without the scope) is an auth failure. Any other 403 (a full Drive,
 * the daily limit, no access to the folder) fails this export with Drive's reason and leaves the
 * connection alone: connecting again would not mend it.
 */
function rateLimitOr(res: AxiosResponse): AxiosResponse {
  if (res.status !== 403) return res;
  const error = (res.data as { error?: { message?: unknown; errors?: { reason?: unknown }[] } } | null)?.error;
  const reasons = (error?.errors ?? []).map((e) => String(e.reason));
  if (reasons.some((r) => RATE_LIMIT_REASONS.has(r))) throw new CrmUnavailableError(`google_drive rate limit (${reasons.join(', ')})`, 429);
  const why = `(403${reasons.length ? `, ${reasons.join(', ')}` : ''}): ${String(error?.message ?? 'no details').slice(0, 300)}`;
  if (!reasons.length || reasons.some((r) => AUTH_REASONS.has(r))) throw new CrmAuthError(`google_drive refused the request ${why}`);
  throw new CrmUnavailableError(`google_drive refused the request ${why}`, 403);
}

/** The initiation call, retried on Drive's 403 rate limits (the client retries 429 and 5xx itself). */
async function withRetries(opts: Http, call: () => Promise<AxiosResponse>): Promise<AxiosResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return rateLimitOr(await call());
    } catch (err) {
      if (!(err instanceof CrmUnavailableError && err.status === 429) || attempt > opts.maxRetries) throw err;
      await sleep(backoff(opts.retryBaseMs, attempt));
    }
  }
}

function retryable(err: unknown): boolean {
  if (!(err instanceof CrmUnavailableError)) return false;
  // No status: a network error or a timeout. A 403 rate limit comes as 429 (rateLimitOr).
  return err.status === undefined || err.status >= 500 || err.status === 429;
}

function backoff(baseMs: number, attempt: number): number {
  const ms = baseMs * 2 ** (attempt - 1);
  return ms / 2 + Math.random() * (ms / 2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function text(v: unknown): string | null {
  return typeof v === 'string' && v ? v : null;
}

/** The configured chunk size, kept to a multiple of 256 KiB (the schema checks it too). */
function chunkSize(v: unknown): number {
  const n = typeof v === 'number' && Number.isFinite(v) ? v : DRIVE_DEFAULT_CHUNK;
  return Math.max(DRIVE_CHUNK_UNIT, Math.floor(n / DRIVE_CHUNK_UNIT) * DRIVE_CHUNK_UNIT);
}
