import { FakeHubSpot } from '../../fake-crm/hubspot/fake-hubspot';
import { FakeOAuth } from '../../fake-crm/oauth/fake-oauth';
import { createOrganization, createOrganizationKey } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * OAuth 2 connect and token refresh, through HTTP, with a fake authorization server (RFC 6749,
 * RFC 7636) and a fake HubSpot that accepts the tokens it issues.
 */
const BASE = 'https://crm.example.test';
const CALLBACK = `${BASE}/api/integrations/oauth/hubspot/callback`;
const RETURN = 'https://app.example.test/integrations/done';

describe('OAuth connect (HubSpot against a fake authorization server)', () => {
  let ctx: TestContext;
  let auth: FakeOAuth;
  let hub: FakeHubSpot;
  let orgId: number;
  let key: string;

  beforeAll(async () => {
    auth = await new FakeOAuth({ flavor: 'hubspot', expiresIn: 1800, rotateRefreshTokens: true }).start();
    auth.addClient({ clientId: 'hub-client', clientSecret: 'hub-client-secret', redirectUris: [CALLBACK] });
    hub = await new FakeHubSpot({ contacts: 3, acceptToken: (t) => auth.isValidAccessToken(t) }).start();
    ctx = await createTestContext({
      PUBLIC_BASE_URL: BASE,
      OAUTH_ALLOWED_RETURN_URLS: RETURN,
      OAUTH_HUBSPOT_CLIENT_ID: 'hub-client',
      OAUTH_HUBSPOT_CLIENT_SECRET: 'hub-client-secret',
      OAUTH_HUBSPOT_AUTHORIZE_URL: auth.authorizeUrl,
      OAUTH_HUBSPOT_TOKEN_URL: auth.tokenUrl,
    });
    const org = await createOrganization(ctx);
    orgId = org.id;
    key = await createOrganizationKey(ctx, orgId);
    // The integration exists with its API address (the fake's); OAuth brings the tokens.
    const made = await ctx.http
      .post('/api/integrations')
      .set('x-api-key', key)
      .send({ provider: 'hubspot', name: 'HubSpot', config: { accessToken: 'pasted-token-0000', baseUrl: hub.url } });
    expect(made.status).toBe(201);
  });
  afterAll(async () => {
    await ctx.close();
    await auth.stop();
    await hub.stop();
  });

  /** What a person's browser does: opens the consent URL and follows the redirect back. */
  async function consent(url: string): Promise<{ code: string | null; state: string | null; error: string | null }> {
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location') as string);
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK);
    return { code: back.searchParams.get('code'), state: back.searchParams.get('state'), error: back.searchParams.get('error') };
  }
  const callback = (q: Record<string, string>) => ctx.http.get('/api/integrations/oauth/hubspot/callback').query(q);
  const start = async (query: Record<string, string> = {}) => {
    const res = await ctx.http.post('/api/integrations/oauth/hubspot/authorize').query(query).set('x-api-key', key);
    expect(res.status).toBe(200);
    return res.body.data as { url: string; state: string; expiresAt: string };
  };

  it('when a person consents, then the code is exchanged, the integration takes the token, tests it, and no token is shown or stored in clear', async () => {
    const redirect = await ctx.http.get('/api/integrations/oauth/hubspot/authorize').set('x-api-key', key);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toMatch(new RegExp(`^${auth.authorizeUrl}\\?`));
    const { url, state } = await start();
    const sent = new URL(url);
    expect(sent.searchParams.get('redirect_uri')).toBe(CALLBACK);
    expect(sent.searchParams.get('state')).toBe(state);
    expect(sent.searchParams.get('scope')).toContain('crm.objects.contacts.read');

    const back = await consent(url);
    const res = await callback({ code: back.code as string, state: back.state as string });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'active', created: false, test: { success: true } });
    const issued = auth.lastAccessToken;
    expect(issued).toBeDefined();
    const shown = JSON.stringify((await ctx.http.get(`/api/integrations/${res.body.data.integrationId}`).set('x-api-key', key)).body);
    expect(shown).not.toContain(issued?.token);
    const stored = JSON.stringify(
      await ctx.sql('SELECT i.config, i.secrets, t.refresh_token FROM integrations i JOIN integration_tokens t ON t.integration_id = i.id'),
    );
    expect(stored).not.toContain(issued?.token);
    expect(stored).not.toContain(issued?.refreshToken ?? 'no-refresh-token');
    expect(await ctx.sql('SELECT state_hash FROM oauth_states')).not.toContainEqual({ state_hash: state });
  });

  it('when the state is reused, unknown or expired, or consent is denied, then 400 and nothing changes', async () => {
    const { url } = await start();
    const back = await consent(url);
    expect((await callback({ code: back.code as string, state: back.state as string })).status).toBe(200);
    const reused = await callback({ code: back.code as string, state: back.state as string });
    expect(reused.status).toBe(400);
    expect(reused.body.code).toBe('state_used');
    expect((await callback({ code: 'x', state: 'never-issued' })).body.code).toBe('state_unknown');

    const late = await start();
    await ctx.sql("UPDATE oauth_states SET expires_at = now() - interval '1 second'");
    const lateBack = await consent(late.url);
    expect((await callback({ code: lateBack.code as string, state: lateBack.state as string })).body.code).toBe('state_expired');

    auth.denyNext();
    const denied = await start();
    const deniedBack = await consent(denied.url);
    expect(deniedBack.error).toBe('access_denied');
    const res = await callback({ error: 'access_denied', state: deniedBack.state as string });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('authorization_denied');
    expect(await ctx.sql('SELECT count(*)::int AS n FROM integrations WHERE organization_id = $1', [orgId])).toEqual([{ n: 1 }]);
  });

  it('when returnTo is allowed, then the callback redirects there with the integration; another returnTo is refused', async () => {
    const refused = await ctx.http
      .post('/api/integrations/oauth/hubspot/authorize')
      .query({ returnTo: 'https://evil.example/x' })
      .set('x-api-key', key);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('return_to_not_allowed');
    const { url } = await start({ returnTo: RETURN });
    const back = await consent(url);
    const res = await callback({ code: back.code as string, state: back.state as string });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.location);
    expect(`${to.origin}${to.pathname}`).toBe(RETURN);
    expect(to.searchParams.get('status')).toBe('active');
  });

  it('when consent is denied after a returnTo was given, then the person goes back there with the reason, and nothing is made', async () => {
    auth.denyNext();
    const { url } = await start({ returnTo: RETURN });
    const back = await consent(url);
    const res = await callback({ error: 'access_denied', error_description: 'The user said no', state: back.state as string });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.location);
    expect(`${to.origin}${to.pathname}`).toBe(RETURN);
    expect(to.searchParams.get('error')).toBe('authorization_denied');
    expect(to.searchParams.get('error_description')).toContain('access_denied (The user said no)');
    expect(to.searchParams.get('integrationId')).toBeNull();
    expect(await ctx.sql('SELECT count(*)::int AS n FROM integrations WHERE organization_id = $1', [orgId])).toEqual([{ n: 1 }]);
    // An unknown state has no destination we checked: JSON, never a redirect.
    const unknown = await callback({ error: 'access_denied', state: 'never-issued' });
    expect(unknown.status).toBe(400);
  });

  it("when returnTo is the service's own console, then it is allowed without being listed; another path of the service is not", async () => {
    const ok = await ctx.http
      .post('/api/integrations/oauth/hubspot/authorize')
      .query({ returnTo: `${BASE}/console/#/integrations` })
      .set('x-api-key', key);
    expect(ok.status).toBe(200);
    const other = await ctx.http
      .post('/api/integrations/oauth/hubspot/authorize')
      .query({ returnTo: `${BASE}/api/users` })
      .set('x-api-key', key);
    expect(other.status).toBe(400);
    expect(other.body.code).toBe('return_to_not_allowed');
  });

  it('when a provider has no client id configured, then 409 naming the variables', async () => {
    const res = await ctx.http.post('/api/integrations/oauth/gohighlevel/authorize').set('x-api-key', key);
    expect(res.status).toBe(409);
    expect(res.body.error).toContain('OAUTH_GOHIGHLEVEL_CLIENT_ID');
  });

  it('when 20 calls need an expired token on two instances at once, then the provider sees exactly one refresh, and rotation is kept', async () => {
    const [row] = await ctx.sql<{ id: number }>("SELECT id FROM integrations WHERE organization_id = $1 AND provider = 'hubspot'", [orgId]);
    await ctx.sql("UPDATE integration_tokens SET expires_at = now() - interval '1 minute' WHERE integration_id = $1", [row.id]);
    const second = await createTestContext({
      DATABASE_URL: ctx.databaseUrl,
      OAUTH_HUBSPOT_CLIENT_ID: 'hub-client',
      OAUTH_HUBSPOT_CLIENT_SECRET: 'hub-client-secret',
      OAUTH_HUBSPOT_TOKEN_URL: auth.tokenUrl,
    });
    try {
      const before = auth.refreshCalls;
      const apps = [ctx, second];
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => apps[i % 2].http.post(`/api/integrations/${row.id}/test`).set('x-api-key', ADMIN_KEY)),
      );
      expect(results.map((r) => r.body.success)).toEqual(Array(20).fill(true));
      expect(auth.refreshCalls - before).toBe(1);
      const [t] = await ctx.sql<{ fresh: boolean }>(
        "SELECT expires_at > now() + interval '10 minutes' AS fresh FROM integration_tokens WHERE integration_id = $1",
        [row.id],
      );
      expect(t.fresh).toBe(true);
      // The rotated refresh token was kept: the next refresh works.
      await ctx.sql("UPDATE integration_tokens SET expires_at = now() - interval '1 minute' WHERE integration_id = $1", [row.id]);
      expect((await ctx.http.post(`/api/integrations/${row.id}/test`).set('x-api-key', ADMIN_KEY)).body.success).toBe(true);
      expect(auth.refreshCalls - before).toBe(2);
    } finally {
      await second.close();
    }
  });

  it('when the CRM refuses a token we still think valid (401), then it is refreshed once and the call retried; a pasted token is not', async () => {
    const [row] = await ctx.sql<{ id: number }>("SELECT id FROM integrations WHERE organization_id = $1 AND provider = 'hubspot'", [orgId]);
    const current = auth.lastAccessToken?.token as string;
    auth.expireAccessToken(current);
    const before = auth.refreshCalls;
    const tested = await ctx.http.post(`/api/integrations/${row.id}/test`).set('x-api-key', ADMIN_KEY);
    expect(tested.body.success).toBe(true);
    expect(auth.refreshCalls - before).toBe(1);
    expect(auth.lastAccessToken?.token).not.toBe(current);

    // An integration with a pasted token (no OAuth tokens) gets its 401 as it is.
    const other = await createOrganization(ctx);
    const pasted = await ctx.http
      .post('/api/integrations')
      .set('x-api-key', ADMIN_KEY)
      .send({
        organizationId: other.id,
        provider: 'hubspot',
        name: 'pasted',
        config: { accessToken: 'pasted-but-wrong-1', baseUrl: hub.url },
      });
    const refused = await ctx.http.post(`/api/integrations/${pasted.body.data.id}/test`).set('x-api-key', ADMIN_KEY);
    expect(refused.body.success).toBe(false);
    expect(refused.body.message).toContain('Authentication failed');
    expect(auth.refreshCalls - before).toBe(1);
  });

  it('when a connection has been idle past OAUTH_IDLE_DAYS, then the keep-alive job refreshes it; a refused one is listed in /api/sync/jobs', async () => {
    const [row] = await ctx.sql<{ id: number }>("SELECT id FROM integrations WHERE organization_id = $1 AND provider = 'hubspot'", [orgId]);
    await ctx.sql("UPDATE integration_tokens SET last_refreshed_at = now() - interval '40 days'");
    const before = auth.refreshCalls;
    expect(await ctx.services.keepAlive.run()).toEqual({ checked: 1, refreshed: 1, failed: 0 });
    expect(auth.refreshCalls - before).toBe(1);
    // Fresh now: a second pass has nothing to do.
    expect(await ctx.services.keepAlive.run()).toEqual({ checked: 0, refreshed: 0, failed: 0 });

    await ctx.sql("UPDATE integration_tokens SET last_refreshed_at = now() - interval '40 days'");
    auth.failNextToken(1, 503);
    expect(await ctx.services.keepAlive.run()).toEqual({ checked: 1, refreshed: 0, failed: 1 });
    const listed = (await ctx.http.get('/api/sync/jobs').set('x-api-key', key)).body.data.find(
      (j: { name: string }) => j.name === 'oauth-keepalive',
    );
    expect(listed.failures).toEqual([
      expect.objectContaining({ integrationId: row.id, provider: 'hubspot', error: expect.stringContaining('503') }),
    ]);
    // Another organization's key does not see it.
    const otherKey = await createOrganizationKey(ctx, (await createOrganization(ctx)).id);
    const theirs = (await ctx.http.get('/api/sync/jobs').set('x-api-key', otherKey)).body.data.find(
      (j: { name: string }) => j.name === 'oauth-keepalive',
    );
    expect(theirs.failures).toEqual([]);
  });

  it('when the token endpoint answers in shapes other than RFC 6749’s, then only a dead grant asks the organization to connect again', async () => {
    const [row] = await ctx.sql<{ id: number }>("SELECT id FROM integrations WHERE organization_id = $1 AND provider = 'hubspot'", [orgId]);
    const state = async () =>
      (
        await ctx.sql<{ status: string; error_message: string | null }>('SELECT status, error_message FROM integrations WHERE id = $1', [
          row.id,
        ])
      )[0];
    const refresh = () => ctx.services.oauth.ensureFresh(row.id, { force: true }).catch((e: unknown) => e as Error & { code?: string });
    // Not the grant: a throttle, a server busy, Zoho's throttling as a 200, the client refused (both ways).
    const passing: [number, string | Record<string, unknown>][] = [
      [429, { error: 'rate_limit_exceeded' }],
      [400, { error: 'temporarily_unavailable' }],
      [
        200,
        { error: 'Access Denied', error_description: 'You have made too many requests continuously. Please try again after some time.' },
      ],
    ];
    for (const [status, body] of passing) {
      auth.answerNextToken(status, body);
      const err = (await refresh()) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toContain(`token endpoint answered ${status}`);
      expect(await state()).toEqual({ status: 'active', error_message: null });
    }
    auth.answerNextToken(401, '<html><body>Forbidden</body></html>');
    auth.answerNextToken(401, '<html><body>Forbidden</body></html>');
    expect(await refresh()).toMatchObject({ code: 'token_refresh_refused' });
    expect(await state()).toEqual({ status: 'active', error_message: null });

    // HubSpot's own refusal of a dead refresh token has no `error`: it is the grant.
    auth.answerNextToken(400, { status: 'BAD_REFRESH_TOKEN', message: 'missing or invalid refresh token' });
    expect(await refresh()).toMatchObject({ code: 'reauthorization_required' });
    expect((await state()).error_message).toBe(
      'The hubspot authorization was refused on refresh (BAD_REFRESH_TOKEN); the organization must connect again',
    );
    await ctx.sql("UPDATE integrations SET status = 'active', error_message = NULL WHERE id = $1", [row.id]);
  });

  it('when tokens have no expiry (Salesforce’s) and five calls refresh at once after a 401, then the provider sees one refresh', async () => {
    const [row] = await ctx.sql<{ id: number }>("SELECT id FROM integrations WHERE organization_id = $1 AND provider = 'hubspot'", [orgId]);
    await ctx.sql('UPDATE integration_tokens SET expires_at = NULL WHERE integration_id = $1', [row.id]);
    // Salesforce's answer: no expires_in, so the expiry cannot tell a waiter that someone refreshed.
    auth.answerNextToken(200, { access_token: 'no-expiry-token', token_type: 'Bearer' });
    const before = auth.refreshCalls;
    const tokens = await Promise.all(Array.from({ length: 5 }, () => ctx.services.oauth.refreshNow(row.id)));
    expect(auth.refreshCalls - before).toBe(1);
    expect(tokens).toEqual(Array<string>(5).fill('no-expiry-token'));
  });

  it('when a connection is made again and the new grant has no refresh token, then the old grant’s is not kept; a refresh answer without scope keeps the scope', async () => {
    const [row] = await ctx.sql<{ id: number }>("SELECT id FROM integrations WHERE organization_id = $1 AND provider = 'hubspot'", [orgId]);
    await auth.clearFaults();
    const before = await ctx.sql<{ scope: string | null }>('SELECT scope FROM integration_tokens WHERE integration_id = $1', [row.id]);
    expect(before[0].scope).toEqual(expect.any(String));
    auth.answerNextToken(200, { access_token: 'refreshed-without-scope', token_type: 'bearer', expires_in: 1800 });
    await ctx.services.oauth.ensureFresh(row.id, { force: true });
    expect(await ctx.sql('SELECT scope FROM integration_tokens WHERE integration_id = $1', [row.id])).toEqual(before);

    const { url } = await start();
    const { code, state } = await consent(url);
    auth.answerNextToken(200, { access_token: 'new-grant-token', token_type: 'bearer', expires_in: 1800 });
    await callback({ code: code as string, state: state as string });
    const [tokens] = await ctx.sql<{ refresh_token: unknown }>('SELECT refresh_token FROM integration_tokens WHERE integration_id = $1', [
      row.id,
    ]);
    expect(tokens.refresh_token).toBeNull();
    await ctx.sql("UPDATE integrations SET status = 'active', error_message = NULL WHERE id = $1", [row.id]);
  });

  it('when the refresh token is refused (invalid_grant), then the integration is in error, says to connect again, and an event is written', async () => {
    const [row] = await ctx.sql<{ id: number }>("SELECT id FROM integrations WHERE organization_id = $1 AND provider = 'hubspot'", [orgId]);
    await ctx.sql("UPDATE integration_tokens SET expires_at = now() - interval '1 minute' WHERE integration_id = $1", [row.id]);
    const sub = await ctx.http
      .post('/api/webhook-subscriptions')
      .set('x-api-key', ADMIN_KEY)
      .send({ organizationId: orgId, url: 'http://127.0.0.1:9/hook', events: ['integration.status_changed'] });
    expect(sub.status).toBe(201);
    auth.invalidGrantNext();
    const tested = await ctx.http.post(`/api/integrations/${row.id}/test`).set('x-api-key', ADMIN_KEY);
    expect(tested.body.success).toBe(false);
    const got = (await ctx.http.get(`/api/integrations/${row.id}`).set('x-api-key', ADMIN_KEY)).body.data;
    expect(got.status).toBe('error');
    expect(got.errorMessage).toContain('must connect again');
    const events = await ctx.sql<{ data: { to: string } }>(
      "SELECT data FROM webhook_events WHERE organization_id = $1 AND type = 'integration.status_changed' ORDER BY created_at",
      [orgId],
    );
    expect(events.map((e) => e.data.to)).toContain('error');
  });
});
