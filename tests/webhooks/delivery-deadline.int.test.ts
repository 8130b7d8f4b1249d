import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOrganization, createUser } from '../helpers/fixtures';
import { subscribe } from '../helpers/deliveries';
import { waitFor } from '../helpers/receiver';
import { createTestContext, type TestContext } from '../helpers/test-app';

/**
 * A receiver that answers its headers and then a byte every 200 ms, for ever: the timeout
 * must bound the whole attempt, not only the silences between bytes.
 */
describe('outbound webhooks: a receiver that drips its answer', () => {
  let ctx: TestContext;
  let server: http.Server;
  let url: string;
  const open = new Set<http.ServerResponse>();
  let requests = 0;

  beforeAll(async () => {
    ctx = await createTestContext({ WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_RETRY_SCHEDULE: '0,60,60', WEBHOOK_RETRY_JITTER: '0' });
    server = http.createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      open.add(res);
      const drip = setInterval(() => res.write('.'), 200);
      res.on('close', () => {
        clearInterval(drip);
        open.delete(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    for (const res of open) res.destroy();
    await new Promise((r) => server.close(r));
    await ctx.close();
  });

  it('when the answer never ends, then the attempt stops at WEBHOOK_TIMEOUT_MS, the connection is closed and a retry is scheduled', async () => {
    const org = await createOrganization(ctx);
    const subId = await subscribe(ctx, org.id, url);
    await createUser(ctx, org.id);
    const started = Date.now();
    await ctx.services.deliveries.drain();
    expect(Date.now() - started).toBeLessThan(5000);
    const [attempt] = await ctx.sql<{ status_code: number | null; error: string; latency_ms: number }>(
      `SELECT a.status_code, a.error, a.latency_ms FROM webhook_delivery_attempts a
       JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.subscription_id = $1`,
      [subId],
    );
    expect(attempt).toMatchObject({ status_code: null, error: 'ETIMEDOUT: no whole answer within 1000 ms' });
    expect(attempt.latency_ms).toBeGreaterThanOrEqual(1000);
    expect(attempt.latency_ms).toBeLessThan(3000);
    const [delivery] = await ctx.sql<{ status: string }>('SELECT status FROM webhook_deliveries WHERE subscription_id = $1', [subId]);
    expect(delivery.status).toBe('pending');
    await waitFor('the receiver sees the connection closed', async () => open.size === 0 || undefined);
    expect(requests).toBe(1);
  });
});
