import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import winston from 'winston';
import { errorHandler } from '../../src/lib/errors';
import { createSharedRateLimit, ipOf } from '../../src/lib/rate-limit';
import { envelopeWebhook } from '../../src/modules/inbound-webhooks/envelope';
import { bodyLimitBytes, inboundWebhookHotPath } from '../../src/modules/inbound-webhooks/inbound.hot-path';
import { createWealthboxIntegration, uniq } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * The inbound webhooks' hot path (before Express's router): which requests it takes, and
 * that it answers, limits and counts them as the router's routes do.
 */

const SECRET = 'hot-path-webhook-secret';
const NO_FAKE = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };
const sign = (raw: string, secret = SECRET) => createHmac('sha256', secret).update(raw).digest('hex');
const event = () =>
  JSON.stringify({
    id: uniq('evt'),
    event: 'contact.created',
    contact: { id: Math.floor(Math.random() * 1e9) + 1, type: 'Person', first_name: 'Hot', last_name: 'Path' },
  });

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** One request with full control of its headers and how the body is sent (chunked when no length is given). */
function send(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
    if (body && !opts.chunked) headers['content-length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    if (body && opts.chunked) {
      req.write(body.subarray(0, 5));
      req.write(body.subarray(5));
    } else if (body) req.write(body);
    req.end();
  });
}

function listen(app: express.Express): Promise<http.Server> {
  return new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
}

describe('inbound webhooks: the hot path', () => {
  let ctx: TestContext;
  let wb: { orgId: number; id: number };

  beforeAll(async () => {
    ctx = await createTestContext({ WEBHOOK_BODY_LIMIT: '2kb' });
    wb = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: SECRET });
  });
  afterAll(() => ctx.close());

  describe('which requests it takes (alone, before a stand-in for the router)', () => {
    let server: http.Server;
    let port: number;

    beforeAll(async () => {
      const app = express();
      app.use(
        inboundWebhookHotPath({
          service: ctx.services.inbound,
          adapters: {
            envelope: envelopeWebhook,
            byProvider: (name) => {
              const m = ctx.services.providers.get(name);
              return m?.webhook ? { adapter: m.webhook, routedByAccount: m.definition.routingKeyField !== null } : undefined;
            },
          },
          opts: { bodyLimit: '2kb' },
          rateLimit: createSharedRateLimit({ windowMs: 60_000, limit: 1000, name: 'webhooks', keyOf: ipOf }),
          logger: winston.createLogger({ silent: true }),
          metrics: ctx.services.metrics,
        }),
      );
      // The stand-in: says it was reached, and how many body bytes were still there to read.
      app.use((req, res) => {
        let bytes = 0;
        req.on('data', (d: Buffer) => (bytes += d.length));
        req.on('end', () => res.status(299).json({ fellThrough: true, bytes }));
      });
      app.use(errorHandler(winston.createLogger({ silent: true }), false));
      server = await listen(app);
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((done) => server.close(() => done())));

    it('when a plain signed request comes, then it answers it and the event is stored before the answer', async () => {
      const raw = event();
      const res = await send(port, {
        path: `/api/webhooks/wealthbox/${wb.id}`,
        body: raw,
        headers: { 'x-wealthbox-signature': sign(raw) },
      });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ received: true, duplicate: false });
      const [row] = await ctx.sql<{ integration_id: number }>('SELECT integration_id FROM inbound_events WHERE id = $1', [
        res.body.eventId,
      ]);
      expect(row.integration_id).toBe(wb.id);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });

    it('when the query string carries anything, then it still takes the request', async () => {
      const raw = event();
      const res = await send(port, {
        path: `/api/webhooks/wealthbox/${wb.id}?attempt=2`,
        body: raw,
        headers: { 'x-wealthbox-signature': sign(raw) },
      });
      expect(res.status).toBe(202);
    });

    it('when the signature is wrong, then its refusal goes to the error handler (401 JSON naming the code)', async () => {
      const res = await send(port, { path: `/api/webhooks/wealthbox/${wb.id}`, body: event(), headers: { 'x-wealthbox-signature': '00' } });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ success: false, code: 'invalid_signature', requestId: res.headers['x-request-id'] });
    });

    it('when the body is empty, then it answers 400 empty_body, as the router does', async () => {
      const res = await send(port, { path: `/api/webhooks/wealthbox/${wb.id}`, body: '', headers: { 'x-wealthbox-signature': sign('') } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'empty_body' });
    });

    it('when the sender hangs up halfway through the body, then nothing is stored and the next request is served', async () => {
      const raw = event();
      const before = await ctx.sql<{ n: number }>('SELECT count(*)::int AS n FROM inbound_events');
      await new Promise<void>((resolve) => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: `/api/webhooks/wealthbox/${wb.id}`,
          headers: { 'content-type': 'application/json', 'content-length': String(raw.length), 'x-wealthbox-signature': sign(raw) },
        });
        req.on('error', () => resolve());
        req.write(raw.slice(0, 20), () => setTimeout(() => req.destroy(), 50));
        req.on('close', () => resolve());
      });
      const next = event();
      const res = await send(port, {
        path: `/api/webhooks/wealthbox/${wb.id}`,
        body: next,
        headers: { 'x-wealthbox-signature': sign(next) },
      });
      expect(res.status).toBe(202);
      const after = await ctx.sql<{ n: number }>('SELECT count(*)::int AS n FROM inbound_events');
      expect(after[0].n).toBe(before[0].n + 1);
    });

    const big = JSON.stringify({ event: 'contact.created', contact: { id: 1, background: 'x'.repeat(3000) } });
    it.each<[string, Parameters<typeof send>[1]]>([
      ['a GET', { method: 'GET', path: '/api/webhooks/wealthbox/1' }],
      ['another path', { path: '/api/users', body: '{}' }],
      ['the inbox (no provider is called "events")', { path: '/api/webhooks/events/1/replay', body: '{}' }],
      ['no provider', { path: '/api/webhooks', body: '{}' }],
      ['an unknown provider', { path: '/api/webhooks/nosuchcrm/1', body: '{}' }],
      ['a trailing slash', { path: '/api/webhooks/wealthbox/1/', body: '{}' }],
      ['upper case', { path: '/API/webhooks/wealthbox/1', body: '{}' }],
      ['percent-encoding', { path: '/api/webhooks/%77ealthbox/1', body: '{}' }],
      ['an id with a leading zero', { path: '/api/webhooks/wealthbox/01', body: '{}' }],
      ['an id past int4', { path: '/api/webhooks/wealthbox/2147483648', body: '{}' }],
      ['an id that is not digits', { path: '/api/webhooks/wealthbox/1e3', body: '{}' }],
      ['a compressed body', { path: '/api/webhooks/wealthbox/1', body: '{}', headers: { 'content-encoding': 'gzip' } }],
      ['a chunked body', { path: '/api/webhooks/wealthbox/1', body: '{"a": 1}', chunked: true }],
      ['a body over the limit', { path: '/api/webhooks/wealthbox/1', body: big }],
    ])('when the request has %s, then it goes on to the router with its body unread', async (_what, req) => {
      const res = await send(port, req);
      expect(res.status).toBe(299);
      expect(res.body).toEqual({ fellThrough: true, bytes: req.body === undefined ? 0 : Buffer.byteLength(req.body) });
      // Nothing was answered or counted for it here: the router does both.
      expect(res.headers['x-request-id']).toBeUndefined();
      expect(res.headers.ratelimit).toBeUndefined();
    });

    it('reads the body limit as body-parser does', () => {
      expect(bodyLimitBytes('1mb')).toBe(1024 * 1024);
      expect(bodyLimitBytes('512KB')).toBe(512 * 1024);
      expect(bodyLimitBytes('100b')).toBe(100);
      expect(() => bodyLimitBytes('1gb')).toThrow('not a body limit');
    });
  });

  describe('in the app: the same answers as the router', () => {
    // The router's way in for the same endpoint: a trailing slash (Express matches it; the hot path does not).
    const hot = () => `/api/webhooks/wealthbox/${wb.id}`;
    const routed = () => `/api/webhooks/wealthbox/${wb.id}/`;
    const signed = (path: string, raw = event(), headers: Record<string, string> = {}) =>
      ctx.http
        .post(path)
        .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': sign(raw), ...headers })
        .send(raw);

    it('when an event comes either way, then the status, headers and body have the same shape', async () => {
      const [a, b] = [
        await signed(hot(), event(), { 'X-Request-Id': 'caller-id-1' }),
        await signed(routed(), event(), { 'X-Request-Id': 'caller-id-2' }),
      ];
      for (const [res, id] of [
        [a, 'caller-id-1'],
        [b, 'caller-id-2'],
      ] as const) {
        expect(res.status).toBe(202);
        expect(res.body).toEqual({ received: true, duplicate: false, eventId: expect.any(Number) });
        expect(res.headers['x-request-id']).toBe(id);
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(res.headers.ratelimit).toMatch(/^"webhooks"; r=\d+; t=\d+$/);
      }
      expect(a.headers['ratelimit-policy']).toBe(b.headers['ratelimit-policy']);
      expect(a.headers['ratelimit-policy']).toMatch(/^"webhooks"; q=\d+; w=\d+; pk=:[A-Za-z0-9+/=]+:$/);
    });

    it('when a repeat or a refusal comes either way, then the answers match', async () => {
      const raw = event();
      expect((await signed(hot(), raw)).status).toBe(202);
      const [a, b] = [await signed(hot(), raw), await signed(routed(), raw)];
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(a.body).toEqual(b.body);

      const bad = (path: string) =>
        ctx.http.post(path).set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': '00' }).send(event());
      const [c, d] = [await bad(hot()), await bad(routed())];
      for (const res of [c, d]) {
        expect(res.status).toBe(401);
        expect(Object.keys(res.body).sort()).toEqual(['code', 'error', 'requestId', 'success', 'timestamp']);
        expect(res.body).toMatchObject({ code: 'invalid_signature', requestId: res.headers['x-request-id'] });
      }
      const unknown = await signed(`/api/webhooks/wealthbox/999999`);
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('integration_not_found');
    });

    it('when the body is over the limit, then the router answers 413 JSON as before', async () => {
      const raw = JSON.stringify({ event: 'contact.created', contact: { id: 1, background: 'x'.repeat(3000) } });
      const res = await signed(hot(), raw);
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ code: 'payload_too_large' });
      expect(res.headers.ratelimit).toMatch(/^"webhooks"/);
    });

    it('when requests go either way, then the metrics count them under one route pattern', async () => {
      const count = async (status: string) => {
        const text = (await ctx.http.get('/metrics').set('x-api-key', ADMIN_KEY)).text;
        const line = text
          .split('\n')
          .find(
            (l) =>
              l.startsWith('http_requests_total{') &&
              l.includes('route="/api/webhooks/:provider/:integrationId"') &&
              l.includes(`status="${status}"`),
          );
        return line ? Number(line.split(' ').pop()) : 0;
      };
      const before = await count('202');
      await signed(hot());
      await signed(routed());
      expect(await count('202')).toBe(before + 2);
    });
  });

  describe('the per-address limit', () => {
    let limited: TestContext;
    let target: { id: number };
    beforeAll(async () => {
      limited = await createTestContext({ WEBHOOK_RATE_LIMIT_MAX: '3' });
      target = await createWealthboxIntegration(limited, NO_FAKE, { webhookSecret: SECRET });
    });
    afterAll(() => limited.close());

    it('when requests alternate between the hot path and the router, then they share one count and both refuse past it', async () => {
      const post = (path: string, headers: Record<string, string> = {}) => {
        const raw = event();
        return limited.http
          .post(path)
          .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': sign(raw), ...headers })
          .send(raw);
      };
      const hot = `/api/webhooks/wealthbox/${target.id}`;
      const routed = `${hot}/`;
      const answers = [await post(hot), await post(routed), await post(hot), await post(hot), await post(routed)];
      expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 429, 429]);
      expect(answers.map((r) => /r=(\d+)/.exec(r.headers.ratelimit)?.[1])).toEqual(['2', '1', '0', '0', '0']);
      for (const res of answers.slice(3)) {
        expect(res.body).toMatchObject({ success: false, code: 'rate_limited', requestId: res.headers['x-request-id'] });
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      }
      // A made-up key or forwarded address buys nothing (TRUST_PROXY is off).
      const dodge = await post(hot, { 'x-api-key': 'made-up', 'X-Forwarded-For': '203.0.113.9' });
      expect(dodge.status).toBe(429);
      const [n] = await limited.sql<{ n: number }>('SELECT count(*)::int AS n FROM inbound_events WHERE integration_id = $1', [target.id]);
      expect(n.n).toBe(3);
    });
  });
});
