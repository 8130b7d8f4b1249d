import { FakeGoHighLevel } from '../../fake-crm/gohighlevel/fake-gohighlevel';
import { FakeOAuth } from '../../fake-crm/oauth/fake-oauth';
import { FakeZoho } from '../../fake-crm/zoho/fake-zoho';
import { zohoDefinition } from '../../src/providers/zoho/zoho.definition';
import { createOrganization, createOrganizationKey } from '../helpers/fixtures';
import { createTestContext, type TestContext } from '../helpers/test-app';

/**
 * CRMs whose OAuth connection tells us where their API is: the flow creates the integration
 * from what the authorization server says, and the sync then runs on the token it got.
 */
const BASE = 'https://crm.example.test';

describe('OAuth connect: Zoho (the accounts server from the redirect back, the API domain from the token answer)', () => {
  const callbackUrl = `${BASE}/api/integrations/oauth/zoho/callback`;
  let ctx: TestContext;
  let auth: FakeOAuth;
  let zoho: FakeZoho;
  let key: string;

  beforeAll(async () => {
    auth = await new FakeOAuth({ flavor: 'zoho' }).start();
    auth.addClient({ clientId: '1000.ZOHOCLIENT', clientSecret: 'zoho-secret', redirectUris: [callbackUrl] });
    zoho = await new FakeZoho({ contacts: 30, acceptToken: (t) => auth.isValidAccessToken(t) }).start();
    auth.apiDomain = zoho.url;
    // No OAUTH_ZOHO_TOKEN_URL: the code goes to the accounts server the redirect names.
    ctx = await createTestContext({
      PUBLIC_BASE_URL: BASE,
      OAUTH_ZOHO_CLIENT_ID: '1000.ZOHOCLIENT',
      OAUTH_ZOHO_CLIENT_SECRET: 'zoho-secret',
      OAUTH_ZOHO_AUTHORIZE_URL: `${auth.url}/oauth/v2/auth`,
    });
    const org = await createOrganization(ctx);
    key = await createOrganizationKey(ctx, org.id);
  });
  afterAll(async () => {
    await ctx?.close();
    await auth?.stop();
    await zoho?.stop();
  });

  const consent = async () => {
    const started = await ctx.http.post('/api/integrations/oauth/zoho/authorize').set('x-api-key', key);
    expect(started.status).toBe(200);
    const url = new URL(started.body.data.url);
    expect(url.searchParams.get('access_type')).toBe('offline');
    expect(url.searchParams.get('prompt')).toBe('consent');
    const res = await fetch(url, { redirect: 'manual' });
    return new URL(res.headers.get('location') as string);
  };

  it('when an accounts server that is not Zoho’s comes back, then 400 and the code is not sent there', async () => {
    const back = await consent();
    back.searchParams.set('accounts-server', 'https://accounts.zoho.evil.example');
    const res = await ctx.http.get('/api/integrations/oauth/zoho/callback').query(Object.fromEntries(back.searchParams));
    expect(res.status).toBe(400);
    expect(res.body.details[0].path).toBe('query.accounts-server');
    expect(auth.codeExchanges).toBe(0);
  });

  it('when a person consents, then the integration is created on the data centre the token names, tested, synced, and refreshed at the same accounts server', async () => {
    const back = await consent();
    expect(back.searchParams.get('accounts-server')).toBe(auth.url);
    const res = await ctx.http.get('/api/integrations/oauth/zoho/callback').query(Object.fromEntries(back.searchParams));
    expect([res.status, res.body.error]).toEqual([200, undefined]);
    expect(res.body.data).toMatchObject({ created: true, status: 'active', test: { success: true } });
    const id = res.body.data.integrationId as number;
    const shown = (await ctx.http.get(`/api/integrations/${id}`).set('x-api-key', key)).body.data;
    expect(shown.config).toMatchObject({ apiDomain: zoho.url, accountsServer: auth.url });

    const first = await ctx.http.post(`/api/integrations/${id}/sync?mode=full&wait=true`).set('x-api-key', key);
    expect(first.body.data).toMatchObject({ status: 'succeeded', created: 30 });

    // Zoho refuses the access token (401 INVALID_TOKEN): one refresh, at the accounts server.
    auth.expireAccessToken(auth.lastAccessToken!.token);
    zoho.updateContact(zoho.contactsIn()[0].id, { Title: 'Refreshed' });
    const second = await ctx.http.post(`/api/integrations/${id}/sync?mode=full&wait=true`).set('x-api-key', key);
    expect(second.body.data).toMatchObject({ status: 'succeeded', updated: 1 });
    expect(auth.refreshCalls).toBe(1);
    expect(auth.requests.filter((r) => r.path === '/oauth/v2/token').length).toBe(2);

    // A refresh answer naming an API domain the config would refuse: not taken, the old one kept.
    auth.answerNextToken(200, { access_token: '1000.new', api_domain: 'file:///etc/passwd', token_type: 'Bearer', expires_in: 3600 });
    const refused = await ctx.services.oauth.ensureFresh(id, { force: true }).catch((e: unknown) => e as Error);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/^the token answer was not taken: body\.config\.apiDomain /);
    expect((await ctx.http.get(`/api/integrations/${id}`).set('x-api-key', key)).body.data).toMatchObject({
      status: 'active',
      config: { apiDomain: zoho.url },
    });
  });
});

describe('Zoho accounts servers', () => {
  const facts = zohoDefinition.oauth!;
  const flow = { authorizeUrl: 'https://accounts.zoho.com/oauth/v2/auth' };
  it.each([
    ['https://accounts.zoho.eu', 'https://accounts.zoho.eu/oauth/v2/token'],
    ['https://accounts.zohocloud.ca/', 'https://accounts.zohocloud.ca/oauth/v2/token'],
    // A tenant may write any URL in its config: the refresh token and our client secret never go there.
    ['https://accounts.evil.example', undefined],
    ['http://accounts.zoho.eu', undefined],
    ['https://accounts.zoho.eu.evil.example', undefined],
  ])('when the config names %s, then refreshes go to %s (undefined: the default)', (server, expected) => {
    expect(facts.tokenUrlFor?.({ accountsServer: server }, flow)).toBe(expected);
  });
  it('when the operator configured another consent page, then its own origin is an accounts server too', () => {
    expect(facts.tokenUrlFor?.({ accountsServer: 'http://127.0.0.1:4000' }, { authorizeUrl: 'http://127.0.0.1:4000/oauth/v2/auth' })).toBe(
      'http://127.0.0.1:4000/oauth/v2/token',
    );
  });
});

describe('OAuth connect: GoHighLevel (a location token: locationId from the token answer, refresh tokens rotated)', () => {
  const callbackUrl = `${BASE}/api/integrations/oauth/gohighlevel/callback`;
  let ctx: TestContext;
  let auth: FakeOAuth;
  let ghl: FakeGoHighLevel;

  beforeAll(async () => {
    auth = await new FakeOAuth({ flavor: 'gohighlevel' }).start();
    auth.addClient({ clientId: 'ghl-client', clientSecret: 'ghl-secret', redirectUris: [callbackUrl] });
    ghl = await new FakeGoHighLevel({ contacts: 12, acceptToken: (t) => auth.isValidAccessToken(t) }).start();
    auth.identity.locationId = ghl.locationId;
    ctx = await createTestContext({
      PUBLIC_BASE_URL: BASE,
      OAUTH_GOHIGHLEVEL_CLIENT_ID: 'ghl-client',
      OAUTH_GOHIGHLEVEL_CLIENT_SECRET: 'ghl-secret',
      OAUTH_GOHIGHLEVEL_AUTHORIZE_URL: `${auth.url}/oauth/chooselocation`,
      OAUTH_GOHIGHLEVEL_TOKEN_URL: `${auth.url}/oauth/token`,
    });
  });
  afterAll(async () => {
    await ctx?.close();
    await auth?.stop();
    await ghl?.stop();
  });

  it('when a person picks the location and consents, then the integration takes the location token and its locationId, syncs, and survives a rotated refresh', async () => {
    const org = await createOrganization(ctx);
    const key = await createOrganizationKey(ctx, org.id);
    // The API address is the fake's; the location comes from the token answer.
    const made = await ctx.http
      .post('/api/integrations')
      .set('x-api-key', key)
      .send({
        provider: 'gohighlevel',
        name: 'HighLevel',
        config: { apiKey: 'pasted-token-0000', locationId: 'placeholder-location', baseUrl: ghl.url },
      });
    expect(made.status).toBe(201);
    const started = await ctx.http.post('/api/integrations/oauth/gohighlevel/authorize').set('x-api-key', key);
    const back = new URL((await fetch(started.body.data.url, { redirect: 'manual' })).headers.get('location') as string);
    const res = await ctx.http.get('/api/integrations/oauth/gohighlevel/callback').query(Object.fromEntries(back.searchParams));
    expect([res.status, res.body.data?.test?.success]).toEqual([200, true]);
    const id = made.body.data.id as number;
    expect((await ctx.http.get(`/api/integrations/${id}`).set('x-api-key', key)).body.data.config.locationId).toBe(ghl.locationId);

    const firstRefresh = auth.lastAccessToken!.refreshToken;
    auth.expireAccessToken(auth.lastAccessToken!.token);
    const run = await ctx.http.post(`/api/integrations/${id}/sync?mode=full&wait=true`).set('x-api-key', key);
    expect(run.body.data).toMatchObject({ status: 'succeeded', created: 12 });
    expect(auth.refreshCalls).toBe(1);
    // Rotation: the old refresh token is dead, and the one stored is the new one.
    expect(auth.refreshTokens.get(firstRefresh as string)?.rotatedTo).toBeTruthy();
    auth.expireAccessToken(auth.lastAccessToken!.token);
    const again = await ctx.http.post(`/api/integrations/${id}/test`).set('x-api-key', key);
    expect(again.body.success).toBe(true);
    expect(auth.refreshCalls).toBe(2);
  });
});
