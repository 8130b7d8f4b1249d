import { createHash, randomBytes } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { bearer, FakeServer, type LoggedRequest } from '../shared/fake-server';

/**
 * A fake Dropbox API v2 for exports: the content-upload endpoints (files/upload and the upload
 * session: start, append_v2, finish) with arguments in the Dropbox-API-Arg header, the
 * account call a connection test makes, Dropbox's error shapes (400 text, 401/409/429 JSON
 * with error_summary), and the files it received, byte for byte. One server stands for both
 * hosts (api.dropboxapi.com and content.dropboxapi.com). See README.md for sources.
 */

export interface DropboxRequestLogEntry extends LoggedRequest {
  token: string | null;
  /** The Dropbox-API-Arg header as sent (raw text), or null. */
  apiArg: string | null;
  contentLength: number;
}

export interface FakeDropboxFile {
  id: string;
  name: string;
  path_lower: string;
  path_display: string;
  rev: string;
  size: number;
  content_hash: string;
  client_modified: string;
  server_modified: string;
  content: Buffer;
}

export interface FakeDropboxOptions {
  /** The first valid access token. Default `sl.fake-dropbox-token`. */
  token?: string;
  /** Also accept these bearer tokens (those a fake OAuth server issued and still honours). */
  acceptToken?: (token: string) => boolean;
  accountId?: string;
}

interface UploadSession {
  parts: Buffer[];
  offset: number;
  closed: boolean;
}

/** Dropbox takes at most 150 MiB in one request (settable on the fake, to test the cap cheaply). */
export const DROPBOX_MAX_REQUEST_BYTES = 150 * 1024 * 1024;
const BLOCK = 4 * 1024 * 1024;

/** Dropbox's content hash: SHA-256 over the SHA-256 digests of each 4 MiB block, hex. */
export function dropboxContentHash(data: Buffer): string {
  const digests: Buffer[] = [];
  for (let i = 0; i < data.length; i += BLOCK)
    digests.push(
      createHash('sha256')
        .update(data.subarray(i, i + BLOCK))
        .digest(),
    );
  return createHash('sha256').update(Buffer.concat(digests)).digest('hex');
}

/** An endpoint-specific error: 409 with { error_summary, error }. */
class RouteError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly text = false,
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

const conflict = (summary: string, error: Record<string, unknown>) => new RouteError(409, { error_summary: `${summary}/..`, error });
const badInput = (fn: string, why: string) => new RouteError(400, `Error in call to API function "${fn}": ${why}`, true);

export class FakeDropbox extends FakeServer<DropboxRequestLogEntry> {
  readonly token: string;
  readonly accountId: string;
  /** Finished files by path_display, for byte comparisons. */
  readonly files = new Map<string, Buffer>();
  /** Every file written, in order (overwrites included). */
  readonly fileList: FakeDropboxFile[] = [];
  maxRequestBytes = DROPBOX_MAX_REQUEST_BYTES;

  private readonly tokens = new Set<string>();
  private readonly expired = new Set<string>();
  private readonly acceptToken?: (token: string) => boolean;
  private readonly sessions = new Map<string, UploadSession>();
  private readonly byLowerPath = new Map<string, FakeDropboxFile>();
  private lostAnswers = 0;

  constructor(opts: FakeDropboxOptions = {}) {
    super({ name: 'Dropbox' });
    this.token = opts.token ?? 'sl.fake-dropbox-token';
    this.tokens.add(this.token);
    this.acceptToken = opts.acceptToken;
    this.accountId = opts.accountId ?? `dbid:${randomBytes(32).toString('base64url').slice(0, 43)}`;
  }

  addToken(token: string): void {
    this.tokens.add(token);
    this.expired.delete(token);
  }

  /** The token stops working: 401 expired_access_token. */
  expireToken(token: string = this.token): void {
    this.expired.add(token);
  }

  /** The next `count` upload calls are carried out but answered 503 (a lost answer: the client retries). */
  loseNextAnswers(count: number): void {
    this.lostAnswers += count;
  }

  /** Upload sessions started and not finished. */
  get openSessions(): number {
    return this.sessions.size;
  }

  protected override requestDetails(req: Request): Omit<DropboxRequestLogEntry, keyof LoggedRequest> {
    return { token: bearer(req), apiArg: req.get('dropbox-api-arg') ?? null, contentLength: Number(req.get('content-length') ?? 0) };
  }

  protected failureBody(status: number): unknown {
    if (status === 429)
      return { error_summary: 'too_many_write_operations/..', error: { reason: { '.tag': 'too_many_write_operations' }, retry_after: 1 } };
    if (status === 401) return { error_summary: 'expired_access_token/..', error: { '.tag': 'expired_access_token' } };
    return 'Internal Server Error';
  }

  protected routes(app: Express): void {
    app.disable('x-powered-by');
    app.use((req, res, next) => this.authenticate(req, res, next));

    app.post('/2/users/get_current_account', express.raw({ type: () => true, limit: '1mb' }), (req, res) => {
      // An RPC call without arguments: no body; a JSON Content-Type with an empty body is refused.
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length === 0 && /json/i.test(req.get('content-type') ?? '')) {
        res
          .status(400)
          .type('text/plain')
          .send('Error in call to API function "users/get_current_account": request body: could not decode input as JSON');
        return;
      }
      res.json({
        account_id: this.accountId,
        name: { given_name: 'Dropbox', surname: 'Owner', familiar_name: 'Dropbox', display_name: 'Dropbox Owner', abbreviated_name: 'DO' },
        email: 'dropbox.owner@example.com',
        email_verified: true,
        disabled: false,
        country: 'US',
        locale: 'en',
        account_type: { '.tag': 'basic' },
        root_info: { '.tag': 'user', root_namespace_id: '3235641', home_namespace_id: '3235641' },
      });
    });

    const upload = (fn: string, handler: (arg: Record<string, unknown>, body: Buffer) => unknown) => [
      express.raw({ type: () => true, limit: '300mb' }),
      (req: Request, res: Response) => {
        try {
          const arg = this.argOf(fn, req);
          const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          if (body.length > this.maxRequestBytes) throw conflict('payload_too_large', { '.tag': 'payload_too_large' });
          const result = handler(arg, body);
          if (this.lostAnswers > 0) {
            this.lostAnswers--;
            res.status(503).type('text/plain').send('Service Unavailable');
            return;
          }
          res.status(200).json(result);
        } catch (err) {
          if (!(err instanceof RouteError)) throw err;
          if (err.text)
            res
              .status(err.status)
              .type('text/plain')
              .send(err.body as string);
          else res.status(err.status).json(err.body);
        }
      },
    ];
    app.post('/2/files/upload_session/start', ...upload('files/upload_session/start', (arg, body) => this.startSession(arg, body)));
    app.post(
      '/2/files/upload_session/append_v2',
      ...upload('files/upload_session/append_v2', (arg, body) => this.appendSession(arg, body)),
    );
    app.post('/2/files/upload_session/finish', ...upload('files/upload_session/finish', (arg, body) => this.finishSession(arg, body)));
    app.post('/2/files/upload', ...upload('files/upload', (arg, body) => this.commit('files/upload', arg, body)));
    app.use((req, res) => {
      res.status(404).type('text/plain').send(`Unknown API function: ${req.path}`);
    });
  }

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const header = req.get('authorization');
    if (!header) {
      const fn = req.path.replace(/^\/2\//, '');
      res
        .status(400)
        .type('text/plain')
        .send(`Error in call to API function "${fn}": Must provide HTTP header "Authorization" or URL parameter "authorization".`);
      return;
    }
    const token = bearer(req);
    if (token !== null && this.expired.has(token)) {
      res.status(401).json({ error_summary: 'expired_access_token/..', error: { '.tag': 'expired_access_token' } });
      return;
    }
    if (token === null || !(this.tokens.has(token) || this.acceptToken?.(token) === true)) {
      res.status(401).json({ error_summary: 'invalid_access_token/..', error: { '.tag': 'invalid_access_token' } });
      return;
    }
    next();
  }

  /** The Dropbox-API-Arg header: required, HTTP-header-safe (ASCII only, 0x7F escaped), a JSON object. */
  private argOf(fn: string, req: Request): Record<string, unknown> {
    const type = req.get('content-type') ?? '';
    if (!/^application\/octet-stream\b/i.test(type) && type !== 'text/plain; charset=dropbox-cors-hack') {
      throw badInput(
        fn,
        `Bad HTTP "Content-Type" header: "${type}". Expecting one of "application/octet-stream", "text/plain; charset=dropbox-cors-hack".`,
      );
    }
    // Node keeps a header's bytes as latin-1 characters: anything past 0x7E was sent unescaped.
    const raw = req.get('dropbox-api-arg');
    if (raw === undefined) throw badInput(fn, 'Must provide HTTP header "Dropbox-API-Arg" or URL parameter "arg".');
    if (/[^\x20-\x7e]/.test(raw))
      throw badInput(
        fn,
        'HTTP header "Dropbox-API-Arg": could not decode input as JSON (the header must be HTTP-header safe: escape non-ASCII characters as \\uXXXX)',
      );
    let arg: unknown;
    try {
      arg = JSON.parse(raw);
    } catch {
      throw badInput(fn, 'HTTP header "Dropbox-API-Arg": could not decode input as JSON');
    }
    if (!arg || typeof arg !== 'object' || Array.isArray(arg)) throw badInput(fn, 'HTTP header "Dropbox-API-Arg": expected an object');
    return arg as Record<string, unknown>;
  }

  private startSession(arg: Record<string, unknown>, body: Buffer) {
    const id = `pid_upload_session:${randomBytes(24).toString('base64url')}`;
    this.sessions.set(id, { parts: [body], offset: body.length, closed: arg.close === true });
    return { session_id: id };
  }

  private cursor(fn: string, arg: Record<string, unknown>): { id: string; offset: number } {
    const c = arg.cursor as { session_id?: unknown; offset?: unknown } | undefined;
    if (!c || typeof c.session_id !== 'string' || typeof c.offset !== 'number') throw badInput(fn, 'cursor: missing session_id or offset');
    return { id: c.session_id, offset: c.offset };
  }

  private appendSession(arg: Record<string, unknown>, body: Buffer) {
    const { id, offset } = this.cursor('files/upload_session/append_v2', arg);
    const s = this.sessions.get(id);
    if (!s) throw conflict('not_found', { '.tag': 'not_found' });
    if (offset !== s.offset) throw conflict('incorrect_offset', { '.tag': 'incorrect_offset', correct_offset: s.offset });
    if (s.closed) throw conflict('closed', { '.tag': 'closed' });
    s.parts.push(body);
    s.offset += body.length;
    if (arg.close === true) s.closed = true;
    return null;
  }

  private finishSession(arg: Record<string, unknown>, body: Buffer) {
    const { id, offset } = this.cursor('files/upload_session/finish', arg);
    const s = this.sessions.get(id);
    const lookup = (tag: string, extra: Record<string, unknown> = {}) =>
      conflict(`lookup_failed/${tag}`, { '.tag': 'lookup_failed', lookup_failed: { '.tag': tag, ...extra } });
    if (!s) throw lookup('not_found');
    if (offset !== s.offset) throw lookup('incorrect_offset', { correct_offset: s.offset });
    const commit = arg.commit as Record<string, unknown> | undefined;
    if (!commit || typeof commit !== 'object') throw badInput('files/upload_session/finish', 'commit: missing');
    const file = this.commit('files/upload_session/finish', commit, Buffer.concat([...s.parts, body]));
    this.sessions.delete(id);
    return file;
  }

  /** Writes a file at commit.path (mode add/overwrite, autorename), answering its FileMetadata. */
  private commit(fn: string, commit: Record<string, unknown>, content: Buffer) {
    const path = commit.path;
    if (typeof path !== 'string') throw badInput(fn, 'path: missing');
    if (!/^\/.+[^/]$/.test(path) || path.includes('//'))
      throw conflict('path/malformed_path', { '.tag': 'path', reason: { '.tag': 'malformed_path' } });
    const mode = typeof commit.mode === 'string' ? commit.mode : ((commit.mode as { '.tag'?: string } | undefined)?.['.tag'] ?? 'add');
    let display = path;
    const taken = this.byLowerPath.get(display.toLowerCase());
    if (taken && mode === 'add') {
      if (commit.autorename !== true) {
        throw conflict('path/conflict/file', {
          '.tag': 'path',
          reason: { '.tag': 'conflict', conflict: { '.tag': 'file' } },
          upload_session_id: null,
        });
      }
      const dot = path.lastIndexOf('.');
      const [stem, ext] = dot > path.lastIndexOf('/') ? [path.slice(0, dot), path.slice(dot)] : [path, ''];
      for (let n = 1; this.byLowerPath.has(display.toLowerCase()); n++) display = `${stem} (${n})${ext}`;
    }
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const file: FakeDropboxFile = {
      id: taken && mode === 'overwrite' ? taken.id : `id:${randomBytes(16).toString('base64url').slice(0, 22)}`,
      name: display.slice(display.lastIndexOf('/') + 1),
      path_lower: display.toLowerCase(),
      path_display: display,
      rev: randomBytes(7).toString('hex').slice(0, 13),
      size: content.length,
      content_hash: dropboxContentHash(content),
      client_modified: now,
      server_modified: now,
      content,
    };
    this.byLowerPath.set(file.path_lower, file);
    this.files.set(file.path_display, content);
    this.fileList.push(file);
    const { content: _bytes, ...meta } = file;
    void _bytes;
    return { ...meta, is_downloadable: true };
  }
}
