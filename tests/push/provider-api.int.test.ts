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
