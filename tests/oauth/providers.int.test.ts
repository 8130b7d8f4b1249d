import { FakeOAuth, type OAuthFlavor } from '../../fake-crm/oauth/fake-oauth';
import { createOrganization, createOrganizationKey } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * The OAuth flow of every non-CRM provider, through HTTP, against the fake authorization
 * server in the provider's flavour (which also answers each provider's "who am I" call):
 * the consent URL carries what the provider needs, the callback stores what it sends back,
 * the connection test passes, and a dead access token is refreshed.
 */
const BASE = 'https://crm.example.test';

interface Case {
  provider: string;
  flavor: OAuthFlavor;
  /** The path segment the flow is started and called back on (seed 003's `google`). */
  pathName?: string;
  /** Paths served without /api (seed 003's). */
  rootPaths?: boolean;
  /** The environment naming the client, when not OAUTH_<PROVIDER>_*. */
  env?: (auth: FakeOAuth, callback: string) => Record<string, string>;
  authorizePath: string;
  tokenPath: string;
  /** What the consent URL must carry (null: must not carry). */
  consent: Record<string, string | null>;
  pkce: boolean;
  /** Config the connection learns, from the token answer or the callback. */
  learned?: (auth: FakeOAuth) => Record<string, string>;
  /** How a refresh is made necessary: the fake refuses the token (401) or the stored expiry passes. */
  refreshBy: 'refused' | 'expiry';
}

const cases: Case[] = [
  {
    provider: 'google_drive',
    flavor: 'google',
    pathName: 'google',
    rootPaths: true,
    // Seed 003's variables, its redirect URI among them.
    env: (auth, callback) => ({
      GOOGLE_CLIENT_ID: 'google-client',
      GOOGLE_CLIENT_SECRET: 'google-secret',
      GOOGLE_REDIRECT_URI: callback,
      OAUTH_GOOGLE_DRIVE_AUTHORIZE_URL: `${auth.url}/o/oauth2/v2/auth`,
      OAUTH_GOOGLE_DRIVE_TOKEN_URL: `${auth.url}/o/oauth2/token`,
    }),
    authorizePath: '/o/oauth2/v2/auth',
    tokenPath: '/o/oauth2/token',
    consent: { access_type: 'offline', prompt: 'consent', scope: 'https://www.googleapis.com/auth/drive.file', response_type: 'code' },
    pkce: true,
    refreshBy: 'refused',
  },
  {
    provider: 'gmail',
    flavor: 'google',
    authorizePath: '/o/oauth2/v2/auth',
    tokenPath: '/o/oauth2/token',
    consent: { access_type: 'offline', prompt: 'consent', scope: 'https://www.googleapis.com/auth/gmail.readonly' },
    pkce: true,
    refreshBy: 'refused',
  },
  {
    provider: 'dropbox',
    flavor: 'dropbox',
    authorizePath: '/oauth2/authorize',
    tokenPath: '/oauth2/token',
    consent: { token_access_type: 'offline', response_type: 'code' },
    pkce: true,
    learned: (auth) => ({ accountId: auth.identity.dropboxAccountId }),
    refreshBy: 'refused',
  },
  {
    provider: 'stripe',
    flavor: 'stripe',
    authorizePath: '/oauth/authorize',
    tokenPath: '/oauth/token',
    consent: { scope: 'read_write', response_type: 'code', code_challenge: null },
    pkce: false,
    learned: (auth) => ({ stripeUserId: auth.identity.stripeUserId }),
    refreshBy: 'refused',
  },
  {
    provider: 'amazon',
    flavor: 'amazon',
    env: () => ({ OAUTH_AMAZON_APPLICATION_ID: 'amzn1.sp.solution.fake-app', OAUTH_AMAZON_DRAFT: 'true' }),
    authorizePath: '/apps/authorize/consent',
    tokenPath: '/auth/o2/token',
    // Seller Central's consent page takes the application id, not RFC 6749's parameters.
    consent: { application_id: 'amzn1.sp.solution.fake-app', version: 'beta', client_id: null, response_type: null, scope: null },
    pkce: false,
    learned: (auth) => ({ sellingPartnerId: auth.identity.sellingPartnerId }),
    // SP-API answers a dead token with 403, so the refresh ahead of expiry is what keeps it alive.
    refreshBy: 'expiry',
  },
];

describe.each(cases)('OAuth connect: $provider', (c) => {
  const pathName = c.pathName ?? c.provider;
  const prefix = c.rootPaths ? '/integrations/oauth' : '/api/integrations/oauth';
  const callbackUrl = `${BASE}${prefix}/${pathName}/callback`;
  let ctx: TestContext;
  let auth: FakeOAuth;
  let key: string;
  let integrationId: number;

  beforeAll(async () => {
    auth = await new FakeOAuth({ flavor: c.flavor }).start();
    const upper = c.provider.toUpperCase();
    auth.addClient({
      clientId: c.pathName ? 'google-client' : `${c.provider}-client`,
      clientSecret: c.pathName ? 'google-secret' : `${c.provider}-secret`,
      redirectUris: [callbackUrl],
      applicationId: c.provider === 'amazon' ? 'amzn1.sp.solution.fake-app' : undefined,
    });
    ctx = await createTestContext({
      PUBLIC_BASE_URL: BASE,
      ...(c.pathName
        ? {}
        : {
            [`OAUTH_${upper}_CLIENT_ID`]: `${c.provider}-client`,
            [`OAUTH_${upper}_CLIENT_SECRET`]: `${c.provider}-secret`,
            [`OAUTH_${upper}_AUTHORIZE_URL`]: `${auth.url}${c.authorizePath}`,
            [`OAUTH_${upper}_TOKEN_URL`]: `${auth.url}${c.tokenPath}`,
          }),
      ...c.env?.(auth, callbackUrl),
    });
    const org = await createOrganization(ctx);
    key = await createOrganizationKey(ctx, org.id);
    // The integration exists with its API address (the fake's); OAuth brings the tokens.
    const made = await ctx.http
      .post('/api/integrations')
      .set('x-api-key', key)
      .send({ provider: c.provider, name: c.provider, config: { accessToken: 'pasted-token-0000', baseUrl: auth.url } });
    expect(made.status).toBe(201);
    integrationId = made.body.data.id;
  });
  afterAll(async () => {
    await ctx?.close();
    await auth?.stop();
  });

  it('when a person consents, then the consent URL carries what the provider needs, the callback stores the tokens and what it learned, and the test passes', async () => {
    const started = await ctx.http.post(`${prefix}/${pathName}/authorize`).set('x-api-key', key);
    expect(started.status).toBe(200);
    const url = new URL(started.body.data.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${auth.url}${c.authorizePath}`);
    expect(url.searchParams.get('state')).toBe(started.body.data.state);
    expect(url.searchParams.get('redirect_uri')).toBe(callbackUrl);
    for (const [k, v] of Object.entries(c.consent)) expect([k, url.searchParams.get(k)]).toEqual([k, v]);
    expect(url.searchParams.get('code_challenge_method')).toBe(c.pkce ? 'S256' : null);

    const consent = await fetch(url, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const back = new URL(consent.headers.get('location') as string);
    expect(`${back.origin}${back.pathname}`).toBe(callbackUrl);
    const res = await ctx.http.get(`${prefix}/${pathName}/callback`).query(Object.fromEntries(back.searchParams));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ integrationId, status: 'active', created: false, test: { success: true } });
    expect(auth.codeExchanges).toBe(1);

    const shown = (await ctx.http.get(`/api/integrations/${integrationId}`).set('x-api-key', key)).body.data;
    expect(shown.config).toMatchObject(c.learned?.(auth) ?? {});
    const issued = auth.lastAccessToken!;
    const everything = JSON.stringify([
      shown,
      await ctx.sql('SELECT config, secrets FROM integrations'),
      await ctx.sql('SELECT * FROM integration_tokens'),
    ]);
    expect(everything).not.toContain(issued.token);
    if (issued.refreshToken) expect(everything).not.toContain(issued.refreshToken);
  });

  it('when the access token dies, then the next call refreshes it once and goes on', async () => {
    const before = auth.lastAccessToken!;
    if (c.refreshBy === 'refused') auth.expireAccessToken(before.token);
    else await ctx.sql("UPDATE integration_tokens SET expires_at = now() + interval '1 minute' WHERE integration_id = $1", [integrationId]);
    const test = await ctx.http.post(`/api/integrations/${integrationId}/test`).set('x-api-key', key);
    expect(test.status).toBe(200);
    expect(test.body.success).toBe(true);
    expect(auth.refreshCalls).toBe(1);
    expect(auth.lastAccessToken!.token).not.toBe(before.token);
    expect(auth.lastAccessToken!.grant).toBe('refresh_token');
  });

  it('when a pull is asked of it, then 409: it holds no people', async () => {
    const res = await ctx.http.post(`/api/integrations/${integrationId}/sync?mode=full`).set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('nothing_to_pull');
  });
});

describe('OAuth settings a provider needs', () => {
  it('when Amazon has a client but no application id, then 409 names the variable', async () => {
    const ctx = await createTestContext({ OAUTH_AMAZON_CLIENT_ID: 'c', OAUTH_AMAZON_CLIENT_SECRET: 's' });
    try {
      const org = await createOrganization(ctx);
      const res = await ctx.http
        .post('/api/integrations/oauth/amazon/authorize')
        .query({ organizationId: org.id })
        .set('x-api-key', ADMIN_KEY);
      expect(res.status).toBe(409);
      expect(res.body.error).toContain('OAUTH_AMAZON_APPLICATION_ID');
      const drive = await ctx.http
        .post('/api/integrations/oauth/google/authorize')
        .query({ organizationId: org.id })
        .set('x-api-key', ADMIN_KEY);
      expect(drive.status).toBe(409);
      expect(drive.body.error).toContain('OAUTH_GOOGLE_DRIVE_CLIENT_ID');
      expect(drive.body.error).toContain('GOOGLE_CLIENT_ID');
    } finally {
      await ctx.close();
    }
  });

  it('when Amazon sends back a selling_partner_id that is not a seller id, then 400 and nothing is exchanged', async () => {
    const auth = await new FakeOAuth({ flavor: 'amazon' }).start();
    const callback = `${BASE}/api/integrations/oauth/amazon/callback`;
    auth.addClient({ clientId: 'c', clientSecret: 's', redirectUris: [callback], applicationId: 'app' });
    const ctx = await createTestContext({
      PUBLIC_BASE_URL: BASE,
      OAUTH_AMAZON_CLIENT_ID: 'c',
      OAUTH_AMAZON_CLIENT_SECRET: 's',
      OAUTH_AMAZON_APPLICATION_ID: 'app',
      OAUTH_AMAZON_AUTHORIZE_URL: `${auth.url}/apps/authorize/consent`,
      OAUTH_AMAZON_TOKEN_URL: `${auth.url}/auth/o2/token`,
    });
    try {
      const org = await createOrganization(ctx);
      const started = await ctx.http
        .post('/api/integrations/oauth/amazon/authorize')
        .query({ organizationId: org.id })
        .set('x-api-key', ADMIN_KEY);
      const back = new URL((await fetch(started.body.data.url, { redirect: 'manual' })).headers.get('location') as string);
      back.searchParams.set('selling_partner_id', '../../etc');
      const res = await ctx.http.get('/api/integrations/oauth/amazon/callback').query(Object.fromEntries(back.searchParams));
      expect(res.status).toBe(400);
      expect(res.body.details[0].path).toBe('query.selling_partner_id');
      expect(auth.codeExchanges).toBe(0);
      expect(await ctx.sql('SELECT count(*)::int AS n FROM integrations')).toEqual([{ n: 0 }]);
    } finally {
      await ctx.close();
      await auth.stop();
    }
  });

  it.each([
    ['tried in the body, then by HTTP Basic', {}, ['body', 'basic']],
    ['sent by HTTP Basic only, as OAUTH_GMAIL_TOKEN_AUTH says', { OAUTH_GMAIL_TOKEN_AUTH: 'basic' }, ['basic']],
  ])(
    'when the authorization server takes HTTP Basic only (RFC 6749 2.3.1), then the client is %s, and the code exchange succeeds',
    async (_how, extra, tried) => {
      const auth = await new FakeOAuth({ flavor: 'google', clientAuthMethods: ['basic'] }).start();
      const callback = `${BASE}/api/integrations/oauth/gmail/callback`;
      // A secret with characters that form-encoding changes: the Basic credentials encode them first.
      auth.addClient({ clientId: 'gmail client', clientSecret: 's3cret:+/ with space', redirectUris: [callback] });
      const ctx = await createTestContext({
        PUBLIC_BASE_URL: BASE,
        OAUTH_GMAIL_CLIENT_ID: 'gmail client',
        OAUTH_GMAIL_CLIENT_SECRET: 's3cret:+/ with space',
        OAUTH_GMAIL_AUTHORIZE_URL: `${auth.url}/o/oauth2/v2/auth`,
        OAUTH_GMAIL_TOKEN_URL: `${auth.url}/o/oauth2/token`,
        ...extra,
      });
      try {
        const org = await createOrganization(ctx);
        // Its API address is the fake's, so the connection test stays off the network.
        await ctx.http
          .post('/api/integrations')
          .set('x-api-key', ADMIN_KEY)
          .send({
            organizationId: org.id,
            provider: 'gmail',
            name: 'Gmail',
            config: { accessToken: 'pasted-token-0000', baseUrl: auth.url },
          });
        const started = await ctx.http
          .post('/api/integrations/oauth/gmail/authorize')
          .query({ organizationId: org.id })
          .set('x-api-key', ADMIN_KEY);
        const back = new URL((await fetch(started.body.data.url, { redirect: 'manual' })).headers.get('location') as string);
        const res = await ctx.http.get('/api/integrations/oauth/gmail/callback').query(Object.fromEntries(back.searchParams));
        expect(res.status).toBe(200);
        expect(res.body.data).toMatchObject({ created: false, test: { success: true } });
        expect(auth.requests.filter((r) => r.path === '/o/oauth2/token').map((r) => r.clientAuth)).toEqual(tried);
        expect(auth.lastAccessToken?.grant).toBe('authorization_code');
      } finally {
        await ctx.close();
        await auth.stop();
      }
    },
  );
});
