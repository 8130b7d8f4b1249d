import SwaggerParser from '@apidevtools/swagger-parser';
import { routesOf } from '../../src/openapi/routes-of';
import { createTestContext, type TestContext } from '../helpers/test-app';

describe('the OpenAPI document', () => {
  let ctx: TestContext;
  let doc: {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        { parameters: { name: string; in: string }[]; requestBody?: unknown; responses: Record<string, unknown>; security: unknown[] }
      >
    >;
  };

  beforeAll(async () => {
    ctx = await createTestContext();
    const res = await ctx.http.get('/api/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(() => ctx.close());

  it('describes every route the app serves, and nothing it does not', () => {
    // The files of the docs page and of the console (/api/docs/..., /console/...) are not API operations.
    const served = routesOf(ctx.app)
      .filter((r) => !r.path.startsWith('/api/docs/') && !r.path.startsWith('/console/'))
      .map((r) => `${r.method.toUpperCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(served.length).toBeGreaterThan(50);
    expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((d) => !served.includes(d))).toEqual([]);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  });

  it('carries parameters, bodies, auth and the error shape from the zod schemas', () => {
    const listUsers = doc.paths['/api/users'].get;
    expect(listUsers.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['page', 'limit', 'search', 'sort', 'organizationId']));
    expect(listUsers.security).toEqual([{ apiKey: [] }]);
    expect(listUsers.responses['400']).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    });
    const createSub = doc.paths['/api/webhook-subscriptions'].post.requestBody as {
      content: { 'application/json': { schema: { properties: Record<string, { items?: { enum?: string[] } }>; required: string[] } } };
    };
    const schema = createSub.content['application/json'].schema;
    expect(schema.required).toEqual(expect.arrayContaining(['url', 'events']));
    expect(schema.properties.events.items?.enum).toContain('integration.status_changed');
    const inbound = doc.paths['/api/webhooks/{provider}/{integrationId}'].post;
    expect(inbound.security).toEqual([]);
    expect(inbound.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(['path:integrationId', 'header:x-wealthbox-signature']),
    );
    const push = doc.paths['/api/internal/sync/users'].post;
    expect(push.security).toEqual([{ internalKey: [] }]);
    expect(push.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['header:x-tenant-id', 'header:x-sync-source']));
  });

  it('when providers are registered, then the provider webhook entries name them from the registry, with their signature headers', () => {
    const withWebhooks = ctx.services.providers.list().filter((m) => m.webhook);
    expect(withWebhooks.length).toBeGreaterThan(0);
    for (const path of ['/api/webhooks/{provider}', '/api/webhooks/{provider}/{integrationId}']) {
      const params = doc.paths[path].post.parameters as { name: string; in: string; schema: { enum?: string[] } }[];
      expect(params.find((p) => p.name === 'provider')?.schema.enum).toEqual(withWebhooks.map((m) => m.definition.name));
      expect(params.filter((p) => p.in === 'header').map((p) => p.name)).toEqual([
        // Zoho's token is in the body: no header to name.
        ...new Set(withWebhooks.flatMap((m) => (m.webhook?.signatureHeader ? [m.webhook.signatureHeader] : []))),
      ]);
    }
  });

  it('/api/docs redirects to the reference page', async () => {
    const res = await ctx.http.get('/api/docs');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/api/docs/');
    const page = await ctx.http.get('/api/docs/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('swagger-ui');
    const init = await ctx.http.get('/api/docs/swagger-initializer.js');
    expect(init.text).toContain("url: '/api/openapi.json'");
  });
});
