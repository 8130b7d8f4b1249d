import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, MemoryStore, rateLimit, type Options } from 'express-rate-limit';
import { AppError, errorBody } from './errors';

/** The client's address (an IPv6 address by its /56): what unauthenticated requests are counted by. */
export const ipOf = (req: Request) => `ip:${ipKeyGenerator(req.ip ?? '')}`;

/**
 * The key a request was authenticated with (set by the auth middleware before this runs).
 * Never a key as presented: counting by an unchecked header would give every made-up value
 * a fresh budget.
 */
export const principalKeyOf = (_req: Request, res: Response) => {
  const p = res.locals.principal as { keyId?: number | null; organizationId?: number; portalSessionId?: number } | undefined;
  if (!p) throw new Error('principalKeyOf needs an authenticated request: mount the limiter after the auth middleware');
  // Portal sessions of one organization share its budget: opening more links buys none.
  if (p.portalSessionId !== undefined) return `portal:${p.organizationId}`;
  return `key:${p.keyId ?? 'env-admin'}`;
};

function tooMany(res: Response, code: string, message: string, retryAfterSeconds: number): void {
  if (!res.getHeader('Retry-After')) res.setHeader('Retry-After', String(retryAfterSeconds));
  const err = new AppError('rate_limited', code, `${message}; retry after ${res.getHeader('Retry-After')} seconds`);
  res.status(429).json(errorBody(err, String(res.locals.requestId ?? ''), false));
}

export function createRateLimit(opts: {
  windowMs: number;
  limit: number;
  name: string;
  keyOf: (req: Request, res: Response) => string;
  /** Where the counts live (express-rate-limit's own memory store unless given). */
  store?: MemoryStore;
}): RequestHandler {
  return rateLimit({
    windowMs: opts.windowMs,
    limit: opts.limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: opts.name,
    keyGenerator: opts.keyOf,
    ...(opts.store ? { store: opts.store } : {}),
    handler: (_req, res, _next, options) => tooMany(res, 'rate_limited', 'Too many requests', Math.ceil(options.windowMs / 1000)),
  });
}

/** A limit that a hand-written request path applies too (see createSharedRateLimit). */
export interface SharedRateLimit {
  middleware: RequestHandler;
  /** Counts the request; false when it is over the limit and was answered 429. */
  take(req: Request, res: Response): Promise<boolean>;
}

/**
 * createRateLimit's limit, also callable outside Express's middleware chain: one store, so a
 * request counts once whichever way it came, with the same headers (draft-8) and the same 429.
 */
export function createSharedRateLimit(opts: Parameters<typeof createRateLimit>[0]): SharedRateLimit {
  const store = new MemoryStore();
  const middleware = createRateLimit({ ...opts, store });
  const windowSeconds = Math.ceil(opts.windowMs / 1000);
  // express-rate-limit hashes the key on every request for the policy's partition key.
  const partitions = new Map<string, string>();
  const partitionOf = (key: string) => {
    let pk = partitions.get(key);
    if (pk === undefined) {
      pk = Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
      if (partitions.size >= 10_000) partitions.clear();
      partitions.set(key, pk);
    }
    return pk;
  };
  return {
    middleware,
    async take(req, res) {
      const key = opts.keyOf(req, res);
      const { totalHits, resetTime } = await store.increment(key);
      const resetSeconds = resetTime ? Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : windowSeconds;
      res.append('RateLimit', `"${opts.name}"; r=${Math.max(opts.limit - totalHits, 0)}; t=${resetSeconds}`);
      res.append('RateLimit-Policy', `"${opts.name}"; q=${opts.limit}; w=${windowSeconds}; pk=:${partitionOf(key)}:`);
      if (totalHits <= opts.limit) return true;
      res.setHeader('Retry-After', String(resetSeconds));
      tooMany(res, 'rate_limited', 'Too many requests', windowSeconds);
      return false;
    },
  };
}

/**
 * Failed authentications (401) per client address, with a budget of their own: past it, the
 * address gets 429 before any key is looked up, so guessing keys costs the guesser, not the
 * database. Valid requests from the address are refused too while it lasts: answering them
 * would tell a guesser which of its guesses was right.
 */
export function createAuthFailureLimit(opts: { windowMs: number; limit: number }): RequestHandler {
  const store = new MemoryStore();
  store.init({ windowMs: opts.windowMs } as Options);
  return async (req, res, next) => {
    const key = ipOf(req);
    const info = await store.get(key);
    if (info && info.totalHits >= opts.limit) {
      const seconds = Math.max(1, Math.ceil(((info.resetTime?.getTime() ?? Date.now() + opts.windowMs) - Date.now()) / 1000));
      tooMany(res, 'too_many_auth_failures', 'Too many failed authentications from this address', seconds);
      return;
    }
    // A request can pass the limit twice (a path /api/console does not answer goes on to
    // /api): its 401 counts once.
    if (!res.locals.authFailureWatched) {
      res.locals.authFailureWatched = true;
      res.on('finish', () => {
        if (res.statusCode === 401) void store.increment(key);
      });
    }
    next();
  };
}
