import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'winston';
import type { Metrics } from './metrics';

const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's X-Request-Id (or makes one), echoes it, and logs one line per request. */
export function requestContext(logger: Logger, metrics?: Metrics): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && VALID_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (metrics) {
        // The route pattern, never the URL: ids in paths would make a series per id.
        const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        const labels = { method: req.method, route, status: String(res.statusCode) };
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
    next();
  };
}
