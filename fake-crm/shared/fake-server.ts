import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

/** Listens on 127.0.0.1 only: fakes are never reachable from elsewhere. */
export function listenOnLoopback(app: Express, port = 0): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** Closes a fake's server, cutting kept-alive connections (clients hold them open). */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** What every fake logs of a request; a fake may add fields of its own (body, token, ...). */
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
  at: number;
}

export interface FakeServerOptions {
  /** Named in the error when `url` is read before start(). */
  name: string;
  /** Appended to the base URL (Wealthbox's /v1). */
  basePath?: string;
  /** Read every body as text before the log sees it (the APIs that take JSON bodies). */
  textBodies?: boolean;
}

/**
 * An HTTP server on 127.0.0.1 with what every fake CRM shares: the request log, the fault
 * switches (applied before auth and limits, so they hit any request) and start/stop. A fake
 * adds its routes in routes() and says in failureBody() how its API answers a failure.
 */
export abstract class FakeServer<Entry extends LoggedRequest = LoggedRequest> {
  /** Every request, refused ones included, for assertions. */
  readonly requests: Entry[] = [];
  /** How many requests arrived (refused ones included). */
  calls = 0;
  /** Answers sent, by status code (how many 429s a client ran into, say). */
  readonly answered: Record<number, number> = {};
  /** Runs before each request is served: lets a test change the data between two pages. */
  onRequest?: (req: { method: string; path: string; query: Record<string, unknown> }) => void;

  private server?: Server;
  private failures: { status: number; remaining: number; retryAfter?: number }[] = [];
  private hangs = 0;
  private delayMs = 0;
  private lost: { method: string; path: string; remaining: number }[] = [];

  protected constructor(private readonly serverOptions: FakeServerOptions) {}

  /** Auth, limits and the API's routes; they run after the log and the faults. */
  protected abstract routes(app: Express): void;

  /** The body of an injected failure in this API's shape; may set headers too (a 429's rate-limit headers). */
  protected abstract failureBody(status: number, req: Request, res: Response): unknown;

  /** The fields a fake logs besides method, path, query and time. */
  protected requestDetails(_req: Request): Omit<Entry, keyof LoggedRequest> {
    return {} as Omit<Entry, keyof LoggedRequest>;
  }

  /** Base URL, with the API's base path. */
  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error(`fake ${this.serverOptions.name} is not started`);
    return `http://127.0.0.1:${address.port}${this.serverOptions.basePath ?? ''}`;
  }

  async start(port = 0): Promise<this> {
    const app = express();
    if (this.serverOptions.textBodies) app.use(express.text({ type: () => true, limit: '5mb' }));
    app.use((req, res, next) => {
      this.calls++;
      res.on('finish', () => {
        this.answered[res.statusCode] = (this.answered[res.statusCode] ?? 0) + 1;
      });
      const entry = { method: req.method, path: req.path, query: { ...req.query }, ...this.requestDetails(req), at: Date.now() };
      this.requests.push(entry as Entry);
      this.onRequest?.({ method: req.method, path: req.path, query: { ...req.query } });
      next();
    });
    app.use((req, res, next) => this.applyFaults(req, res, next));
    this.routes(app);
    this.server = await listenOnLoopback(app, port);
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  // ---- faults ----

  /** The next `count` requests answer `status` (default 500). */
  failNext(count: number, status = 500): void {
    this.failures.push({ status, remaining: count });
  }

  /** The next `count` requests answer the API's 429 (with Retry-After only if given). */
  rateLimitNext(count: number, retryAfterSeconds?: number): void {
    this.failures.push({ status: 429, remaining: count, retryAfter: retryAfterSeconds });
  }

  /** Every response waits `ms` first. */
  slowDown(ms: number): void {
    this.delayMs = ms;
  }

  /** The next `count` requests never get an answer. */
  hangNext(count: number): void {
    this.hangs += count;
  }

  /**
   * The next `count` requests of this method and path are carried out, but answered 502 (the
   * answer lost on the way, as behind a gateway that timed out): the client cannot know.
   */
  loseAnswerOf(method: string, path: string, count = 1): void {
    this.lost.push({ method: method.toUpperCase(), path, remaining: count });
  }

  clearFaults(): void {
    this.failures = [];
    this.hangs = 0;
    this.delayMs = 0;
    this.lost = [];
  }

  private async applyFaults(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (this.hangs > 0) {
      this.hangs--;
      return; // never answers: the client's timeout must fire
    }
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const lose = this.lost.find((l) => l.method === req.method && l.path === req.path);
    if (lose) {
      if (--lose.remaining <= 0) this.lost.splice(this.lost.indexOf(lose), 1);
      // The route runs; what it answers is replaced as it is sent.
      const end = res.end.bind(res) as (chunk?: unknown) => Response;
      res.end = ((..._args: unknown[]) => {
        if (!res.headersSent) {
          res.statusCode = 502;
          res.removeHeader('content-length');
          res.setHeader('content-type', 'text/plain');
        }
        return end('Bad Gateway');
      }) as Response['end'];
      return next();
    }
    const failure = this.failures[0];
    if (!failure) return next();
    if (--failure.remaining <= 0) this.failures.shift();
    const body = this.failureBody(failure.status, req, res);
    if (failure.retryAfter !== undefined) res.setHeader('Retry-After', String(failure.retryAfter));
    res.status(failure.status).json(body);
  }
}

// ---- helpers for the routes ----

/** The token of an `Authorization: Bearer` header, or null. */
export function bearer(req: Request): string | null {
  const h = req.get('authorization');
  const m = h ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
  return m ? m[1] : null;
}

/** A text body as the log keeps it: parsed when it is JSON, else the raw text (the route answers the 400). */
export function loggedBody(req: Request): unknown {
  const raw = typeof req.body === 'string' ? req.body : '';
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** An error a route throws to answer with the API's own status and body. */
export class FakeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

/** A handler that returns `{ status?, body }` or throws FakeApiError; either way the answer is JSON. */
export function jsonRoute(fn: (req: Request, res: Response) => { status?: number; body: unknown }) {
  return (req: Request, res: Response) => {
    try {
      const out = fn(req, res);
      res.status(out.status ?? 200).json(out.body);
    } catch (err) {
      if (err instanceof FakeApiError) {
        res.status(err.status).json(err.body);
        return;
      }
      throw err;
    }
  };
}
