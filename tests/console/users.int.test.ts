import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { ADMIN_KEY } from '../helpers/test-app';
import { startConsole, type ConsoleHarness } from '../helpers/console-browser';

const admin = { 'x-api-key': ADMIN_KEY };

describe('the console: users page', () => {
  let h: ConsoleHarness;
  let fake: FakeWealthbox;
  let orgId: number;

  beforeAll(async () => {
    h = await startConsole();
    fake = await new FakeWealthbox({ contacts: 60, staff: 0 }).start();
    orgId = (await h.ctx.http.post('/api/organizations').set(admin).send({ name: 'People Org' }).expect(201)).body.data.id;
    const integration = (
      await h.ctx.http
        .post('/api/integrations')
        .set(admin)
        .send({ organizationId: orgId, provider: 'wealthbox', name: 'People Wealthbox', config: { apiKey: fake.token, baseUrl: fake.url } })
        .expect(201)
    ).body.data;
    // Sixty people from the CRM, each with its Wealthbox identity.
    await h.ctx.http.post(`/api/integrations/${integration.id}/sync?mode=full&wait=true`).set(admin).expect(200);
    await h.ctx.http
      .post('/api/users')
      .set(admin)
      .send({ organizationId: orgId, name: 'Zelda Quartz', email: 'zelda@people.example' })
      .expect(201);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await fake?.stop();
  });

  it('searches, pages, and opens a user with its identities and activities', async () => {
    const { page, unexpectedErrors } = await h.signIn(ADMIN_KEY, `/console/#/users?org=${orgId}`);
    const table = page.getByRole('table', { name: 'Users' });
    await table.locator('tbody tr').first().waitFor();
    // 61 people, 25 a page.
    await expect(page.getByRole('navigation', { name: 'Pages' }).textContent()).resolves.toContain('Page 1 of 3 (61 in all)');
    const hrefs = () => table.locator('tbody tr td:first-child a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    const first = await hrefs();
    expect(first).toHaveLength(25);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('navigation', { name: 'Pages' }).getByText('Page 2 of 3').waitFor();
    const second = await hrefs();
    // Another 25 people, none of the first page's.
    expect(second).toHaveLength(25);
    expect(second.filter((href) => first.includes(href))).toEqual([]);

    await page.getByLabel('Search name or email').fill('zelda');
    await page.getByRole('button', { name: 'Search' }).click();
    await table.getByRole('link', { name: 'Zelda Quartz' }).waitFor();
    expect(await table.locator('tbody tr').count()).toBe(1);
    expect(page.url()).toContain('search=zelda');

    // A CRM person: its identity, and an activity a CRM reported (written as the inbox worker writes it).
    const [person] = await h.ctx.sql<{ user_id: number; name: string; external_id: string }>(
      `SELECT i.user_id, u.name, i.external_id FROM user_identities i JOIN users u ON u.id = i.user_id
       WHERE u.organization_id = $1 AND i.provider = 'wealthbox' ORDER BY i.id LIMIT 1`,
      [orgId],
    );
    await h.ctx.sql(
      `INSERT INTO user_activities (organization_id, user_id, type, data, occurred_at) VALUES ($1, $2, 'email.opened', '{"subject":"Quarterly review"}', now())`,
      [orgId, person.user_id],
    );
    await page.goto(`${h.base}/console/#/users?org=${orgId}&user=${person.user_id}`);
    const detail = page.getByRole('region', { name: person.name });
    await detail.getByRole('table', { name: 'Identities' }).waitFor();
    await expect(detail.getByRole('table', { name: 'Identities' }).textContent()).resolves.toContain(person.external_id);
    await detail.getByRole('table', { name: 'Activities' }).getByText('email.opened').waitFor();
    await expect(detail.getByRole('table', { name: 'Activities' }).textContent()).resolves.toContain('Quarterly review');
    await detail.getByRole('button', { name: 'Close' }).click();
    await detail.waitFor({ state: 'detached' });

    // A bad filter from the address gets the API's 400, shown, not a blank page.
    await page.goto(`${h.base}/console/#/users?org=${orgId}&sort=shoeSize`);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('query.sort');
    expect(unexpectedErrors([400])).toEqual([]);
    await page.context().close();
  });
});
