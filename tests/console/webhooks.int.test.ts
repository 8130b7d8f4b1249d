import { createHmac } from 'node:crypto';
import { createOrganization, createOrganizationKey, createUser, createWealthboxIntegration } from '../helpers/fixtures';
import { startConsole, type ConsoleHarness } from '../helpers/console-browser';
import { Receiver, waitFor } from '../helpers/receiver';
import { ADMIN_KEY } from '../helpers/test-app';

const WB_SECRET = 'wealthbox-webhook-secret-console';
// The events never reach this CRM: they carry the contact, and the test parks one as failed.
const NO_CRM = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };

// Page state is read with string expressions: they run through the DevTools protocol (not eval,
// which the console's policy forbids), and need no DOM types in this Node project.
describe('the console: webhooks page', () => {
  let h: ConsoleHarness;
  let receiver: Receiver;

  beforeAll(async () => {
    // One attempt per delivery: a 500 fails it at once, so the page has a failure to retry.
    h = await startConsole({ WEBHOOK_RETRY_SCHEDULE: '0', WEBHOOK_RETRY_JITTER: '0' });
    receiver = await new Receiver().start();
  }, 60_000);
  afterAll(async () => {
    await receiver?.stop();
    await h?.close();
  });

  it('when a tenant subscribes, then the secret is shown once; a failed delivery shows its 500 and a retry delivers it; toggle, rotate, delete', async () => {
    const org = await createOrganization(h.ctx);
    const key = await createOrganizationKey(h.ctx, org.id);
    const { page, unexpectedErrors } = await h.signIn(key, '/console/#/webhooks');
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();

    // No event chosen: the API's 400 is shown at the event picker.
    await page.getByLabel('Endpoint URL').fill(receiver.url);
    await page.getByRole('button', { name: 'Create subscription' }).click();
    await expect(page.locator('#sub-events-error').textContent()).resolves.toBe('at least one event is required');

    // The event types come from the API (the OpenAPI document's webhooks).
    const picker = page.getByRole('group', { name: 'Events' });
    await expect(picker.getByRole('checkbox').count()).resolves.toBeGreaterThanOrEqual(7);
    await picker.getByRole('checkbox', { name: 'user.created' }).check();
    const created = page.waitForResponse((r) => r.url().endsWith('/api/webhook-subscriptions') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Create subscription' }).click();
    const sub = (await (await created).json()).data as { id: number; secret: string };
    const shown = await page.getByTestId('new-secret').textContent();
    expect(shown).toMatch(/^whsec_/);
    expect(shown).toBe(sub.secret);
    // Shown at the top of the page, so focus moves to it.
    await waitFor('focus on the secret', async () =>
      String(await page.evaluate('document.activeElement.className')).includes('secret-once'),
    );
    // Never kept: not in the tab's storage nor the address.
    const stored = String(await page.evaluate('JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + location.href'));
    expect(stored).not.toContain(sub.secret);
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    await page.getByTestId('new-secret').waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(sub.secret);

    const row = page.getByRole('row').filter({ hasText: receiver.url });
    await row.getByText('none yet').waitFor();
    await expect(row.textContent()).resolves.toContain(`••••${sub.secret.slice(-4)}`);

    // An event while the receiver fails: one attempt, a 500, the delivery failed.
    receiver.fallback = { status: 500, body: 'receiver is down' };
    await createUser(h.ctx, org.id);
    await h.ctx.services.deliveries.drain();
    await row.getByRole('button', { name: 'Deliveries' }).click();
    await page.getByRole('heading', { level: 2, name: `Deliveries to ${receiver.url}` }).waitFor();
    const delivery = page.getByRole('table', { name: 'Deliveries' }).getByRole('row').nth(1);
    await delivery.getByText('failed', { exact: true }).waitFor();
    const deliveryId = Number((await delivery.getByRole('cell').first().textContent())?.replace('#', ''));
    await expect(delivery.textContent()).resolves.toMatch(/user\.created.*500.*receiver is down/);

    await page.getByRole('button', { name: `Attempts of #${deliveryId}` }).click();
    const attempts = page.getByRole('table', { name: 'Attempts' });
    await attempts.waitFor();
    await expect(attempts.getByRole('row').nth(1).textContent()).resolves.toMatch(/^1.*500.*receiver is down/);
    // The chart (the API's hourly outcomes): this hour's bar holds the failure.
    const hourly = page.getByRole('figure', { name: 'Deliveries per hour, last 48 hours' });
    await hourly.waitFor();
    await expect(hourly.locator('title').allTextContents()).resolves.toContainEqual(expect.stringMatching(/Delivered 0, Failed 1,/));

    // The receiver recovers; a retry from the page is delivered.
    receiver.fallback = { status: 200, body: 'ok' };
    const retried = page.waitForResponse((r) => r.url().endsWith(`/deliveries/${deliveryId}/retry`));
    await page.getByRole('button', { name: `Retry #${deliveryId}` }).click();
    expect((await retried).status()).toBe(202);
    await page
      .getByRole('status')
      .filter({ hasText: `Delivery #${deliveryId} is queued` })
      .waitFor();
    await h.ctx.services.deliveries.drain();
    await delivery.getByText('succeeded', { exact: true }).waitFor();
    await expect(delivery.textContent()).resolves.toContain('500, 200');
    await page.getByLabel('Outcomes per').selectOption('day');
    const daily = page.getByRole('figure', { name: 'Deliveries per day (UTC), last 30 days' });
    await daily.locator('title', { hasText: /Delivered 1, Failed 0,/ }).waitFor({ state: 'attached' });
    await expect(daily.locator('svg > g').count()).resolves.toBe(31);
    expect(receiver.received).toHaveLength(2);
    // The subscription's last delivery follows once nothing is moving.
    await row.getByText('HTTP 200').waitFor();

    // Active toggle: off, then on again.
    const active = row.getByRole('checkbox', { name: 'Active' });
    const off = page.waitForResponse((r) => r.url().endsWith(`/api/webhook-subscriptions/${sub.id}`) && r.request().method() === 'PATCH');
    await active.uncheck();
    expect((await off).status()).toBe(200);
    await row.getByText('disabled', { exact: true }).waitFor();
    expect((await h.ctx.sql('SELECT is_active FROM webhook_subscriptions WHERE id = $1', [sub.id]))[0].is_active).toBe(false);

    // An event while it is off is skipped; "Recover" since a time turns it on and delivers it.
    const skippedUser = await createUser(h.ctx, org.id);
    await page.getByRole('button', { name: 'Refresh' }).first().click();
    const skipped = page.getByRole('table', { name: 'Deliveries' }).getByRole('row').nth(1);
    await skipped.getByText('skipped', { exact: true }).waitFor();
    await page.getByLabel('Since').fill('2000-01-01T00:00:00');
    const recovered = page.waitForResponse((r) => r.url().includes(`/api/webhook-subscriptions/${sub.id}/recover?since=`));
    await page.getByRole('button', { name: 'Recover', exact: true }).click();
    expect((await recovered).status()).toBe(200);
    await page.getByRole('status').filter({ hasText: 'Subscription enabled; 1 delivery queued again.' }).waitFor();
    await row.getByText('active', { exact: true }).waitFor();
    await expect(active.isChecked()).resolves.toBe(true);
    await h.ctx.services.deliveries.drain();
    await skipped.getByText('succeeded', { exact: true }).waitFor();
    expect(receiver.bodies().at(-1)?.data.id).toBe(skippedUser.id);

    // Edit: the description and the events change; the URL, secret and state stay.
    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: `Edit the subscription to ${receiver.url}` });
    await expect(edit.getByLabel('Endpoint URL').inputValue()).resolves.toBe(receiver.url);
    await expect(edit.getByRole('checkbox', { name: 'user.created' }).isChecked()).resolves.toBe(true);
    await edit.getByLabel('Description (optional)').fill('Edited in the console');
    await edit.getByRole('checkbox', { name: 'user.deleted' }).check();
    await edit.getByRole('button', { name: 'Save subscription' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Saved the subscription to ${receiver.url}.` })
      .waitFor();
    await row.getByText('Edited in the console').waitFor();
    const [edited] = await h.ctx.sql<{ description: string; events: string[]; is_active: boolean }>(
      'SELECT description, events, is_active FROM webhook_subscriptions WHERE id = $1',
      [sub.id],
    );
    expect(edited).toEqual({ description: 'Edited in the console', events: ['user.created', 'user.deleted'], is_active: true });
    // Deliveries by event: the subscription's events to choose from; none of user.deleted yet.
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    await page.getByLabel('Event', { exact: true }).selectOption('user.deleted');
    await page.getByText('No deliveries yet.').waitFor();
    await page.getByLabel('Event', { exact: true }).selectOption('user.created');
    await deliveries.locator('tbody tr').first().waitFor();
    expect(await deliveries.getByText('user.deleted').count()).toBe(0);

    // Rotate: a new secret, shown once too.
    const rotated = page.waitForResponse((r) => r.url().endsWith(`/rotate-secret`));
    await row.getByRole('button', { name: 'Rotate secret' }).click();
    const fresh = (await (await rotated).json()).data.secret as string;
    await expect(page.getByTestId('new-secret').textContent()).resolves.toBe(fresh);
    expect(fresh).not.toBe(sub.secret);
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    expect(await page.content()).not.toContain(fresh);

    // Delete asks first, in the page; cancel keeps it.
    await row.getByRole('button', { name: 'Delete' }).click();
    await waitFor('focus on Cancel', async () => (await page.evaluate('document.activeElement.textContent')) === 'Cancel');
    await page.getByRole('alertdialog').getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByRole('alertdialog').count()).toBe(0);
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete subscription' }).click();
    await row.waitFor({ state: 'detached' });
    expect(await h.ctx.sql('SELECT id FROM webhook_subscriptions WHERE id = $1', [sub.id])).toEqual([]);

    expect(unexpectedErrors([400])).toEqual([]);
    await page.context().close();
  });

  it("when an admin chooses an organization, then its failed inbound event is listed (not another's) and replays to processed", async () => {
    const post = async (integrationId: number, body: unknown) => {
      const raw = JSON.stringify(body);
      const signature = createHmac('sha256', WB_SECRET).update(raw).digest('hex');
      const res = await h.ctx.http
        .post(`/api/webhooks/wealthbox/${integrationId}`)
        .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': signature })
        .send(raw);
      expect(res.status).toBe(202);
      return res.body.eventId as number;
    };
    const contact = { id: 4242, type: 'Person', first_name: 'Ada', last_name: 'Lovelace', email_addresses: [] };
    const wb = await createWealthboxIntegration(h.ctx, NO_CRM, { webhookSecret: WB_SECRET });
    const other = await createWealthboxIntegration(h.ctx, NO_CRM, { webhookSecret: WB_SECRET });
    const eventId = await post(wb.id, { id: 'evt-console-1', event: 'contact.created', contact });
    const otherId = await post(other.id, { id: 'evt-console-2', event: 'contact.created', contact });
    // Parked as the worker leaves an event after its last failed attempt.
    await h.ctx.sql(
      `UPDATE inbound_events SET status = 'failed', outcome = 'failed', attempts = 8,
         last_error = 'Wealthbox answered 503 (parked by the test)' WHERE id = $1`,
      [eventId],
    );

    const { page, unexpectedErrors } = await h.signIn(ADMIN_KEY, '/console/#/webhooks');
    await page.getByRole('status').filter({ hasText: 'Choose an organization above' }).waitFor();
    expect(await page.getByLabel('Endpoint URL').count()).toBe(0);
    await page.getByRole('combobox', { name: 'Organization' }).locator(`option[value="${wb.orgId}"]`).waitFor({ state: 'attached' });
    await page.getByRole('combobox', { name: 'Organization' }).selectOption(String(wb.orgId));
    await page.getByLabel('Endpoint URL').waitFor();

    const events = page.getByRole('table', { name: 'Inbound events' });
    const row = events.getByRole('row').filter({ has: page.getByRole('button', { name: `Payload of #${eventId}`, exact: true }) });
    await row.getByText('failed', { exact: true }).first().waitFor();
    await expect(row.textContent()).resolves.toMatch(/wealthbox.*contact\.created.*Wealthbox answered 503/);
    expect(await page.getByRole('button', { name: `Payload of #${otherId}`, exact: true }).count()).toBe(0);

    await row.getByRole('button', { name: `Payload of #${eventId}` }).click();
    await expect(page.locator('section[aria-labelledby="payload-title"] pre').textContent()).resolves.toContain('evt-console-1');

    const replayed = page.waitForResponse((r) => r.url().endsWith(`/api/webhooks/events/${eventId}/replay`));
    await row.getByRole('button', { name: `Replay #${eventId}` }).click();
    expect((await replayed).status()).toBe(202);
    await row.getByText('pending', { exact: true }).waitFor();
    await h.ctx.services.inboxWorker.drain();
    await row.getByText('processed', { exact: true }).first().waitFor();
    expect(await row.getByRole('button', { name: `Replay #${eventId}` }).count()).toBe(0);
    const [stored] = await h.ctx.sql('SELECT status FROM inbound_events WHERE id = $1', [eventId]);
    expect(stored.status).toBe('processed');

    expect(unexpectedErrors()).toEqual([]);
    await page.context().close();
  });
});
