import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { bootstrap } from '../../src/app';
import { createLogger } from '../../src/lib/logger';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

let fake: FakeWealthbox;
let ctx: TestContext;
beforeAll(async () => {
  fake = await new FakeWealthbox({ contacts: 30 }).start();
  ctx = await createTestContext({
    WEALTHBOX_API_KEY: fake.token,
    WEALTHBOX_API_URL: fake.url,
    WEALTHBOX_WEBHOOK_SECRET: 'env-webhook-secret-1',
  });
});
afterAll(async () => {
  await ctx.close();
  await fake.stop();
});

describe('seed 000 single-tenant settings', () => {
  it('when WEALTHBOX_API_KEY is set, then a default organization with that Wealthbox integration exists', async () => {
    const res = await ctx.http.get('/api/integrations?provider=wealthbox').set('x-api-key', ADMIN_KEY);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({
      name: 'Wealthbox (from environment)',
      status: 'pending',
      config: { baseUrl: fake.url, apiKey: `••••${fake.token.slice(-4)}`, webhookSecret: '••••et-1' },
    });
    const org = await ctx.http.get(`/api/organizations/${res.body.data[0].organizationId}`).set('x-api-key', ADMIN_KEY);
    expect(org.body.data.slug).toBe('default');
  });

  it('when POST /api/users/sync is called with the admin key, then it syncs with no other setup', async () => {
    const res = await ctx.http.post('/api/users/sync?wait=true').set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 33, runs: [expect.objectContaining({ status: 'succeeded', created: 33 })] });
  });

  it('when the service starts again with a changed key, then the integration takes it; unchanged env writes nothing', async () => {
    const logger = createLogger({ level: 'error', json: true, silent: true });
    const [before] = await ctx.sql("SELECT updated_at FROM integrations WHERE provider = 'wealthbox'");
    await bootstrap({ config: ctx.config, logger }, ctx.services);
    const [same] = await ctx.sql("SELECT updated_at FROM integrations WHERE provider = 'wealthbox'");
    expect(same).toEqual(before);
    await bootstrap(
      { config: { ...ctx.config, providerEnv: { ...ctx.config.providerEnv, WEALTHBOX_API_KEY: 'rotated-token-777' } }, logger },
      ctx.services,
    );
    const res = await ctx.http.get('/api/integrations?provider=wealthbox').set('x-api-key', ADMIN_KEY);
    expect(res.body.data[0].config.apiKey).toBe('••••-777');
  });
});
