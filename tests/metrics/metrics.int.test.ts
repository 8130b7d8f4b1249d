import { createHmac } from 'node:crypto';
import { createOrganization, createOrganizationKey, createWealthboxIntegration, push, pushBody, pushUser, uniq } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/** The value of one series in Prometheus' text format, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('GET /metrics', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  const scrape = async () => {
    const res = await ctx.http.get('/metrics').set('Authorization', `Bearer ${ADMIN_KEY}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    return res.text;
  };

  it('needs an admin key (x-api-key or Bearer)', async () => {
    expect((await ctx.http.get('/metrics')).status).toBe(401);
    expect((await ctx.http.get('/metrics').set('Authorization', 'Bearer not-a-key')).status).toBe(401);
    const org = await createOrganization(ctx);
    const orgKey = await createOrganizationKey(ctx, org.id);
    expect((await ctx.http.get('/metrics').set('x-api-key', orgKey)).status).toBe(403);
    expect((await ctx.http.get('/metrics').set('x-api-key', ADMIN_KEY)).status).toBe(200);
  });

  it('counts HTTP requests by route pattern and status, with latency', async () => {
    const org = await createOrganization(ctx);
    await ctx.http.get(`/api/organizations/${org.id}`).set('x-api-key', ADMIN_KEY);
    await ctx.http.get('/api/organizations/999999').set('x-api-key', ADMIN_KEY);
    const text = await scrape();
    expect(sample(text, 'http_requests_total', { method: 'GET', route: '/api/organizations/:id', status: '200' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sample(text, 'http_request_duration_seconds_count', { route: '/api/organizations/:id', status: '200' })).toBeGreaterThanOrEqual(
      1,
    );
    // The URL's id never becomes a label.
    expect(text).not.toContain(`route="/api/organizations/${org.id}"`);
  });

  it('counts sync runs and their records, webhook outcomes, queue depths, and the process defaults', async () => {
    const tenant = uniq('T');
    await push(ctx, tenant, pushBody(tenant, [pushUser(1), pushUser(2)]));
    const wb = await createWealthboxIntegration(
      ctx,
      { token: 'unused-token-1', url: 'http://127.0.0.1:9' },
      { webhookSecret: 'metrics-secret' },
    );
    const raw = JSON.stringify({ event: 'contact.created', contact: { id: 5, email_addresses: [{ address: 'm@example.com' }] } });
    const sig = createHmac('sha256', 'metrics-secret').update(raw).digest('hex');
    const send = (signature: string) =>
      ctx.http
        .post(`/api/webhooks/wealthbox/${wb.id}`)
        .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': signature })
        .send(raw);
    expect((await send(sig)).status).toBe(202);
    expect((await send(sig)).status).toBe(200);
    expect((await send('00')).status).toBe(401);

    const before = await scrape();
    expect(sample(before, 'sync_runs_total', { provider: 'push', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(sample(before, 'sync_records_total', { provider: 'push', result: 'created' })).toBeGreaterThanOrEqual(2);
    expect(sample(before, 'webhook_inbound_events_total', { channel: 'wealthbox', outcome: 'accepted' })).toBe(1);
    expect(sample(before, 'webhook_inbound_events_total', { channel: 'wealthbox', outcome: 'duplicate' })).toBe(1);
    expect(sample(before, 'webhook_inbound_events_total', { channel: 'wealthbox', outcome: 'rejected_signature' })).toBe(1);
    expect(sample(before, 'webhook_inbox_pending')).toBe(1);
    expect(sample(before, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    await ctx.services.inboxWorker.drain();
    const after = await scrape();
    expect(sample(after, 'webhook_inbox_pending')).toBe(0);
    expect(sample(after, 'webhook_inbound_processed_total', { outcome: 'created' })).toBe(1);
  });
});

describe('METRICS_PORT', () => {
  it('moves /metrics off the main port', async () => {
    const ctx = await createTestContext({ METRICS_PORT: '9464' });
    try {
      expect((await ctx.http.get('/metrics').set('x-api-key', ADMIN_KEY)).status).toBe(404);
    } finally {
      await ctx.close();
    }
  });
});
