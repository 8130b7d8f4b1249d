import type { Request, RequestHandler } from 'express';
import type { Logger } from 'winston';
import { DB_ID_MAX } from '../../lib/http';
import type { Metrics } from '../../lib/metrics';
import type { SharedRateLimit } from '../../lib/rate-limit';
import { trackRequest } from '../../lib/request-context';
import type { WebhookAdapter } from '../../providers/provider';
import type { InboundWebhookService, Receipt } from './inbound.service';
import { answer, incoming } from './inbound.routes';

// The receiving paths as the router serves them (mounted at /api), in their plain form only:
// lower case, no trailing slash, no percent-encoding, an id of digits. Anything else goes the
// router's way, which decodes, tolerates and refuses as it always has.
const PATH = /^\/api\/(?:webhook|webhooks\/([a-z0-9_-]{1,64})(?:\/([1-9][0-9]{0,9}))?)(?:\?|$)/;
const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/** WEBHOOK_BODY_LIMIT ("1mb", "512kb") in bytes, as body-parser reads it. */
export function bodyLimitBytes(limit: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(limit);
  if (!m) throw new Error(`not a body limit: ${limit}`);
  return Number(m[1]) * UNITS[m[2].toLowerCase()];
}

export interface InboundHotPathDeps {
  service: InboundWebhookService;
  adapters: {
    envelope: WebhookAdapter;
    byProvider: (provider: string) => { adapter: WebhookAdapter; routedByAccount: boolean } | undefined;
  };
  opts: { bodyLimit: string; publicBaseUrl?: string };
  /** The limit the router's routes apply: one count whichever way a request goes. */
  rateLimit: SharedRateLimit;
  logger: Logger;
  metrics: Metrics;
}

/**
 * The inbound webhook endpoints without Express's layers, mounted before every other
 * middleware: on the busiest path of the service, the router, the generic middleware,
 * express-rate-limit and body-parser took 7 to 22% of the CPU per request (bench:webhooks with
 * BENCH_COMPARE_ROUTER=1). It does what that chain does for a plain request:
 * the request id and the request metrics (requestContext), nosniff, the per-address limit with
 * its headers and 429, the body read to its limit, the same handler and the same error
 * answers (errors go to the app's error handler). A request it does not take as it is (other
 * paths, an unknown provider, an id that is not plain digits, a compressed, chunked or
 * too-large body) goes on to the router untouched, where it is counted and answered as before.
 */
export function inboundWebhookHotPath(deps: InboundHotPathDeps): RequestHandler {
  const limit = bodyLimitBytes(deps.opts.bodyLimit);
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    const m = PATH.exec(req.url);
    if (!m) return next();
    const [, provider, id] = m;
    const found = provider === undefined ? null : deps.adapters.byProvider(provider);
    if (found === undefined) return next();
    if (id !== undefined && Number(id) > DB_ID_MAX) return next();
    // body-parser inflates and reads chunked bodies, and answers 413 before reading: left to it.
    const h = req.headers;
    if (h['content-encoding'] !== undefined || h['transfer-encoding'] !== undefined) return next();
    const length = h['content-length'];
    if (length === undefined || !/^\d{1,10}$/.test(length) || Number(length) > limit) return next();

    const route =
      provider === undefined ? '/api/webhook' : id === undefined ? '/api/webhooks/:provider' : '/api/webhooks/:provider/:integrationId';
    trackRequest(req, res, deps.logger, deps.metrics, () => route);
    // Of helmet's headers only nosniff applies to a JSON acknowledgement (see app.ts).
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const receive = (raw: Buffer): Promise<Receipt> => {
      const request = incoming(req, deps.opts.publicBaseUrl, raw);
      if (found === null) return deps.service.receiveEnvelope(deps.adapters.envelope, request);
      return deps.service.receiveFromProvider(found.adapter, provider as string, request, {
        integrationId: id === undefined ? undefined : Number(id),
        routedByAccount: found.routedByAccount,
      });
    };
    const handle = async () => {
      if (!(await deps.rateLimit.take(req, res))) return;
      answer(res, await receive(await readBody(req, Number(length))));
    };
    // Refusals and failures leave through the app's error handler, as the router's do.
    handle().catch(next);
  };
}

/**
 * The body's bytes, as the Content-Length announced them (Node's parser delivers no more). A
 * request the client abandons midway is the 400 body-parser makes of it.
 */
function readBody(req: Request, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const aborted = () => reject(Object.assign(new Error('request aborted'), { status: 400, type: 'request.aborted' }));
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length)));
    req.on('error', aborted);
    req.on('close', () => {
      if (!req.complete) aborted();
    });
  });
}
