import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { sha256Hex } from './crypto';
import { AppError, errorBody } from './errors';

/** Limits per API key (hashed, never kept in clear), or per IP address without one. */
function keyOf(req: Request): string {
  const key = req.get('x-api-key') ?? req.get('x-internal-api-key');
  return key ? `key:${sha256Hex(key)}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
}

export function createRateLimit(opts: { windowMs: number; limit: number; name: string }): RequestHandler {
  return rateLimit({
    windowMs: opts.windowMs,
    limit: opts.limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: opts.name,
    keyGenerator: keyOf,
    handler: (_req, res, _next, options) => {
      const retryAfter = Math.ceil(options.windowMs / 1000);
      if (!res.getHeader('Retry-After')) res.setHeader('Retry-After', String(retryAfter));
      const err = new AppError('rate_limited', 'rate_limited', `Too many requests; retry after ${res.getHeader('Retry-After')} seconds`);
      res.status(429).json(errorBody(err, String(res.locals.requestId ?? ''), false));
    },
  });
}
