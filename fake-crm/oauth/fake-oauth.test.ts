import axios, { type AxiosResponse } from 'axios';
import { basicAuthHeader, FakeOAuth, pkceChallenge, pkcePair, salesforceSignature, type FakeOAuthOptions } from './fake-oauth';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000, maxRedirects: 0 });

const CLIENT_ID = 'crm-sync';
const SECRET = 's3cr3t/with+odd:chars';
const REDIRECT = 'https://app.example.com/oauth/callback';
const OTHER_REDIRECT = 'https://app.example.com/oauth/other';

async function startFake(opts: FakeOAuthOptions = {}): Promise<FakeOAuth> {
  const fake = await new FakeOAuth(opts).start();
  fake.addClient({ clientId: CLIENT_ID, clientSecret: SECRET, redirectUris: [REDIRECT, OTHER_REDIRECT] });
  return fake;
}

/** GET /authorize without following the redirect; returns the answer and the parsed Location. */
async function authorize(fake: FakeOAuth, params: Record<string, string | undefined>, headers: Record<string, string> = {}) {
  const res = await http.get(fake.buildAuthorizeUrl(params), { headers });
  const location = typeof res.headers.location === 'string' ? new URL(res.headers.location) : null;
  return { res, location, query: location ? Object.fromEntries(location.searchParams) : {} };
}

/** A code bound to a fresh S256 PKCE pair. */
async function codeWithPkce(fake: FakeOAuth, extra: Record<string, string> = {}) {
  const pkce = pkcePair();
  const { res, query } = await authorize(fake, {
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT,
    state: 'st-1',
    scope: 'contacts.read contacts.write',
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  expect(res.status).toBe(302);
  return { code: query.code, verifier: pkce.verifier };
}

function postToken(fake: FakeOAuth, form: Record<string, string>, auth: 'body' | 'basic' = 'body', path = '/token') {
  const headers: Record<string, string> = {};
  const body = new URLSearchParams(form);
  if (auth === 'basic') headers.Authorization = basicAuthHeader(CLIENT_ID, SECRET);
  else {
    body.set('client_id', CLIENT_ID);
    body.set('client_secret', SECRET);
  }
  return http.post(fake.url + path, body, { headers }) as Promise<AxiosResponse<Json>>;
}

function exchange(fake: FakeOAuth, code: string, verifier: string, extra: Record<string, string> = {}, auth: 'body' | 'basic' = 'body') {
  return postToken(fake, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, ...extra }, auth);
}

function refresh(fake: FakeOAuth, refreshToken: string) {
  return postToken(fake, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

describe('FakeOAuth: authorization code grant with PKCE', () => {
  let fake: FakeOAuth;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(() => fake.stop());

  it('when the whole flow runs with S256, then the code redirect carries state and the exchange answers RFC 6749 5.1 tokens', async () => {
    const pkce = pkcePair();
    expect(pkce.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { res, location, query } = await authorize(fake, {
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT,
      state: 'xyz',
      scope: 'contacts.read contacts.write',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      access_type: 'offline',
      prompt: 'consent',
      token_access_type: 'offline',
    });
    expect(res.status).toBe(302);
    expect(`${location!.origin}${location!.pathname}`).toBe(REDIRECT);
    expect(query).toEqual({ code: expect.any(String), state: 'xyz' });
    expect(fake.authorizations[0]).toMatchObject({
      clientId: CLIENT_ID,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      extra: { access_type: 'offline', prompt: 'consent', token_access_type: 'offline' },
      outcome: { code: query.code },
    });
    expect(fake.requests[0].query).toMatchObject({ access_type: 'offline', prompt: 'consent', token_access_type: 'offline' });

    const token = await exchange(fake, query.code, pkce.verifier);
    expect(token.status).toBe(200);
    expect(token.headers['cache-control']).toBe('no-store');
    expect(token.headers['content-type']).toMatch(/^application\/json/);
    expect(token.data).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: expect.any(String),
      scope: 'contacts.read contacts.write',
    });
    expect(fake.isValidAccessToken(token.data.access_token)).toBe(true);
    expect(fake.isValidAccessToken('made-up')).toBe(false);
    expect(fake.accessTokens.get(token.data.access_token)).toMatchObject({
      clientId: CLIENT_ID,
      grant: 'authorization_code',
      refreshToken: token.data.refresh_token,
      expiresAt: expect.any(Number),
    });
    expect(fake.tokenCalls).toBe(1);
    expect(fake.codeExchanges).toBe(1);
    expect(fake.refreshCalls).toBe(0);

    const logged = fake.requests.find((r) => r.path === '/token')!;
    expect(logged.clientAuth).toBe('body');
    expect(logged.body).toMatchObject({ grant_type: 'authorization_code', client_id: CLIENT_ID, redirect_uri: REDIRECT });
    const body = logged.body as Record<string, string>;
    for (const key of ['client_secret', 'code_verifier', 'code']) expect(body[key]).toMatch(/^\*\*\*.{4}$/);
    expect(JSON.stringify(fake.requests)).not.toContain(SECRET);
    expect(JSON.stringify(fake.requests)).not.toContain(pkce.verifier);
  });

  it('when the verifier is wrong or missing, then invalid_grant (400)', async () => {
    const a = await codeWithPkce(fake);
    const wrong = await exchange(fake, a.code, pkcePair().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.data).toEqual({ error: 'invalid_grant', error_description: 'PKCE verification failed' });

    const b = await codeWithPkce(fake);
    const missing = await postToken(fake, { grant_type: 'authorization_code', code: b.code, redirect_uri: REDIRECT });
    expect(missing.status).toBe(400);
    expect(missing.data.error).toBe('invalid_grant');
    expect(fake.accessTokens.size).toBe(0);
  });

  it('when a code is used twice, then the second exchange is invalid_grant and the tokens of the first are revoked', async () => {
    const { code, verifier } = await codeWithPkce(fake);
    const first = await exchange(fake, code, verifier);
    expect(first.status).toBe(200);
    const again = await exchange(fake, code, verifier);
    expect(again.status).toBe(400);
    expect(again.data).toEqual({ error: 'invalid_grant', error_description: 'authorization code has already been used' });
    expect(fake.accessTokenStatus(first.data.access_token)).toBe('revoked');
    expect((await refresh(fake, first.data.refresh_token)).data.error).toBe('invalid_grant');
  });

  it('when the code is older than codeTtlSeconds, then invalid_grant "expired"', async () => {
    const { code, verifier } = await codeWithPkce(fake);
    fake.advanceTime(61_000);
    const res = await exchange(fake, code, verifier);
    expect(res.status).toBe(400);
    expect(res.data).toEqual({ error: 'invalid_grant', error_description: 'authorization code expired' });
  });

  it('when redirect_uri differs at the token endpoint, then invalid_grant; when it is left out, invalid_request', async () => {
    const a = await codeWithPkce(fake);
    const other = await exchange(fake, a.code, a.verifier, { redirect_uri: OTHER_REDIRECT });
    expect(other.status).toBe(400);
    expect(other.data.error).toBe('invalid_grant');
    expect(other.data.error_description).toMatch(/redirect_uri/);

    const b = await codeWithPkce(fake);
    const none = await postToken(fake, { grant_type: 'authorization_code', code: b.code, code_verifier: b.verifier });
    expect(none.status).toBe(400);
    expect(none.data.error).toBe('invalid_request');
  });

  it('when the client is unknown or the redirect URI unregistered, then 400 (JSON or HTML) and no redirect', async () => {
    const unknown = await authorize(fake, { client_id: 'nobody', redirect_uri: REDIRECT, state: 's' });
    expect(unknown.res.status).toBe(400);
    expect(unknown.res.headers.location).toBeUndefined();
    expect(unknown.res.data).toEqual({ error: 'invalid_client', error_description: 'unknown client_id: nobody' });

    const badRedirect = await authorize(fake, { client_id: CLIENT_ID, redirect_uri: 'https://evil.example/cb', state: 's' });
    expect(badRedirect.res.status).toBe(400);
    expect(badRedirect.res.headers.location).toBeUndefined();
    expect(badRedirect.res.data.error).toBe('invalid_request');

    const prefix = await authorize(fake, { client_id: CLIENT_ID, redirect_uri: `${REDIRECT}/extra` }, { Accept: 'text/html' });
    expect(prefix.res.status).toBe(400);
    expect(prefix.res.headers['content-type']).toMatch(/^text\/html/);
    expect(prefix.res.data).toContain('redirect_uri is not registered');
    expect(prefix.res.headers.location).toBeUndefined();
    expect(fake.authorizations).toHaveLength(0);
  });

  it('when the user denies consent, then the redirect carries error=access_denied and state, and no code', async () => {
    fake.denyNext();
    const denied = await authorize(fake, { client_id: CLIENT_ID, redirect_uri: REDIRECT, state: 'abc', scope: 'contacts.read' });
    expect(denied.res.status).toBe(302);
    expect(denied.query).toEqual({ error: 'access_denied', error_description: expect.any(String), state: 'abc' });
    const next = await authorize(fake, { client_id: CLIENT_ID, redirect_uri: REDIRECT, state: 'abc' });
    expect(next.query.code).toEqual(expect.any(String));
  });

  it('when the request is malformed but the redirect URI is good, then the error goes to the redirect URI', async () => {
    const type = await authorize(fake, { client_id: CLIENT_ID, redirect_uri: REDIRECT, response_type: 'token', state: 'q' });
    expect(type.query).toMatchObject({ error: 'unsupported_response_type', state: 'q' });
    const plain = await authorize(fake, {
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT,
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    expect(plain.query.error).toBe('invalid_request');
    const implicitPlain = await authorize(fake, { client_id: CLIENT_ID, redirect_uri: REDIRECT, code_challenge: 'a'.repeat(43) });
    expect(implicitPlain.query.error).toBe('invalid_request');
    const short = await authorize(fake, {
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT,
      code_challenge: 'abc',
      code_challenge_method: 'S256',
    });
    expect(short.query.error).toBe('invalid_request');
  });

  it('when plain PKCE is allowed, then the verifier must equal the challenge', async () => {
    const f = await startFake({ allowPlainPkce: true });
    try {
      const verifier = 'v'.repeat(50);
      const { query } = await authorize(f, {
        client_id: CLIENT_ID,
        redirect_uri: REDIRECT,
        code_challenge: verifier,
        code_challenge_method: 'plain',
      });
      expect((await exchange(f, query.code, verifier)).status).toBe(200);
    } finally {
      await f.stop();
    }
  });

  it('when requirePkce is on, then an authorization request without code_challenge is refused; pkceChallenge follows RFC 7636 appendix B', async () => {
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const f = await startFake({ requirePkce: true });
    try {
      const { query } = await authorize(f, { client_id: CLIENT_ID, redirect_uri: REDIRECT });
      expect(query).toMatchObject({ error: 'invalid_request', error_description: 'code challenge required' });
    } finally {
      await f.stop();
    }
  });
});

describe('FakeOAuth: refresh token grant', () => {
  it('when rotation is off, then a refresh answers a new access token and no refresh_token; the old refresh token keeps working', async () => {
    const fake = await startFake({ expiresIn: 2 });
    try {
      const { code, verifier } = await codeWithPkce(fake);
      const first = (await exchange(fake, code, verifier)).data;
      expect(first.expires_in).toBe(2);
      fake.advanceTime(2_500);
      expect(fake.accessTokenStatus(first.access_token)).toBe('expired');

      const r1 = await refresh(fake, first.refresh_token);
      expect(r1.status).toBe(200);
      expect(r1.data).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 2,
        scope: 'contacts.read contacts.write',
      });
      expect(r1.data.access_token).not.toBe(first.access_token);
      expect(fake.isValidAccessToken(r1.data.access_token)).toBe(true);
      const r2 = await refresh(fake, first.refresh_token);
      expect(r2.status).toBe(200);
      expect(fake.refreshCalls).toBe(2);
      expect(fake.tokenCalls).toBe(3);
    } finally {
      await fake.stop();
    }
  });

  it('when rotation is on, then each refresh answers a new refresh token and the rotated-out one is invalid_grant', async () => {
    const fake = await startFake({ rotateRefreshTokens: true });
    try {
      const { code, verifier } = await codeWithPkce(fake);
      const first = (await exchange(fake, code, verifier)).data;
      const r1 = await refresh(fake, first.refresh_token);
      expect(r1.status).toBe(200);
      expect(r1.data.refresh_token).toEqual(expect.any(String));
      expect(r1.data.refresh_token).not.toBe(first.refresh_token);
      expect(fake.refreshTokens.get(first.refresh_token)).toMatchObject({ revoked: true, rotatedTo: r1.data.refresh_token });

      const stale = await refresh(fake, first.refresh_token);
      expect(stale.status).toBe(400);
      expect(stale.data.error).toBe('invalid_grant');
      const r2 = await refresh(fake, r1.data.refresh_token);
      expect(r2.status).toBe(200);
    } finally {
      await fake.stop();
    }
  });

  it('when a refresh token is revoked, asks for more scope, or is unknown, then invalid_grant / invalid_scope', async () => {
    const fake = await startFake();
    try {
      const { code, verifier } = await codeWithPkce(fake);
      const first = (await exchange(fake, code, verifier)).data;
      const narrower = await postToken(fake, { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'contacts.read' });
      expect(narrower.data.scope).toBe('contacts.read');
      const wider = await postToken(fake, {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
        scope: 'contacts.read admin',
      });
      expect(wider.data.error).toBe('invalid_scope');
      fake.revokeRefreshToken(first.refresh_token);
      expect((await refresh(fake, first.refresh_token)).data.error).toBe('invalid_grant');
      expect((await refresh(fake, 'never-issued')).data.error).toBe('invalid_grant');
    } finally {
      await fake.stop();
    }
  });
});

describe('FakeOAuth: client authentication and errors', () => {
  let fake: FakeOAuth;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(() => fake.stop());

  it('when the client authenticates with HTTP Basic or in the body, then both work; both at once is invalid_request', async () => {
    const a = await codeWithPkce(fake);
    const basic = await exchange(fake, a.code, a.verifier, {}, 'basic');
    expect(basic.status).toBe(200);
    expect(fake.requests.at(-1)!.clientAuth).toBe('basic');

    const b = await codeWithPkce(fake);
    expect((await exchange(fake, b.code, b.verifier, {}, 'body')).status).toBe(200);

    const c = await codeWithPkce(fake);
    const both = await http.post(
      fake.tokenUrl,
      new URLSearchParams({
        grant_type: 'authorization_code',
        code: c.code,
        redirect_uri: REDIRECT,
        code_verifier: c.verifier,
        client_secret: SECRET,
      }),
      { headers: { Authorization: basicAuthHeader(CLIENT_ID, SECRET) } },
    );
    expect(both.status).toBe(400);
    expect(both.data.error).toBe('invalid_request');
  });

  it('when the secret is wrong or the client unknown, then 401 invalid_client with WWW-Authenticate', async () => {
    const { code, verifier } = await codeWithPkce(fake);
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    const wrongBasic = await http.post(fake.tokenUrl, new URLSearchParams(form), {
      headers: { Authorization: basicAuthHeader(CLIENT_ID, 'nope') },
    });
    expect(wrongBasic.status).toBe(401);
    expect(wrongBasic.data.error).toBe('invalid_client');
    expect(wrongBasic.headers['www-authenticate']).toMatch(/^Basic /);
    const wrongBody = await http.post(fake.tokenUrl, new URLSearchParams({ ...form, client_id: CLIENT_ID, client_secret: 'nope' }));
    expect(wrongBody.status).toBe(401);
    const unknown = await http.post(fake.tokenUrl, new URLSearchParams({ ...form, client_id: 'who', client_secret: SECRET }));
    expect(unknown.status).toBe(401);
    expect(unknown.data.error).toBe('invalid_client');
    const noAuth = await http.post(fake.tokenUrl, new URLSearchParams(form));
    expect(noAuth.status).toBe(401);
    // the code was never reached, so it still works
    expect((await exchange(fake, code, verifier)).status).toBe(200);
  });

  it('when the grant type is unknown, the body is JSON or a parameter repeats, then 5.2 errors', async () => {
    const unsupported = await postToken(fake, { grant_type: 'password', username: 'u', password: 'p' });
    expect(unsupported.status).toBe(400);
    expect(unsupported.data.error).toBe('unsupported_grant_type');
    expect(JSON.stringify(fake.requests.at(-1))).not.toContain('"p"');
    const json = await http.post(fake.tokenUrl, {
      grant_type: 'refresh_token',
      refresh_token: 'x',
      client_id: CLIENT_ID,
      client_secret: SECRET,
    });
    expect(json.status).toBe(400);
    expect(json.data.error).toBe('invalid_request');
    const repeated = await http.post(fake.tokenUrl, 'grant_type=refresh_token&grant_type=refresh_token&refresh_token=x', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuthHeader(CLIENT_ID, SECRET) },
    });
    expect(repeated.data.error).toBe('invalid_request');
    const noGrant = await postToken(fake, {});
    expect(noGrant.data.error).toBe('invalid_request');
  });

  it('when failNextToken(2) is set, then two 500 server_error answers, then success; counters count every attempt', async () => {
    const { code, verifier } = await codeWithPkce(fake);
    fake.failNextToken(2);
    for (let i = 0; i < 2; i++) {
      const res = await exchange(fake, code, verifier);
      expect(res.status).toBe(500);
      expect(res.data.error).toBe('server_error');
    }
    const ok = await exchange(fake, code, verifier);
    expect(ok.status).toBe(200);
    expect(fake.tokenCalls).toBe(3);
    expect(fake.codeExchanges).toBe(3);

    fake.failNextToken(1, 503);
    expect((await refresh(fake, ok.data.refresh_token)).data.error).toBe('temporarily_unavailable');
  });

  it('when invalidGrantNext() is set, then one invalid_grant without using the refresh token up', async () => {
    const { code, verifier } = await codeWithPkce(fake);
    const tokens = (await exchange(fake, code, verifier)).data;
    fake.invalidGrantNext();
    const res = await refresh(fake, tokens.refresh_token);
    expect(res.status).toBe(400);
    expect(res.data.error).toBe('invalid_grant');
    expect((await refresh(fake, tokens.refresh_token)).status).toBe(200);
  });

  it('when slowDown(ms) is set, then answers wait; revoke (RFC 7009) kills the refresh token and its access tokens', async () => {
    fake.slowDown(150);
    const t0 = Date.now();
    const { code, verifier } = await codeWithPkce(fake);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    fake.slowDown(0);
    const tokens = (await exchange(fake, code, verifier)).data;
    const revoked = await http.post(fake.revokeUrl, new URLSearchParams({ token: tokens.refresh_token }), {
      headers: { Authorization: basicAuthHeader(CLIENT_ID, SECRET) },
    });
    expect(revoked.status).toBe(200);
    expect(fake.isValidAccessToken(tokens.access_token)).toBe(false);
    expect((await refresh(fake, tokens.refresh_token)).data.error).toBe('invalid_grant');
    const unknownToken = await http.post(fake.revokeUrl, new URLSearchParams({ token: 'nothing' }), {
      headers: { Authorization: basicAuthHeader(CLIENT_ID, SECRET) },
    });
    expect(unknownToken.status).toBe(200);
  });
});

describe('FakeOAuth: provider flavours', () => {
  async function flow(fake: FakeOAuth, extra: Record<string, string> = {}, tokenExtra: Record<string, string> = {}, path = '/token') {
    const { code, verifier } = await codeWithPkce(fake, extra);
    return postToken(
      fake,
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, ...tokenExtra },
      'body',
      path,
    );
  }

  it('salesforce: no expires_in; instance_url, id, issued_at and a signature that verifies; the provider path works too', async () => {
    const fake = await startFake({ flavor: 'salesforce', instanceUrl: 'https://acme.my.salesforce.com' });
    try {
      const res = await flow(fake, {}, {}, '/services/oauth2/token');
      expect(res.status).toBe(200);
      expect(res.data).not.toHaveProperty('expires_in');
      expect(res.data).toMatchObject({
        token_type: 'Bearer',
        instance_url: 'https://acme.my.salesforce.com',
        id: expect.stringMatching(/\/id\/00D\w{15}\/005\w{15}$/),
        issued_at: expect.stringMatching(/^\d{13}$/),
        refresh_token: expect.any(String),
      });
      expect(res.data.signature).toBe(salesforceSignature(res.data.id, res.data.issued_at, SECRET));
      const r = await refresh(fake, res.data.refresh_token);
      expect(r.data).not.toHaveProperty('refresh_token');
      expect(r.data).not.toHaveProperty('expires_in');
      expect(r.data.instance_url).toBe('https://acme.my.salesforce.com');
    } finally {
      await fake.stop();
    }
  });

  it('zoho: api_domain; refresh token only with access_type=offline; errors are HTTP 200 with Zoho names', async () => {
    const fake = await startFake({ flavor: 'zoho' });
    try {
      const online = await flow(fake);
      expect(online.data).toMatchObject({ api_domain: fake.url, expires_in: 3600, token_type: 'Bearer' });
      expect(online.data).not.toHaveProperty('refresh_token');
      const offline = await flow(fake, { access_type: 'offline', prompt: 'consent' });
      expect(offline.data.refresh_token).toMatch(/^1000\./);
      const bad = await refresh(fake, 'nope');
      expect(bad.status).toBe(200);
      expect(bad.data).toEqual({ error: 'invalid_code' });
      const badSecret = await http.post(
        fake.tokenUrl,
        new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: CLIENT_ID, client_secret: 'no' }),
      );
      expect(badSecret.data).toEqual({ error: 'invalid_client_secret' });
    } finally {
      await fake.stop();
    }
  });

  it('gohighlevel: userType Location with locationId and companyId; refresh tokens rotate by default', async () => {
    const fake = await startFake({ flavor: 'gohighlevel' });
    try {
      const res = await flow(fake, {}, { user_type: 'Location' });
      expect(res.data).toMatchObject({
        token_type: 'Bearer',
        expires_in: 86399,
        userType: 'Location',
        locationId: fake.identity.locationId,
        companyId: fake.identity.companyId,
        userId: expect.any(String),
      });
      const r = await refresh(fake, res.data.refresh_token);
      expect(r.data.refresh_token).not.toBe(res.data.refresh_token);
      expect((await refresh(fake, res.data.refresh_token)).data.error).toBe('invalid_grant');
    } finally {
      await fake.stop();
    }
  });

  it('hubspot, stripe, dropbox, google: the fields and quirks each adds', async () => {
    const hubspot = await startFake({ flavor: 'hubspot' });
    const stripe = await startFake({ flavor: 'stripe', tokenFields: { stripe_user_id: 'acct_123' } });
    const dropbox = await startFake({ flavor: 'dropbox' });
    const google = await startFake({ flavor: 'google' });
    try {
      const hs = await flow(hubspot);
      expect(hs.data).toMatchObject({ token_type: 'bearer', expires_in: 1800, refresh_token: expect.any(String) });
      expect((await refresh(hubspot, hs.data.refresh_token)).data.refresh_token).toBe(hs.data.refresh_token);

      const st = await flow(stripe);
      expect(st.data).toMatchObject({
        token_type: 'bearer',
        stripe_user_id: 'acct_123',
        livemode: false,
        stripe_publishable_key: expect.any(String),
      });
      expect(st.data).not.toHaveProperty('expires_in');
      expect(stripe.accessTokens.get(st.data.access_token)!.expiresAt).toBeNull();

      expect((await flow(dropbox)).data).not.toHaveProperty('refresh_token');
      const db = await flow(dropbox, { token_access_type: 'offline' });
      expect(db.data).toMatchObject({
        token_type: 'bearer',
        expires_in: 14400,
        account_id: expect.stringMatching(/^dbid:/),
        uid: expect.any(String),
      });
      expect(db.data.refresh_token).toEqual(expect.any(String));

      expect((await flow(google)).data).not.toHaveProperty('refresh_token');
      const go = await flow(google, { access_type: 'offline', prompt: 'consent' });
      expect(go.data).toMatchObject({ expires_in: 3599, refresh_token: expect.any(String) });
      expect((await refresh(google, go.data.refresh_token)).data).not.toHaveProperty('refresh_token');
    } finally {
      await Promise.all([hubspot.stop(), stripe.stop(), dropbox.stop(), google.stop()]);
    }
  });
});
