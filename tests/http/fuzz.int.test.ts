/**
 * Hostile input, fuzzed over EVERY operation of the OpenAPI document (GET /api/openapi.json):
 * the service never answers 5xx (503 only where the document lists it), every 4xx is the JSON
 * error shape of src/lib/errors.ts, and an unsigned inbound webhook is never accepted.
 *
 * Design
 * - beforeAll starts a fake Wealthbox, the app (with a default Wealthbox integration pointed at
 *   the fake), and reads the document; each operation is taken from its `paths`, so one added
 *   later is fuzzed with no change here. Parameters, header parameters, the request body schema
 *   and the auth scheme all come from the document.
 * - Real rows (organization, user, integration signed with a webhook secret, envelope
 *   integration, subscription, API key, sync run, inbound event, delivery) are created through the
 *   API before each property, so path ids point at real rows as well as at unknown ones.
 * - Input classes: `path` (malformed percent-encoding, huge and non-numeric ids), `query` (NUL,
 *   lone surrogates, past-int4 numbers, times outside the years 1 to 9999, long strings, arrays,
 *   objects), `body` (values of the operation's example replaced by hostile ones, deep nesting as raw text, extra and __proto__
 *   keys, non-JSON/empty/scalar bodies), `headers` (Content-Encoding, Content-Type, charset,
 *   invalid UTF-8 bytes, hostile header parameters) and `combined` (all at once). Generators make
 *   small printable recipes; `build` turns a recipe into the bytes sent.
 * - One fast-check property per operation and class (RUNS runs, within a time share of
 *   FUZZ_CLASS_BUDGET_MS), seeded from FUZZ_SEED; a failing operation does not stop the others:
 *   each class test lists every failing operation with fast-check's report (seed, path, shrunk
 *   counterexample, the request as sent and the answer). Every bad answer seen is also
 *   collected, deduplicated, and printed after the file: the to-do list. A rejection that
 *   background work started by the fuzz leaves unhandled (it would crash a Node process) fails
 *   the test that is running, through jest.
 * - A table of explicit cases per class runs first, so each class is certainly exercised.
 * - Creating requests may succeed with fuzzed-but-valid data; only 5xx, a 4xx that is not the
 *   error shape, and an accepted unsigned webhook fail. Syncs reach the fake CRM only.
 *
 * Replay: FUZZ_SEED=<seed from the report> npx jest tests/http/fuzz.int.test.ts
 * Tune: FUZZ_RUNS=<n> (runs per operation for every class), FUZZ_CLASS_BUDGET_MS=<ms>;
 * FUZZ_LOG=<file> appends each request's operation, class, status and code, to see what was reached.
 */
import { createHmac } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createOrganization, createUser, pushBody, pushUser, uniq } from '../helpers/fixtures';
import { ADMIN_KEY, INTERNAL_KEY, createTestContext, type TestContext } from '../helpers/test-app';

const SECRET = 'fuzz-webhook-secret-0123';
const TENANT = 'fuzz-tenant';
const ENVELOPE_TEMPLATE = 'fuzz_envelope_crm';
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
/** Runs per operation, by class (FUZZ_RUNS sets them all). */
const FUZZ_RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : undefined;
const RUNS = { path: FUZZ_RUNS ?? 10, query: FUZZ_RUNS ?? 25, body: FUZZ_RUNS ?? 25, headers: FUZZ_RUNS ?? 10, combined: FUZZ_RUNS ?? 10 };
const CLASS_BUDGET_MS = Number(process.env.FUZZ_CLASS_BUDGET_MS ?? 9_000);
/** A file to append every request's outcome to (one JSON line each), to see what the fuzz reached. */
const LOG = process.env.FUZZ_LOG;

// ---------------------------------------------------------------------------------------------
// The document

interface JsonSchema {
  type?: string | string[];
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}
interface DocParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  description?: string;
  schema?: JsonSchema;
}
interface DocOperation {
  parameters?: DocParameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, unknown>;
  security?: Record<string, string[]>[];
}
interface OpenApiDocument {
  paths: Record<string, Record<string, DocOperation>>;
  components: { securitySchemes: Record<string, { type: string; in?: string; name?: string; scheme?: string }> };
}

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

/** One operation, ready to fuzz. */
interface Op {
  key: string;
  method: Method;
  template: string;
  pathParams: string[];
  queryParams: DocParameter[];
  /** Header parameters other than the signature (the push's X-Tenant-ID, X-Sync-Source). */
  headerParams: DocParameter[];
  bodySchema?: JsonSchema;
  /** Inbound webhooks: the header carrying the hex HMAC-SHA256 of the raw body. */
  signatureHeader?: string;
  /** The key the document's security asks for. */
  auth: Record<string, string>;
  /** 5xx statuses the document itself lists for the operation (only 503 is honoured). */
  allowed5xx: Set<number>;
  /** Deletes and disconnects go last, so the other operations still find the rows. */
  destructive: boolean;
}

function operationsOf(doc: OpenApiDocument): Op[] {
  const ops: Op[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue;
      const params = op.parameters ?? [];
      const signature = params.find((p) => p.in === 'header' && /hmac/i.test(p.description ?? ''));
      const auth: Record<string, string> = {};
      const requirement = Object.keys(op.security?.[0] ?? {})[0];
      const scheme = requirement ? doc.components.securitySchemes[requirement] : undefined;
      if (scheme?.type === 'apiKey' && scheme.in === 'header' && scheme.name) {
        auth[scheme.name] = /internal/i.test(requirement) ? INTERNAL_KEY : ADMIN_KEY;
      } else if (scheme?.type === 'http' && scheme.scheme === 'bearer') {
        auth.Authorization = `Bearer ${ADMIN_KEY}`;
      }
      ops.push({
        key: `${method.toUpperCase()} ${template}`,
        method: method as Method,
        template,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query'),
        headerParams: params.filter((p) => p.in === 'header' && p !== signature),
        bodySchema: op.requestBody?.content?.['application/json']?.schema,
        signatureHeader: signature?.name,
        auth,
        allowed5xx: new Set(
          Object.keys(op.responses)
            .map(Number)
            .filter((s) => s === 503),
        ),
        destructive: method === 'delete' || /\/disconnect$/.test(template),
      });
    }
  }
  return [...ops.filter((o) => !o.destructive), ...ops.filter((o) => o.destructive)];
}

// ---------------------------------------------------------------------------------------------
// Real rows and valid examples

interface Seed {
  org: number;
  /** An organization with no integration yet: POST /api/integrations can succeed once. */
  spareOrg: number;
  user: number;
  integration: number;
  envelopeIntegration: number;
  locationId: string;
  subscription: number;
  apiKey: number;
  template: number;
  envelopeTemplate: number;
  run: number;
  event: number;
  delivery: number;
}

let ctx: TestContext;
let fake: FakeWealthbox;
let doc: OpenApiDocument;
let ops: Op[];
let seed: Seed;
let envelopeTemplateId = 0;
/**
 * The default organization and integration (from WEALTHBOX_*): the fuzz never writes to them
 * (a hostile id such as "%201" decodes to 1), or POST /api/webhooks/{provider} would answer
 * 404 from then on and not be fuzzed any more.
 */
const protectedIds: Record<string, Set<number>> = { organizations: new Set(), integrations: new Set() };

/** Whether `req` would write to a protected row: the id as Express and z.coerce.number() read it. */
function touchesDefaults(op: Op, req: Req): boolean {
  if (op.method === 'get') return false;
  const resource = op.template.split('/')[2];
  const ids = protectedIds[resource];
  if (!ids) return false;
  return Object.values(req.params).some((segment) => {
    try {
      return ids.has(Number(decodeURIComponent(segment)));
    } catch {
      return false;
    }
  });
}

const sign = (raw: Buffer) => createHmac('sha256', SECRET).update(raw).digest('hex');

async function api(method: Method, path: string, body?: unknown) {
  const res = await ctx.http[method](path)
    .set('x-api-key', ADMIN_KEY)
    .send(body as object);
  if (res.status >= 300) throw new Error(`seed: ${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { data: Record<string, unknown> } & Record<string, unknown>;
}

async function makeSeed(): Promise<Seed> {
  const org = await createOrganization(ctx);
  const wealthboxConfig = { apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 0, webhookSecret: SECRET };
  const integration = (
    await api('post', '/api/integrations', { organizationId: org.id, provider: 'wealthbox', name: 'Fuzz WB', config: wealthboxConfig })
  ).data.id as number;
  const locationId = uniq('loc');
  const envelopeIntegration = (
    await api('post', '/api/integrations', {
      organizationId: org.id,
      provider: ENVELOPE_TEMPLATE,
      name: 'Fuzz envelope',
      config: { apiKey: 'envelope-token', locationId, webhookSecret: SECRET },
    })
  ).data.id as number;
  const subscription = (
    await api('post', '/api/webhook-subscriptions', {
      organizationId: org.id,
      url: 'http://127.0.0.1:9/fuzz-hook',
      events: ['user.created'],
    })
  ).data.id as number;
  const user = (await createUser(ctx, org.id)).id;
  const apiKey = (await api('post', '/api/api-keys', { name: 'fuzz key', scope: 'organization', organizationId: org.id })).data
    .id as number;
  await api('post', `/api/integrations/${integration}/sync?wait=true`);
  const raw = JSON.stringify({ id: uniq('evt'), event: 'contact.created', contact: wealthboxContact(1) });
  const hook = await ctx.http
    .post(`/api/webhooks/wealthbox/${integration}`)
    .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': sign(Buffer.from(raw)) })
    .send(raw);
  if (hook.status !== 202) throw new Error(`seed: signed webhook → ${hook.status} ${JSON.stringify(hook.body)}`);
  const one = async (sql: string, params: unknown[]) => Number((await ctx.sql<{ id: number }>(sql, params))[0]?.id ?? 1);
  return {
    org: org.id,
    spareOrg: (await createOrganization(ctx)).id,
    user,
    integration,
    envelopeIntegration,
    locationId,
    subscription,
    apiKey,
    template: await one(`SELECT id FROM integration_templates WHERE name = 'wealthbox'`, []),
    envelopeTemplate: envelopeTemplateId,
    run: await one('SELECT id FROM sync_runs WHERE integration_id = $1 ORDER BY id DESC LIMIT 1', [integration]),
    event: hook.body.eventId as number,
    delivery: await one('SELECT id FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT 1', [subscription]),
  };
}

function wealthboxContact(id: number) {
  return {
    id,
    type: 'Person',
    first_name: 'Fuzz',
    last_name: 'Contact',
    updated_at: '2026-11-20 10:00 AM -0400',
    email_addresses: [{ address: `fuzz${id}@example.com`, principal: true }],
  };
}

/** Where the document's schema alone cannot give a body that gets past validation. */
const EXAMPLES: Record<string, (s: Seed) => unknown> = {
  'POST /api/integrations': (s) => ({
    organizationId: s.spareOrg,
    provider: 'wealthbox',
    name: 'Fuzz WB',
    config: { apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 0, webhookSecret: SECRET },
  }),
  'PATCH /api/integrations/{id}': () => ({ name: 'Fuzz WB', description: 'fuzzed', config: { includeUsers: true } }),
  'POST /api/api-keys': (s) => ({ name: 'fuzz key', scope: 'organization', organizationId: s.org }),
  'POST /api/internal/sync/users': () => pushBody(TENANT, [pushUser(1)]),
  'POST /api/webhooks/{provider}': () => ({ id: 'evt-fuzz-1', event: 'contact.created', contact: wealthboxContact(7) }),
  'POST /api/webhooks/{provider}/{integrationId}': () => ({ id: 'evt-fuzz-2', event: 'contact.created', contact: wealthboxContact(8) }),
  'POST /api/webhook': (s) => ({
    id: 'env-fuzz-1',
    type: 'contact.created',
    source: ENVELOPE_TEMPLATE,
    payload: { id: 'c-1', locationId: s.locationId, firstName: 'Ada', email: 'ada@example.com' },
  }),
};
const HEADER_VALUES: Record<string, string> = { 'x-tenant-id': TENANT, 'x-sync-source': 'wrapper' };

function idFor(key: string, s: Seed): number {
  if (key === 'organizationId') return s.org;
  if (key === 'integrationId') return s.integration;
  if (key === 'templateId') return s.template;
  if (key === 'userId') return s.user;
  return 1;
}

let emailCounter = 0;
function stringExample(schema: JsonSchema): string {
  if (schema.format === 'email') return `fuzz.${++emailCounter}.${SEED}@example.com`;
  if (schema.format === 'uri' || schema.format === 'url') return 'http://127.0.0.1:9/fuzz';
  if (schema.format === 'date-time') return new Date().toISOString();
  if (schema.format === 'date') return new Date().toISOString().slice(0, 10);
  const candidates = ['fuzz', 'fuzz_1', 'fuzz-1', 'Fuzz', 'a', '1'];
  const pattern = schema.pattern ? new RegExp(schema.pattern) : undefined;
  const s = candidates.find((c) => !pattern || pattern.test(c)) ?? 'fuzz';
  return s.padEnd(schema.minLength ?? 0, 'z');
}

/** A value of `schema` (every property, not only the required ones), to mutate. */
function exampleOf(schema: JsonSchema | undefined, key: string, s: Seed): unknown {
  if (!schema) return 'fuzz';
  if (schema.const !== undefined) return schema.const;
  if (schema.default !== undefined) return schema.default;
  if (schema.enum?.length) return schema.enum[0];
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives?.length) return exampleOf(alternatives.find((a) => a.type !== 'null') ?? alternatives[0], key, s);
  if (schema.allOf?.length) return exampleOf(Object.assign({}, ...schema.allOf) as JsonSchema, key, s);
  const type = Array.isArray(schema.type)
    ? schema.type.find((t) => t !== 'null')
    : (schema.type ?? (schema.properties ? 'object' : undefined));
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, p]) => [k, exampleOf(p, k, s)]));
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 0) }, () => exampleOf(schema.items, key, s));
    case 'integer':
    case 'number':
      if (/Id$/.test(key)) return idFor(key, s);
      return schema.maximum === undefined ? Math.max(1, schema.minimum ?? 1) : Math.min(Math.max(1, schema.minimum ?? 1), schema.maximum);
    case 'boolean':
      return true;
    case 'string':
      return stringExample(schema);
    default:
      return 'fuzz';
  }
}

function exampleFor(op: Op, s: Seed): unknown {
  const special = EXAMPLES[op.key];
  if (special) return special(s);
  return op.bodySchema ? exampleOf(op.bodySchema, '', s) : undefined;
}

/** A valid value for a query parameter, as text. */
function queryValue(p: DocParameter | undefined, key: string, s: Seed): string {
  if (key === 'organizationId' || key === 'integrationId') return String(idFor(key, s));
  const schema = p?.schema ?? {};
  const alternatives = schema.anyOf ?? schema.oneOf;
  const first = alternatives?.find((a) => a.type !== 'null') ?? schema;
  if (first.default !== undefined) return encode(String(first.default));
  if (first.enum?.length) return encode(String(first.enum[first.enum.includes('false') ? first.enum.indexOf('false') : 0]));
  if (first.type === 'integer' || first.type === 'number') return '1';
  if (first.format === 'date-time') return encode(new Date(Date.now() - 3_600_000).toISOString());
  return encode(stringExample(first));
}

/** Real ids for a path parameter: by the segment before it, else by its name. */
function realIds(op: Op, name: string, s: Seed): string[] {
  if (name === 'provider') return ['wealthbox'];
  const segments = op.template.split('/');
  const before = segments[segments.indexOf(`{${name}}`) - 1];
  const byResource: Record<string, number[]> = {
    organizations: [s.org],
    users: [s.user],
    'api-keys': [s.apiKey],
    'integration-templates': [s.template, s.envelopeTemplate],
    integrations: [s.integration, s.envelopeIntegration],
    runs: [s.run],
    events: [s.event],
    'webhook-subscriptions': [s.subscription],
    deliveries: [s.delivery],
  };
  const byName: Record<string, number[]> = { integrationId: [s.integration], deliveryId: [s.delivery] };
  const ids = byResource[before] ?? byName[name] ?? [s.org, s.user, s.integration, s.subscription];
  return ids.map(String);
}

// ---------------------------------------------------------------------------------------------
// Recipes: what a generated request is, small enough to print

/** A JSON value, by the text sent for it. */
type Val = { json: unknown } | { raw: string } | { deep: 'object' | 'array'; levels: number } | { repeat: string; times: number };
type Key = string | number;
type BodyRecipe =
  | { kind: 'none' }
  | { kind: 'example' }
  | { kind: 'replace'; path: Key[]; value: Val }
  | { kind: 'extraKey'; path: Key[]; key: string; value: Val }
  | { kind: 'whole'; value: Val }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: number[] };
/** A query value as sent (already percent-encoded, or deliberately malformed). */
type QVal = string | { repeat: string; times: number };
interface QueryEntry {
  key: string;
  shape: 'plain' | 'array' | 'brackets' | 'object' | 'proto';
  value: QVal;
  value2: QVal;
}
type Cls = keyof typeof RUNS;
interface Req {
  params: Record<string, string>;
  query: QueryEntry[];
  body: BodyRecipe;
  /** undefined: application/json; null: no Content-Type header. */
  contentType?: string | null;
  contentEncoding?: string;
  headerParams?: Record<string, string>;
  signed: boolean;
}

function valText(v: Val): string {
  if ('raw' in v) return v.raw;
  if ('deep' in v)
    return v.deep === 'array' ? '['.repeat(v.levels) + ']'.repeat(v.levels) : '{"a":'.repeat(v.levels) + '1' + '}'.repeat(v.levels);
  if ('repeat' in v) return JSON.stringify(v.repeat.repeat(v.times));
  return JSON.stringify(v.json) ?? 'null';
}

const samePath = (a: Key[], b: Key[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/** JSON text of `value`, with the recipe's edit made in the text (raw numbers, deep nesting, __proto__ keys). */
function render(value: unknown, at: Key[], recipe: BodyRecipe): string {
  if (recipe.kind === 'replace' && samePath(at, recipe.path)) return valText(recipe.value);
  if (Array.isArray(value)) return `[${value.map((v, i) => render(v, [...at, i], recipe)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const parts = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${render(v, [...at, k], recipe)}`);
    if (recipe.kind === 'extraKey' && samePath(at, recipe.path)) parts.push(`${JSON.stringify(recipe.key)}:${valText(recipe.value)}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function pathsOf(value: unknown, at: Key[] = []): { all: Key[][]; objects: Key[][] } {
  const all: Key[][] = [];
  const objects: Key[][] = [];
  const walk = (v: unknown, p: Key[]) => {
    if (p.length > 0) all.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (typeof v === 'object' && v !== null) {
      objects.push(p);
      for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
    }
  };
  walk(value, at);
  return { all, objects };
}

/** Percent-encodes every code unit but the unreserved ones; a lone surrogate becomes its WTF-8 bytes (%ED%A0%80). */
function encode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < s.length) {
      const low = s.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80 && /[A-Za-z0-9\-._~]/.test(String.fromCharCode(cp))) {
      out += String.fromCharCode(cp);
      continue;
    }
    const bytes =
      cp < 0x80
        ? [cp]
        : cp < 0x800
          ? [0xc0 | (cp >> 6), 0x80 | (cp & 63)]
          : cp < 0x10000
            ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
            : [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
    out += bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
  return out;
}

const qText = (v: QVal) => (typeof v === 'string' ? v : v.repeat.repeat(v.times));

function renderQuery(entries: QueryEntry[]): string {
  const pairs: string[] = [];
  for (const e of entries) {
    const v = qText(e.value);
    const v2 = qText(e.value2);
    if (e.shape === 'plain') pairs.push(`${e.key}=${v}`);
    if (e.shape === 'array') pairs.push(`${e.key}=${v}`, `${e.key}=${v2}`);
    if (e.shape === 'brackets') pairs.push(`${e.key}[]=${v}`, `${e.key}[]=${v2}`);
    if (e.shape === 'object') pairs.push(`${e.key}[a]=${v}`);
    if (e.shape === 'proto') pairs.push(`${e.key}[__proto__][x]=${v}`);
  }
  return pairs.join('&');
}

interface Built {
  method: Method;
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
}

function build(op: Op, req: Req, s: Seed): Built {
  const path = op.template.replace(/\{(\w+)\}/g, (_m, name: string) => req.params[name] ?? '1');
  const query = renderQuery(req.query);
  const headers: Record<string, string> = { ...op.auth };
  for (const p of op.headerParams) headers[p.name] = req.headerParams?.[p.name] ?? HEADER_VALUES[p.name.toLowerCase()] ?? 'fuzz';
  let body: Buffer | undefined;
  const example = exampleFor(op, s) ?? {};
  const recipe = req.body;
  if (recipe.kind === 'text') body = Buffer.from(recipe.text, 'utf8');
  else if (recipe.kind === 'whole') body = Buffer.from(valText(recipe.value), 'utf8');
  else if (recipe.kind === 'bytes') {
    // The bytes go inside the first string value, so only they make the body invalid UTF-8.
    const text = render(example, [], { kind: 'example' });
    const at = text.indexOf('":"');
    body =
      at >= 0
        ? Buffer.concat([Buffer.from(text.slice(0, at + 3)), Buffer.from(recipe.bytes), Buffer.from(text.slice(at + 3))])
        : Buffer.concat([Buffer.from('{"name":"'), Buffer.from(recipe.bytes), Buffer.from('"}')]);
  } else if (recipe.kind !== 'none') body = Buffer.from(render(example, [], recipe), 'utf8');
  if (body) {
    if (req.contentType !== null) headers['Content-Type'] = req.contentType ?? 'application/json';
    if (req.contentEncoding) headers['Content-Encoding'] = req.contentEncoding;
  }
  if (op.signatureHeader && req.signed) headers[op.signatureHeader] = sign(body ?? Buffer.alloc(0));
  return { method: op.method, url: query ? `${path}?${query}` : path, headers, body };
}

// ---------------------------------------------------------------------------------------------
// Sending and judging

interface Answer {
  status: number;
  contentType: string;
  raw: Buffer;
  json?: unknown;
}

function collect(res: IncomingMessage, done: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
  res.on('end', () => done(null, Buffer.concat(chunks)));
  res.on('error', (err) => done(err, Buffer.alloc(0)));
}

async function send(b: Built): Promise<Answer> {
  let t = ctx.http[b.method](b.url)
    .ok(() => true)
    .buffer(true)
    .parse(collect as never)
    .timeout({ deadline: 30_000 });
  for (const [k, v] of Object.entries(b.headers)) t = t.set(k, v);
  // The bytes exactly as built: no JSON serialisation of a Buffer, no default Content-Type.
  if (b.body) t = t.serialize(((x: unknown) => x) as never).send(b.body);
  const res = await t;
  const raw = Buffer.isBuffer(res.body) ? res.body : Buffer.alloc(0);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: String(res.headers['content-type'] ?? ''), raw, json };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with an error body, if anything: `{ success: false, error, code, details?, requestId, timestamp }`. */
function shapeProblem(body: unknown): string | undefined {
  if (!isRecord(body)) return 'the body is not a JSON object';
  const extra = Object.keys(body).filter((k) => !['success', 'error', 'code', 'details', 'requestId', 'timestamp'].includes(k));
  if (extra.length) return `unexpected keys ${extra.join(', ')}`;
  if (body.success !== false) return 'success is not false';
  if (typeof body.error !== 'string' || !body.error) return 'error is not a non-empty string';
  if (typeof body.code !== 'string' || !body.code) return 'code is not a non-empty string';
  if (typeof body.requestId !== 'string' || !body.requestId) return 'requestId is not a non-empty string';
  if (typeof body.timestamp !== 'string' || Number.isNaN(Date.parse(body.timestamp))) return 'timestamp is not a time';
  if (body.details !== undefined) {
    if (!Array.isArray(body.details)) return 'details is not an array';
    for (const d of body.details) {
      if (!isRecord(d) || typeof d.path !== 'string' || typeof d.message !== 'string' || Object.keys(d).length !== 2) {
        return `a detail is not { path, message }: ${JSON.stringify(d)}`;
      }
    }
  }
  return undefined;
}

function verdict(op: Op, req: Req, a: Answer): string | undefined {
  if (a.status >= 500 && !op.allowed5xx.has(a.status)) return `answered ${a.status}`;
  if (a.status >= 400 && a.status < 500) {
    if (!/^application\/json\b/i.test(a.contentType)) return `a ${a.status} with Content-Type "${a.contentType}", not JSON`;
    if (a.json === undefined) return `a ${a.status} whose body is not JSON`;
    const problem = shapeProblem(a.json);
    if (problem) return `a ${a.status} not in the error shape: ${problem}`;
  }
  if (op.signatureHeader && !req.signed && a.status < 400) return `an unsigned webhook was accepted with ${a.status}`;
  return undefined;
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

function describeRequest(b: Built): string {
  const lines = [`${b.method.toUpperCase()} ${clip(b.url, 400)}`];
  for (const [k, v] of Object.entries(b.headers)) lines.push(`  ${k}: ${clip(v, 120)}`);
  if (b.body) {
    const text = b.body.toString('utf8');
    const valid = Buffer.from(text, 'utf8').equals(b.body);
    lines.push(`  body (${b.body.length} bytes${valid ? '' : ', not valid UTF-8'}): ${clip(JSON.stringify(text), 300)}`);
    if (!valid) lines.push(`  body hex: ${clip(b.body.toString('hex'), 200)}`);
  }
  return lines.join('\n');
}

const describeAnswer = (a: Answer) => `→ ${a.status} ${a.contentType}\n  ${clip(a.raw.toString('utf8'), 800)}`;

/** A seed per operation and class, derived from the file's: each draws its own sequence. */
function seedFor(label: string): number {
  let h = SEED | 0;
  for (let i = 0; i < label.length; i++) h = (Math.imul(h, 31) + label.charCodeAt(i)) | 0;
  return h;
}

/** Every bad answer seen, once per (operation, class, status, code, message): the to-do list. */
const findings = new Map<string, { count: number; example: string }>();

function record(op: Op, cls: string, a: Answer | undefined, b: Built, problem: string) {
  const body = isRecord(a?.json) ? a.json : {};
  const text = String(body.error ?? (a ? clip(a.raw.toString('utf8'), 160) : problem));
  // One entry per kind of failure: the first non-empty line, quoted input left out.
  const message = (
    text
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? ''
  ).replace(/'[^']*'/g, "'…'");
  const key = `${op.key} | ${cls} | ${a?.status ?? 'no answer'} ${String(body.code ?? '')} | ${clip(message, 200)} | ${problem}`;
  const seen = findings.get(key);
  if (seen) seen.count++;
  else findings.set(key, { count: 1, example: `${describeRequest(b)}\n${a ? describeAnswer(a) : problem}` });
}

/** One request: undefined when the answer is acceptable, else a report of request and answer. */
async function probe(op: Op, req: Req, cls: string): Promise<string | undefined> {
  const b = build(op, req, seed);
  let a: Answer;
  try {
    a = await send(b);
  } catch (err) {
    const problem = `no answer: ${err instanceof Error ? err.message : String(err)}`;
    record(op, cls, undefined, b, problem);
    return `${op.key} [${cls}]: ${problem}\n${describeRequest(b)}`;
  }
  const problem = verdict(op, req, a);
  if (LOG)
    appendFileSync(
      LOG,
      `${JSON.stringify({ op: op.key, cls, status: a.status, code: isRecord(a.json) ? a.json.code : undefined, url: clip(b.url, 200) })}\n`,
    );
  if (!problem) return undefined;
  record(op, cls, a, b, problem);
  return `${op.key} [${cls}]: ${problem}\n${describeRequest(b)}\n${describeAnswer(a)}`;
}

// ---------------------------------------------------------------------------------------------
// Generators

const HOSTILE_SEGMENTS = [
  '%ff',
  '%',
  '%E0%A4%A',
  '%E0%A4',
  '%00',
  '1%00',
  '%ED%A0%80',
  '2147483648',
  '99999999999999999999',
  '-1',
  '1e3',
  '1e400',
  '0x10',
  '0',
  '-0',
  '1.5',
  'NaN',
  'Infinity',
  'abc',
  'null',
  '%20',
  '%201',
  '%2F',
  '%2e%2e',
  '1,2',
];

/** Hostile query values by kind (as sent: percent-encoded, or deliberately malformed). */
const HOSTILE_QUERY: Record<string, QVal[]> = {
  nul: ['a%00b', '%00', 'x%00', { repeat: '%00', times: 300 }],
  loneSurrogate: ['%ED%A0%80', 'a%ED%B0%80b', '%ED%BF%BF%ED%A0%80', '%uD800'],
  number: ['2147483648', '-2147483649', '1e400', '-0', '99999999999999999999', '-1', '1e3', '0x10', 'NaN', '2147483647.5'],
  long: [
    { repeat: 'x', times: 2_000 },
    { repeat: '%C3%A9', times: 500 },
    { repeat: 'a,', times: 1_000 },
  ],
  malformed: ['', '%', '%ff', '%E0%A4%A', '1,2', '%2B1'],
  // Times JavaScript reads and PostgreSQL refuses (year 0 in UTC, past 9999), or no date at all.
  time: [
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00%2B01:00',
    '9999-12-31T23:59:59-12:00',
    '2026-13-01T00:00:00Z',
    '%2B010000-01-01T00:00:00Z',
  ],
};

/** Hostile JSON values by kind. */
const HOSTILE_VALUES: Record<string, Val[]> = {
  nul: [{ json: 'a\u0000b' }, { json: '\u0000' }, { json: ['a\u0000'] }, { json: { 'a\u0000b': 1 } }],
  loneSurrogate: [
    { json: '\ud800' },
    { json: 'a\udfffb' },
    { json: '\udc00\ud800' },
    { json: { '\ud800': 1 } },
    { json: [{ x: '\udbff' }] },
  ],
  number: [
    { raw: '2147483648' },
    { raw: '-2147483649' },
    { raw: '1e308' },
    { raw: '1e400' },
    { raw: '12345678901234567890' },
    { raw: '-0' },
    { raw: '1.5' },
  ],
  deep: [
    { deep: 'object', levels: 5_000 },
    { deep: 'array', levels: 5_000 },
    { deep: 'object', levels: 40 },
  ],
  wrongType: [{ json: null }, { json: true }, { json: [] }, { json: {} }, { json: '' }, { json: 0 }, { json: [1, 'a'] }],
  long: [
    { repeat: 'x', times: 10_000 },
    { repeat: '\u00e9', times: 5_000 },
  ],
  time: [
    { json: '0000-01-01T00:00:00Z' },
    { json: '0001-01-01T00:00:00+01:00' },
    { json: '9999-12-31T23:59:59-12:00' },
    { json: '+010000-01-01T00:00:00Z' },
  ],
};

const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'unknownKey', 'a\u0000b', '\ud800', ''];
const NOT_JSON = [
  '',
  ' ',
  '{',
  '{"a":',
  '{"a":1',
  'name=x',
  'null',
  '1',
  '"x"',
  'true',
  '[]',
  '\u0000',
  '{"a":1}{"b":2}',
  '\ufeff{}',
  "{'a':1}",
  'NaN',
];
const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xe0, 0xa4], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00]];
const CONTENT_TYPES: (string | null)[] = [
  null,
  'application/json',
  'text/plain',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=utf-16le',
  'application/json; charset=iso-8859-1',
  'application/json; charset=nope',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'multipart/form-data; boundary=zz',
  'application/vnd.api+json',
];
const CONTENT_ENCODINGS: (string | undefined)[] = [
  undefined,
  'gzip',
  'deflate',
  'br',
  'identity',
  'x-unknown',
  'gzip, deflate',
  'GZIP',
  'zstd',
];
const HOSTILE_HEADER_VALUES = [
  '',
  ' ',
  'x'.repeat(300),
  '\u00ff\u00fe',
  'ä',
  'a b',
  '2147483648',
  '../..',
  'a\tb',
  ',',
  '%00',
  TENANT.toUpperCase(),
];

function hostileValue(key: Key | undefined): fc.Arbitrary<Val> {
  const constants = fc.oneof(...Object.values(HOSTILE_VALUES).map((kind) => fc.constantFrom(...kind)));
  // Random text, but never for a URL: a valid one would be called (a CRM base URL).
  if (typeof key === 'string' && /url$/i.test(key)) return constants;
  return fc.oneof(
    { weight: 4, arbitrary: constants },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }).map((s): Val => ({ json: s })) },
  );
}

function arbitraries(op: Op, s: Seed) {
  const validSegment = (name: string) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...realIds(op, name, s)) },
      { weight: 1, arbitrary: fc.constantFrom('999999', '2147483647') },
    );
  const hostileSegment = (name: string) =>
    fc.oneof(
      { weight: 1, arbitrary: validSegment(name) },
      { weight: 5, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).map(encode) },
    );
  const params = (hostile: boolean) =>
    fc.record(
      Object.fromEntries(op.pathParams.map((n) => [n, hostile ? hostileSegment(n) : validSegment(n)])) as Record<
        string,
        fc.Arbitrary<string>
      >,
    );

  // Valid values for some parameters, and one or two hostile entries: a hostile value must not
  // hide behind another that validation rejects first.
  const documented = op.queryParams.map((p) => p.name);
  const keys = [...new Set([...documented, 'organizationId'])];
  const validQ = (key: string) =>
    queryValue(
      op.queryParams.find((p) => p.name === key),
      key,
      s,
    );
  const hostileQ = fc.oneof(
    { weight: 8, arbitrary: fc.oneof(...Object.values(HOSTILE_QUERY).map((kind) => fc.constantFrom(...kind))) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }).map(encode) },
  );
  const entry: fc.Arbitrary<QueryEntry> = fc
    .record({
      key: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...keys) },
        { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'x', '%00', '%ff') },
      ),
      shape: fc.oneof(
        { weight: 6, arbitrary: fc.constant<QueryEntry['shape']>('plain') },
        { weight: 2, arbitrary: fc.constantFrom<QueryEntry['shape']>('array', 'brackets', 'object', 'proto') },
      ),
      value: hostileQ,
      valid: fc.boolean(),
    })
    .map(({ key, shape, value, valid }) => ({ key, shape, value, value2: valid ? validQ(key) : value }));
  const query = fc
    .tuple(documented.length ? fc.subarray(documented) : fc.constant([] as string[]), fc.array(entry, { minLength: 1, maxLength: 2 }))
    .map(([validKeys, hostile]) => [
      ...validKeys
        .filter((k) => !hostile.some((e) => e.key === k))
        .map((k): QueryEntry => ({ key: k, shape: 'plain', value: validQ(k), value2: '' })),
      ...hostile,
    ]);

  const example = exampleFor(op, s);
  const { all, objects } = pathsOf(example ?? {});
  const bodyArbs: fc.WeightedArbitrary<BodyRecipe>[] = [
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('extraKey' as const),
        path: fc.constantFrom(...objects),
        key: fc.constantFrom(...EXTRA_KEYS),
        value: fc.oneof(hostileValue(undefined), fc.constant<Val>({ json: { polluted: true } })),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('whole' as const), value: hostileValue(undefined) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.constantFrom(...NOT_JSON) }) },
  ];
  if (all.length) {
    bodyArbs.push({
      weight: 12,
      arbitrary: fc
        .constantFrom(...all)
        .chain((path) =>
          fc.record({ kind: fc.constant('replace' as const), path: fc.constant(path), value: hostileValue(path[path.length - 1]) }),
        ),
    });
  }
  const hostileBody = fc.oneof(...bodyArbs);
  const plainBody: BodyRecipe = example === undefined ? { kind: 'none' } : { kind: 'example' };

  const headerBody = fc.oneof(
    fc.constant<BodyRecipe>({ kind: 'example' }),
    fc.record({ kind: fc.constant('bytes' as const), bytes: fc.constantFrom(...INVALID_UTF8) }),
    fc.record({ kind: fc.constant('text' as const), text: fc.constantFrom('{"a":1}', '{', '') }),
  );
  const headerParams = fc.record(
    Object.fromEntries(
      op.headerParams.map((p) => [
        p.name,
        fc.oneof(fc.constant(HEADER_VALUES[p.name.toLowerCase()] ?? 'fuzz'), fc.constantFrom(...HOSTILE_HEADER_VALUES)),
      ]),
    ) as Record<string, fc.Arbitrary<string>>,
  );
  const signed = op.signatureHeader ? fc.boolean() : fc.constant(false);

  const noQuery = fc.constant<QueryEntry[]>([]);
  const byClass: Record<Cls, fc.Arbitrary<Req>> = {
    path: fc.record({ params: params(true), query: noQuery, body: fc.constant(plainBody), signed }),
    query: fc.record({ params: params(false), query, body: fc.constant(plainBody), signed }),
    body: fc.record({ params: params(false), query: noQuery, body: hostileBody, signed }),
    headers: fc.record({
      params: params(false),
      query: noQuery,
      body: headerBody,
      contentType: fc.constantFrom(...CONTENT_TYPES),
      contentEncoding: fc.constantFrom(...CONTENT_ENCODINGS),
      headerParams,
      signed,
    }),
    combined: fc.record({
      params: params(true),
      query: fc.oneof(noQuery, query),
      body: fc.oneof(fc.constant(plainBody), hostileBody, headerBody),
      contentType: fc.constantFrom(...CONTENT_TYPES),
      contentEncoding: fc.constantFrom(...CONTENT_ENCODINGS),
      headerParams,
      signed,
    }),
  };
  return byClass;
}

// ---------------------------------------------------------------------------------------------
// Explicit cases, one table per class

interface Case {
  op: string;
  /** Path parameters; "$org", "$user", ... name a real row. */
  params?: Record<string, string>;
  query?: string;
  body?: BodyRecipe;
  contentType?: string | null;
  contentEncoding?: string;
  headerParams?: Record<string, string>;
  signed?: boolean;
}

const q = (text: string): QueryEntry[] =>
  text.split('&').map((pair) => {
    const [key, ...rest] = pair.split('=');
    return { key, shape: 'plain', value: rest.join('='), value2: '' };
  });
const replace = (path: Key[], value: Val): BodyRecipe => ({ kind: 'replace', path, value });
const WB = 'POST /api/webhooks/{provider}/{integrationId}';
const WB_PARAMS = { provider: 'wealthbox', integrationId: '$integration' };

const CASES: Record<Cls, [string, Case][]> = {
  path: [
    ['GET user %ff', { op: 'GET /api/users/{id}', params: { id: '%ff' } }],
    ['GET organization %', { op: 'GET /api/organizations/{id}', params: { id: '%' } }],
    ['PATCH integration %E0%A4%A', { op: 'PATCH /api/integrations/{id}', params: { id: '%E0%A4%A' }, body: { kind: 'example' } }],
    ['GET user 2147483648', { op: 'GET /api/users/{id}', params: { id: '2147483648' } }],
    ['GET run 99999999999999999999', { op: 'GET /api/sync/runs/{id}', params: { id: '99999999999999999999' } }],
    ['DELETE subscription -1', { op: 'DELETE /api/webhook-subscriptions/{id}', params: { id: '-1' } }],
    ['GET inbound event 1e3', { op: 'GET /api/webhooks/events/{id}', params: { id: '1e3' } }],
    ['GET template 0x10', { op: 'GET /api/integration-templates/{id}', params: { id: '0x10' } }],
    ['GET organization stats abc', { op: 'GET /api/organizations/{id}/stats', params: { id: 'abc' } }],
    ['GET user activities %00', { op: 'GET /api/users/{id}/activities', params: { id: '%00' } }],
    [
      'signed webhook, integration %ff',
      { op: WB, params: { provider: 'wealthbox', integrationId: '%ff' }, body: { kind: 'example' }, signed: true },
    ],
    [
      'signed webhook, integration 2147483648',
      { op: WB, params: { provider: 'wealthbox', integrationId: '2147483648' }, body: { kind: 'example' }, signed: true },
    ],
    [
      'webhook, provider %ff',
      { op: 'POST /api/webhooks/{provider}', params: { provider: '%ff' }, body: { kind: 'example' }, signed: true },
    ],
    [
      'retry delivery 99999999999999999999',
      {
        op: 'POST /api/webhook-subscriptions/{id}/deliveries/{deliveryId}/retry',
        params: { id: '$subscription', deliveryId: '99999999999999999999' },
      },
    ],
  ],
  query: [
    ['users search NUL', { op: 'GET /api/users', query: 'search=a%00b' }],
    ['users organizationId 2147483648', { op: 'GET /api/users', query: 'organizationId=2147483648' }],
    ['integrations organizationId 1e400', { op: 'GET /api/integrations', query: 'organizationId=1e400' }],
    ['inbound events integrationId -0', { op: 'GET /api/webhooks/events', query: 'integrationId=-0' }],
    ['inbound events from NUL', { op: 'GET /api/webhooks/events', query: 'from=a%00b' }],
    ['inbound events from year 0', { op: 'GET /api/webhooks/events', query: 'from=0000-01-01T00:00:00Z' }],
    ['sync runs cursor no date', { op: 'GET /api/sync/runs', query: 'cursor=eyJ2IjoiMjAyNi0xMy0wMVQwMDowMDowMC4wMDBaIn0' }],
    ['users search 2,000 chars', { op: 'GET /api/users', query: `search=${'x'.repeat(2_000)}` }],
    ['users page twice', { op: 'GET /api/users', query: 'page=1&page=2' }],
    ['users search[a]', { op: 'GET /api/users', query: 'search[a]=1' }],
    ['runs operation lone surrogate', { op: 'GET /api/sync/runs', query: 'operation=%ED%A0%80' }],
    ['organizations search NUL', { op: 'GET /api/organizations', query: 'search=%00' }],
    [
      'organization users search lone surrogate',
      { op: 'GET /api/organizations/{id}/users', params: { id: '$org' }, query: 'search=a%ED%B0%80b' },
    ],
    ['users sync organizationId 2147483648', { op: 'POST /api/users/sync', query: 'organizationId=2147483648' }],
    [
      'deliveries event NUL',
      { op: 'GET /api/webhook-subscriptions/{id}/deliveries', params: { id: '$subscription' }, query: 'event=a%00b' },
    ],
    ['recover since NUL', { op: 'POST /api/webhook-subscriptions/{id}/recover', params: { id: '$subscription' }, query: 'since=%00' }],
    ['api keys organizationId 99999999999999999999', { op: 'GET /api/api-keys', query: 'organizationId=99999999999999999999' }],
    ['users sort %ff', { op: 'GET /api/users', query: 'sort=%ff' }],
    ['users department NUL', { op: 'GET /api/users', query: 'department=%00' }],
  ],
  body: [
    ['organization name NUL', { op: 'POST /api/organizations', body: replace(['name'], { json: 'a\u0000b' }) }],
    ['organization name lone surrogate', { op: 'POST /api/organizations', body: replace(['name'], { json: '\ud800' }) }],
    [
      'organization metadata 5,000 levels',
      { op: 'POST /api/organizations', body: replace(['metadata'], { deep: 'object', levels: 5_000 }) },
    ],
    [
      'organization metadata key lone surrogate',
      { op: 'PATCH /api/organizations/{id}', params: { id: '$org' }, body: replace(['metadata'], { json: { '\ud800': 'x' } }) },
    ],
    [
      'organization __proto__ key',
      { op: 'POST /api/organizations', body: { kind: 'extraKey', path: [], key: '__proto__', value: { json: { polluted: true } } } },
    ],
    ['organization body {"name":', { op: 'POST /api/organizations', body: { kind: 'text', text: '{"name":' } }],
    ['organization body empty', { op: 'POST /api/organizations', body: { kind: 'text', text: '' } }],
    ['organization body 1', { op: 'POST /api/organizations', body: { kind: 'whole', value: { raw: '1' } } }],
    ['organization body "x"', { op: 'POST /api/organizations', body: { kind: 'whole', value: { json: 'x' } } }],
    ['user name 1e308', { op: 'PATCH /api/users/{id}', params: { id: '$user' }, body: replace(['name'], { raw: '1e308' }) }],
    ['user organizationId 2147483648', { op: 'POST /api/users', body: replace(['organizationId'], { raw: '2147483648' }) }],
    [
      'user organizationId 12345678901234567890',
      { op: 'POST /api/users', body: replace(['organizationId'], { raw: '12345678901234567890' }) },
    ],
    ['user name NUL', { op: 'PATCH /api/users/{id}', params: { id: '$user' }, body: replace(['name'], { json: 'a\u0000b' }) }],
    [
      'template configSchema 5,000 levels',
      { op: 'POST /api/integration-templates', body: replace(['configSchema'], { deep: 'array', levels: 5_000 }) },
    ],
    ['integration apiKey NUL', { op: 'POST /api/integrations', body: replace(['config', 'apiKey'], { json: 'abcdefgh\u0000' }) }],
    [
      'integration config key NUL',
      { op: 'PATCH /api/integrations/{id}', params: { id: '$integration' }, body: replace(['config'], { json: { 'a\u0000': 1 } }) },
    ],
    [
      'integration config 5,000 levels',
      { op: 'PATCH /api/integrations/{id}', params: { id: '$integration' }, body: replace(['config'], { deep: 'object', levels: 5_000 }) },
    ],
    [
      'subscription description lone surrogate',
      { op: 'POST /api/webhook-subscriptions', body: replace(['description'], { json: '\ud800' }) },
    ],
    [
      'rotate-secret graceHours 1e308',
      {
        op: 'POST /api/webhook-subscriptions/{id}/rotate-secret',
        params: { id: '$subscription' },
        body: replace(['graceHours'], { raw: '1e308' }),
      },
    ],
    ['api key name NUL', { op: 'POST /api/api-keys', body: replace(['name'], { json: '\u0000' }) }],
    ['push tenant name NUL', { op: 'POST /api/internal/sync/users', body: replace(['tenant', 'name'], { json: 'a\u0000b' }) }],
    ['push metadata 5,000 levels', { op: 'POST /api/internal/sync/users', body: replace(['metadata'], { deep: 'object', levels: 5_000 }) }],
    ['push user name lone surrogate', { op: 'POST /api/internal/sync/users', body: replace(['users', 0, 'name'], { json: '\ud800' }) }],
    [
      'push user department 12345678901234567890',
      { op: 'POST /api/internal/sync/users', body: replace(['users', 0, 'department'], { raw: '12345678901234567890' }) },
    ],
    [
      'signed webhook, first_name NUL',
      { op: WB, params: WB_PARAMS, body: replace(['contact', 'first_name'], { json: 'a\u0000b' }), signed: true },
    ],
    [
      'signed webhook, contact id 12345678901234567890',
      { op: WB, params: WB_PARAMS, body: replace(['contact', 'id'], { raw: '12345678901234567890' }), signed: true },
    ],
    [
      'signed webhook, contact 5,000 levels',
      { op: WB, params: WB_PARAMS, body: replace(['contact', 'last_name'], { deep: 'object', levels: 5_000 }), signed: true },
    ],
    [
      'signed envelope, payload 5,000 levels',
      { op: 'POST /api/webhook', body: replace(['payload', 'firstName'], { deep: 'object', levels: 5_000 }), signed: true },
    ],
    [
      'signed envelope, lone surrogate',
      { op: 'POST /api/webhook', body: replace(['payload', 'firstName'], { json: '\ud800' }), signed: true },
    ],
    [
      'signed webhook, first_name a number',
      { op: WB, params: WB_PARAMS, body: replace(['contact', 'first_name'], { raw: '2147483648' }), signed: true },
    ],
    [
      'signed webhook, email_addresses a string',
      { op: WB, params: WB_PARAMS, body: replace(['contact', 'email_addresses'], { json: 'x' }), signed: true },
    ],
    [
      'signed webhook, an address a number',
      { op: WB, params: WB_PARAMS, body: replace(['contact', 'email_addresses', 0, 'address'], { raw: '1.5' }), signed: true },
    ],
    [
      'signed envelope, firstName a number',
      { op: 'POST /api/webhook', body: replace(['payload', 'firstName'], { raw: '1e308' }), signed: true },
    ],
    ['push user name an object', { op: 'POST /api/internal/sync/users', body: replace(['users', 0, 'name'], { json: {} }) }],
    ['unsigned envelope', { op: 'POST /api/webhook', body: { kind: 'example' }, signed: false }],
    ['unsigned webhook', { op: WB, params: WB_PARAMS, body: { kind: 'example' }, signed: false }],
  ],
  headers: [
    ...(['gzip', 'deflate', 'br', 'identity', 'x-unknown'] as const).map((enc): [string, Case] => [
      `organization, Content-Encoding ${enc}`,
      { op: 'POST /api/organizations', body: { kind: 'example' }, contentEncoding: enc },
    ]),
    ['organization, no Content-Type', { op: 'POST /api/organizations', body: { kind: 'example' }, contentType: null }],
    ['organization, text/plain', { op: 'POST /api/organizations', body: { kind: 'example' }, contentType: 'text/plain' }],
    [
      'organization, charset=latin1',
      { op: 'POST /api/organizations', body: { kind: 'example' }, contentType: 'application/json; charset=latin1' },
    ],
    [
      'organization, charset=utf-16',
      { op: 'POST /api/organizations', body: { kind: 'example' }, contentType: 'application/json; charset=utf-16' },
    ],
    ['organization, invalid UTF-8', { op: 'POST /api/organizations', body: { kind: 'bytes', bytes: [0xff, 0xfe] } }],
    [
      'user PATCH, Content-Encoding br',
      { op: 'PATCH /api/users/{id}', params: { id: '$user' }, body: { kind: 'example' }, contentEncoding: 'br' },
    ],
    ['users GET with a gzip body', { op: 'GET /api/users', body: { kind: 'text', text: '{"a":1}' }, contentEncoding: 'gzip' }],
    ['push, Content-Encoding gzip', { op: 'POST /api/internal/sync/users', body: { kind: 'example' }, contentEncoding: 'gzip' }],
    ['push, Content-Encoding x-unknown', { op: 'POST /api/internal/sync/users', body: { kind: 'example' }, contentEncoding: 'x-unknown' }],
    [
      'push, charset=utf-16',
      { op: 'POST /api/internal/sync/users', body: { kind: 'example' }, contentType: 'application/json; charset=utf-16' },
    ],
    ['push, invalid UTF-8', { op: 'POST /api/internal/sync/users', body: { kind: 'bytes', bytes: [0xed, 0xa0, 0x80] } }],
    ['push, X-Tenant-ID latin1', { op: 'POST /api/internal/sync/users', body: { kind: 'example' }, headerParams: { 'x-tenant-id': 'ä' } }],
    [
      'signed webhook, Content-Encoding gzip',
      { op: WB, params: WB_PARAMS, body: { kind: 'example' }, contentEncoding: 'gzip', signed: true },
    ],
    [
      'signed webhook, Content-Encoding x-unknown',
      { op: WB, params: WB_PARAMS, body: { kind: 'example' }, contentEncoding: 'x-unknown', signed: true },
    ],
    ['signed webhook, invalid UTF-8', { op: WB, params: WB_PARAMS, body: { kind: 'bytes', bytes: [0xff] }, signed: true }],
    [
      'signed webhook, charset=utf-16',
      { op: WB, params: WB_PARAMS, body: { kind: 'example' }, contentType: 'application/json; charset=utf-16', signed: true },
    ],
    [
      'signed envelope, Content-Encoding deflate',
      { op: 'POST /api/webhook', body: { kind: 'example' }, contentEncoding: 'deflate', signed: true },
    ],
    ['signed envelope, no Content-Type', { op: 'POST /api/webhook', body: { kind: 'example' }, contentType: null, signed: true }],
  ],
  combined: [],
};

function caseRequest(c: Case, s: Seed): Req {
  const real: Record<string, string> = {
    $org: String(s.org),
    $user: String(s.user),
    $integration: String(s.integration),
    $subscription: String(s.subscription),
  };
  return {
    params: Object.fromEntries(Object.entries(c.params ?? {}).map(([k, v]) => [k, real[v] ?? v])),
    query: c.query ? q(c.query) : [],
    body: c.body ?? { kind: 'none' },
    contentType: c.contentType,
    contentEncoding: c.contentEncoding,
    headerParams: c.headerParams,
    signed: c.signed ?? false,
  };
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  fake = await new FakeWealthbox({ contacts: 3 }).start();
  ctx = await createTestContext({
    // A default Wealthbox integration, so POST /api/webhooks/wealthbox gets past "no integration".
    WEALTHBOX_API_KEY: fake.token,
    WEALTHBOX_API_URL: fake.url,
    WEALTHBOX_WEBHOOK_SECRET: SECRET,
    CRM_MAX_RETRIES: '1',
    AUTH_FAILURE_MAX: '1000000',
    WEBHOOK_RATE_LIMIT_MAX: '1000000',
  });
  const res = await ctx.http.get('/api/openapi.json');
  if (res.status !== 200) throw new Error(`GET /api/openapi.json → ${res.status}`);
  doc = res.body as OpenApiDocument;
  ops = operationsOf(doc);
  // A CRM without a connector, found by payload.locationId: what POST /api/webhook needs.
  const template = await api('post', '/api/integration-templates', {
    name: ENVELOPE_TEMPLATE,
    displayName: 'Fuzz envelope CRM',
    category: 'CRM',
    configSchema: {
      type: 'object',
      required: ['apiKey', 'locationId'],
      properties: { apiKey: { type: 'string' }, locationId: { type: 'string' }, webhookSecret: { type: 'string' } },
    },
  });
  envelopeTemplateId = template.data.id as number;
  const defaultOrg = await ctx.services.organizations.findBySlug('default');
  if (!defaultOrg) throw new Error('no default organization: is WEALTHBOX_API_KEY set?');
  protectedIds.organizations.add(defaultOrg.id);
  const defaults = await api('get', `/api/integrations?organizationId=${defaultOrg.id}`);
  for (const i of defaults.data as unknown as { id: number }[]) protectedIds.integrations.add(i.id);
  seed = await makeSeed();
  console.log(`fuzz: FUZZ_SEED=${SEED} replays this run; runs per operation: ${JSON.stringify(RUNS)}`);
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await fake?.stop();
  if (findings.size > 0) {
    const list = [...findings.entries()].map(([key, f], i) => `${i + 1}. ${key}  (×${f.count})\n${f.example.replace(/^/gm, '     ')}`);
    console.log(`fuzz: ${findings.size} distinct bad answers (FUZZ_SEED=${SEED}):\n\n${list.join('\n\n')}`);
  }
});

describe('fuzz: hostile input never gets a 5xx, and every 4xx is the JSON error shape', () => {
  it('reads every operation from the OpenAPI document', () => {
    expect(ops.length).toBeGreaterThan(40);
    expect(ops.map((o) => o.key)).toEqual(expect.arrayContaining(['POST /api/internal/sync/users', 'POST /api/webhook', WB]));
  });

  describe.each((['path', 'query', 'body', 'headers'] as const).map((cls) => [cls]))('explicit %s cases', (cls) => {
    it.each(CASES[cls])('%s', async (_name, c) => {
      const op = ops.find((o) => o.key === c.op);
      if (!op) throw new Error(`${c.op} is not in the OpenAPI document any more`);
      const problem = await probe(op, caseRequest(c, seed), `${cls} (table)`);
      if (problem) throw new Error(problem);
    });
  });

  describe('property-based, every operation of the document', () => {
    it.each((['path', 'query', 'body', 'headers', 'combined'] as const).map((cls) => [cls]))(
      '%s',
      async (cls) => {
        seed = await makeSeed();
        const failing: string[] = [];
        const targets = ops.filter((o) => cls !== 'path' || o.pathParams.length > 0);
        // Each operation gets its share of the budget (three shares at most when others were quick),
        // and at least 1 s: on a busy machine one request can take longer than a few hundred ms, and
        // a property interrupted before its first run fails without having tested anything.
        const deadline = Date.now() + CLASS_BUDGET_MS;
        for (const [i, op] of targets.entries()) {
          const share = Math.max(
            1000,
            Math.min(((deadline - Date.now()) / (targets.length - i)) * 3, (CLASS_BUDGET_MS / targets.length) * 3),
          );
          const arb = arbitraries(op, seed)[cls];
          // Each operation and class draws its own sequence, derived from the file's seed.
          const opSeed = seedFor(`${cls} ${op.key}`);
          try {
            await fc.assert(
              fc.asyncProperty(arb, async (req) => {
                fc.pre(!touchesDefaults(op, req));
                const problem = await probe(op, req, cls);
                if (problem) throw new Error(problem);
              }),
              { numRuns: RUNS[cls], seed: opSeed, includeErrorInReport: true, plugins: [fc.interruptAfterTimeLimit(share)] },
            );
          } catch (err) {
            failing.push(
              `■ ${op.key} [${cls}] (FUZZ_SEED=${SEED}; this operation's fast-check seed ${opSeed})\n${err instanceof Error ? err.message : String(err)}`,
            );
          }
        }
        if (failing.length > 0) {
          throw new Error(`${failing.length} failure(s) on ${cls} input (FUZZ_SEED=${SEED} replays):\n\n${failing.join('\n\n')}`);
        }
      },
      120_000,
    );
  });
});
