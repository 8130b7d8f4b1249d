import { FakeOAuth } from '../../fake-crm/oauth/fake-oauth';
import { FakeSalesforce } from '../../fake-crm/salesforce/fake-salesforce';
import { createOrganization, createOrganizationKey } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * Salesforce end to end, over HTTP against the fake Salesforce: the template, creating and
 * testing an integration, full and incremental syncs (changes and deletions), and a run that
 * stops at the org's API budget and is resumed by the next one. The crash-and-resume case runs
 * for every kit in resume.int.test.ts.
 */
let fake: FakeSalesforce;
let ctx: TestContext;
let orgId: number;
let id: number;

const admin = {
  get: (path: string) => ctx.http.get(path).set('x-api-key', ADMIN_KEY),
  post: (path: string, body?: object) => ctx.http.post(path).set('x-api-key', ADMIN_KEY).send(body),
};
const sync = (integrationId: number, mode: 'full' | 'incremental') =>
  admin.post(`/api/integrations/${integrationId}/sync?mode=${mode}&wait=true`);

/** The user a Contact became (through its identity, or the tombstone once deleted). */
async function user(organizationId: number, externalId: string) {
  const rows = await ctx.sql<{ name: string; email: string | null; title: string | null; deleted_at: Date | null }>(
    `SELECT u.name, u.email, u.title, u.deleted_at FROM users u
     WHERE u.id = COALESCE(
       (SELECT user_id FROM user_identities WHERE organization_id = $1 AND provider = 'salesforce' AND external_id = $2),
       (SELECT user_id FROM tombstones WHERE organization_id = $1 AND provider = 'salesforce' AND external_id = $2))`,
    [organizationId, externalId],
  );
  return rows[0];
}
const linked = async (organizationId: number) =>
  (
    await ctx.sql<{ external_id: string }>(
      `SELECT external_id FROM user_identities WHERE organization_id = $1 AND provider = 'salesforce' ORDER BY external_id`,
      [organizationId],
    )
  ).map((r) => r.external_id);
const live = () => [...fake.contacts.keys()].sort();

beforeAll(async () => {
  fake = await new FakeSalesforce({ contacts: 450, seed: 21 }).start();
  // Deletions are listed in whole minutes: the overlap lets an incremental run's window reach
  // a deletion made minutes before it, as the default overlap does in production.
  // A daily quota seen at its reserve holds 2 s here (an hour by default) before a call looks again.
  ctx = await createTestContext({ SYNC_OVERLAP_SECONDS: '600', CRM_BUDGET_RECHECK_SECONDS: '2' });
});
afterAll(async () => {
  await ctx.close();
  await fake.stop();
});

describe('Salesforce integration through the API', () => {
  it('when templates are listed, then salesforce is built in, poll only, at the current API version', async () => {
    const templates = (await admin.get('/api/integration-templates')).body.data as { name: string }[];
    expect(templates.find((t) => t.name === 'salesforce')).toMatchObject({
      displayName: 'Salesforce',
      webhookUrl: null,
      apiVersion: 'v67.0',
    });
  });

  it('when the config is not valid, then 400 naming the field', async () => {
    orgId = (await createOrganization(ctx)).id;
    const cases: [Record<string, unknown>, string][] = [
      [{ instanceUrl: 'not a url', accessToken: fake.token }, 'body.config.instanceUrl'],
      [{ instanceUrl: 'https://yourorg.my.salesforce.com/services/data', accessToken: fake.token }, 'body.config.instanceUrl'],
      [{ instanceUrl: fake.url }, 'body.config.accessToken'],
      [{ instanceUrl: fake.url, accessToken: fake.token, apiVersion: '67' }, 'body.config.apiVersion'],
      [{ instanceUrl: fake.url, accessToken: fake.token, apiReservePercent: 95 }, 'body.config.apiReservePercent'],
      [{ instanceUrl: fake.url, accessToken: fake.token, sessionId: 'x' }, 'body.config.sessionId'],
    ];
    for (const [config, path] of cases) {
      const res = await admin.post('/api/integrations', { organizationId: orgId, provider: 'salesforce', name: 'Salesforce', config });
      expect(res.status).toBe(400);
      expect(res.body.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it('when the integration is created, then the token is masked and the defaults are filled in', async () => {
    const res = await admin.post('/api/integrations', {
      organizationId: orgId,
      provider: 'salesforce',
      name: 'Salesforce',
      config: { instanceUrl: fake.url, accessToken: fake.token, requestsPerSecond: 0 },
    });
    expect(res.status).toBe(201);
    id = res.body.data.id;
    expect(res.body.data.config).toMatchObject({ instanceUrl: fake.url, apiVersion: 'v67.0', apiReservePercent: 10 });
    expect(res.body.data.config.accessToken).not.toContain(fake.token);
  });

  it('when the connection is tested, then the org is named', async () => {
    const res = await admin.post(`/api/integrations/${id}/test`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      data: { account: `Salesforce org Fake Industries (${fake.orgId})`, details: { organizationId: fake.orgId } },
    });
    expect((await admin.get(`/api/integrations/${id}`)).body.data).toMatchObject({ status: 'active' });
  });

  it('when a full sync runs, then every Contact becomes a user, with its Account name kept', async () => {
    const res = await sync(id, 'full');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'succeeded', total: 450, created: 450, failed: 0 });
    expect(await linked(orgId)).toEqual(live());
    const c = [...fake.contacts.values()].find((x) => x.AccountId && x.FirstName && x.Email) as NonNullable<
      ReturnType<FakeSalesforce['contact']>
    >;
    expect(await user(orgId, c.Id)).toMatchObject({
      name: `${c.FirstName} ${c.LastName}`,
      email: c.Email,
      title: c.Title,
      deleted_at: null,
    });
    const [identity] = await ctx.sql<{ data: Record<string, unknown> }>(
      `SELECT data FROM user_identities WHERE organization_id = $1 AND provider = 'salesforce' AND external_id = $2`,
      [orgId, c.Id],
    );
    expect(identity.data).toMatchObject({ company: fake.accounts.get(c.AccountId as string)?.Name, accountId: c.AccountId });
  });

  it('when a Contact changes, then an incremental sync brings the change by LastModifiedDate', async () => {
    const [a] = live();
    fake.updateContact(a, { Title: 'Chief Incremental Officer', Email: 'Renamed.A@Example.com' });
    const before = fake.requests.length;
    const res = await sync(id, 'incremental');
    expect(res.body.data).toMatchObject({ status: 'succeeded', failed: 0 });
    expect(res.body.data.updated).toBeGreaterThanOrEqual(1);
    expect(await user(orgId, a)).toMatchObject({ title: 'Chief Incremental Officer', email: 'renamed.a@example.com' });
    const q = fake.requests.slice(before).find((r) => r.path === '/services/data/v67.0/query');
    expect(String(q?.query.q)).toMatch(/WHERE LastModifiedDate >= \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z ORDER BY LastModifiedDate, Id$/);
  });

  it('when Contacts are deleted in Salesforce, then an incremental sync reads the delete log and deletes their users', async () => {
    const [, b, c] = live();
    fake.deleteContact(b, new Date(Date.now() - 3 * 60_000));
    fake.deleteContact(c, new Date(Date.now() - 2 * 60_000));
    const res = await sync(id, 'incremental');
    expect(res.body.data).toMatchObject({ status: 'succeeded', deleted: 2 });
    expect(await linked(orgId)).toEqual(live());
    expect((await user(orgId, b)).deleted_at).not.toBeNull();
    expect(fake.requests.some((r) => r.path === '/services/data/v67.0/sobjects/Contact/deleted/')).toBe(true);
  });

  it('when a full sync runs after a deletion it did not hear of, then the Id IN check confirms it and the user is deleted', async () => {
    const [d] = live();
    fake.deleteContact(d);
    const res = await sync(id, 'full');
    expect(res.body.data).toMatchObject({ status: 'succeeded', deleted: 1 });
    expect(await linked(orgId)).toEqual(live());
  });
});

describe('Salesforce API budget: a run stops at the reserve and the next one resumes', () => {
  let budget: FakeSalesforce;
  let budgetOrg: number;
  let integration: number;
  beforeAll(async () => {
    budget = await new FakeSalesforce({ contacts: 450, seed: 22, dailyLimit: 1000 }).start();
    budgetOrg = (await createOrganization(ctx)).id;
    const res = await admin.post('/api/integrations', {
      organizationId: budgetOrg,
      provider: 'salesforce',
      name: 'Salesforce (tight budget)',
      config: { instanceUrl: budget.url, accessToken: budget.token, requestsPerSecond: 0, apiReservePercent: 10 },
    });
    integration = res.body.data.id;
    expect((await admin.post(`/api/integrations/${integration}/test`)).status).toBe(200);
  });
  afterAll(() => budget.stop());

  it('when the calls left fall to the reserve mid-sync, then the run ends partial, resumable; no call until the recheck; with the budget back, the next run resumes and succeeds', async () => {
    // 102 calls left: two pages (of 200) are read, then 100 left is the reserve (10% of 1,000).
    budget.setApiUsage(898);
    const first = await sync(integration, 'full');
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ status: 'partial', created: 400 });
    expect(budget.apiUsed).toBe(900);
    const stopped = (await admin.get(`/api/sync/runs/${first.body.data.runId}`)).body.data;
    expect(stopped).toMatchObject({ status: 'partial', details: { stopped: 'api_budget', apiUsage: { used: 900, limit: 1000 } } });
    expect(stopped.error).toMatch(/resumed from the checkpoint after /);
    expect((await admin.get(`/api/integrations/${integration}`)).body.data.status).toBe('active');

    // The budget is back at Salesforce, but nobody calls until the recheck time: the quota was
    // seen spent a moment ago (by any instance), and Salesforce does not say when it refills.
    budget.setApiUsage(0);
    const early = await sync(integration, 'full');
    expect(early.body.data).toMatchObject({ status: 'partial', created: 0 });
    expect(budget.apiUsed).toBe(0);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(stopped.details.resumeAfter) - Date.now()) + 50));

    const second = await sync(integration, 'full');
    expect(second.body.data).toMatchObject({ status: 'succeeded', created: 50 });
    const resumed = (await admin.get(`/api/sync/runs/${second.body.data.runId}`)).body.data;
    expect(resumed.details.resumedFromRunId).toBe(early.body.data.runId);
    const [counts] = await ctx.sql<{ n: number; distinct_ids: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT external_id)::int AS distinct_ids FROM user_identities WHERE organization_id = $1 AND provider = 'salesforce'`,
      [budgetOrg],
    );
    expect(counts).toEqual({ n: 450, distinct_ids: 450 });
  });
});

describe('Salesforce by OAuth (fake authorization server, Salesforce flavour)', () => {
  const BASE = 'https://crm.example.test';
  const CALLBACK = `${BASE}/api/integrations/oauth/salesforce/callback`;
  let octx: TestContext;
  let auth: FakeOAuth;
  let org: FakeSalesforce;
  let key: string;
  beforeAll(async () => {
    auth = await new FakeOAuth({ flavor: 'salesforce' }).start();
    auth.addClient({ clientId: 'sf-client', clientSecret: 'sf-client-secret', redirectUris: [CALLBACK] });
    org = await new FakeSalesforce({ contacts: 30, seed: 23, acceptToken: (t) => auth.isValidAccessToken(t) }).start();
    // The token answer's instance_url names the org's API host: the fake Salesforce.
    auth.instanceUrl = org.url;
    octx = await createTestContext({
      PUBLIC_BASE_URL: BASE,
      OAUTH_SALESFORCE_CLIENT_ID: 'sf-client',
      OAUTH_SALESFORCE_CLIENT_SECRET: 'sf-client-secret',
      OAUTH_SALESFORCE_AUTHORIZE_URL: auth.authorizeUrl,
      OAUTH_SALESFORCE_TOKEN_URL: auth.tokenUrl,
    });
    key = await createOrganizationKey(octx, (await createOrganization(octx)).id);
  });
  afterAll(async () => {
    await octx.close();
    await auth.stop();
    await org.stop();
  });

  it('when a person consents, then the integration takes the token and instance_url, syncs, and a refused token is refreshed once', async () => {
    const started = await octx.http.post('/api/integrations/oauth/salesforce/authorize').set('x-api-key', key);
    expect(started.status).toBe(200);
    const url = new URL(started.body.data.url);
    expect(url.searchParams.get('scope')).toBe('api refresh_token');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const consent = await fetch(url, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location') as string);
    const done = await octx.http
      .get('/api/integrations/oauth/salesforce/callback')
      .query({ code: back.searchParams.get('code') as string, state: back.searchParams.get('state') as string });
    expect(done.status).toBe(200);
    expect(done.body.data).toMatchObject({ status: 'active', test: { success: true } });
    const integrationId = done.body.data.integrationId as number;
    const view = (await octx.http.get(`/api/integrations/${integrationId}`).set('x-api-key', ADMIN_KEY)).body.data;
    expect(view.config).toMatchObject({ instanceUrl: org.url });
    expect(JSON.stringify(view)).not.toContain(auth.lastAccessToken?.token as string);

    const first = await octx.http.post(`/api/integrations/${integrationId}/sync?mode=full&wait=true`).set('x-api-key', ADMIN_KEY);
    expect(first.body.data).toMatchObject({ status: 'succeeded', created: 30 });

    // The session ends early (Salesforce sends no expires_in): the 401 refreshes it, once.
    auth.expireAccessToken(auth.lastAccessToken?.token as string);
    const before = auth.refreshCalls;
    const second = await octx.http.post(`/api/integrations/${integrationId}/sync?mode=full&wait=true`).set('x-api-key', ADMIN_KEY);
    expect(second.body.data).toMatchObject({ status: 'succeeded', unchanged: 30 });
    expect(auth.refreshCalls - before).toBe(1);
  });
});
