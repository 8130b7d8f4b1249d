import { createOrganization, createOrganizationKey } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/** What the console reads to choose between the config form and an OAuth button. */
describe('GET /api/integration-templates: how each template connects', () => {
  let ctx: TestContext;
  let orgKey: string;

  beforeAll(async () => {
    // HubSpot's OAuth app is configured, Salesforce's is not.
    ctx = await createTestContext({ OAUTH_HUBSPOT_CLIENT_ID: 'hub-client', OAUTH_HUBSPOT_CLIENT_SECRET: 'hub-secret' });
    orgKey = await createOrganizationKey(ctx, (await createOrganization(ctx)).id);
  });
  afterAll(() => ctx?.close());

  it('is protected', async () => {
    await ctx.http.get('/api/integration-templates').expect(401);
  });

  it('when a provider connects by OAuth and its client is set, then oauthReady is true; when its client is not set, false', async () => {
    const res = await ctx.http.get('/api/integration-templates').set('x-api-key', orgKey).expect(200);
    const byName = Object.fromEntries((res.body.data as { name: string; connect: unknown }[]).map((t) => [t.name, t.connect]));
    expect(byName.hubspot).toMatchObject({ modes: ['api_key', 'oauth2'], oauthReady: true });
    expect(byName.salesforce).toMatchObject({ modes: ['api_key', 'oauth2'], oauthReady: false });
    expect(byName.mailchimp).toMatchObject({ modes: ['api_key'], oauthReady: false });
    // Only Zoho's webhooks come through a channel the service keeps open.
    expect(Object.keys(byName).filter((n) => (byName[n] as { keepsWebhookChannel?: boolean }).keepsWebhookChannel)).toEqual(['zoho']);
  });

  it('when a template has no provider module (an operator’s own), then it connects by its form only', async () => {
    const created = await ctx.http
      .post('/api/integration-templates')
      .set('x-api-key', ADMIN_KEY)
      .send({
        name: 'custom_crm',
        displayName: 'Custom CRM',
        category: 'CRM',
        configSchema: {
          type: 'object',
          properties: {
            host: { type: 'string' },
            pin: { type: 'string', format: 'password' },
            apiToken: { type: 'string' },
            retries: { type: 'integer' },
          },
        },
      })
      .expect(201);
    const one = await ctx.http.get(`/api/integration-templates/${created.body.data.id}`).set('x-api-key', orgKey).expect(200);
    // Sealed by mark (pin) or by name (apiToken): the console's form shows exactly these as password fields.
    expect(one.body.data).toMatchObject({ name: 'custom_crm', connect: { modes: ['api_key'], oauthReady: false } });
    expect([...one.body.data.connect.secretFields].sort()).toEqual(['apiToken', 'pin']);
  });
});
