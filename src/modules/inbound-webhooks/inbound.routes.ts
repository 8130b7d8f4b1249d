import express, { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../lib/errors';
import { idParams, parse, publicOrigin } from '../../lib/http';
import { cursorList, newestFirstPage, sendListPage } from '../../lib/list-cursor';
import { byId, ok, type Operation } from '../../openapi/operation';
import type { WebhookAdapter } from '../../providers/provider';
import { assertCanSeeOrganization, principalOf, scopeOrganization } from '../auth';
import { envelopeBody } from './envelope';
import type { IncomingWebhook, InboundWebhookService, Receipt } from './inbound.service';
import type { InboxRepository } from './inbox.repository';
import type { InboxWorker } from './inbox.worker';
import { listInboundEventsQuery } from './inbox.schemas';

const received = { 202: '{ received: true, duplicate: false, eventId }', 200: '{ received: true, duplicate: true, eventId: null }' };
const ENVELOPE_SIGNATURE = "x-webhook-signature: hex HMAC-SHA256 of the raw body with the integration's webhook secret";

/** A provider whose webhooks are served, as the registry describes it. */
export interface WebhookProvider {
  name: string;
  signatureHeader: string | null;
}

/**
 * The receiving endpoints (mounted at /api). The providers come from the registry, so the
 * document names them without this code naming any.
 */
export function inboundWebhookOperations(providers: readonly WebhookProvider[]): Operation[] {
  const names = providers.map((p) => p.name);
  const provider = names.length > 0 ? z.enum(names as [string, ...string[]]) : z.string();
  const headers = [...new Set(providers.flatMap((p) => (p.signatureHeader ? [p.signatureHeader] : [])))].map((name) => ({
    name,
    // Required when every provider signs in it.
    required: providers.every((p) => p.signatureHeader === name),
    description: `The signature, for ${providers
      .filter((p) => p.signatureHeader === name)
      .map((p) => p.name)
      .join(', ')}`,
  }));
  const signed = { how: "the provider's own scheme over the raw bytes, in its signature header", headers };
  // Each CRM posts its own format (an object, or an array of events).
  const body = z.union([z.looseObject({}), z.array(z.unknown())]);
  return [
    {
      method: 'post',
      path: '/webhooks/:provider',
      tag: 'Inbound webhooks',
      summary: "A CRM's events: routed by the account they name, or else to seed 000's default integration of the provider",
      auth: 'signature',
      params: z.object({ provider }),
      body,
      signed,
      responses: received,
    },
    {
      method: 'post',
      path: '/webhooks/:provider/:integrationId',
      tag: 'Inbound webhooks',
      summary: "A CRM's events for one integration",
      auth: 'signature',
      params: z.object({ provider, integrationId: z.number().int().positive() }),
      body,
      signed,
      responses: received,
    },
    {
      method: 'post',
      path: '/webhook',
      tag: 'Inbound webhooks',
      summary: "Seed 002's envelope; the integration is found by payload.locationId",
      auth: 'signature',
      body: envelopeBody,
      signed: { how: ENVELOPE_SIGNATURE, headers: [{ name: 'x-webhook-signature', required: true, description: ENVELOPE_SIGNATURE }] },
      responses: received,
    },
  ];
}

/** The inbox (mounted at /api/webhooks/events). */
export const inboundEventOperations: Operation[] = [
  {
    method: 'get',
    path: '/',
    tag: 'Inbound webhooks',
    summary: 'The inbox',
    auth: 'apiKey',
    query: listInboundEventsQuery,
    responses: cursorList('InboundEvent'),
  },
  {
    method: 'get',
    path: '/:id',
    tag: 'Inbound webhooks',
    summary: 'One event with its payload',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: InboundEvent }'),
  },
  {
    method: 'post',
    path: '/:id/replay',
    tag: 'Inbound webhooks',
    summary: 'Process the event again',
    auth: 'apiKey',
    ...byId,
    responses: { 202: '{ data: InboundEvent }', 409: 'The payload was pruned by retention or erased (event_pruned)' },
  },
];

export function answer(res: express.Response, r: Receipt) {
  // A repeat changes nothing and says so; the sender can stop retrying either way.
  const body = JSON.stringify({
    received: true,
    duplicate: r.duplicate,
    eventId: r.eventId,
    ...(r.events.length > 1 ? { events: r.events.map(({ eventId, duplicate }) => ({ eventId, duplicate })) } : {}),
  });
  // Written directly: res.json would also hash the body for an ETag no sender reads, on
  // every request of the hot path. Headers set before (request id, rate limit) are kept.
  res.writeHead(r.duplicate ? 200 : 202, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The request as the sender made it. The URL is the one the sender called (some CRMs sign
 * it): PUBLIC_BASE_URL when set (behind a proxy), else this request's scheme and Host.
 */
export function incoming(req: express.Request, publicBaseUrl: string | undefined, raw = req.body as Buffer): IncomingWebhook {
  return { raw, header: (h) => req.get(h), method: req.method, url: `${publicOrigin(req, publicBaseUrl)}${req.originalUrl}` };
}

/**
 * The public receiving endpoints (no API key: the signature is the authentication). The body
 * is kept as raw bytes: signatures are computed over exactly what was sent.
 */
export function inboundWebhooksRouter(
  service: InboundWebhookService,
  adapters: {
    envelope: WebhookAdapter;
    byProvider: (provider: string) => { adapter: WebhookAdapter; routedByAccount: boolean } | undefined;
  },
  opts: { bodyLimit: string; publicBaseUrl?: string },
  rateLimit: express.RequestHandler,
): Router {
  const router = Router();
  const raw = express.raw({ type: () => true, limit: opts.bodyLimit });

  router.post('/webhook', rateLimit, raw, async (req, res) => {
    answer(res, await service.receiveEnvelope(adapters.envelope, incoming(req, opts.publicBaseUrl)));
  });

  // Two routes, not one with two paths: the request metrics label a route by its path.
  const fromProvider: express.RequestHandler = async (req, res, next) => {
    const provider = String(req.params.provider);
    const found = adapters.byProvider(provider);
    if (!found) return next();
    const integrationId =
      req.params.integrationId === undefined ? undefined : parse(idParams, { id: req.params.integrationId }, 'params').id;
    answer(
      res,
      await service.receiveFromProvider(found.adapter, provider, incoming(req, opts.publicBaseUrl), {
        integrationId,
        routedByAccount: found.routedByAccount,
      }),
    );
  };
  router.post('/webhooks/:provider', rateLimit, raw, fromProvider);
  router.post('/webhooks/:provider/:integrationId', rateLimit, raw, fromProvider);

  return router;
}

/** The inbox, for people: list, inspect, replay. Behind the API key. */
export function inboundEventsRouter(repo: InboxRepository, worker: InboxWorker, lists: { exactCountLimit: number }): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const { page, cursor, limit, ...q } = parse(listInboundEventsQuery, req.query, 'query');
    const filter = { ...q, organizationId: scopeOrganization(principalOf(res), q.organizationId) };
    const at = { page, cursor, limit };
    sendListPage(res, await newestFirstPage('inbound-events', filter, at, lists.exactCountLimit, repo), at);
  });

  router.get('/:id', async (req, res) => {
    res.json({ data: await visible(repo, req.params, res) });
  });

  router.post('/:id/replay', async (req, res) => {
    const event = await visible(repo, req.params, res);
    // Retention (or an erasure) kept the row and its dedupe key but not the payload; the
    // second check covers a prune between the read and the requeue.
    if (isPruned(event.payload) || (!(await repo.replay(event.id)) && isPruned((await repo.get(event.id))?.payload))) {
      throw new AppError(
        'conflict',
        'event_pruned',
        `Webhook event ${event.id} cannot be replayed: its payload was removed by retention or erasure`,
      );
    }
    worker.poke();
    res.status(202).json({ data: await repo.get(event.id) });
  });

  return router;
}

function isPruned(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && (payload as { pruned?: unknown }).pruned === true;
}

async function visible(repo: InboxRepository, params: unknown, res: express.Response) {
  const { id } = parse(idParams, params, 'params');
  const event = await repo.get(id);
  if (!event) throw AppError.notFound('Webhook event', id);
  assertCanSeeOrganization(principalOf(res), event.organizationId, AppError.notFound('Webhook event', id));
  return event;
}
