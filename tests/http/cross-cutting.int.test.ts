import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger } from '../../src/lib/logger';
import { ADMIN_KEY, createTestContext, INTERNAL_KEY, type TestContext } from '../helpers/test-app';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ JSON_BODY_LIMIT: '2kb' });
});
afterAll(() => ctx.close());

describe('cross-cutting HTTP behaviour', () => {
  it('when a caller sends X-Request-Id, then it is echoed and used in errors', async () => {
    const res = await ctx.http.get('/api/users/999999').set('x-api-key', ADMIN_KEY).set('X-Request-Id', 'trace-123');
    expect(res.headers['x-request-id']).toBe('trace-123');
    expect(res.body.requestId).toBe('trace-123');
  });

  it('when no X-Request-Id is sent (or it is unsafe), then one is generated', async () => {
    const res = await ctx.http.get('/health').set('X-Request-Id', 'bad id with spaces');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when a route does not exist, then 404 in the common error shape', async () => {
    const res = await ctx.http.get('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      success: false,
      error: 'No route for GET /nope',
      code: 'route_not_found',
      requestId: expect.any(String),
      timestamp: expect.any(String),
    });
  });

  it('when JSON is malformed, then 400 malformed_json', async () => {
    const res = await ctx.http
      .post('/api/organizations')
      .set('x-api-key', ADMIN_KEY)
      .set('Content-Type', 'application/json')
      .send('{"name": ');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('malformed_json');
  });

  it('when the body is over JSON_BODY_LIMIT, then 413', async () => {
    const res = await ctx.http
      .post('/api/organizations')
      .set('x-api-key', ADMIN_KEY)
      .send({ name: 'x', metadata: { pad: 'p'.repeat(5000) } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  it('when a body is not JSON at all, then 400 (not 500)', async () => {
    const res = await ctx.http.post('/api/organizations').set('x-api-key', ADMIN_KEY).set('Content-Type', 'text/plain').send('name=x');
    expect(res.status).toBe(400);
  });

  it('when any response is sent, then helmet headers are on it', async () => {
    const res = await ctx.http.get('/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});

describe('access log', () => {
  it('when a request is served, then exactly one line records method, path, status and duration, without the key', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'info', json: true });
    logger.clear();
    logger.add(
      new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) }),
    );
    const logged = await createTestContext({}, logger);
    try {
      await logged.http.get('/api/users?limit=5').set('x-api-key', ADMIN_KEY).set('X-Request-Id', 'log-test-1');
      const access = lines.filter((l) => l.message === 'request' && l.requestId === 'log-test-1');
      expect(access).toHaveLength(1);
      expect(access[0]).toMatchObject({ method: 'GET', path: '/api/users', status: 200, durationMs: expect.any(Number) });
      expect(JSON.stringify(lines)).not.toContain(ADMIN_KEY);
    } finally {
      await logged.close();
    }
  });
});

describe('rate limiting', () => {
  let limited: TestContext;
  beforeAll(async () => {
    limited = await createTestContext({ RATE_LIMIT_MAX: '3', SYNC_RATE_LIMIT_MAX: '2' });
  });
  afterAll(() => limited.close());

  it('when one key goes over the limit, then 429 JSON with Retry-After; another key is not affected', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await limited.http.get('/api/users').set('x-api-key', ADMIN_KEY)).status);
    expect(codes).toEqual([200, 200, 200, 429]);
    const res = await limited.http.get('/api/users').set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.body).toMatchObject({ success: false, code: 'rate_limited' });
    expect((await limited.http.get('/api/users').set('x-api-key', 'another-key-entirely')).status).toBe(401);
  });

  it('when the sync endpoint is hammered, then its stricter limit applies, whatever x-api-key is added', async () => {
    const codes: number[] = [];
    // A made-up x-api-key on each request once bought a fresh budget; now the push is counted
    // against the internal key it authenticated with.
    for (let i = 0; i < 3; i++) {
      const res = await limited.http
        .post('/api/internal/sync/users')
        .set('X-Internal-API-Key', INTERNAL_KEY)
        .set('x-api-key', `made-up-${i}-${Math.random()}`)
        .send({});
      codes.push(res.status);
    }
    expect(codes).toEqual([400, 400, 429]);
  });
});

describe('failed authentications', () => {
  let guarded: TestContext;
  beforeAll(async () => {
    guarded = await createTestContext({ AUTH_FAILURE_MAX: '5', WEBHOOK_RATE_LIMIT_MAX: '3' });
  });
  afterAll(() => guarded.close());

  it('when an address keeps presenting made-up keys, then it gets 429 before any key is looked up, even with a real key', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) {
      // A new key each time, and a new X-Forwarded-For: neither buys a fresh budget (TRUST_PROXY is off).
      const res = await guarded.http
        .get('/api/users')
        .set('x-api-key', `guess-${i}-${Math.random()}`)
        .set('X-Forwarded-For', `203.0.113.${i}`);
      codes.push(res.status);
    }
    expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const blocked = await guarded.http.get('/api/users').set('x-api-key', ADMIN_KEY);
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ code: 'too_many_auth_failures' });
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // The internal push shares the budget: guessing INTERNAL_API_KEY is no way around it.
    const push = await guarded.http.post('/api/internal/sync/users').set('X-Internal-API-Key', 'x'.repeat(20)).send({});
    expect(push.status).toBe(429);
  });

  it('when webhooks carry made-up x-api-key headers, then they are still counted against the sender address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await guarded.http
        .post('/api/webhook')
        .set('x-api-key', `made-up-${i}`)
        .set('Content-Type', 'application/json')
        .send('{}');
      codes.push(res.status);
    }
    expect(codes.slice(0, 3).every((c) => c !== 429)).toBe(true);
    expect(codes[3]).toBe(429);
  });
});

describe('failed authentications on a path two routers see', () => {
  it('when a console path the sessions router leaves to the API is refused, then each 401 counts once', async () => {
    const limited = await createTestContext({ AUTH_FAILURE_MAX: '4' });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++)
        codes.push((await limited.http.delete('/api/console/sessions/current').set('x-api-key', `guess-${i}`)).status);
      expect(codes).toEqual([401, 401, 401, 401, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('errors in production', () => {
  it('when an unexpected error happens, then 500 hides its message in production', async () => {
    const prod = await createTestContext({ NODE_ENV: 'production' });
    try {
      // A dropped table is the simplest real fault: the query fails inside the service.
      await prod.sql('DROP TABLE api_keys CASCADE');
      const res = await prod.http.get('/api/users').set('x-api-key', 'crm_whatever');
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ success: false, error: 'Internal server error', code: 'internal_error' });
      expect(JSON.stringify(res.body)).not.toContain('api_keys');
    } finally {
      await prod.close();
    }
  });
});
