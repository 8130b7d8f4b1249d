import { FakeZoho } from '../../fake-crm/zoho/fake-zoho';
import { capturingLogger } from '../helpers/connector-harness';
import { createOrganization, createOrganizationKey, createWealthboxIntegration } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * The webhook channel keeper against the fake Zoho: it opens the watch channel of each active
 * Zoho integration at PUBLIC_BASE_URL, renews it ahead of the expiry, opens it again when Zoho
 * let it lapse, sends a changed token at once, backs off after a refusal, and two instances
 * passing at once enable a channel once.
 */
const BASE = 'https://crm-sync.example';
const DAY = 86_400_000;
let fake: FakeZoho;
let ctx: TestContext;

/** A Zoho integration on the fake, in an organization of its own, tested (so active). */
async function zoho(webhookToken?: string, c: TestContext = ctx): Promise<number> {
  const res = await c.http
    .post('/api/integrations')
    .set('x-api-key', ADMIN_KEY)
    .send({
      organizationId: (await createOrganization(c)).id,
      provider: 'zoho',
      name: 'Zoho',
      config: { accessToken: fake.token, apiDomain: fake.url, ...(webhookToken ? { webhookToken } : {}) },
    });
  expect(res.status).toBe(201);
  expect((await c.http.post(`/api/integrations/${res.body.data.id}/test`).set('x-api-key', ADMIN_KEY)).body.success).toBe(true);
  return res.body.data.id;
}
const watchPosts = () => fake.received.filter((r) => r.method === 'POST' && r.path === '/crm/v8/actions/watch');
/** The id the service gave the integration's channel at Zoho. */
const channelOf = async (id: number, c: TestContext = ctx) => (await c.services.webhookChannels.status(id))!.channelId;
const makeDue = (id: number) => ctx.sql('UPDATE webhook_channels SET next_attempt_at = now() WHERE integration_id = $1', [id]);

beforeAll(async () => {
  fake = await new FakeZoho({ seed: 8 }).start();
  ctx = await createTestContext({ PUBLIC_BASE_URL: `${BASE}/` });
});
afterAll(async () => {
  await ctx.close();
  await fake.stop();
});

describe('Webhook channels kept open at Zoho', () => {
  let id: number;

  it('when an active Zoho integration has a token, then a pass enables its channel for almost a week at our public URL and plans the renewal 48 hours ahead', async () => {
    id = await zoho('channel-token-0123456789');
    const result = await ctx.services.webhookChannels.keepDue();
    expect(result).toEqual({ kept: 1, released: 0, idle: 0, failed: 0 });
    const channel = fake.watch.active(await channelOf(id));
    expect(channel).toMatchObject({
      events: ['Contacts.all'],
      token: 'channel-token-0123456789',
      notify_url: `${BASE}/api/webhooks/zoho/${id}`,
    });
    // Asked a little under Zoho's week: past a week Zoho would grant one hour.
    const expiry = channel!.channel_expiry.getTime();
    expect(expiry).toBeGreaterThan(Date.now() + 7 * DAY - 15 * 60_000);
    expect(expiry).toBeLessThan(Date.now() + 7 * DAY);
    const row = await ctx.services.webhookChannels.status(id);
    // Its own random number, not the integration's id (another deployment has that id too).
    expect(row).toMatchObject({ channelId: expect.stringMatching(/^[1-9]\d{14,15}$/), failures: 0, lastError: null });
    expect(row!.channelId).not.toBe(String(id));
    expect(row!.expiresAt!.getTime()).toBe(expiry);
    expect(row!.nextAttemptAt.getTime()).toBe(expiry - 48 * 3_600_000);
  });

  it('when the channel is asked through the API, then its owner sees expiry, renewal and failures; another organization gets 404, an integration without one null', async () => {
    const ownerOrg = (await ctx.sql<{ organization_id: number }>('SELECT organization_id FROM integrations WHERE id = $1', [id]))[0]
      .organization_id;
    const res = await ctx.http.get(`/api/integrations/${id}/webhook-channel`).set('x-api-key', await createOrganizationKey(ctx, ownerOrg));
    expect(res.status).toBe(200);
    const row = (await ctx.services.webhookChannels.status(id))!;
    expect(res.body.data).toEqual({
      channelId: row.channelId,
      notifyUrl: `${BASE}/api/webhooks/zoho/${id}`,
      expiresAt: row.expiresAt!.toISOString(),
      keptAt: row.keptAt!.toISOString(),
      nextAttemptAt: row.nextAttemptAt.toISOString(),
      failures: 0,
      lastError: null,
    });
    const stranger = await createOrganizationKey(ctx, (await createOrganization(ctx)).id);
    expect((await ctx.http.get(`/api/integrations/${id}/webhook-channel`).set('x-api-key', stranger)).status).toBe(404);
    const wb = await createWealthboxIntegration(ctx, { token: 'wb-token-0123456789', url: 'http://127.0.0.1:9' });
    const none = await ctx.http.get(`/api/integrations/${wb.id}/webhook-channel`).set('x-api-key', ADMIN_KEY);
    expect(none.status).toBe(200);
    expect(none.body).toEqual({ data: null, message: expect.stringContaining('keeps no webhook channel') });
  });

  it('when nothing is due, then a second pass calls Zoho not at all', async () => {
    const before = watchPosts().length;
    expect(await ctx.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 0, idle: 0, failed: 0 });
    expect(watchPosts()).toHaveLength(before);
  });

  it('when the renewal falls due, then the channel is enabled again with a new expiry, and one that lapsed at Zoho is opened again', async () => {
    const first = fake.watch.active(await channelOf(id))!.channel_expiry.getTime();
    await new Promise((r) => setTimeout(r, 1100)); // Zoho's times have whole seconds
    await makeDue(id);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    expect(fake.watch.active(await channelOf(id))!.channel_expiry.getTime()).toBeGreaterThan(first);

    fake.watch.expire(await channelOf(id));
    expect(fake.watch.active(await channelOf(id))).toBeUndefined();
    await makeDue(id);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    expect(fake.watch.active(await channelOf(id))).toBeDefined();
  });

  it('when the integration’s token changes, then the channel is due at once and Zoho gets the new token on the next pass', async () => {
    const res = await ctx.http
      .patch(`/api/integrations/${id}`)
      .set('x-api-key', ADMIN_KEY)
      .send({ config: { webhookToken: 'a-new-channel-token-98765' } });
    expect(res.status).toBe(200);
    expect((await ctx.services.webhookChannels.status(id))!.nextAttemptAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    expect(fake.watch.active(await channelOf(id))!.token).toBe('a-new-channel-token-98765');
  });

  it('when Zoho fails, then the failure is kept with its reason and retried after 5 minutes; a later success clears it', async () => {
    await makeDue(id);
    // More 500s than the client's own retries.
    fake.failNext(10, 500);
    expect(await ctx.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 0, idle: 0, failed: 1 });
    const row = await ctx.services.webhookChannels.status(id);
    fake.clearFaults();
    expect(row).toMatchObject({ failures: 1, lastError: expect.stringContaining('500') });
    const wait = row!.nextAttemptAt.getTime() - Date.now();
    expect(wait).toBeGreaterThan(4 * 60_000);
    expect(wait).toBeLessThanOrEqual(5 * 60_000);

    await makeDue(id);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    expect(await ctx.services.webhookChannels.status(id)).toMatchObject({ failures: 0, lastError: null });
  });

  it('when an integration has no webhook token, then no channel is opened and it is looked at again a day later', async () => {
    const bare = await zoho();
    await ctx.sql("UPDATE webhook_channels SET next_attempt_at = now() + interval '1 day' WHERE integration_id <> $1", [bare]);
    const before = watchPosts().length;
    expect(await ctx.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 0, idle: 1, failed: 0 });
    expect(watchPosts()).toHaveLength(before);
    const wait = (await ctx.services.webhookChannels.status(bare))!.nextAttemptAt.getTime() - Date.now();
    expect(wait).toBeGreaterThan(23 * 3_600_000);
  });

  it('when two instances pass at once over due channels, then each channel is enabled once', async () => {
    const second = await createTestContext({ DATABASE_URL: ctx.databaseUrl, PUBLIC_BASE_URL: BASE });
    try {
      await ctx.sql("UPDATE webhook_channels SET next_attempt_at = now() WHERE notify_url NOT LIKE '%xxxx%'");
      const due = (await ctx.sql<{ n: string }>('SELECT count(*) AS n FROM webhook_channels WHERE next_attempt_at <= now()'))[0].n;
      expect(Number(due)).toBeGreaterThanOrEqual(2);
      const before = watchPosts().length;
      const [a, b] = await Promise.all([ctx.services.webhookChannels.keepDue(), second.services.webhookChannels.keepDue()]);
      expect(a.kept + a.idle + b.kept + b.idle).toBe(Number(due));
      const ids = watchPosts()
        .slice(before)
        .map((r) => (r.body as { watch: { channel_id: string }[] }).watch[0].channel_id);
      expect(ids.length).toBe(new Set(ids).size);
    } finally {
      await second.close();
    }
  });
});

describe('Webhook channels of integrations disconnected, turned off or without a token', () => {
  /** An integration with its channel open at Zoho, every other row not due. */
  async function opened(token: string): Promise<{ id: number; channelId: string }> {
    const oid = await zoho(token);
    await ctx.sql("UPDATE webhook_channels SET next_attempt_at = now() + interval '1 day' WHERE integration_id <> $1", [oid]);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    const channelId = await channelOf(oid);
    expect(fake.watch.active(channelId)).toBeDefined();
    return { id: oid, channelId };
  }
  const api = (method: 'post' | 'patch', path: string, body?: object) => ctx.http[method](path).set('x-api-key', ADMIN_KEY).send(body);

  it('when an integration is disconnected, then the next pass closes its channel at Zoho (its renewal days away); reconnected, the pass after opens it again', async () => {
    const { id: oid, channelId } = await opened('disconnect-token-0123456');
    expect((await api('post', `/api/integrations/${oid}/disconnect`)).status).toBe(200);
    expect(await ctx.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 1, idle: 0, failed: 0 });
    expect(fake.watch.channels.has(channelId)).toBe(false);
    expect(await ctx.services.webhookChannels.status(oid)).toMatchObject({ keptAt: null, expiresAt: null });
    // Once closed, a disconnected integration is not claimed again.
    expect(await ctx.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 0, idle: 0, failed: 0 });

    expect((await api('post', `/api/integrations/${oid}/reconnect`)).body.success).toBe(true);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    expect(fake.watch.active(channelId)).toMatchObject({ token: 'disconnect-token-0123456' });
  });

  it('when an integration is turned off (isActive false), then its channel is closed; turned on again, opened', async () => {
    const { id: oid, channelId } = await opened('turned-off-token-0123456');
    expect((await api('patch', `/api/integrations/${oid}`, { isActive: false })).status).toBe(200);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ released: 1 });
    expect(fake.watch.channels.has(channelId)).toBe(false);
    expect((await api('patch', `/api/integrations/${oid}`, { isActive: true })).status).toBe(200);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    expect(fake.watch.active(channelId)).toBeDefined();
  });

  it('when the webhook token is removed, then the open channel is closed (Zoho would post what we refuse) and the row idles', async () => {
    const { id: oid, channelId } = await opened('removed-token-0123456789');
    expect((await api('patch', `/api/integrations/${oid}`, { config: { webhookToken: null } })).status).toBe(200);
    expect(await ctx.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 1, idle: 0, failed: 0 });
    expect(fake.watch.channels.has(channelId)).toBe(false);
    const row = await ctx.services.webhookChannels.status(oid);
    expect(row).toMatchObject({ keptAt: null, expiresAt: null });
    expect(row!.nextAttemptAt.getTime() - Date.now()).toBeGreaterThan(23 * 3_600_000);
  });
});

describe('Webhook channels of deleted integrations', () => {
  it('when an integration is deleted, then its channel is disabled at Zoho before the row goes', async () => {
    const gone = await zoho('deleted-token-0123456789');
    await ctx.sql("UPDATE webhook_channels SET next_attempt_at = now() + interval '1 day' WHERE integration_id <> $1", [gone]);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    const channelId = await channelOf(gone);
    expect(fake.watch.active(channelId)).toBeDefined();
    expect((await ctx.http.delete(`/api/integrations/${gone}`).set('x-api-key', ADMIN_KEY)).status).toBe(204);
    expect(fake.watch.channels.has(channelId)).toBe(false);
    expect(fake.received.at(-1)).toMatchObject({ method: 'DELETE', path: '/crm/v8/actions/watch', query: { channel_ids: channelId } });
  });

  it('when Zoho hangs as the integration is deleted, then the deletion still ends, within the 5-second bound', async () => {
    const gone = await zoho('hanging-token-0123456789');
    await ctx.sql("UPDATE webhook_channels SET next_attempt_at = now() + interval '1 day' WHERE integration_id <> $1", [gone]);
    expect(await ctx.services.webhookChannels.keepDue()).toMatchObject({ kept: 1 });
    fake.hangNext(10);
    try {
      const started = Date.now();
      expect((await ctx.http.delete(`/api/integrations/${gone}`).set('x-api-key', ADMIN_KEY)).status).toBe(204);
      // The bound, not the client's own timeouts and retries (2 s each here, several of them).
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(4900);
      expect(took).toBeLessThan(6500);
      expect(await ctx.sql('SELECT 1 FROM integrations WHERE id = $1', [gone])).toEqual([]);
    } finally {
      fake.clearFaults();
    }
  }, 15_000);
});

describe('Webhook channels Zoho refuses', () => {
  it('when Zoho refuses the channel (400: a notify URL past its 255 characters), then the row keeps Zoho’s code and backs off further each time', async () => {
    const long = await createTestContext({ PUBLIC_BASE_URL: `${BASE}/${'p'.repeat(240)}` });
    try {
      const other = await zoho('refused-token-0123456789', long);
      expect(await long.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 0, idle: 0, failed: 1 });
      let row = await long.services.webhookChannels.status(other);
      expect(row).toMatchObject({ failures: 1, lastError: expect.stringMatching(/\(400\): INVALID_DATA/) });
      expect(row!.nextAttemptAt.getTime() - Date.now()).toBeGreaterThan(4 * 60_000);

      // Third failure in a row: 5 minutes doubled twice.
      await long.sql('UPDATE webhook_channels SET next_attempt_at = now(), failures = 2 WHERE integration_id = $1', [other]);
      expect(await long.services.webhookChannels.keepDue()).toMatchObject({ failed: 1 });
      row = await long.services.webhookChannels.status(other);
      const wait = row!.nextAttemptAt.getTime() - Date.now();
      expect(wait).toBeGreaterThan(19 * 60_000);
      expect(wait).toBeLessThanOrEqual(20 * 60_000);
      expect(row!.failures).toBe(3);
      expect(fake.watch.active(await channelOf(other, long))).toBeUndefined();
    } finally {
      await long.close();
    }
  });
});

describe('Webhook channels without the notifications scope', () => {
  it('when the token lacks ZohoCRM.notifications (connected before it was asked), then the row says OAUTH_SCOPE_MISMATCH and the integration stays active', async () => {
    const c = await createTestContext({ PUBLIC_BASE_URL: BASE });
    try {
      fake.addToken('old-connection-token-0123', ['ZohoCRM.modules.contacts.ALL', 'ZohoCRM.org.READ']);
      const org = (await createOrganization(c)).id;
      const res = await c.http
        .post('/api/integrations')
        .set('x-api-key', ADMIN_KEY)
        .send({
          organizationId: org,
          provider: 'zoho',
          name: 'Zoho',
          config: { accessToken: 'old-connection-token-0123', apiDomain: fake.url, webhookToken: 'scope-token-0123456789' },
        });
      const oid: number = res.body.data.id;
      expect((await c.http.post(`/api/integrations/${oid}/test`).set('x-api-key', ADMIN_KEY)).body.success).toBe(true);
      expect(await c.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 0, idle: 0, failed: 1 });
      const row = await c.services.webhookChannels.status(oid);
      expect(row!.lastError).toMatch(/401.*OAUTH_SCOPE_MISMATCH/);
      expect((await c.http.get(`/api/integrations/${oid}`).set('x-api-key', ADMIN_KEY)).body.data.status).toBe('active');
    } finally {
      await c.close();
    }
  });
});

describe('Webhook channels without a public address', () => {
  it('when PUBLIC_BASE_URL is not set, then no channel row is made, Zoho is not called, and the log says why once a Zoho integration exists', async () => {
    const { capture, logger } = capturingLogger('warn');
    const bare = await createTestContext({}, logger);
    try {
      const said = () => capture.entries.filter((e) => String(e.message).includes('PUBLIC_BASE_URL is not set'));
      // No Zoho integration yet: nothing to say.
      expect(await bare.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 0, idle: 0, failed: 0 });
      expect(said()).toEqual([]);
      await zoho('no-base-url-token-0123', bare);
      const before = watchPosts().length;
      expect(await bare.services.webhookChannels.keepDue()).toEqual({ kept: 0, released: 0, idle: 0, failed: 0 });
      await bare.services.webhookChannels.keepDue();
      expect(said()).toHaveLength(1);
      expect(await bare.sql('SELECT * FROM webhook_channels')).toEqual([]);
      expect(watchPosts()).toHaveLength(before);
    } finally {
      await bare.close();
    }
  });
});
