import { z } from 'zod';
import type { Auth, Operation } from './operation';

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
function outboundWebhooks(events: Readonly<Record<string, z.ZodType>>) {
  return Object.fromEntries(
    Object.entries(events).map(([event, data]) => {
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

/**
 * The OpenAPI 3.1 document: the operations of every router, as mounted (each router declares
 * its own beside its handlers), and the outbound events' payloads by type.
 */
export function openApiDocument(version: string, operations: readonly Operation[], outboundEvents: Readonly<Record<string, z.ZodType>>) {
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
        ...(op.signed ? { description: `Signed: ${op.signed.how}` } : {}),
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
        ...(op.signed?.headers ?? []).map((h) => ({
          name: h.name,
          in: 'header',
          required: h.required,
          description: h.description,
          schema: { type: 'string' },
        })),
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
    webhooks: outboundWebhooks(outboundEvents),
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
