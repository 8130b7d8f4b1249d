import { ADMIN_KEY } from '../helpers/test-app';
import { startConsole, type ConsoleHarness } from '../helpers/console-browser';

const admin = { 'x-api-key': ADMIN_KEY };

describe('the tenant portal: links, sessions, and the console scoped to one organization', () => {
  let h: ConsoleHarness;
  let orgA: { id: number; name: string };
  let orgB: { id: number; name: string };
  let orgKeyA: string;

  const newLink = async (orgId = orgA.id) =>
    (await h.ctx.http.post(`/api/organizations/${orgId}/portal-links`).set(admin).send({}).expect(201)).body.data as {
      url: string;
      expiresAt: string;
      organizationId: number;
    };
  const tokenOf = (url: string) => new URL(url).hash.replace('#portal=', '');

  beforeAll(async () => {
    h = await startConsole();
    orgA = (await h.ctx.http.post('/api/organizations').set(admin).send({ name: 'Portal Tenant A' }).expect(201)).body.data;
    orgB = (await h.ctx.http.post('/api/organizations').set(admin).send({ name: 'Portal Tenant B' }).expect(201)).body.data;
    orgKeyA = (
      await h.ctx.http.post('/api/api-keys').set(admin).send({ name: 'a', scope: 'organization', organizationId: orgA.id }).expect(201)
    ).body.data.key;
    for (const [org, name] of [
      [orgA, 'Alice Inside'],
      [orgB, 'Bob Elsewhere'],
    ] as const) {
      await h.ctx.http
        .post('/api/users')
        .set(admin)
        .send({ organizationId: org.id, name, email: `${name.split(' ')[0].toLowerCase()}@example.com` })
        .expect(201);
    }
  }, 60_000);
  afterAll(() => h?.close());

  it('only an admin key makes links, for an organization that exists; the token is only in the fragment, stored hashed', async () => {
    await h.ctx.http.post(`/api/organizations/${orgA.id}/portal-links`).set({ 'x-api-key': orgKeyA }).send({}).expect(403);
    await h.ctx.http.post('/api/organizations/999999/portal-links').set(admin).send({}).expect(404);
    const bad = await h.ctx.http.post(`/api/organizations/${orgA.id}/portal-links`).set(admin).send({ ttl: 5 }).expect(400);
    expect(bad.body.details[0].path).toContain('body');
    const link = await newLink();
    expect(link.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/console/#portal=cpl_[A-Za-z0-9_-]+$`));
    expect(new Date(link.expiresAt).getTime() - Date.now()).toBeGreaterThan(500_000);
    const rows = await h.ctx.sql<{ token_hash: string }>('SELECT token_hash FROM portal_links');
    expect(rows.map((r) => r.token_hash)).not.toContain(tokenOf(link.url));
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true);
  });

  it('a link opens one session, once; the session sees its organization only and cannot mint keys; ending it ends it', async () => {
    const token = tokenOf((await newLink()).url);
    const opened = await h.ctx.http.post('/api/console/sessions').send({ token }).expect(201);
    expect(opened.body.data).toMatchObject({ organizationId: orgA.id, organizationName: 'Portal Tenant A' });
    const session = { 'x-api-key': opened.body.data.sessionKey as string };
    expect(session['x-api-key']).toMatch(/^cps_/);
    // Used: a second open fails, as do made-up and malformed tokens, with one message.
    const again = await h.ctx.http.post('/api/console/sessions').send({ token }).expect(401);
    expect(again.body.code).toBe('invalid_portal_link');
    await h.ctx.http.post('/api/console/sessions').send({ token: 'cpl_madeup' }).expect(401);
    const malformed = await h.ctx.http.post('/api/console/sessions').send({ token: 'a b' }).expect(400);
    expect(malformed.body.details[0].path).toBe('body.token');
    await h.ctx.http.post('/api/console/sessions').send({}).expect(400);

    const me = await h.ctx.http.get('/api/me').set(session).expect(200);
    expect(me.body.data).toEqual({ kind: 'organization', via: 'portal_session', organization: { id: orgA.id, name: 'Portal Tenant A' } });
    const users = await h.ctx.http.get('/api/users').set(session).expect(200);
    expect(users.body.data.map((u: { name: string }) => u.name)).toEqual(['Alice Inside']);
    await h.ctx.http.get('/api/users').query({ organizationId: orgB.id }).set(session).expect(404);
    await h.ctx.http.get(`/api/organizations/${orgB.id}`).set(session).expect(404);
    await h.ctx.http.get('/api/api-keys').set(session).expect(403);
    await h.ctx.http.post(`/api/organizations/${orgA.id}/portal-links`).set(session).send({}).expect(403);

    await h.ctx.http.delete('/api/console/sessions/current').set(session).expect(204);
    await h.ctx.http.get('/api/me').set(session).expect(401);
  });

  it('an expired link, or a link of a deleted organization, opens nothing; an expired session is refused', async () => {
    const expired = tokenOf((await newLink()).url);
    await h.ctx.sql("UPDATE portal_links SET expires_at = now() - interval '1 second' WHERE used_at IS NULL");
    await h.ctx.http.post('/api/console/sessions').send({ token: expired }).expect(401);

    const token = tokenOf((await newLink()).url);
    const key = (await h.ctx.http.post('/api/console/sessions').send({ token }).expect(201)).body.data.sessionKey as string;
    await h.ctx.sql("UPDATE portal_sessions SET expires_at = now() - interval '1 second'");
    await h.ctx.http.get('/api/me').set({ 'x-api-key': key }).expect(401);

    const doomed = (await h.ctx.http.post('/api/organizations').set(admin).send({ name: 'Doomed' }).expect(201)).body.data;
    const doomedToken = tokenOf((await newLink(doomed.id)).url);
    await h.ctx.http.delete(`/api/organizations/${doomed.id}`).set(admin).expect(204);
    await h.ctx.http.post('/api/console/sessions').send({ token: doomedToken }).expect(401);
  });

  it('in the browser, a link opens the console for its organization without a key, and shows nothing of another', async () => {
    const link = await newLink();
    const { page, unexpectedErrors } = await h.open(new URL(link.url).pathname + new URL(link.url).hash);
    await expect(page.getByTestId('scope').textContent()).resolves.toBe('Portal Tenant A (portal)');
    // The token left the address bar at once.
    expect(page.url()).not.toContain('portal=');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('link', { name: 'Alice Inside' }).waitFor();
    const names = await page.getByRole('table', { name: 'Users' }).locator('tbody tr td:first-child').allTextContents();
    expect(names).toEqual(['Alice Inside']);
    // Asking for the other organization in the address changes nothing: the server scopes the session.
    await page.goto(`${h.base}/console/#/users?org=${orgB.id}`);
    await page.getByRole('link', { name: 'Alice Inside' }).waitFor();
    expect(await page.getByText('Bob Elsewhere').count()).toBe(0);
    expect(unexpectedErrors()).toEqual([]);

    // The same link a second time (another person, another tab): refused, with the reason.
    const second = await h.open(new URL(link.url).pathname + new URL(link.url).hash);
    await expect(second.page.getByRole('alert').textContent()).resolves.toContain('already used');
    expect(second.unexpectedErrors([401])).toEqual([]);
    await second.page.context().close();

    // Signing out ends the session on the server too.
    const key = (await page.evaluate(`JSON.parse(sessionStorage.getItem('crm-console-session') ?? '{}').key`)) as string;
    // The console shows the sign-in form without waiting for the server's answer: the test
    // waits for that answer, then asks the server (it once asked first, and got 200).
    const ended = page.waitForResponse((r) => r.url().endsWith('/api/console/sessions/current') && r.request().method() === 'DELETE');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect((await ended).status()).toBe(204);
    await h.ctx.http.get('/api/me').set({ 'x-api-key': key }).expect(401);
    await page.context().close();
  });
});
