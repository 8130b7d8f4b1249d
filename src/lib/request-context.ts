import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'winston';
import type { Metrics } from './metrics';

const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What the request context does for one request: accepts the caller's X-Request-Id (or makes
 * one), echoes it, and on finish counts the request by `routeOf()` and logs one line. Shared
 * by the middleware and a hand-written hot path, so both answer and count alike.
 */
export function trackRequest(req: Request, res: Response, logger: Logger, metrics: Metrics | undefined, routeOf: () => string): void {
  const given = req.get('x-request-id');
  const requestId = given && VALID_ID.test(given) ? given : randomUUID();
  res.locals.requestId = requestId;
  res.setHeader('X-Request-Id', requestId);
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (metrics) {
      const labels = { method: req.method, route: routeOf(), status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, durationMs / 1000);
    }
    // At LOG_LEVEL=warn the line would be built and then dropped, on every request.
    if (!logger.isInfoEnabled()) return;
    logger.info('request', {
      requestId,
      method: req.method,
      path: req.originalUrl.split('?')[0],
      status: res.statusCode,
      durationMs: Math.round(durationMs * 10) / 10,
      keyId: (res.locals.principal as { keyId?: number } | undefined)?.keyId ?? undefined,
    });
  });
}

/** Accepts a caller's X-Request-Id (or makes one), echoes it, and logs one line per request. */
export function requestContext(logger: Logger, metrics?: Metrics): RequestHandler {
  return (req, res, next) => {
    // The route pattern, never the URL: ids in paths would make a series per id.
    trackRequest(req, res, logger, metrics, () => (req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched'));
    next();
  };
}
