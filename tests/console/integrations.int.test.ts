import type { Locator, Page } from 'playwright-core';
import { FakeOAuth } from '../../fake-crm/oauth/fake-oauth';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { FakeZoho } from '../../fake-crm/zoho/fake-zoho';
import { startConsole, type ConsoleHarness } from '../helpers/console-browser';
import { ADMIN_KEY } from '../helpers/test-app';

describe('the console: integrations page', () => {
  let h: ConsoleHarness;
  let wealthbox: FakeWealthbox;
  let auth: FakeOAuth;
  let zoho: FakeZoho;
  let org: { id: number; name: string };
  let orgKey: string;
  const admin = { 'x-api-key': ADMIN_KEY };

  beforeAll(async () => {
    wealthbox = await new FakeWealthbox({ contacts: 3 }).start();
    auth = await new FakeOAuth({ flavor: 'zoho' }).start();
    zoho = await new FakeZoho({ contacts: 3, acceptToken: (t) => auth.isValidAccessToken(t) }).start();
    auth.apiDomain = zoho.url;
    // No PUBLIC_BASE_URL: the redirect URI is the app's own origin, known once it listens.
    h = await startConsole({
      OAUTH_ZOHO_CLIENT_ID: '1000.CONSOLE',
      OAUTH_ZOHO_CLIENT_SECRET: 'zoho-console-secret',
      OAUTH_ZOHO_AUTHORIZE_URL: `${auth.url}/oauth/v2/auth`,
    });
    auth.addClient({
      clientId: '1000.CONSOLE',
      clientSecret: 'zoho-console-secret',
      redirectUris: [`${h.base}/api/integrations/oauth/zoho/callback`],
    });
    org = (await h.ctx.http.post('/api/organizations').set(admin).send({ name: 'Console Integrations Org' }).expect(201)).body.data;
    orgKey = (
      await h.ctx.http
        .post('/api/api-keys')
        .set(admin)
        .send({ name: 'console-integrations', scope: 'organization', organizationId: org.id })
        .expect(201)
    ).body.data.key;
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await Promise.all([wealthbox?.stop(), zoho?.stop(), auth?.stop()]);
  });

  const card = (page: Page, provider: string) => page.getByRole('article', { name: provider });
  const item = (scope: Locator, name: string) => scope.getByRole('region', { name: new RegExp(`^${name} \\(#\\d+\\)$`) });

  it('when an admin connects Wealthbox by its generated form, then a bad value is shown at its field, a good one creates it, and Test, Disconnect, Reconnect and Settings work', async () => {
    const { page, unexpectedErrors } = await h.signIn(ADMIN_KEY, `/console/#/integrations?org=${org.id}`);
    await page.getByRole('heading', { level: 1, name: 'Integrations' }).waitFor();
    const wb = card(page, 'Wealthbox CRM');
    await wb.getByText('not connected').waitFor();
    // Wealthbox's OAuth app is not configured here: the form is the only way.
    expect(await wb.getByRole('button', { name: 'Connect with OAuth' }).count()).toBe(0);
    await wb.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.getByRole('heading', { name: 'Connect Wealthbox CRM' }).waitFor();

    // Generated from the schema: secrets as password inputs, defaults filled, enums as selects.
    const token = page.getByLabel('API access token');
    expect(await token.getAttribute('type')).toBe('password');
    expect(await page.getByLabel('Webhook secret').getAttribute('type')).toBe('password');
    expect(await page.getByLabel('Requests per second').inputValue()).toBe('1');
    expect(await page.getByLabel('Also sync the firm’s Wealthbox users').isChecked()).toBe(true);
    expect(await page.getByLabel('Direction').inputValue()).toBe('pull');
    expect(await page.getByLabel('Token kind').inputValue()).toBe('access_token');
    expect(await page.getByLabel('API base URL').inputValue()).toBe('https://api.crmworkspace.com/v1');

    // A token too short: Ajv's error comes back and is shown at the field.
    await token.fill('short');
    await page.getByLabel('API base URL').fill(wealthbox.url);
    const refused = page.waitForResponse((r) => r.url().endsWith('/api/integrations') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Connect Wealthbox CRM' }).click();
    expect((await refused).status()).toBe(400);
    await page.getByRole('alert').filter({ hasText: 'fewer than 8 characters' }).waitFor();
    await expect(token.getAttribute('aria-invalid')).resolves.toBe('true');
    const describedBy = (await token.getAttribute('aria-describedby')) as string;
    const errorId = describedBy.split(' ').find((id) => id.endsWith('-error')) as string;
    await expect(page.locator(`[id="${errorId}"]`).textContent()).resolves.toMatch(/fewer than 8 characters/);
    expect(await page.getByLabel('API base URL').getAttribute('aria-invalid')).toBeNull();

    // The right token: created (pending), the form closes.
    await token.fill(wealthbox.token);
    await page.getByRole('button', { name: 'Connect Wealthbox CRM' }).click();
    await page.getByRole('status').filter({ hasText: 'Wealthbox CRM was created (pending)' }).waitFor();
    await page.getByRole('heading', { name: 'Connect Wealthbox CRM' }).waitFor({ state: 'detached' });
    const mine = item(wb, 'Wealthbox CRM');
    await mine.getByText('pending', { exact: true }).waitFor();
    const [row] = await h.ctx.sql<{ id: number; organization_id: number }>(
      'SELECT id, organization_id FROM integrations WHERE provider = $1',
      ['wealthbox'],
    );
    expect(row.organization_id).toBe(org.id);

    // Test → success; the badge follows.
    await mine.getByRole('button', { name: 'Test' }).click();
    await mine.getByRole('status').filter({ hasText: 'Connected to wealthbox' }).waitFor();
    await mine.getByText('active', { exact: true }).waitFor();

    await mine.getByRole('button', { name: 'Disconnect' }).click();
    await mine.getByText('disconnected', { exact: true }).waitFor();
    expect(await mine.getByRole('button', { name: 'Test' }).count()).toBe(0);
    await mine.getByRole('button', { name: 'Reconnect' }).click();
    await mine.getByText('active', { exact: true }).waitFor();

    // Settings: the same generated form; the secret is blank and stays as it is when left blank.
    await mine.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings of Wealthbox CRM' }).waitFor();
    await expect(page.getByLabel('API access token').inputValue()).resolves.toBe('');
    await expect(page.getByLabel('API base URL').inputValue()).resolves.toBe(wealthbox.url);
    await page.getByLabel('Direction').selectOption('both');
    await page.getByLabel('firstName').fill('nickname');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings of Wealthbox CRM saved' }).waitFor();
    const shown = (await h.ctx.http.get(`/api/integrations/${row.id}`).set(admin).expect(200)).body.data;
    expect(shown.config).toMatchObject({ direction: 'both', pushMapping: { firstName: 'nickname' }, baseUrl: wealthbox.url });
    expect(shown.config.apiKey).toBe(`••••${wealthbox.token.slice(-4)}`);
    // Nothing secret was put back into the page.
    expect(await page.content()).not.toContain(wealthbox.token);

    // Its runs are on the Syncs page, addressed by the integration.
    await mine.getByRole('button', { name: 'Syncs' }).click();
    await page.waitForURL((u) => u.hash === `#/syncs?org=${org.id}&integration=${row.id}`);

    expect(unexpectedErrors([400])).toEqual([]);
    await page.context().close();
  });

  it('when an organization key connects Zoho by OAuth, then the browser comes back to the console with it connected, and Delete asks first', async () => {
    const { page, unexpectedErrors } = await h.signIn(orgKey);
    const zc = card(page, 'Zoho CRM');
    // Refused consent first: back in the console with the reason, nothing connected.
    auth.denyNext();
    await zc.getByRole('button', { name: 'Connect with OAuth' }).click();
    await page.getByRole('alert').filter({ hasText: 'OAuth connection not made' }).waitFor();
    await expect(page.getByRole('alert').filter({ hasText: 'OAuth connection not made' }).textContent()).resolves.toContain(
      'access_denied',
    );
    expect(new URL(page.url()).search).toBe('');
    expect(await h.ctx.sql('SELECT id FROM integrations WHERE provider = $1', ['zoho'])).toEqual([]);
    await zc.getByRole('button', { name: 'Connect with OAuth' }).click();
    // The consent page (the fake approves at once), our callback, then the console again.
    await page.waitForURL((u) => u.pathname === '/console/' && u.hash.startsWith('#/integrations'));
    await page.getByRole('status').filter({ hasText: 'OAuth connection finished' }).waitFor();
    await expect(page.getByRole('status').filter({ hasText: 'OAuth connection finished' }).textContent()).resolves.toMatch(/is active/);
    // The address bar no longer carries the integration id.
    expect(new URL(page.url()).search).toBe('');
    const mine = zc.getByRole('region');
    await mine.getByText('active', { exact: true }).waitFor();
    expect(auth.codeExchanges).toBe(1);
    const [row] = await h.ctx.sql<{ organization_id: number }>('SELECT organization_id FROM integrations WHERE provider = $1', ['zoho']);
    expect(row.organization_id).toBe(org.id);
    // Zoho's webhooks need a channel the service keeps open; here it has no public address to give.
    await mine.getByText('not kept: the service has no public address (PUBLIC_BASE_URL)').waitFor();

    // Delete: a confirmation in the page; Cancel keeps it.
    await mine.getByRole('button', { name: 'Delete' }).click();
    // Focus starts on Cancel: Enter keeps the integration.
    await mine.getByRole('alertdialog').waitFor();
    await page.waitForFunction("document.activeElement?.textContent === 'Cancel'");
    await page.keyboard.press('Enter');
    await mine.getByRole('alertdialog').waitFor({ state: 'detached' });
    expect(await h.ctx.sql('SELECT id FROM integrations WHERE provider = $1', ['zoho'])).toHaveLength(1);
    await mine.getByRole('button', { name: 'Delete' }).click();
    await mine.getByRole('button', { name: 'Yes, delete' }).click();
    await zc.getByText('not connected').waitFor();
    expect(await h.ctx.sql('SELECT id FROM integrations WHERE provider = $1', ['zoho'])).toEqual([]);

    expect(unexpectedErrors()).toEqual([]);
    await page.context().close();
  });

  it('when Zapier is connected, then its array field is one line per value and the signing secret is shown once, then gone', async () => {
    const { page, unexpectedErrors } = await h.signIn(orgKey);
    await card(page, 'Zapier').getByRole('button', { name: 'Connect', exact: true }).click();
    const events = page.getByLabel('Events');
    await expect(events.inputValue()).resolves.toBe('user.created\nuser.updated\nuser.deleted');
    // The subscription id is the service's to set (readOnly): no input for it.
    expect(await page.getByLabel('Webhook subscription').count()).toBe(0);
    await events.fill('user.created\n\nuser.deleted\n');
    await page.getByLabel('Zapier webhook URL').fill('http://127.0.0.1:9/hooks/catch/1/abc');
    await page.getByRole('button', { name: 'Connect Zapier' }).click();
    const once = page.getByRole('status').filter({ hasText: 'shown only this once' });
    await once.waitFor();
    const secret = ((await once.locator('dd').last().textContent()) ?? '').trim();
    expect(secret.length).toBeGreaterThanOrEqual(16);
    const [sub] = await h.ctx.sql<{ events: string[] }>('SELECT events FROM webhook_subscriptions WHERE organization_id = $1', [org.id]);
    expect(sub.events).toEqual(['user.created', 'user.deleted']);
    // Not kept anywhere but the page, and gone from it once dismissed.
    expect(
      String(await page.evaluate('JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + location.href')),
    ).not.toContain(secret);
    await once.getByRole('button', { name: 'I have copied it' }).click();
    await once.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);
    // In its settings the subscription id is shown, not editable.
    await card(page, 'Zapier').getByRole('button', { name: 'Settings' }).click();
    const shown = page.getByLabel('Webhook subscription');
    await shown.waitFor();
    await expect(shown.evaluate((el) => el.tagName)).resolves.toBe('OUTPUT');
    await expect(shown.textContent()).resolves.toBe(
      String((await h.ctx.sql<{ id: number }>('SELECT id FROM webhook_subscriptions WHERE organization_id = $1', [org.id]))[0].id),
    );
    expect(unexpectedErrors()).toEqual([]);
    await page.context().close();
  });

  it('when an admin has every organization in scope, then integrations are listed with their organization and connecting asks for one', async () => {
    const { page, unexpectedErrors } = await h.signIn(ADMIN_KEY, '/console/#/integrations');
    await page.getByText('Choose an organization above to connect').waitFor();
    const wb = card(page, 'Wealthbox CRM');
    await wb.getByText(org.name).waitFor();
    expect(await wb.getByRole('button', { name: 'Connect', exact: true }).count()).toBe(0);
    expect(unexpectedErrors()).toEqual([]);
    await page.context().close();
  });

  it('when an admin has more than 100 integrations in scope, then Show more lists the rest, each with its organization’s name', async () => {
    // 130 organizations with a SendGrid integration each, made directly: more integrations and
    // organizations than one page of either.
    const orgs = await h.ctx.sql<{ id: number }>(
      `INSERT INTO organizations (name, slug) SELECT 'Paging Org ' || g, 'paging-org-' || g FROM generate_series(1, 130) g RETURNING id`,
    );
    await h.ctx.sql(
      `INSERT INTO integrations (organization_id, template_id, provider, name, status)
       SELECT o, (SELECT id FROM integration_templates WHERE name = 'sendgrid'), 'sendgrid', 'SendGrid of ' || o, 'active'
       FROM unnest($1::int[]) o`,
      [orgs.map((o) => o.id)],
    );
    const total = (await h.ctx.http.get('/api/integrations?limit=1').set(admin)).body.pagination.total as number;
    expect(total).toBeGreaterThanOrEqual(130);
    const { page, unexpectedErrors } = await h.signIn(ADMIN_KEY, '/console/#/integrations');
    const sendgrid = card(page, 'SendGrid');
    const more = page.getByRole('button', { name: /^Show \d+ more$/ });
    await more.waitFor();
    await page.getByText(`Showing 100 of ${total} integrations.`).waitFor();
    await more.click();
    await more.waitFor({ state: 'detached' });
    await page.getByText(/^Showing \d+ of/).waitFor({ state: 'detached' });
    // Every one of the 130, named by its organization (the last ones are past the first 100 organizations).
    for (const o of [orgs[0], orgs[129]]) {
      await sendgrid
        .getByRole('region', { name: `SendGrid of ${o.id} (#${await integrationIdOf(o.id)})` })
        .getByText(`Paging Org ${orgs.indexOf(o) + 1}`)
        .waitFor();
    }
    expect(await sendgrid.getByText(/^Organization #\d+$/).count()).toBe(0);
    expect(await sendgrid.getByRole('region', { name: /^SendGrid of \d+ \(#\d+\)$/ }).count()).toBe(130);
    expect(unexpectedErrors()).toEqual([]);
    await page.context().close();
  });

  const integrationIdOf = async (organizationId: number) =>
    (await h.ctx.sql<{ id: number }>(`SELECT id FROM integrations WHERE organization_id = $1`, [organizationId]))[0].id;
});
