import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createServices } from '../../src/app';
import { loadConfig } from '../../src/config/config';
import { createPrismaClient } from '../../src/db/prisma';
import { createLogger } from '../../src/lib/logger';
import { hubspotDefinition } from '../../src/providers/hubspot/hubspot.definition';
import { keyId, SecretBox } from '../../src/lib/secret-box';
import { ADMIN_KEY, createTestContext, ENCRYPTION_KEY, type TestContext } from '../helpers/test-app';
import { createOrganization, createOrganizationKey, createWealthboxIntegration } from '../helpers/fixtures';

let ctx: TestContext;
let fake: FakeWealthbox;
let orgId: number;

beforeAll(async () => {
  ctx = await createTestContext();
  fake = await new FakeWealthbox({ contacts: 5 }).start();
  orgId = (await createOrganization(ctx)).id;
});
afterAll(async () => {
  await fake.stop();
  await ctx.close();
});

const admin = {
  get: (p: string) => ctx.http.get(p).set('x-api-key', ADMIN_KEY),
  post: (p: string, body: object = {}) => ctx.http.post(p).set('x-api-key', ADMIN_KEY).send(body),
  patch: (p: string, body: object) => ctx.http.patch(p).set('x-api-key', ADMIN_KEY).send(body),
  delete: (p: string) => ctx.http.delete(p).set('x-api-key', ADMIN_KEY),
};

const TOKEN = () => fake.token;

/** A Wealthbox integration in a new organization (one per provider per organization). */
const createWealthbox = async (config: Record<string, unknown> = {}) =>
  (await createWealthboxIntegration(ctx, fake, config)).body as { id: number; status: string; config: Record<string, unknown> };

describe('/api/integration-templates', () => {
  it('is protected: no key → 401; organization keys cannot write → 403', async () => {
    expect((await ctx.http.get('/api/integration-templates')).status).toBe(401);
    const key = await createOrganizationKey(ctx, orgId);
    expect((await ctx.http.post('/api/integration-templates').set('x-api-key', key).send({})).status).toBe(403);
    expect((await ctx.http.get('/api/integration-templates').set('x-api-key', key)).status).toBe(200);
  });

  it('when the service starts, then the built-in wealthbox template exists with secret fields marked', async () => {
    const res = await admin.get('/api/integration-templates');
    const wb = res.body.data.find((t: { name: string }) => t.name === 'wealthbox');
    expect(wb).toMatchObject({ displayName: 'Wealthbox CRM', category: 'CRM', builtIn: true, integrationCount: expect.any(Number) });
    expect(wb.configSchema.properties.apiKey).toMatchObject({ format: 'password', writeOnly: true });
    expect(wb.setupInstructions).toContain('Wealthbox');
  });

  it('when the service starts with a newer provider version, then a built-in template’s schema follows the code and an operator’s renaming is kept', async () => {
    await ctx.sql(
      `UPDATE integration_templates SET config_schema = '{"type":"object"}', display_name = 'Our HubSpot' WHERE name = 'hubspot'`,
    );
    await ctx.services.templates.ensureBuiltIns();
    const [t] = await ctx.sql<{ config_schema: { properties: Record<string, unknown> }; display_name: string }>(
      `SELECT config_schema, display_name FROM integration_templates WHERE name = 'hubspot'`,
    );
    expect(Object.keys(t.config_schema.properties)).toEqual(
      expect.arrayContaining(['accessToken', 'direction', 'pushMapping', 'onUserDeleted']),
    );
    expect(t.display_name).toBe('Our HubSpot');
    await ctx.sql(`UPDATE integration_templates SET display_name = 'HubSpot CRM' WHERE name = 'hubspot'`);
  });

  it('when the service starts with a newer provider version, then a built-in template’s setup text follows the code, unless an operator edited it', async () => {
    const current = hubspotDefinition.setupInstructions;
    // As an earlier version left it: its own text, marked as written by the service.
    await ctx.sql(
      `UPDATE integration_templates SET setup_instructions = 'Paste a key (older text)', setup_from_code = md5('Paste a key (older text)') WHERE name = 'hubspot'`,
    );
    await ctx.services.templates.ensureBuiltIns();
    const text = async () =>
      (await ctx.sql<{ setup_instructions: string }>(`SELECT setup_instructions FROM integration_templates WHERE name = 'hubspot'`))[0]
        .setup_instructions;
    expect(await text()).toBe(current);

    const id = (await admin.get('/api/integration-templates')).body.data.find((t: { name: string }) => t.name === 'hubspot').id;
    expect((await admin.patch(`/api/integration-templates/${id}`, { setupInstructions: 'Ask Dana in IT for the key.' })).status).toBe(200);
    // Even when the code's text changes after the edit, the edit stays.
    await ctx.sql(`UPDATE integration_templates SET setup_from_code = md5('Paste a key (older text)') WHERE name = 'hubspot'`);
    await ctx.services.templates.ensureBuiltIns();
    expect(await text()).toBe('Ask Dana in IT for the key.');
    // Set back to the code's text, it follows the code again.
    await ctx.sql(`UPDATE integration_templates SET setup_instructions = $1, setup_from_code = md5($1) WHERE name = 'hubspot'`, [current]);
  });

  it('validates its input: a schema that is not an object schema, or does not compile, is 400', async () => {
    const base = { name: 'custom_crm', displayName: 'Custom', category: 'CRM' };
    const notObject = await admin.post('/api/integration-templates', { ...base, configSchema: { type: 'string' } });
    expect(notObject.status).toBe(400);
    expect(notObject.body.details[0].path).toBe('body.configSchema');
    const broken = await admin.post('/api/integration-templates', {
      ...base,
      configSchema: { type: 'object', properties: { a: { type: 'nonsense' } } },
    });
    expect(broken.status).toBe(400);
    const missing = await admin.post('/api/integration-templates', { displayName: 'x' });
    expect(missing.body.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['body.name', 'body.category', 'body.configSchema']),
    );
  });

  it('when a template schema has an $id, then integrations are made from it, it can be edited, and another template may use the same $id', async () => {
    const schema = (x: string) => ({ $id: 'https://schemas.example.com/custom', type: 'object', properties: { x: { type: x } } });
    const template = (name: string) =>
      admin.post('/api/integration-templates', { name, displayName: name, category: 'CRM', configSchema: schema('string') });
    const t = await template('id_crm');
    expect(t.status).toBe(201);
    const org = await createOrganization(ctx);
    const made = await admin.post('/api/integrations', {
      organizationId: org.id,
      templateId: t.body.data.id,
      name: 'with $id',
      config: { x: 'a' },
    });
    expect(made.status).toBe(201);
    const wrong = await admin.patch(`/api/integrations/${made.body.data.id}`, { config: { x: 5 } });
    expect([wrong.status, wrong.body.details?.[0]?.path]).toEqual([400, 'body.config.x']);
    expect((await admin.patch(`/api/integration-templates/${t.body.data.id}`, { configSchema: schema('number') })).status).toBe(200);
    expect((await admin.patch(`/api/integrations/${made.body.data.id}`, { config: { x: 5 } })).status).toBe(200);
    expect((await template('id_crm_2')).status).toBe(201);
  });

  it('refuses a secret below the top level (it would be stored in clear), naming each, at create and at update', async () => {
    const base = { displayName: 'Nested', category: 'CRM' };
    const nested = await admin.post('/api/integration-templates', {
      ...base,
      name: 'nested_secret_crm',
      configSchema: {
        type: 'object',
        properties: {
          auth: { type: 'object', properties: { apiKey: { type: 'string' }, region: { type: 'string' } } },
          hooks: { type: 'array', items: { type: 'object', properties: { signing: { type: 'string', format: 'password' } } } },
          // A `properties` key inside data is not a field.
          options: { type: 'object', default: { properties: { token: 'x' } } },
        },
        allOf: [{ properties: { clientSecret: { type: 'string' } } }],
      },
    });
    expect(nested.status).toBe(400);
    expect(nested.body.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'body.configSchema.allOf.0.properties.clientSecret',
      'body.configSchema.properties.auth.properties.apiKey',
      'body.configSchema.properties.hooks.items.properties.signing',
    ]);
    expect(nested.body.details[0].message).toMatch(/top-level/);
    expect((await ctx.sql(`SELECT 1 FROM integration_templates WHERE name = 'nested_secret_crm'`)).length).toBe(0);

    const flat = await admin.post('/api/integration-templates', {
      ...base,
      name: 'flat_secret_crm',
      configSchema: {
        type: 'object',
        properties: { apiKey: { type: 'string' }, auth: { type: 'object', properties: { region: { type: 'string' } } } },
      },
    });
    expect(flat.status).toBe(201);
    const patched = await admin.patch(`/api/integration-templates/${flat.body.data.id}`, {
      configSchema: { type: 'object', properties: { auth: { type: 'object', properties: { password: { type: 'string' } } } } },
    });
    expect(patched.status).toBe(400);
    expect(patched.body.details[0].path).toBe('body.configSchema.properties.auth.properties.password');
    expect((await admin.delete(`/api/integration-templates/${flat.body.data.id}`)).status).toBe(204);
  });

  it('seals a secret-named field the schema does not declare, and masks secret names at any depth of an older row', async () => {
    const template = await admin.post('/api/integration-templates', {
      name: 'open_schema_crm',
      displayName: 'Open',
      category: 'CRM',
      configSchema: { type: 'object', properties: { region: { type: 'string' } } },
    });
    expect(template.status).toBe(201);
    const integration = await admin.post('/api/integrations', {
      organizationId: orgId,
      templateId: template.body.data.id,
      name: 'Open',
      config: { region: 'eu', apiToken: 'undeclared-token-value-1234' },
    });
    expect(integration.status).toBe(201);
    expect(integration.body.data.config).toEqual({ region: 'eu', apiToken: '••••1234' });
    const [row] = await ctx.sql('SELECT config, secrets FROM integrations WHERE id = $1', [integration.body.data.id]);
    expect(JSON.stringify(row)).not.toContain('undeclared-token-value-1234');
    expect(Object.keys(row.secrets as object)).toEqual(['apiToken']);

    // A row written before nested secrets were refused: its nested secret is never shown.
    await ctx.sql(`UPDATE integrations SET config = config || $2::jsonb WHERE id = $1`, [
      integration.body.data.id,
      JSON.stringify({ auth: { password: 'old-nested-password-5678', user: 'me' }, list: [{ clientSecret: 'in-an-array-9012' }] }),
    ]);
    const shown = await admin.get(`/api/integrations/${integration.body.data.id}`);
    expect(shown.body.data.config.auth).toEqual({ password: '••••5678', user: 'me' });
    expect(shown.body.data.config.list).toEqual([{ clientSecret: '••••9012' }]);
    expect(JSON.stringify(shown.body)).not.toMatch(/old-nested-password|in-an-array/);
    expect((await admin.delete(`/api/integrations/${integration.body.data.id}`)).status).toBe(204);
    expect((await admin.delete(`/api/integration-templates/${template.body.data.id}`)).status).toBe(204);
  });

  it('when a template is created, updated and deleted, then each step shows; a used template cannot be deleted (409)', async () => {
    const created = await admin.post('/api/integration-templates', {
      name: 'acme_crm',
      displayName: 'Acme CRM',
      category: 'CRM',
      configSchema: { type: 'object', required: ['token'], properties: { token: { type: 'string', writeOnly: true } } },
    });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    expect((await admin.patch(`/api/integration-templates/${id}`, { displayName: 'Acme CRM 2' })).body.data.displayName).toBe('Acme CRM 2');
    const dup = await admin.post('/api/integration-templates', {
      name: 'acme_crm',
      displayName: 'x',
      category: 'CRM',
      configSchema: { type: 'object' },
    });
    expect(dup.status).toBe(409);

    const integration = await admin.post('/api/integrations', {
      organizationId: orgId,
      templateId: id,
      name: 'Acme',
      config: { token: 'secret-token-value' },
    });
    expect(integration.status).toBe(201);
    const blocked = await admin.delete(`/api/integration-templates/${id}`);
    expect(blocked.status).toBe(409);
    expect(blocked.body.code).toBe('template_in_use');
    const list = await admin.get('/api/integration-templates');
    expect(list.body.data.find((t: { id: number }) => t.id === id).integrationCount).toBe(1);

    expect((await admin.delete(`/api/integrations/${integration.body.data.id}`)).status).toBe(204);
    expect((await admin.delete(`/api/integration-templates/${id}`)).status).toBe(204);
    expect((await admin.get(`/api/integration-templates/${id}`)).status).toBe(404);
  });
});

describe('/api/integrations', () => {
  it('is protected: no key → 401', async () => {
    for (const res of await Promise.all([
      ctx.http.get('/api/integrations'),
      ctx.http.post('/api/integrations').send({}),
      ctx.http.get('/api/integrations/1'),
      ctx.http.post('/api/integrations/1/test'),
    ])) {
      expect(res.status).toBe(401);
    }
  });

  it('validates its input: the envelope with zod, the config against the template’s JSON Schema (every field)', async () => {
    const envelope = await admin.post('/api/integrations', { organizationId: orgId, name: '', config: 'x' });
    expect(envelope.status).toBe(400);
    expect(envelope.body.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['body.name', 'body.config', 'body.templateId']),
    );

    const config = await admin.post('/api/integrations', {
      organizationId: orgId,
      provider: 'wealthbox',
      name: 'Bad',
      config: { baseUrl: 'not a url', requestsPerSecond: 'fast', colour: 'red' },
    });
    expect(config.status).toBe(400);
    expect(config.body.details.map((d: { path: string }) => d.path).sort()).toEqual(
      ['body.config.apiKey', 'body.config.baseUrl', 'body.config.colour', 'body.config.requestsPerSecond'].sort(),
    );
    expect(await ctx.sql("SELECT 1 FROM integrations WHERE name = 'Bad'")).toHaveLength(0);
  });

  it('when an organization already has an integration for that CRM, then a second one is 409', async () => {
    const first = await createWealthbox();
    const { organizationId } = (await admin.get(`/api/integrations/${first.id}`)).body.data;
    const second = await admin.post('/api/integrations', {
      organizationId,
      provider: 'wealthbox',
      name: 'Again',
      config: { apiKey: TOKEN() },
    });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('integration_exists');
  });

  it('when the template or organization is unknown, then 404', async () => {
    expect((await admin.post('/api/integrations', { organizationId: orgId, provider: 'nope', name: 'x', config: {} })).status).toBe(404);
    expect((await admin.post('/api/integrations', { organizationId: 999999, provider: 'wealthbox', name: 'x', config: {} })).status).toBe(
      404,
    );
  });

  it('when an integration is created, then it is pending, defaults are filled, and the secret is masked in every response', async () => {
    const created = await createWealthbox();
    expect(created.status).toBe('pending');
    expect(created.config).toMatchObject({ apiKey: `••••${TOKEN().slice(-4)}`, authType: 'access_token', includeUsers: true });
    const one = await admin.get(`/api/integrations/${created.id}`);
    const list = await admin.get(`/api/integrations?provider=wealthbox&limit=100`);
    for (const body of [one.body, list.body]) expect(JSON.stringify(body)).not.toContain(TOKEN());
  });

  it('when the database is read directly, then no credential is there in plain text', async () => {
    const created = await createWealthbox({ webhookSecret: 'hook-secret-42-abcdef' });
    const [row] = await ctx.sql('SELECT * FROM integrations WHERE id = $1', [created.id]);
    const dump = JSON.stringify(row);
    expect(dump).not.toContain(TOKEN());
    expect(dump).not.toContain('hook-secret-42-abcdef');
    expect(Object.keys(row.secrets as object).sort()).toEqual(['apiKey', 'webhookSecret']);
    expect((row.secrets as Record<string, { kid: string; iv: string; tag: string; ct: string }>).apiKey).toEqual({
      kid: expect.any(String),
      iv: expect.any(String),
      tag: expect.any(String),
      ct: expect.any(String),
    });
    expect(row.config).not.toHaveProperty('apiKey');
  });

  it('when config is patched, then it merges with the stored one, is validated whole and re-encrypted', async () => {
    const created = await createWealthbox();
    const [before] = await ctx.sql('SELECT secrets FROM integrations WHERE id = $1', [created.id]);
    const renamed = await admin.patch(`/api/integrations/${created.id}`, { config: { requestsPerSecond: 2 } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data.config).toMatchObject({ requestsPerSecond: 2, apiKey: `••••${TOKEN().slice(-4)}`, baseUrl: fake.url });

    const bad = await admin.patch(`/api/integrations/${created.id}`, { config: { apiKey: null } });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].path).toBe('body.config.apiKey');

    const rotated = await admin.patch(`/api/integrations/${created.id}`, { config: { apiKey: 'another-token-9876' } });
    expect(rotated.body.data.config.apiKey).toBe('••••9876');
    const [after] = await ctx.sql('SELECT secrets FROM integrations WHERE id = $1', [created.id]);
    expect(after.secrets).not.toEqual(before.secrets);
  });

  it('when tested against a working CRM, then pending → active with GET /me’s account', async () => {
    const created = await createWealthbox();
    const res = await admin.post(`/api/integrations/${created.id}/test`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      message: expect.stringContaining('Fake Advisors LLC'),
      data: { account: 'Fake Advisors LLC' },
    });
    const after = await admin.get(`/api/integrations/${created.id}`);
    expect(after.body.data).toMatchObject({ status: 'active', errorMessage: null, lastTestedAt: expect.any(String) });
  });

  it('when tested with a wrong token, then status error with the reason, and a fixed token brings it back to active', async () => {
    const created = await createWealthbox({ apiKey: 'wrong-token-000' });
    const res = await admin.post(`/api/integrations/${created.id}/test`);
    expect(res.body).toMatchObject({ success: false, message: expect.stringContaining('Authentication failed') });
    expect(JSON.stringify(res.body)).not.toContain('wrong-token-000');
    expect((await admin.get(`/api/integrations/${created.id}`)).body.data).toMatchObject({
      status: 'error',
      errorMessage: expect.stringContaining('401'),
    });
    await admin.patch(`/api/integrations/${created.id}`, { config: { apiKey: TOKEN() } });
    expect((await admin.post(`/api/integrations/${created.id}/test`)).body.success).toBe(true);
    expect((await admin.get(`/api/integrations/${created.id}`)).body.data.status).toBe('active');
  });

  it('when transitions are illegal, then 409; disconnect and reconnect follow the lifecycle', async () => {
    const created = await createWealthbox();
    const fromPending = await admin.post(`/api/integrations/${created.id}/disconnect`);
    expect(fromPending.status).toBe(409);
    expect(fromPending.body.code).toBe('illegal_status_transition');
    expect((await admin.post(`/api/integrations/${created.id}/reconnect`)).status).toBe(409);

    await admin.post(`/api/integrations/${created.id}/test`);
    expect((await admin.post(`/api/integrations/${created.id}/disconnect`)).body.data.status).toBe('disconnected');
    expect((await admin.post(`/api/integrations/${created.id}/disconnect`)).status).toBe(409);
    expect((await admin.post(`/api/integrations/${created.id}/test`)).status).toBe(409);

    const reconnected = await admin.post(`/api/integrations/${created.id}/reconnect`);
    expect(reconnected.body.success).toBe(true);
    expect((await admin.get(`/api/integrations/${created.id}`)).body.data.status).toBe('active');
  });

  it('when reconnecting fails its test, then the integration stays disconnected with the reason', async () => {
    const created = await createWealthbox();
    await admin.post(`/api/integrations/${created.id}/test`);
    await admin.post(`/api/integrations/${created.id}/disconnect`);
    fake.failNext(20, 500);
    try {
      const res = await admin.post(`/api/integrations/${created.id}/reconnect`);
      expect(res.body.success).toBe(false);
    } finally {
      fake.clearFaults();
    }
    expect((await admin.get(`/api/integrations/${created.id}`)).body.data).toMatchObject({
      status: 'disconnected',
      errorMessage: expect.stringContaining('500'),
    });
  });

  it('when another organization’s key asks, then its integrations answer 404', async () => {
    const created = await createWealthbox();
    const other = await createOrganization(ctx);
    const key = await createOrganizationKey(ctx, other.id);
    expect((await ctx.http.get(`/api/integrations/${created.id}`).set('x-api-key', key)).status).toBe(404);
    expect((await ctx.http.post(`/api/integrations/${created.id}/test`).set('x-api-key', key)).status).toBe(404);
    expect((await ctx.http.get('/api/integrations').set('x-api-key', key)).body.pagination.total).toBe(0);
    expect((await ctx.http.post('/api/integrations/re-encrypt').set('x-api-key', key)).status).toBe(403);
  });
});

describe('encryption key rotation', () => {
  it('when the key changes and the old one is kept as previous, then secrets still open, and re-encrypt moves them to the new key', async () => {
    const created = await createWealthbox();
    // The same database, seen by a service configured with a new key and the old one as previous.
    const config = loadConfig({
      DATABASE_URL: ctx.databaseUrl,
      ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      ENCRYPTION_PREVIOUS_KEYS: ENCRYPTION_KEY,
    });
    const prisma = createPrismaClient(ctx.databaseUrl, config.database);
    try {
      const services = createServices({ config, prisma, logger: createLogger({ level: 'error', json: true, silent: true }) });
      expect((await services.integrations.get(created.id)).config.apiKey).toBe(`••••${TOKEN().slice(-4)}`);
      const [before] = await ctx.sql('SELECT secrets FROM integrations WHERE id = $1', [created.id]);

      const result = await services.integrations.reEncrypt();
      expect(result.secrets).toBeGreaterThan(0);
      const [after] = await ctx.sql('SELECT secrets FROM integrations WHERE id = $1', [created.id]);
      const kid = (s: unknown) => (s as Record<string, { kid: string }>).apiKey.kid;
      expect(kid(after.secrets)).toBe(keyId(config.encryption.key as Buffer));
      expect(kid(after.secrets)).not.toBe(kid(before.secrets));
      expect((await services.integrations.reEncrypt()).secrets).toBe(0);
      // The old key alone can no longer open it.
      expect(() => new SecretBox(Buffer.from(ENCRYPTION_KEY, 'base64')).open((after.secrets as Record<string, never>).apiKey)).toThrow();
    } finally {
      await prisma.$disconnect();
    }
  });
});
