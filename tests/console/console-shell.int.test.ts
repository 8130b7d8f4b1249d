import { ADMIN_KEY, createTestContext } from '../helpers/test-app';
import { startConsole, type ConsoleHarness } from '../helpers/console-browser';

describe('the console: page, sign-in, policy', () => {
  let h: ConsoleHarness;
  let orgKey: string;
  let orgA: { id: number; name: string };
  let orgB: { id: number; name: string };

  beforeAll(async () => {
    h = await startConsole();
    const admin = { 'x-api-key': ADMIN_KEY };
    orgA = (await h.ctx.http.post('/api/organizations').set(admin).send({ name: 'Acme Tenant' }).expect(201)).body.data;
    orgB = (await h.ctx.http.post('/api/organizations').set(admin).send({ name: 'Globex Other' }).expect(201)).body.data;
    orgKey = (
      await h.ctx.http.post('/api/api-keys').set(admin).send({ name: 'acme', scope: 'organization', organizationId: orgA.id }).expect(201)
    ).body.data.key;
  }, 60_000);
  afterAll(() => h?.close());

  it('is served at /console/ with a policy that allows only its own files and one hashed import map', async () => {
    await h.ctx.http.get('/console').expect(301).expect('location', '/console/');
    const res = await h.ctx.http.get('/console/').expect(200).expect('content-type', /html/);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    // Nothing secret in the page: no key, no token.
    expect(res.text).not.toContain(ADMIN_KEY);
    expect(res.text).not.toMatch(/crm_[A-Za-z0-9]|cps_|cpl_/);
    await h.ctx.http
      .get('/console/vendor/preact.mjs')
      .expect(200)
      .expect('content-type', /javascript/);
    await h.ctx.http.get('/console/vendor/other.mjs').expect(404);
    await h.ctx.http.get('/console/../package.json').expect(404);
  });

  it('refuses a wrong key with a message at the form, and signs an admin in to every organization', async () => {
    const { page, unexpectedErrors } = await h.open();
    await page.getByLabel('API key').fill('crm_not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('not valid');
    await page.getByLabel('API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
    const scope = page.getByRole('combobox', { name: 'Organization' });
    await scope.locator('option', { hasText: 'Globex Other' }).waitFor({ state: 'attached' });
    await expect(scope.locator('option').allTextContents()).resolves.toEqual(
      expect.arrayContaining(['All organizations', `Acme Tenant (#${orgA.id})`, `Globex Other (#${orgB.id})`]),
    );
    // The key is in this tab's sessionStorage, not in localStorage or a cookie.
    expect(await page.evaluate('sessionStorage.length')).toBe(1);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(await page.context().cookies()).toEqual([]);
    // The wrong key's 401 is the only error the browser logged.
    expect(unexpectedErrors([401])).toEqual([]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.context().close();
  });

  it("an organization key sees its organization's name and no organization picker", async () => {
    const { page, unexpectedErrors } = await h.signIn(orgKey);
    await expect(page.getByTestId('scope').textContent()).resolves.toBe('Acme Tenant');
    expect(await page.getByRole('combobox', { name: 'Organization' }).count()).toBe(0);
    // Keyboard: the first Tab reaches the skip link, which moves focus to the page.
    await page.keyboard.press('Tab');
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toBe('Skip to content');
    expect(unexpectedErrors()).toEqual([]);
    // The test browser reaches this machine only: a real provider's consent page would not load.
    await expect(page.goto('http://example.com/')).rejects.toThrow(/ERR_NAME_NOT_RESOLVED/);
    await page.context().close();
  });
});

describe('the console in a frame', () => {
  it('when CONSOLE_FRAME_ANCESTORS lists an origin, then the policy allows it to frame the console, and only the console', async () => {
    const ctx = await createTestContext({ CONSOLE_FRAME_ANCESTORS: 'https://app.example.com' });
    try {
      const res = await ctx.http.get('/console/').expect(200);
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'self' https://app.example.com");
      expect(res.headers['x-frame-options']).toBeUndefined();
      // The API keeps helmet's defaults: nothing else of the service may be framed.
      const api = await ctx.http.get('/health').expect(200);
      expect(api.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(api.headers['content-security-policy']).not.toContain('app.example.com');
    } finally {
      await ctx.close();
    }
  });
});
