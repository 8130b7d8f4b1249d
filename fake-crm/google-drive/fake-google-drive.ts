import { randomBytes } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { bearer, FakeServer, type LoggedRequest } from '../shared/fake-server';

/**
 * A fake Google Drive v3 for exports: the resumable upload (POST /upload/drive/v3/files?
 * uploadType=resumable → Location session URI; PUT chunks with Content-Range; 308 Resume
 * Incomplete with Range; 200 with the file resource), the "who am I" call, Google's error
 * shapes, and the files it received, byte for byte. See README.md for sources.
 */

export interface DriveRequestLogEntry extends LoggedRequest {
  token: string | null;
  contentRange: string | null;
  contentLength: number;
}

export interface FakeDriveFile {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  content: Buffer;
}

export interface FakeGoogleDriveOptions {
  /** The first valid access token. Default `ya29.fake-drive-token`. */
  token?: string;
  /** Also accept these bearer tokens (those a fake OAuth server issued and still honours). */
  acceptToken?: (token: string) => boolean;
  /** Folders that exist besides `root` (My Drive). */
  folders?: string[];
}

interface Session {
  name: string;
  mimeType: string;
  parents: string[];
  parts: Buffer[];
  received: number;
}

/** Every chunk but the last must be a multiple of this. */
export const DRIVE_CHUNK_UNIT = 256 * 1024;

const INVALID_CREDENTIALS =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const MISSING_CREDENTIALS =
  'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/** Google's JSON error body: { error: { code, message, errors: [{ message, domain, reason, ... }], status? } }. */
export function googleError(code: number, message: string, reason: string, extra: Record<string, unknown> = {}, status?: string) {
  return { error: { code, message, errors: [{ message, domain: 'global', reason, ...extra }], ...(status ? { status } : {}) } };
}

export class FakeGoogleDrive extends FakeServer<DriveRequestLogEntry> {
  readonly token: string;
  /** Finished files by name (the last one wins when a name repeats), for byte comparisons. */
  readonly files = new Map<string, Buffer>();
  /** Every finished file, in order. */
  readonly fileList: FakeDriveFile[] = [];
  readonly folders = new Set<string>(['root']);
  readonly user = { displayName: 'Drive Owner', emailAddress: 'drive.owner@example.com', permissionId: '01234567890123456789' };
  /** PUTs that carried bytes (status queries excluded). */
  chunkPuts = 0;

  private readonly tokens = new Set<string>();
  private readonly expired = new Set<string>();
  private readonly acceptToken?: (token: string) => boolean;
  private readonly sessions = new Map<string, Session>();
  /** Finished sessions' files: a status query after the end answers the file again. */
  private readonly finished = new Map<string, FakeDriveFile>();
  private lostAnswers = 0;
  /** Pending injected 403s: Drive's reason and message for each. */
  private readonly refusals403: { reason: string; message: string }[] = [];

  constructor(opts: FakeGoogleDriveOptions = {}) {
    super({ name: 'Google Drive' });
    this.token = opts.token ?? 'ya29.fake-drive-token';
    this.tokens.add(this.token);
    this.acceptToken = opts.acceptToken;
    for (const f of opts.folders ?? []) this.folders.add(f);
  }

  addToken(token: string): void {
    this.tokens.add(token);
    this.expired.delete(token);
  }

  /** The token stops working (401, as an expired access token does). */
  expireToken(token: string = this.token): void {
    this.expired.add(token);
  }

  /** The next `count` chunk PUTs are stored, but answered 503 (a lost answer: the client must ask what arrived). */
  loseNextChunkAnswers(count: number): void {
    this.lostAnswers += count;
  }

  /** The next `count` API calls answer Drive's other rate limit: 403 userRateLimitExceeded. */
  rateLimit403Next(count: number): void {
    this.refuse403Next(count, 'userRateLimitExceeded', 'User Rate Limit Exceeded');
  }

  /**
   * The next `count` API calls answer 403 with this reason, as Drive does for limits that are
   * not about the credentials: storageQuotaExceeded ("The user's Drive storage quota has been
   * exceeded."), dailyLimitExceeded, insufficientFilePermissions, and insufficientPermissions
   * for a token without the scope.
   */
  refuse403Next(count: number, reason: string, message: string): void {
    for (let i = 0; i < count; i++) this.refusals403.push({ reason, message });
  }

  /** Upload sessions started and not finished or cancelled. */
  get openSessions(): number {
    return [...this.sessions.keys()].filter((id) => !this.finished.has(id)).length;
  }

  protected override requestDetails(req: Request): Omit<DriveRequestLogEntry, keyof LoggedRequest> {
    return { token: bearer(req), contentRange: req.get('content-range') ?? null, contentLength: Number(req.get('content-length') ?? 0) };
  }

  protected failureBody(status: number): unknown {
    if (status === 429) return googleError(429, 'Rate Limit Exceeded', 'rateLimitExceeded', {}, 'RESOURCE_EXHAUSTED');
    if (status === 401)
      return googleError(401, INVALID_CREDENTIALS, 'authError', { location: 'Authorization', locationType: 'header' }, 'UNAUTHENTICATED');
    if (status === 503) return googleError(503, 'Service Unavailable', 'backendError', {}, 'UNAVAILABLE');
    return googleError(status, 'Internal Error', 'backendError');
  }

  protected routes(app: Express): void {
    app.disable('x-powered-by');
    app.use((req, res, next) => this.limits(req, res, next));

    app.get(
      '/drive/v3/about',
      (req, res, next) => this.authenticate(req, res, next, true),
      (_req, res) => {
        res.json({ kind: 'drive#about', user: { kind: 'drive#user', ...this.user, me: true } });
      },
    );

    app.post(
      '/upload/drive/v3/files',
      (req, res, next) => this.authenticate(req, res, next, true),
      express.json({ type: () => true, limit: '1mb' }),
      (req, res) => this.initiate(req, res),
    );
    // The session URI carries its own authority; a bearer sent along is still checked.
    app.put(
      '/upload/drive/v3/files',
      (req, res, next) => this.authenticate(req, res, next, false),
      express.raw({ type: () => true, limit: '300mb' }),
      (req, res) => this.chunk(req, res),
    );
    app.delete('/upload/drive/v3/files', (req, res) => {
      // Cancelling a session: Google answers 499 Client Closed Request.
      this.sessions.delete(String(req.query.upload_id ?? ''));
      res.status(499).end();
    });
    app.use((req, res) => {
      res.status(404).json(googleError(404, `Not Found: ${req.method} ${req.path}`, 'notFound'));
    });
  }

  private limits(_req: Request, res: Response, next: NextFunction): void {
    const refusal = this.refusals403.shift();
    if (refusal) {
      res.status(403).json(googleError(403, refusal.message, refusal.reason, {}, 'PERMISSION_DENIED'));
      return;
    }
    next();
  }

  private authenticate(req: Request, res: Response, next: NextFunction, required: boolean): void {
    const token = bearer(req);
    if (token === null && !required) return next();
    if (token === null) {
      res
        .status(401)
        .json(googleError(401, MISSING_CREDENTIALS, 'required', { location: 'Authorization', locationType: 'header' }, 'UNAUTHENTICATED'));
      return;
    }
    const known = (this.tokens.has(token) || this.acceptToken?.(token) === true) && !this.expired.has(token);
    if (!known) {
      res
        .status(401)
        .json(googleError(401, INVALID_CREDENTIALS, 'authError', { location: 'Authorization', locationType: 'header' }, 'UNAUTHENTICATED'));
      return;
    }
    next();
  }

  private initiate(req: Request, res: Response): void {
    if (req.query.uploadType !== 'resumable') {
      res.status(400).json(googleError(400, 'This fake takes uploadType=resumable only', 'badRequest'));
      return;
    }
    const meta = (req.body ?? {}) as { name?: unknown; mimeType?: unknown; parents?: unknown };
    const parents = Array.isArray(meta.parents) ? meta.parents.map(String) : ['root'];
    if (parents.length > 1) {
      res.status(403).json(googleError(403, 'Increasing the number of parents is not allowed', 'cannotAddParent'));
      return;
    }
    const missing = parents.find((p) => !this.folders.has(p));
    if (missing) {
      res.status(404).json(googleError(404, `File not found: ${missing}.`, 'notFound', { location: 'fileId', locationType: 'parameter' }));
      return;
    }
    const id = randomBytes(24).toString('base64url');
    this.sessions.set(id, {
      name: typeof meta.name === 'string' && meta.name ? meta.name : 'Untitled',
      mimeType: typeof meta.mimeType === 'string' ? meta.mimeType : (req.get('x-upload-content-type') ?? 'application/octet-stream'),
      parents,
      parts: [],
      received: 0,
    });
    res.setHeader('Location', `${this.url}/upload/drive/v3/files?uploadType=resumable&upload_id=${id}`);
    res.status(200).end();
  }

  private chunk(req: Request, res: Response): void {
    const id = String(req.query.upload_id ?? '');
    const session = this.sessions.get(id);
    if (!session) {
      // An expired or unknown session: the upload must start over.
      res.status(404).json(googleError(404, 'Not Found', 'notFound'));
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const header = req.get('content-range');
    const status = header ? /^bytes \*\/(\d+|\*)$/.exec(header) : null;
    const range = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header) : null;
    if (status && body.length === 0) {
      const total = status[1] === '*' ? null : Number(status[1]);
      if (total !== null && total === session.received) return this.complete(id, session, res);
      return this.incomplete(session, res);
    }
    if (header && !range) {
      res.status(400).json(googleError(400, `Invalid Content-Range header: ${header}`, 'badContent'));
      return;
    }
    // No Content-Range: the whole file in one request.
    const start = range ? Number(range[1]) : 0;
    const end = range ? Number(range[2]) : body.length - 1;
    const total = range ? (range[3] === '*' ? null : Number(range[3])) : body.length;
    if (end - start + 1 !== body.length || (total !== null && end + 1 > total)) {
      res.status(400).json(googleError(400, `Content-Range ${header} does not match the ${body.length} bytes sent`, 'badContent'));
      return;
    }
    if (start !== session.received) {
      res
        .status(400)
        .json(
          googleError(
            400,
            `Invalid request. According to the Content-Range header, the upload offset is ${start} byte(s), but ${session.received} byte(s) were received so far.`,
            'badContent',
          ),
        );
      return;
    }
    const final = total !== null && end + 1 === total;
    if (!final && body.length % DRIVE_CHUNK_UNIT !== 0) {
      res
        .status(400)
        .json(
          googleError(
            400,
            `Invalid request. The number of bytes uploaded is required to be equal or greater than ${DRIVE_CHUNK_UNIT}, except for the final request (it's recommended to be the exact multiple of ${DRIVE_CHUNK_UNIT}). The received request contained ${body.length} bytes, which does not meet this requirement.`,
            'badContent',
          ),
        );
      return;
    }
    this.chunkPuts++;
    session.parts.push(body);
    session.received += body.length;
    if (this.lostAnswers > 0) {
      this.lostAnswers--;
      if (final) this.finalize(id, session);
      res.status(503).json(this.failureBody(503));
      return;
    }
    if (final) return this.complete(id, session, res);
    this.incomplete(session, res);
  }

  private incomplete(session: Session, res: Response): void {
    // 308 Resume Incomplete; Range names what is held (none: no Range header).
    if (session.received > 0) res.setHeader('Range', `bytes=0-${session.received - 1}`);
    res.status(308).end();
  }

  private finalize(id: string, session: Session): FakeDriveFile {
    const existing = this.finished.get(id);
    if (existing) return existing;
    const file: FakeDriveFile = {
      id: randomBytes(25).toString('base64url').slice(0, 33),
      name: session.name,
      mimeType: session.mimeType,
      parents: session.parents,
      content: Buffer.concat(session.parts),
    };
    this.finished.set(id, file);
    this.files.set(file.name, file.content);
    this.fileList.push(file);
    return file;
  }

  private complete(id: string, session: Session, res: Response): void {
    const file = this.finalize(id, session);
    res.status(200).json({ kind: 'drive#file', id: file.id, name: file.name, mimeType: file.mimeType });
  }
}
