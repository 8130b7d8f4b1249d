import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/lib/logger';
import { CrmUnavailableError } from '../../src/providers/connector';
import { createCrmHttpClient, MAX_RESPONSE_BYTES } from '../../src/providers/http-client';
import { LimiterRegistry } from '../../src/providers/rate-limiter';

const logger = createLogger({ level: 'error', json: true, silent: true });

/** The shared CRM client against a server that misbehaves on purpose: answers that never end, or never stop. */
describe('the CRM HTTP client against a base URL that misbehaves', () => {
  let server: http.Server;
  let url: string;
  let requests = 0;
  /** What the next requests get: 'drip' (headers, then a byte every 100 ms for ever), 'huge', or 'ok'. */
  let plan: ('drip' | 'huge' | 'ok')[] = [];
  const open = new Set<http.ServerResponse>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests++;
      req.resume();
      const what = plan.shift() ?? 'ok';
      open.add(res);
      res.on('close', () => open.delete(res));
      if (what === 'ok') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (what === 'huge') {
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        const more = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', more);
        res.write('{"data":"');
        more();
        return;
      }
      const drip = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const res of open) res.destroy();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    requests = 0;
    plan = [];
  });

  const client = (maxRetries: number) =>
    createCrmHttpClient({
      provider: 'tenantcrm',
      baseURL: url,
      headers: {},
      timeoutMs: 500,
      maxRetries,
      retryBaseMs: 10,
      limiter: new LimiterRegistry().for(null, 0),
      logger,
      allowPrivateUrls: true,
    });

  it('when an answer is dripped a byte at a time, then the attempt ends at the timeout (not at the first silence); the retry goes on', async () => {
    plan = ['drip'];
    const started = Date.now();
    const err = await client(0)
      .get('/contacts')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmUnavailableError);
    expect((err as Error).message).toBe('tenantcrm timed out on GET /contacts: no whole answer within 500 ms');
    expect(Date.now() - started).toBeLessThan(2000);
    plan = ['drip', 'ok'];
    expect((await client(1).get('/contacts')).data).toEqual({ ok: true });
    expect(requests).toBe(3);
  });

  it('when an answer grows past MAX_RESPONSE_BYTES, then it is refused, not read into memory, and not asked again', async () => {
    plan = ['huge', 'huge', 'huge'];
    const err = await client(2)
      .get('/contacts', { timeout: 30_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmUnavailableError);
    expect((err as Error).message).toBe(
      `tenantcrm answered unreadably on GET /contacts: maxContentLength size of ${MAX_RESPONSE_BYTES} exceeded`,
    );
    expect(requests).toBe(1);
  });
});
