import { Webhook } from 'standardwebhooks';
import { FakeHubSpot } from '../../fake-crm/hubspot/fake-hubspot';
import { createOrganization, createOrganizationKey, createUser } from '../helpers/fixtures';
import { Receiver } from '../helpers/receiver';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/** Seed 003's provider-named API (connect, disconnect, sync by provider name) and Zapier. */
let fake: FakeHubSpot;
let receiver: Receiver;
let ctx: TestContext;
let orgId: number;
let key: string;

const as = (k: string) => ({
  post: (path: string, body?: object) => ctx.http.post(path).set('x-api-key', k).send(body),
  patch: (path: string, body?: object) => ctx.http.patch(path).set('x-api-key', k).send(body),
  get: (path: string) => ctx.http.get(path).set('x-api-key', k),
  delete: (path: string) => ctx.http.delete(path).set('x-api-key', k),
});

beforeAll(async () => {
  fake = await new FakeHubSpot({ contacts: 25, seed: 3, portalId: 88001 }).start();
  receiver = await new Receiver().start();
  ctx = await createTestContext({ WEBHOOK_WORKERS_ENABLED: 'false' });
  orgId = (await createOrganization(ctx)).id;
  key = await createOrganizationKey(ctx, orgId);
});
afterAll(async () => {
  await ctx.close();
  await fake.stop();
  await receiver.stop();
});

describe('seed 003: integrations by provider name', () => {
  it('when a provider is connected by its seed name, then the integration is created, tested and active (201), and connecting again updates it (200)', async () => {
    const res = await as(key).post('/api/integrations/connect', {
      provider: 'HUBSPOT',
      credentials: { accessToken: fake.token, baseUrl: fake.url, requestsPerSecond: 0 },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ provider: 'hubspot', organizationId: orgId, status: 'active' });
    expect(res.body.test.success).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain(fake.token);

    const again = await as(key).post('/api/integrations/connect', { provider: 'hubspot', credentials: { searchRequestsPerSecond: 2 } });
    expect(again.status).toBe(200);
    expect(again.body.data.id).toBe(res.body.data.id);
    expect(again.body.data.config.searchRequestsPerSecond).toBe(2);
  });

  it('when the provider is unknown, or an admin key names no organization, then 400 names the field', async () => {
    const unknown = await as(key).post('/api/integrations/connect', { provider: 'NOPE_CRM', credentials: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toEqual([expect.objectContaining({ path: 'body.provider' })]);
    const noOrg = await as(ADMIN_KEY).post('/api/integrations/connect', { provider: 'hubspot', credentials: { accessToken: fake.token } });
    expect(noOrg.status).toBe(400);
    expect(JSON.stringify(noOrg.body.details)).toContain('organizationId');
  });

  it('when it is synced by provider name with wait=true, then 201 says how many contacts were synced', async () => {
    const res = await as(key).post('/api/integrations/hubspot/sync?wait=true');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ message: 'HubSpot CRM sync completed', contactsSynced: 25 });
    expect(res.body.data.status).toBe('succeeded');
  });

  it('when another organization names the same provider, then it finds nothing of this one (404) and changes nothing', async () => {
    const other = await createOrganization(ctx);
    const otherKey = await createOrganizationKey(ctx, other.id);
    expect((await as(otherKey).post('/api/integrations/hubspot/sync')).status).toBe(404);
    expect((await as(otherKey).delete('/api/integrations/hubspot')).status).toBe(404);
    expect(await ctx.sql('SELECT 1 FROM integrations WHERE organization_id = $1 AND provider = $2', [orgId, 'hubspot'])).toHaveLength(1);
  });

  it('when a numeric id is used, then the id-based routes still answer', async () => {
    const [{ id }] = await ctx.sql<{ id: number }>('SELECT id FROM integrations WHERE organization_id = $1', [orgId]);
    const res = await as(key).post(`/api/integrations/${id}/sync?wait=true`);
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('succeeded');
  });

  it('when it is disconnected by provider name, then it is gone ({ success: true }) and a second time is 404', async () => {
    const res = await as(key).delete('/api/integrations/hubspot');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    expect((await as(key).delete('/api/integrations/hubspot')).status).toBe(404);
  });
});

describe('Zapier', () => {
  it('when a Zapier integration is created, then it owns a subscription that sends our signed events to the Zap, and both go together', async () => {
    const res = await as(key).post('/api/integrations/connect', {
      provider: 'ZAPIER',
      credentials: { webhookUrl: receiver.url, events: ['user.created'] },
    });
    expect(res.status).toBe(201);
    const { subscriptionId, webhookSecret } = res.body.data.revealedOnce ?? {};
    expect(webhookSecret).toMatch(/^whsec_/);
    expect(res.body.data.config.subscriptionId).toBe(subscriptionId);
    const [sub] = await ctx.sql<{ url: string; events: string[] }>('SELECT url, events FROM webhook_subscriptions WHERE id = $1', [
      subscriptionId,
    ]);
    expect(sub).toEqual({ url: receiver.url, events: ['user.created'] });

    const user = await createUser(ctx, orgId, { email: 'zap@example.com', name: 'Zap Person' });
    await ctx.services.deliveries.drain();
    const got = receiver.received.find((r) => r.body.includes('zap@example.com'));
    expect(got).toBeDefined();
    const verified = new Webhook(webhookSecret).verify(got!.body, got!.headers as Record<string, string>) as { data: { id: number } };
    expect(verified.data.id).toBe(user.id);

    expect((await as(key).delete('/api/integrations/zapier')).status).toBe(200);
    expect(await ctx.sql('SELECT 1 FROM webhook_subscriptions WHERE id = $1', [subscriptionId])).toHaveLength(0);
  });

  it('when a caller names another subscription in the config (subscriptionId is the service’s), then 400 and neither subscription changes', async () => {
    const other = await createOrganization(ctx);
    const otherKey = await createOrganizationKey(ctx, other.id);
    const victim = await as(otherKey).post('/api/webhook-subscriptions', { url: receiver.url, events: ['user.created'] });
    expect(victim.status).toBe(201);
    const mine = await createOrganization(ctx);
    const mineKey = await createOrganizationKey(ctx, mine.id);
    const zap = await as(mineKey).post('/api/integrations', { provider: 'zapier', name: 'Zap', config: { webhookUrl: receiver.url } });
    expect(zap.status).toBe(201);
    const own = zap.body.data.config.subscriptionId as number;

    const takeover = await as(mineKey).patch(`/api/integrations/${zap.body.data.id}`, {
      config: { subscriptionId: victim.body.data.id, webhookUrl: `${receiver.url}/attacker` },
    });
    expect(takeover.status).toBe(400);
    expect(takeover.body.details).toEqual([{ path: 'body.config.subscriptionId', message: 'is set by the service and cannot be changed' }]);
    const atCreate = await as(otherKey).post('/api/integrations', {
      provider: 'zapier',
      name: 'Zap',
      config: { webhookUrl: receiver.url, subscriptionId: own },
    });
    expect([atCreate.status, atCreate.body.details?.[0]?.path]).toEqual([400, 'body.config.subscriptionId']);
    // Sent unchanged it is no change.
    const same = await as(mineKey).patch(`/api/integrations/${zap.body.data.id}`, {
      config: { subscriptionId: own, events: ['user.updated'] },
    });
    expect(same.status).toBe(200);
    const urls = await ctx.sql<{ id: number; url: string; events: string[] }>(
      'SELECT id, url, events FROM webhook_subscriptions WHERE id = ANY($1) ORDER BY id',
      [[victim.body.data.id, own]],
    );
    expect(urls).toEqual(
      [
        { id: victim.body.data.id, url: receiver.url, events: ['user.created'] },
        { id: own, url: receiver.url, events: ['user.updated'] },
      ].sort((x, y) => x.id - y.id),
    );

    // A config that points elsewhere (written before the check existed) touches nothing of another organization.
    await ctx.sql(`UPDATE integrations SET config = jsonb_set(config, '{subscriptionId}', to_jsonb($1::int)) WHERE id = $2`, [
      victim.body.data.id,
      zap.body.data.id,
    ]);
    expect((await as(mineKey).delete(`/api/integrations/${zap.body.data.id}`)).status).toBe(204);
    expect(await ctx.sql('SELECT 1 FROM webhook_subscriptions WHERE id = $1', [victim.body.data.id])).toHaveLength(1);
  });

  it('when an update is refused by what the integration owns, then nothing of it is written; the refusal names the config field', async () => {
    const org = await createOrganization(ctx);
    const k = await createOrganizationKey(ctx, org.id);
    const zap = await as(k).post('/api/integrations', { provider: 'zapier', name: 'Zap', config: { webhookUrl: receiver.url } });
    const id = zap.body.data.id as number;
    const bad = await as(k).patch(`/api/integrations/${id}`, { name: 'Renamed', config: { events: ['user.bogus'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].path).toBe('body.config.events.0');
    expect((await as(k).get(`/api/integrations/${id}`)).body.data).toMatchObject({
      name: 'Zap',
      config: { events: ['user.created', 'user.updated', 'user.deleted'] },
    });

    expect((await as(k).delete(`/api/webhook-subscriptions/${zap.body.data.config.subscriptionId}`)).status).toBe(204);
    const gone = await as(k).patch(`/api/integrations/${id}`, { name: 'Renamed', config: { events: ['user.updated'] } });
    expect([gone.status, gone.body.code]).toEqual([409, 'subscription_gone']);
    expect((await as(k).get(`/api/integrations/${id}`)).body.data.name).toBe('Zap');
  });

  it('when two config changes arrive at once, then both hold', async () => {
    const org = await createOrganization(ctx);
    const k = await createOrganizationKey(ctx, org.id);
    const made = await as(k).post('/api/integrations', {
      provider: 'hubspot',
      name: 'HubSpot',
      config: { accessToken: fake.token, baseUrl: fake.url, portalId: '1' },
    });
    expect(made.status).toBe(201);
    const id = made.body.data.id as number;
    for (let round = 0; round < 4; round++) {
      const [a, b] = await Promise.all([
        as(k).patch(`/api/integrations/${id}`, { config: { requestsPerSecond: round + 1 } }),
        as(k).patch(`/api/integrations/${id}`, { config: { apiReservePercent: round + 10 } }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const { config } = (await as(k).get(`/api/integrations/${id}`)).body.data;
      expect([config.requestsPerSecond, config.apiReservePercent]).toEqual([round + 1, round + 10]);
    }
  });

  it('when the events are not ours, then 400 and no integration or subscription is left behind', async () => {
    const res = await as(key).post('/api/integrations/connect', {
      provider: 'zapier',
      credentials: { webhookUrl: receiver.url, events: ['card.viewed'] },
    });
    expect(res.status).toBe(400);
    expect(await ctx.sql('SELECT 1 FROM integrations WHERE organization_id = $1 AND provider = $2', [orgId, 'zapier'])).toHaveLength(0);
    expect(await ctx.sql('SELECT 1 FROM webhook_subscriptions WHERE organization_id = $1', [orgId])).toHaveLength(0);
  });
});
