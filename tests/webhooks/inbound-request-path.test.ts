import { createHmac } from 'node:crypto';
import winston from 'winston';
import { GroupBatcher } from '../../src/lib/group-batcher';
import { verifyHmacHex } from '../../src/lib/crypto';
import { createMetrics } from '../../src/lib/metrics';
import { InboundWebhookService, type IncomingWebhook } from '../../src/modules/inbound-webhooks/inbound.service';
import type { InboxRepository, NewInboundEvent } from '../../src/modules/inbound-webhooks/inbox.repository';
import type { IntegrationRow } from '../../src/modules/integrations';
import { wealthboxWebhook } from '../../src/providers/wealthbox/wealthbox.webhook';
import { AppError } from '../../src/lib/errors';

/**
 * The request path's integration cache, with fakes: what a rotated secret, a deactivation
 * and a flood of bad signatures do, and when. The clock is Date.now, moved by hand.
 */

const sign = (raw: Buffer, secret: string) => createHmac('sha256', secret).update(raw).digest('hex');

/** One integration "in the database", and how often it was read. */
function fakeIntegrations() {
  const state = { secret: 'first-secret', isActive: true, status: 'active', reads: 0 };
  const row = () =>
    ({
      id: 7,
      organizationId: 3,
      provider: 'wealthbox',
      status: state.status,
      isActive: state.isActive,
      routingKey: null,
      config: { webhookSecret: state.secret },
    }) as unknown as IntegrationRow;
  const lookup = {
    find: async (id: number) => {
      state.reads++;
      return id === 7 ? row() : null;
    },
    defaultOf: async () => null,
    byRoutingKey: async () => [],
    decrypt: (r: IntegrationRow) => ({ ...(r as unknown as { config: Record<string, unknown> }).config }),
  };
  return { state, lookup };
}

function fakeInbox(): InboxRepository & { stored: NewInboundEvent[] } {
  const stored: NewInboundEvent[] = [];
  return {
    stored,
    insertMany: async (events) => events.map((e) => ({ id: stored.push(e), duplicate: false })),
    find: async () => [],
    count: async () => 0,
    get: async () => null,
    replay: async () => false,
    pendingCount: async () => 0,
  };
}

let next = 1;
function request(secret: string): IncomingWebhook {
  const n = next++;
  const raw = Buffer.from(
    JSON.stringify({ id: `evt-${n}`, event: 'contact.created', contact: { id: n, type: 'Person', first_name: 'Ann', last_name: `N${n}` } }),
  );
  const headers: Record<string, string> = { 'x-wealthbox-signature': sign(raw, secret) };
  return { raw, header: (h) => headers[h], method: 'POST', url: 'http://localhost/api/webhooks/wealthbox/7' };
}

describe('inbound request path: the integration cache', () => {
  let now: number;
  let clock: jest.SpyInstance;
  let integrations: ReturnType<typeof fakeIntegrations>;
  let service: InboundWebhookService;

  const receive = (secret: string) =>
    service.receiveFromProvider(wealthboxWebhook, 'wealthbox', request(secret), { integrationId: 7, routedByAccount: false });
  /** The answer's status as the error handler would give it: 202, or the refusal's code. */
  const outcome = (secret: string) =>
    receive(secret).then(
      () => 'accepted',
      (err: unknown) => (err instanceof AppError ? err.code : `unexpected: ${String(err)}`),
    );
  const at = (ms: number) => clock.mockReturnValue(now + ms);

  beforeEach(() => {
    now = Date.now();
    clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    integrations = fakeIntegrations();
    service = new InboundWebhookService(fakeInbox(), integrations.lookup, createMetrics(), winston.createLogger({ silent: true }), {
      extraSecrets: () => [],
      onStored: () => undefined,
    });
  });

  afterEach(() => clock.mockRestore());

  it('when requests come in a stream, then the integration is read once per 5 s, not per request', async () => {
    for (let i = 0; i < 10; i++) expect(await outcome('first-secret')).toBe('accepted');
    at(4_999);
    expect(await outcome('first-secret')).toBe('accepted');
    expect(integrations.state.reads).toBe(1);
    at(5_000);
    expect(await outcome('first-secret')).toBe('accepted');
    expect(integrations.state.reads).toBe(2);
  });

  it('when the secret is rotated, then the new one is accepted within 1 s and the old one refused within 5 s', async () => {
    expect(await outcome('first-secret')).toBe('accepted');
    integrations.state.secret = 'second-secret';
    // The kept copy is under 1 s old: not read again for a bad signature yet.
    at(999);
    expect(await outcome('second-secret')).toBe('invalid_signature');
    // Older than that: a failing signature is judged against a fresh read.
    at(1_000);
    expect(await outcome('second-secret')).toBe('accepted');
    // That read also retired the old secret on this instance.
    expect(await outcome('first-secret')).toBe('invalid_signature');
  });

  it('when nothing prompts a re-read, then the old secret still works up to 5 s after the read, never after', async () => {
    expect(await outcome('first-secret')).toBe('accepted');
    integrations.state.secret = 'second-secret';
    at(4_999);
    expect(await outcome('first-secret')).toBe('accepted');
    at(5_000);
    expect(await outcome('first-secret')).toBe('invalid_signature');
  });

  it('when the integration is turned off or disconnected, then its events are refused within 5 s', async () => {
    expect(await outcome('first-secret')).toBe('accepted');
    integrations.state.isActive = false;
    at(4_999);
    expect(await outcome('first-secret')).toBe('accepted');
    at(5_000);
    expect(await outcome('first-secret')).toBe('integration_disconnected');

    integrations.state.isActive = true;
    at(10_000);
    expect(await outcome('first-secret')).toBe('accepted');
    integrations.state.status = 'disconnected';
    at(15_000);
    expect(await outcome('first-secret')).toBe('integration_disconnected');
  });

  it('when bad signatures flood in, then they cost at most one read per second', async () => {
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => outcome('guessed-secret')));
    expect(verdicts).toEqual(Array(20).fill('invalid_signature'));
    expect(integrations.state.reads).toBe(1);
    at(999);
    await Promise.all(Array.from({ length: 20 }, () => outcome('guessed-secret')));
    expect(integrations.state.reads).toBe(1);
    at(1_500);
    await Promise.all(Array.from({ length: 20 }, () => outcome('guessed-secret')));
    expect(integrations.state.reads).toBe(2);
  });
});

describe('inbound request path: signatures', () => {
  const raw = Buffer.from('{"id":"evt-1"}');
  const good = sign(raw, 'k');

  it('when the hex HMAC matches, in either case and with or without "sha256=", then it verifies', () => {
    expect(verifyHmacHex(raw, good, ['k'])).toBe(true);
    expect(verifyHmacHex(raw, ` sha256=${good.toUpperCase()} `, ['k'])).toBe(true);
    expect(verifyHmacHex(raw, good, ['old', 'k'])).toBe(true);
  });

  it('when it is another secret, cut short, padded or not hex, then it does not', () => {
    expect(verifyHmacHex(raw, good, ['other'])).toBe(false);
    expect(verifyHmacHex(raw, good.slice(0, 62), ['k'])).toBe(false);
    // Buffer.from(hex) would stop at the first bad digit and ignore the rest: refused before that.
    expect(verifyHmacHex(raw, `${good}00`, ['k'])).toBe(false);
    expect(verifyHmacHex(raw, `${good.slice(0, 63)}g`, ['k'])).toBe(false);
    expect(verifyHmacHex(raw, '', ['k'])).toBe(false);
    expect(verifyHmacHex(raw, good, [])).toBe(false);
  });
});

describe('inbound request path: group commit', () => {
  /** A write that stays open until released, recording the batches it was given. */
  function slowWrite() {
    const batches: number[][] = [];
    const open: (() => void)[] = [];
    const write = (items: number[]) =>
      new Promise<number[]>((resolve) => {
        batches.push(items);
        open.push(() => resolve(items.map((i) => i * 10)));
      });
    return { batches, write, release: () => open.shift()?.() };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it('when one batch may be in flight, then items arriving meanwhile wait for it and go together', async () => {
    const w = slowWrite();
    const batcher = new GroupBatcher(w.write, 500, 1);
    const results = [1, 2, 3].map((i) => batcher.add(i));
    await tick();
    expect(w.batches).toEqual([[1]]);
    w.release();
    await tick();
    expect(w.batches).toEqual([[1], [2, 3]]);
    w.release();
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
  });

  it("when two may be in flight, then one caller's items still go in one batch, in their order", async () => {
    const w = slowWrite();
    const batcher = new GroupBatcher(w.write, 3, 2);
    const first = batcher.add(1);
    // One delivery's four events: with a batch open and room for a second, they must not be
    // split between two statements in flight (whose ids could then come in either order).
    const group = batcher.addAll([2, 3, 4, 5]);
    const after = batcher.add(6);
    await tick();
    expect(w.batches).toEqual([[1], [2, 3, 4, 5]]);
    w.release();
    w.release();
    await tick();
    expect(w.batches).toEqual([[1], [2, 3, 4, 5], [6]]);
    w.release();
    expect(await first).toBe(10);
    expect(await group).toEqual([20, 30, 40, 50]);
    expect(await after).toBe(60);
  });

  it('when two may be in flight, then the second starts while the first is open, and the rest wait for either', async () => {
    const w = slowWrite();
    const batcher = new GroupBatcher(w.write, 500, 2);
    const results = [1, 2, 3, 4].map((i) => batcher.add(i));
    await tick();
    expect(w.batches).toEqual([[1], [2]]);
    w.release();
    await tick();
    expect(w.batches).toEqual([[1], [2], [3, 4]]);
    w.release();
    w.release();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40]);
  });
});
