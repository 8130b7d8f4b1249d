import type { AxiosInstance } from 'axios';
import { CrmUnavailableError } from '../connector';
import { bearerReauthorize, createCrmHttpClient } from '../http-client';
import type { ConnectorContext } from '../provider';
import type { FileSink, FileUpload } from '../writer';

export const DROPBOX_CONTENT_URL = 'https://content.dropboxapi.com';
export const DROPBOX_DEFAULT_FOLDER = '/Exports';
export const DROPBOX_DEFAULT_CHUNK = 8 * 1024 * 1024;
/** Dropbox takes at most 150 MiB in one upload request. */
export const DROPBOX_MAX_CHUNK = 150 * 1024 * 1024;
const MIN_CHUNK_TIMEOUT_MS = 60_000;

interface Http {
  timeoutMs: number;
}

/**
 * Dropbox as an export target: a file of one chunk or less is one POST /2/files/upload; a
 * larger one is an upload session (start with the first chunk, append_v2, finish with the
 * rest and the commit). Content endpoints take their arguments as JSON in the Dropbox-API-Arg
 * header, which must be HTTP-header safe (non-ASCII and 0x7F as \uXXXX).
 */
export function createDropboxSink(config: Record<string, unknown>, ctx: ConnectorContext, requestsPerSecond: number): FileSink {
  const contentUrl = text(config.contentUrl) ?? DROPBOX_CONTENT_URL;
  const folder = (text(config.folderPath) ?? DROPBOX_DEFAULT_FOLDER).replace(/\/+$/, '');
  const chunkBytes = chunkSize(config.uploadChunkBytes);
  const http = createCrmHttpClient({
    provider: 'dropbox',
    baseURL: contentUrl,
    headers: { Authorization: `Bearer ${text(config.accessToken) ?? ''}` },
    limiter: ctx.limiter(requestsPerSecond),
    logger: ctx.logger,
    reauthorize: bearerReauthorize(ctx.reauthorize),
    ...ctx.http,
  });
  return {
    begin: async (name) => new DropboxUpload(http, `${folder}/${name}`, chunkBytes, ctx.http),
  };
}

interface FileMetadata {
  id?: unknown;
  path_display?: unknown;
  size?: unknown;
}

class DropboxUpload implements FileUpload {
  private parts: Buffer[] = [];
  private buffered = 0;
  private sessionId: string | null = null;
  /** Bytes the session holds. */
  private offset = 0;
  private done: { id: string; path: string | null; bytes: number } | null = null;

  constructor(
    private readonly http: AxiosInstance,
    private readonly path: string,
    private readonly chunkBytes: number,
    private readonly opts: Http,
  ) {}

  async append(chunk: Buffer): Promise<void> {
    if (this.done) throw new Error('upload already finished');
    this.parts.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered <= this.chunkBytes) return;
    let data = Buffer.concat(this.parts);
    while (data.length > this.chunkBytes) {
      await this.sendChunk(data.subarray(0, this.chunkBytes));
      data = data.subarray(this.chunkBytes);
    }
    this.parts = [data];
    this.buffered = data.length;
  }

  async finish(): Promise<{ id: string; path: string | null; bytes: number }> {
    if (this.done) return this.done;
    const rest = Buffer.concat(this.parts);
    // mode add + autorename: an existing file of that name is kept, ours gets " (1)".
    const commit = { path: this.path, mode: 'add', autorename: true, mute: false };
    const meta = this.sessionId
      ? await this.call<FileMetadata>('/2/files/upload_session/finish', { cursor: this.cursor(), commit }, rest)
      : await this.call<FileMetadata>('/2/files/upload', commit, rest);
    if (typeof meta?.id !== 'string') throw new CrmUnavailableError('dropbox finished the upload without a file id');
    this.done = {
      id: meta.id,
      path: typeof meta.path_display === 'string' ? meta.path_display : this.path,
      bytes: typeof meta.size === 'number' ? meta.size : this.offset + rest.length,
    };
    this.parts = [];
    return this.done;
  }

  async abort(): Promise<void> {
    // Dropbox has no call to cancel a session: an unfinished one expires (after 7 days).
    this.parts = [];
  }

  private async sendChunk(chunk: Buffer): Promise<void> {
    if (!this.sessionId) {
      const started = await this.call<{ session_id?: unknown }>('/2/files/upload_session/start', { close: false }, chunk);
      if (typeof started?.session_id !== 'string') throw new CrmUnavailableError('dropbox started no upload session');
      this.sessionId = started.session_id;
    } else {
      await this.call('/2/files/upload_session/append_v2', { cursor: this.cursor(), close: false }, chunk);
    }
    this.offset += chunk.length;
  }

  private cursor() {
    return { session_id: this.sessionId, offset: this.offset };
  }

  /**
   * One content-upload call. The client retries 5xx and timeouts, so an append may arrive
   * twice: Dropbox then answers 409 incorrect_offset with the offset it holds, and when that
   * is exactly past this chunk, the earlier attempt landed and this one is done. The calls
   * that make the file (upload, finish) are sent once: repeated after a lost answer, they
   * would write a second file " (1)" or fail on the finished session, so the export fails
   * instead and says why.
   */
  private async call<T>(path: string, arg: unknown, body: Buffer): Promise<T> {
    const res = await this.http.post(path, body, {
      once: path === '/2/files/upload' || path.endsWith('/finish'),
      headers: { 'Dropbox-API-Arg': headerSafeJson(arg), 'Content-Type': 'application/octet-stream' },
      timeout: Math.max(this.opts.timeoutMs, MIN_CHUNK_TIMEOUT_MS),
      validateStatus: (s) => (s >= 200 && s < 300) || s === 409,
    });
    if (res.status !== 409) return res.data as T;
    const data = res.data as { error_summary?: unknown; error?: { '.tag'?: unknown; correct_offset?: unknown } } | null;
    if (
      path.endsWith('/append_v2') &&
      data?.error?.['.tag'] === 'incorrect_offset' &&
      data.error.correct_offset === this.offset + body.length
    ) {
      return null as T;
    }
    throw new CrmUnavailableError(`dropbox answered 409 on ${path}: ${String(data?.error_summary ?? 'no details').slice(0, 300)}`, 409);
  }
}

/** JSON with every character outside printable ASCII as \uXXXX (Dropbox's rule for Dropbox-API-Arg). */
export function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v ? v : null;
}

function chunkSize(v: unknown): number {
  const n = typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : DROPBOX_DEFAULT_CHUNK;
  return Math.min(n, DROPBOX_MAX_CHUNK);
}
