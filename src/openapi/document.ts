import { z } from 'zod';
import { idParams } from '../lib/http';
import { createApiKeyBody, listApiKeysQuery } from '../modules/auth/api-keys.schemas';
import { createIntegrationBody, listIntegrationsQuery, updateIntegrationBody } from '../modules/integrations/integrations.schemas';
import { createTemplateBody, updateTemplateBody } from '../modules/integrations/templates.schemas';
import { createOrganizationBody, listOrganizationsQuery, updateOrganizationBody } from '../modules/organizations/organizations.schemas';
import { pushBody, pushHeaders } from '../modules/sync/push.schemas';
import { listRunsQuery, syncQuery, usersSyncQuery } from '../modules/sync/sync.schemas';
import { activitiesQuery, createUserBody, listUsersQuery, updateUserBody } from '../modules/users/users.schemas';
import { envelopeBody } from '../modules/webhooks/envelope';
import {
  createSubscriptionBody,
  deliveryParams,
  listDeliveriesQuery,
  listSubscriptionsQuery,
  recoverQuery,
  rotateSecretBody,
  updateSubscriptionBody,
} from '../modules/webhooks/subscriptions.schemas';
import { listInboundEventsQuery } from '../modules/webhooks/webhooks.schemas';
import { outboundEventData } from '../modules/webhooks/event-payloads';

type Auth = 'apiKey' | 'admin' | 'internal' | 'signature' | 'metrics' | 'none';

/** One operation, described with the same zod schemas its handler parses with. */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Express style, as mounted: /api/users/:id */
  path: string;
  tag: string;
  summary: string;
  auth: Auth;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** Status → what it means; the error statuses share the Error schema. */
  responses: Record<number, string>;
  /** The body is raw bytes signed by the sender (inbound webhooks). */
  rawBody?: string;
}

const ok = (what: string) => ({ 200: what });
const created = (what: string) => ({ 201: what });
const noContent = { 204: 'Done; no body' };
const list = (what: string) => ({ 200: `{ data: [${what}], pagination }` });
const byId = { params: idParams };

const wealthboxWebhook = z.object({
  id: z.string().optional(),
  event: z.enum(['contact.created', 'contact.updated', 'contact.deleted']),
  occurred_at: z.string().optional(),
  contact: z.looseObject({ id: z.number().int() }),
});

/** Every route of the API. tests/openapi checks this list against the Express router. */
export const operations: Operation[] = [
  { method: 'get', path: '/health', tag: 'Health', summary: 'The process is up', auth: 'none', responses: ok('{ status, uptimeSeconds }') },
  {
    method: 'get',
    path: '/ready',
    tag: 'Health',
    summary: 'The database is reachable and every migration applied',
    auth: 'none',
    responses: { 200: '{ status: "ready" }', 503: 'Not ready: database unreachable or migrations pending' },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'Health',
    summary: 'Prometheus metrics (text format); on METRICS_PORT instead when that is set',
    auth: 'metrics',
    responses: ok('Prometheus text exposition format'),
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    tag: 'Health',
    summary: 'This document',
    auth: 'none',
    responses: ok('OpenAPI 3.1 document'),
  },
  {
    method: 'get',
    path: '/api/docs',
    tag: 'Health',
    summary: 'A browsable reference of this document',
    auth: 'none',
    responses: ok('HTML'),
  },

  // Organizations
  {
    method: 'get',
    path: '/api/organizations',
    tag: 'Organizations',
    summary: 'List organizations',
    auth: 'apiKey',
    query: listOrganizationsQuery,
    responses: list('Organization'),
  },
  {
    method: 'post',
    path: '/api/organizations',
    tag: 'Organizations',
    summary: 'Create an organization',
    auth: 'admin',
    body: createOrganizationBody,
    responses: created('{ data: Organization }'),
  },
  {
    method: 'get',
    path: '/api/organizations/:id',
    tag: 'Organizations',
    summary: 'One organization',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Organization }'),
  },
  {
    method: 'patch',
    path: '/api/organizations/:id',
    tag: 'Organizations',
    summary: 'Change given fields (emits organization.updated)',
    auth: 'apiKey',
    ...byId,
    body: updateOrganizationBody,
    responses: ok('{ data: Organization }'),
  },
  {
    method: 'delete',
    path: '/api/organizations/:id',
    tag: 'Organizations',
    summary: 'Soft-delete',
    auth: 'admin',
    ...byId,
    responses: noContent,
  },
  {
    method: 'get',
    path: '/api/organizations/:id/users',
    tag: 'Organizations',
    summary: "The organization's users",
    auth: 'apiKey',
    ...byId,
    query: listUsersQuery.omit({ organizationId: true }),
    responses: list('User'),
  },
  {
    method: 'get',
    path: '/api/organizations/:id/stats',
    tag: 'Organizations',
    summary: 'User counts by state, department, role and source; last sync run',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Stats }'),
  },

  // Users
  {
    method: 'get',
    path: '/api/users',
    tag: 'Users',
    summary: 'List and search users',
    auth: 'apiKey',
    query: listUsersQuery,
    responses: list('User'),
  },
  {
    method: 'post',
    path: '/api/users',
    tag: 'Users',
    summary: 'Create a user (emits user.created)',
    auth: 'apiKey',
    body: createUserBody,
    responses: created('{ data: User }'),
  },
  {
    method: 'get',
    path: '/api/users/:id',
    tag: 'Users',
    summary: 'One user with its identities',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: User }'),
  },
  {
    method: 'patch',
    path: '/api/users/:id',
    tag: 'Users',
    summary: 'Change given fields (emits user.updated)',
    auth: 'apiKey',
    ...byId,
    body: updateUserBody,
    responses: ok('{ data: User }'),
  },
  {
    method: 'delete',
    path: '/api/users/:id',
    tag: 'Users',
    summary: 'Soft-delete (emits user.deleted)',
    auth: 'apiKey',
    ...byId,
    responses: noContent,
  },
  {
    method: 'get',
    path: '/api/users/:id/activities',
    tag: 'Users',
    summary: 'What CRMs reported about the user (outbound messages), newest first',
    auth: 'apiKey',
    ...byId,
    query: activitiesQuery,
    responses: list('Activity'),
  },

  // API keys
  {
    method: 'post',
    path: '/api/api-keys',
    tag: 'API keys',
    summary: 'Create a key; the answer holds it, the only time it is shown',
    auth: 'admin',
    body: createApiKeyBody,
    responses: created('{ data: ApiKey & { key } }'),
  },
  {
    method: 'get',
    path: '/api/api-keys',
    tag: 'API keys',
    summary: 'List keys (never the keys themselves)',
    auth: 'admin',
    query: listApiKeysQuery,
    responses: ok('{ data: [ApiKey] }'),
  },
  { method: 'delete', path: '/api/api-keys/:id', tag: 'API keys', summary: 'Revoke a key', auth: 'admin', ...byId, responses: noContent },

  // The push
  {
    method: 'post',
    path: '/api/internal/sync/users',
    tag: 'Sync',
    summary: "Seed 001's bulk user push from the upstream identity system",
    auth: 'internal',
    headers: pushHeaders,
    body: pushBody,
    responses: {
      200: '{ success, message, results: [{ userId, email, status, crmUserId, message }], tenant, metadata }',
      413: 'Too many users or too large',
    },
  },

  // Templates and integrations
  {
    method: 'get',
    path: '/api/integration-templates',
    tag: 'Integrations',
    summary: 'List templates',
    auth: 'apiKey',
    responses: ok('{ data: [Template] }'),
  },
  {
    method: 'get',
    path: '/api/integration-templates/:id',
    tag: 'Integrations',
    summary: 'One template',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Template }'),
  },
  {
    method: 'post',
    path: '/api/integration-templates',
    tag: 'Integrations',
    summary: 'Create a template',
    auth: 'admin',
    body: createTemplateBody,
    responses: created('{ data: Template }'),
  },
  {
    method: 'patch',
    path: '/api/integration-templates/:id',
    tag: 'Integrations',
    summary: 'Change a template',
    auth: 'admin',
    ...byId,
    body: updateTemplateBody,
    responses: ok('{ data: Template }'),
  },
  {
    method: 'delete',
    path: '/api/integration-templates/:id',
    tag: 'Integrations',
    summary: 'Delete a template no integration uses',
    auth: 'admin',
    ...byId,
    responses: noContent,
  },
  {
    method: 'get',
    path: '/api/integrations',
    tag: 'Integrations',
    summary: 'List integrations',
    auth: 'apiKey',
    query: listIntegrationsQuery,
    responses: list('Integration'),
  },
  {
    method: 'post',
    path: '/api/integrations',
    tag: 'Integrations',
    summary: "Create an integration; config is checked against the template's JSON Schema",
    auth: 'apiKey',
    body: createIntegrationBody,
    responses: created('{ data: Integration } (secrets masked)'),
  },
  {
    method: 'post',
    path: '/api/integrations/re-encrypt',
    tag: 'Integrations',
    summary: 'Re-seal every secret not under the current key',
    auth: 'admin',
    responses: ok('{ data: { integrations, secrets } }'),
  },
  {
    method: 'get',
    path: '/api/integrations/:id',
    tag: 'Integrations',
    summary: 'One integration',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Integration }'),
  },
  {
    method: 'patch',
    path: '/api/integrations/:id',
    tag: 'Integrations',
    summary: 'Change an integration; config is merged (null removes a field)',
    auth: 'apiKey',
    ...byId,
    body: updateIntegrationBody,
    responses: ok('{ data: Integration }'),
  },
  {
    method: 'delete',
    path: '/api/integrations/:id',
    tag: 'Integrations',
    summary: 'Delete an integration',
    auth: 'apiKey',
    ...byId,
    responses: noContent,
  },
  {
    method: 'post',
    path: '/api/integrations/:id/test',
    tag: 'Integrations',
    summary: 'One real call to the CRM; the status follows',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ success, message, data }'),
  },
  {
    method: 'post',
    path: '/api/integrations/:id/disconnect',
    tag: 'Integrations',
    summary: 'active → disconnected',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Integration }'),
  },
  {
    method: 'post',
    path: '/api/integrations/:id/reconnect',
    tag: 'Integrations',
    summary: 'disconnected → active, after a passing test',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ success, message, data }'),
  },

  // Pull sync
  {
    method: 'post',
    path: '/api/integrations/:id/sync',
    tag: 'Sync',
    summary: 'Start a pull (202 with the run id; wait=true answers when it ends)',
    auth: 'apiKey',
    ...byId,
    query: syncQuery,
    responses: { 200: '{ data: Run } (wait=true)', 202: '{ data: { runId, integrationId, mode, status } }' },
  },
  {
    method: 'post',
    path: '/api/users/sync',
    tag: 'Sync',
    summary: "Seed 000: sync every active integration of the caller's organization",
    auth: 'apiKey',
    query: usersSyncQuery,
    responses: ok('{ message, total, runs }'),
  },
  {
    method: 'get',
    path: '/api/sync/runs',
    tag: 'Sync',
    summary: 'Runs of pushes and pulls',
    auth: 'apiKey',
    query: listRunsQuery,
    responses: list('Run'),
  },
  { method: 'get', path: '/api/sync/runs/:id', tag: 'Sync', summary: 'One run', auth: 'apiKey', ...byId, responses: ok('{ data: Run }') },
  {
    method: 'get',
    path: '/api/sync/jobs',
    tag: 'Sync',
    summary: 'Each schedule with its last and next run',
    auth: 'apiKey',
    responses: ok('{ data: [Job] }'),
  },

  // Inbound webhooks
  {
    method: 'post',
    path: '/api/webhooks/:provider',
    tag: 'Inbound webhooks',
    summary: "A CRM's events for seed 000's default integration (provider: wealthbox)",
    auth: 'signature',
    params: z.object({ provider: z.enum(['wealthbox']) }),
    body: wealthboxWebhook,
    rawBody: 'x-wealthbox-signature: hex HMAC-SHA256 of the raw body with the webhook secret',
    responses: { 202: '{ received: true, duplicate: false, eventId }', 200: '{ received: true, duplicate: true, eventId: null }' },
  },
  {
    method: 'post',
    path: '/api/webhooks/:provider/:integrationId',
    tag: 'Inbound webhooks',
    summary: "A CRM's events for one integration",
    auth: 'signature',
    params: z.object({ provider: z.enum(['wealthbox']), integrationId: z.number().int().positive() }),
    body: wealthboxWebhook,
    rawBody: 'x-wealthbox-signature: hex HMAC-SHA256 of the raw body with the webhook secret',
    responses: { 202: '{ received: true, duplicate: false, eventId }', 200: '{ received: true, duplicate: true, eventId: null }' },
  },
  {
    method: 'post',
    path: '/api/webhook',
    tag: 'Inbound webhooks',
    summary: "Seed 002's envelope; the integration is found by payload.locationId",
    auth: 'signature',
    body: envelopeBody,
    rawBody: "x-webhook-signature: hex HMAC-SHA256 of the raw body with the integration's webhook secret",
    responses: { 202: '{ received: true, duplicate: false, eventId }', 200: '{ received: true, duplicate: true, eventId: null }' },
  },
  {
    method: 'get',
    path: '/api/webhooks/events',
    tag: 'Inbound webhooks',
    summary: 'The inbox',
    auth: 'apiKey',
    query: listInboundEventsQuery,
    responses: list('InboundEvent'),
  },
  {
    method: 'get',
    path: '/api/webhooks/events/:id',
    tag: 'Inbound webhooks',
    summary: 'One event with its payload',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: InboundEvent }'),
  },
  {
    method: 'post',
    path: '/api/webhooks/events/:id/replay',
    tag: 'Inbound webhooks',
    summary: 'Process the event again',
    auth: 'apiKey',
    ...byId,
    responses: { 202: '{ data: InboundEvent }' },
  },

  // Outbound webhooks
  {
    method: 'get',
    path: '/api/webhook-subscriptions',
    tag: 'Outbound webhooks',
    summary: 'List subscriptions',
    auth: 'apiKey',
    query: listSubscriptionsQuery,
    responses: list('Subscription'),
  },
  {
    method: 'post',
    path: '/api/webhook-subscriptions',
    tag: 'Outbound webhooks',
    summary: 'Subscribe; the answer holds the whsec_ secret, the only time it is shown',
    auth: 'apiKey',
    body: createSubscriptionBody,
    responses: created('{ data: Subscription & { secret } }'),
  },
  {
    method: 'get',
    path: '/api/webhook-subscriptions/:id',
    tag: 'Outbound webhooks',
    summary: 'One subscription',
    auth: 'apiKey',
    ...byId,
    responses: ok('{ data: Subscription }'),
  },
  {
    method: 'patch',
    path: '/api/webhook-subscriptions/:id',
    tag: 'Outbound webhooks',
    summary: 'Change a subscription; isActive: true re-enables it',
    auth: 'apiKey',
    ...byId,
    body: updateSubscriptionBody,
    responses: ok('{ data: Subscription }'),
  },
  {
    method: 'delete',
    path: '/api/webhook-subscriptions/:id',
    tag: 'Outbound webhooks',
    summary: 'Delete',
    auth: 'apiKey',
    ...byId,
    responses: noContent,
  },
  {
    method: 'post',
    path: '/api/webhook-subscriptions/:id/rotate-secret',
    tag: 'Outbound webhooks',
    summary: 'A new secret; the old one signs beside it for the grace period',
    auth: 'apiKey',
    ...byId,
    body: rotateSecretBody,
    responses: ok('{ data: Subscription & { secret } }'),
  },
  {
    method: 'post',
    path: '/api/webhook-subscriptions/:id/recover',
    tag: 'Outbound webhooks',
    summary: 'Re-enable and redeliver what failed or was skipped since a time',
    auth: 'apiKey',
    ...byId,
    query: recoverQuery,
    responses: ok('{ data: { requeued, subscription } }'),
  },
  {
    method: 'get',
    path: '/api/webhook-subscriptions/:id/deliveries',
    tag: 'Outbound webhooks',
    summary: 'Deliveries with their attempt log',
    auth: 'apiKey',
    ...byId,
    query: listDeliveriesQuery,
    responses: list('Delivery'),
  },
  {
    method: 'post',
    path: '/api/webhook-subscriptions/:id/deliveries/:deliveryId/retry',
    tag: 'Outbound webhooks',
    summary: 'A new round of attempts for a finished delivery',
    auth: 'apiKey',
    params: deliveryParams,
    responses: { 202: '{ success, message }' },
  },
];

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  apiKey: [{ apiKey: [] }],
  admin: [{ apiKey: [] }],
  internal: [{ internalKey: [] }],
  signature: [],
  metrics: [{ apiKey: [] }, { bearer: [] }],
  none: [],
};

const ERRORS: Record<Auth, number[]> = {
  apiKey: [400, 401, 404, 409, 429],
  admin: [400, 401, 403, 404, 409, 429],
  internal: [400, 401, 413, 429],
  signature: [400, 401, 404, 409, 413, 429],
  metrics: [401, 403],
  none: [],
};

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input; details name every failing field',
  401: 'Missing or invalid key (or signature)',
  403: 'The key may not do this (admin key required)',
  404: 'Not found (or belongs to another organization)',
  409: 'Conflicts with the current state',
  413: 'Body too large',
  429: 'Rate limited',
};

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

function parameters(schema: z.ZodObject | undefined, where: 'path' | 'query' | 'header') {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const s = jsonSchema(field as z.ZodType);
    delete s.$schema;
    return { name, in: where, required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success, schema: s };
  });
}

/** What subscribers receive: POST <url> with { id, event, timestamp, data }, one entry per event type. */
function outboundWebhooks() {
  return Object.fromEntries(
    Object.entries(outboundEventData).map(([event, data]) => {
      const schema = jsonSchema(z.object({ id: z.uuid(), event: z.literal(event), timestamp: z.iso.datetime({ offset: true }), data }));
      delete schema.$schema;
      return [
        event,
        {
          post: {
            summary: `${event}, sent to subscriptions that asked for it`,
            description:
              'Signed: X-Webhook-Signature (hex HMAC-SHA256 of the body with the subscription secret) and the Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature).',
            requestBody: { required: true, content: { 'application/json': { schema } } },
            responses: { 200: { description: 'Any 2xx: delivered' }, 410: { description: 'Gone: the subscription is disabled' } },
          },
        },
      ];
    }),
  );
}

/** The OpenAPI 3.1 document, built from `operations`. */
export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = op.path.replace(/:(\w+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(op.responses)) {
      responses[status] = Number(status) === 204 ? { description } : { description, content: { 'application/json': { schema: {} } } };
    }
    for (const status of ERRORS[op.auth]) {
      responses[status] ??= {
        description: ERROR_TEXT[status],
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    if (op.auth !== 'none' && op.auth !== 'signature' && op.auth !== 'metrics') {
      responses[500] = {
        description: 'Unexpected failure',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    let body: Record<string, unknown> | undefined;
    if (op.body) {
      const schema = jsonSchema(op.body);
      delete schema.$schema;
      body = {
        required: true,
        content: { 'application/json': { schema } },
        ...(op.rawBody ? { description: `Signed: ${op.rawBody}` } : {}),
      };
    }
    paths[path] ??= {};
    paths[path][op.method] = {
      tags: [op.tag],
      summary: op.summary,
      operationId: `${op.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      security: SECURITY[op.auth],
      parameters: [
        ...parameters(op.params, 'path'),
        ...parameters(op.query, 'query'),
        ...parameters(op.headers, 'header'),
        ...(op.rawBody
          ? [{ name: op.rawBody.split(':')[0], in: 'header', required: true, description: op.rawBody, schema: { type: 'string' } }]
          : []),
      ],
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'CRM integration service',
      version,
      description:
        'Keeps organizations and their users in sync with CRMs. Lists answer `{ data, pagination }`; one resource `{ data }`; every failure the Error shape.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set(operations.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    webhooks: outboundWebhooks(),
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An admin key, or a key scoped to one organization' },
        internalKey: { type: 'apiKey', in: 'header', name: 'X-Internal-API-Key', description: 'INTERNAL_API_KEY, for the upstream push' },
        bearer: { type: 'http', scheme: 'bearer', description: 'An admin API key, for Prometheus' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['success', 'error', 'code', 'requestId', 'timestamp'],
          properties: {
            success: { const: false },
            error: { type: 'string' },
            code: { type: 'string', examples: ['validation_failed'] },
            details: {
              type: 'array',
              items: {
                type: 'object',
                required: ['path', 'message'],
                properties: { path: { type: 'string' }, message: { type: 'string' } },
              },
            },
            requestId: { type: 'string' },
            timestamp: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
  };
}
