import { createHmac } from 'node:crypto';
import winston from 'winston';
import Transport from 'winston-transport';
import { createLogger } from '../../src/lib/logger';
import { createOrganizationKey, createWealthboxIntegration, uniq } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

const SECRET = 'wealthbox-webhook-secret-1';
const NO_FAKE = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };

const sign = (raw: string, secret = SECRET) => createHmac('sha256', secret).update(raw).digest('hex');

/** Log lines, to check what a rejection writes. */
class Capture extends Transport {
  lines: string[] = [];
  override log(info: unknown, next: () => void) {
    this.lines.push(JSON.stringify(info));
    next();
  }
}

function contact(id: number, over: Record<string, unknown> = {}) {
  return {
    id,
    type: 'Person',
    first_name: 'Kevin',
    last_name: 'Anderson',
    updated_at: '2026-11-20 10:00 AM -0400',
    email_addresses: [{ address: `kevin${id}@example.com`, principal: true }],
    ...over,
  };
}

describe('inbound webhooks', () => {
  let ctx: TestContext;
  let capture: Capture;
  let wb: { orgId: number; id: number };

  const post = (raw: string, headers: Record<string, string> = {}, path = `/api/webhooks/wealthbox/${wb.id}`) =>
    ctx.http
      .post(path)
      .set({ 'Content-Type': 'application/json', ...headers })
      .send(raw);
  const signed = (body: unknown, secret = SECRET, path?: string) => {
    const raw = JSON.stringify(body);
    return post(raw, { 'x-wealthbox-signature': sign(raw, secret) }, path);
  };
  const events = (integrationId = wb.id) =>
    ctx.sql<{ id: number; status: string; outcome: string | null }>(
      'SELECT id, status, outcome FROM inbound_events WHERE integration_id = $1 ORDER BY id',
      [integrationId],
    );
  const userByExternal = async (externalId: string, orgId = wb.orgId) =>
    (
      await ctx.sql<{ id: number; name: string; email: string; deleted_at: Date | null }>(
        // A deleted contact's identity is gone; its tombstone keeps the user it had.
        `SELECT u.id, u.name, u.email, u.deleted_at FROM users u
         WHERE u.id = COALESCE(
           (SELECT user_id FROM user_identities WHERE organization_id = $1 AND provider = 'wealthbox' AND external_id = $2),
           (SELECT user_id FROM tombstones WHERE organization_id = $1 AND provider = 'wealthbox' AND external_id = $2))`,
        [orgId, externalId],
      )
    )[0];

  beforeAll(async () => {
    capture = new Capture();
    const logger = winston.createLogger({ level: 'info', transports: [capture] });
    ctx = await createTestContext({}, logger);
    wb = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: SECRET });
  });
  afterAll(() => ctx.close());

  describe('signatures (x-wealthbox-signature: hex HMAC-SHA256 of the raw body)', () => {
    it('accepts a valid signature: stored before the answer, processed by the worker', async () => {
      const res = await signed({ id: 'evt-valid', event: 'contact.created', contact: contact(101) });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ received: true, duplicate: false, eventId: expect.any(Number) });
      const [row] = await ctx.sql('SELECT status FROM inbound_events WHERE id = $1', [res.body.eventId]);
      expect(row.status).toBe('pending');
      await ctx.services.inboxWorker.drain();
      expect(await userByExternal('101')).toMatchObject({ name: 'Kevin Anderson', email: 'kevin101@example.com', deleted_at: null });
      const [after] = await ctx.sql('SELECT status, outcome FROM inbound_events WHERE id = $1', [res.body.eventId]);
      expect(after).toEqual({ status: 'processed', outcome: 'created' });
    });

    it('also accepts a "sha256=" prefixed signature', async () => {
      const raw = JSON.stringify({ id: 'evt-prefixed', event: 'contact.created', contact: contact(102) });
      const res = await post(raw, { 'x-wealthbox-signature': `sha256=${sign(raw)}` });
      expect(res.status).toBe(202);
    });

    it.each([
      ['a wrong signature', (raw: string) => ({ 'x-wealthbox-signature': sign(raw, 'another-secret') }), 'invalid_signature'],
      ['a signature of other bytes', (raw: string) => ({ 'x-wealthbox-signature': sign(`${raw} `) }), 'invalid_signature'],
      ['a truncated signature', (raw: string) => ({ 'x-wealthbox-signature': sign(raw).slice(0, 40) }), 'invalid_signature'],
      ['no signature', () => ({}), 'missing_signature'],
    ])('rejects %s with 401 and stores nothing', async (_name, headers, code) => {
      const before = (await events()).length;
      const raw = JSON.stringify({ id: uniq('evt'), event: 'contact.created', contact: contact(103) });
      const res = await post(raw, headers(raw));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ success: false, code });
      expect((await events()).length).toBe(before);
    });

    it('counts rejections and logs them without the payload', async () => {
      const raw = JSON.stringify({ event: 'contact.created', contact: contact(104, { first_name: 'Secretname' }) });
      await post(raw, { 'x-wealthbox-signature': sign(raw, 'nope-nope-nope') });
      const line = capture.lines.find((l) => l.includes('inbound webhook rejected') && l.includes('invalid_signature'));
      expect(line).toBeDefined();
      expect(line).not.toContain('Secretname');
      expect(line).not.toContain('kevin104@example.com');
      const metric = await ctx.services.metrics.webhookInbound.get();
      const rejected = metric.values.find((v) => v.labels.channel === 'wealthbox' && v.labels.outcome === 'rejected_signature');
      expect(rejected?.value).toBeGreaterThanOrEqual(1);
    });

    it('an integration without a webhook secret rejects instead of skipping the check', async () => {
      const bare = await createWealthboxIntegration(ctx, NO_FAKE);
      const body = { event: 'contact.created', contact: contact(105) };
      const res = await signed(body, SECRET, `/api/webhooks/wealthbox/${bare.id}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('webhook_secret_not_configured');
      expect(await events(bare.id)).toHaveLength(0);
    });

    it('when the secret or the status changes through the API, then requests follow within the stated times (1 s, 5 s)', async () => {
      const own = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: 'rotating-secret-1' });
      const path = `/api/webhooks/wealthbox/${own.id}`;
      const body = () => ({ id: uniq('evt-rot'), event: 'contact.created', contact: contact(106) });
      const real = Date.now.bind(Date);
      let offset = 0;
      const clock = jest.spyOn(Date, 'now').mockImplementation(() => real() + offset);
      try {
        expect((await signed(body(), 'rotating-secret-1', path)).status).toBe(202);
        const patch = (change: Record<string, unknown>) =>
          ctx.http.patch(`/api/integrations/${own.id}`).set('x-api-key', ADMIN_KEY).send(change).expect(200);
        await patch({ config: { webhookSecret: 'rotating-secret-2' } });
        offset = 1_000;
        expect((await signed(body(), 'rotating-secret-2', path)).status).toBe(202);
        expect((await signed(body(), 'rotating-secret-1', path)).status).toBe(401);
        await patch({ isActive: false });
        offset = 6_000;
        const off = await signed(body(), 'rotating-secret-2', path);
        expect(off.status).toBe(409);
        expect(off.body.code).toBe('integration_disconnected');
      } finally {
        clock.mockRestore();
      }
    });

    it('an unknown integration is a 404; an id that is not a number is a 400', async () => {
      expect((await signed({ event: 'contact.created', contact: contact(1) }, SECRET, '/api/webhooks/wealthbox/999999')).status).toBe(404);
      expect((await signed({ event: 'contact.created', contact: contact(1) }, SECRET, '/api/webhooks/wealthbox/abc')).status).toBe(400);
    });
  });

  describe('bad bodies with good signatures', () => {
    it('malformed JSON → 400, nothing stored', async () => {
      const before = (await events()).length;
      const raw = '{"event": "contact.created", ';
      const res = await post(raw, { 'x-wealthbox-signature': sign(raw) });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('malformed_json');
      expect((await events()).length).toBe(before);
    });

    it('a payload of the wrong shape → 400 naming the fields', async () => {
      const res = await signed({ event: 'contact.exploded', contact: { id: 'x1' } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_payload');
      const paths = res.body.details.map((d: { path: string }) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['body.event', 'body.contact.id']));
    });

    it('a contact with a malformed email → 400', async () => {
      const res = await signed({ event: 'contact.created', contact: contact(106, { email_addresses: [{ address: 'not-an-email' }] }) });
      expect(res.status).toBe(400);
      expect(res.body.details[0].message).toContain('not-an-email');
    });

    it('a body over the limit → 413', async () => {
      const raw = JSON.stringify({ event: 'contact.created', contact: contact(107, { background: 'x'.repeat(1_100_000) }) });
      const res = await post(raw, { 'x-wealthbox-signature': sign(raw) });
      expect(res.status).toBe(413);
    });
  });

  describe('exactly once', () => {
    it('the same event three times → one stored event, one effect; the repeats answer 200', async () => {
      const body = { id: 'evt-thrice', event: 'contact.created', contact: contact(201) };
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await signed(body));
      expect(answers.map((a) => a.status)).toEqual([202, 200, 200]);
      // A repeat names the event stored the first time.
      expect(answers[1].body).toMatchObject({ duplicate: true, eventId: answers[0].body.eventId });
      expect(answers[2].body.eventId).toBe(answers[0].body.eventId);
      expect(typeof answers[0].body.eventId).toBe('number');
      await ctx.services.inboxWorker.drain();
      const rows = await ctx.sql(`SELECT count(*)::int AS n FROM inbound_events WHERE dedupe_key = 'id:evt-thrice'`);
      expect(rows[0].n).toBe(1);
      const users = await ctx.sql(`SELECT count(*)::int AS n FROM users WHERE email = 'kevin201@example.com'`);
      expect(users[0].n).toBe(1);
    });

    it('when the same event arrives many times at once (inserts in flight side by side), then one is stored and every answer names it', async () => {
      const body = { id: 'evt-at-once', event: 'contact.created', contact: contact(203) };
      const answers = await Promise.all(Array.from({ length: 12 }, () => signed(body)));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
      const [row] = await ctx.sql<{ id: number; n: number }>(
        `SELECT min(id)::int AS id, count(*)::int AS n FROM inbound_events WHERE dedupe_key = 'id:evt-at-once'`,
      );
      expect(row.n).toBe(1);
      expect(new Set(answers.map((a) => a.body.eventId))).toEqual(new Set([row.id]));
    });

    it('without a sender id, the body hash deduplicates', async () => {
      const body = { event: 'contact.created', contact: contact(202) };
      expect((await signed(body)).status).toBe(202);
      expect((await signed(body)).status).toBe(200);
      const changed = { ...body, contact: contact(202, { first_name: 'Kev' }) };
      expect((await signed(changed)).status).toBe(202);
    });

    it('two workers draining at once process each event once', async () => {
      for (let i = 0; i < 40; i++) await signed({ id: `evt-race-${i}`, event: 'contact.created', contact: contact(300 + i) });
      const other = await createTestContext({ DATABASE_URL: ctx.databaseUrl });
      try {
        await Promise.all([ctx.services.inboxWorker.drain(), other.services.inboxWorker.drain()]);
      } finally {
        await other.close();
      }
      const rows = await ctx.sql<{ status: string; attempts: number }>(
        `SELECT status, attempts FROM inbound_events WHERE dedupe_key LIKE 'id:evt-race-%'`,
      );
      expect(rows).toHaveLength(40);
      expect(rows.every((r) => r.status === 'processed' && r.attempts === 1)).toBe(true);
      const users = await ctx.sql(`SELECT count(*)::int AS n FROM users WHERE organization_id = $1 AND email LIKE 'kevin3__@example.com'`, [
        wb.orgId,
      ]);
      expect(users[0].n).toBe(40);
    });

    it('a crash after receipt loses nothing: the next instance processes the event, once', async () => {
      // An instance that stores events but dies before processing them (workers never ran).
      const first = await createTestContext({ DATABASE_URL: ctx.databaseUrl, WEBHOOK_WORKERS_ENABLED: 'false' });
      const raw = JSON.stringify({ id: 'evt-crash', event: 'contact.created', contact: contact(401) });
      const res = await first.http
        .post(`/api/webhooks/wealthbox/${wb.id}`)
        .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': sign(raw) })
        .send(raw);
      expect(res.status).toBe(202);
      first.services.workers.start();
      await first.close();
      expect(await userByExternal('401')).toBeUndefined();

      // The restarted instance: its worker finds the event and applies it.
      const second = await createTestContext({ DATABASE_URL: ctx.databaseUrl });
      try {
        second.services.workers.start();
        const deadline = Date.now() + 10_000;
        while (!(await userByExternal('401')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      } finally {
        await second.close();
      }
      expect(await userByExternal('401')).toMatchObject({ email: 'kevin401@example.com' });
      const [row] = await ctx.sql(`SELECT status, attempts FROM inbound_events WHERE dedupe_key = 'id:evt-crash'`);
      expect(row).toEqual({ status: 'processed', attempts: 1 });
    });
  });

  describe('effects and ordering', () => {
    it('updates, then deletes (soft) the user', async () => {
      await signed({ id: 'e-501-a', event: 'contact.created', contact: contact(501) });
      await ctx.services.inboxWorker.drain();
      await signed({
        id: 'e-501-b',
        event: 'contact.updated',
        contact: contact(501, { first_name: 'Kevin J.', updated_at: '2026-11-20 11:00 AM -0400' }),
      });
      await ctx.services.inboxWorker.drain();
      expect((await userByExternal('501')).name).toBe('Kevin J. Anderson');
      await signed({ id: 'e-501-c', event: 'contact.deleted', occurred_at: '2026-11-20 12:00 PM -0400', contact: { id: 501 } });
      await ctx.services.inboxWorker.drain();
      expect((await userByExternal('501')).deleted_at).not.toBeNull();
    });

    it('an older event never overwrites newer data, whichever order they arrive in', async () => {
      const newer = contact(601, { first_name: 'Newer', updated_at: '2026-11-21 09:00 AM -0400' });
      const older = contact(601, { first_name: 'Older', updated_at: '2026-11-21 08:00 AM -0400' });
      // Across batches: newer first, older later.
      await signed({ id: 'e-601-new', event: 'contact.updated', contact: newer });
      await ctx.services.inboxWorker.drain();
      const late = await signed({ id: 'e-601-old', event: 'contact.updated', contact: older });
      await ctx.services.inboxWorker.drain();
      expect((await userByExternal('601')).name).toBe('Newer Anderson');
      const [row] = await ctx.sql('SELECT outcome FROM inbound_events WHERE id = $1', [late.body.eventId]);
      expect(row.outcome).toBe('stale');

      // In one batch, arriving old-after-new: the newest wins, the other is superseded.
      await signed({
        id: 'e-602-new',
        event: 'contact.updated',
        contact: contact(602, { first_name: 'B', updated_at: '2026-11-21 09:00 AM -0400' }),
      });
      await signed({
        id: 'e-602-old',
        event: 'contact.updated',
        contact: contact(602, { first_name: 'A', updated_at: '2026-11-21 08:00 AM -0400' }),
      });
      await ctx.services.inboxWorker.drain();
      expect((await userByExternal('602')).name).toBe('B Anderson');
    });

    it('an update older than a deletion does not bring the user back', async () => {
      await signed({ id: 'e-701-a', event: 'contact.created', contact: contact(701, { updated_at: '2026-11-21 08:00 AM -0400' }) });
      await ctx.services.inboxWorker.drain();
      await signed({ id: 'e-701-del', event: 'contact.deleted', occurred_at: '2026-11-21 10:00 AM -0400', contact: { id: 701 } });
      await ctx.services.inboxWorker.drain();
      await signed({ id: 'e-701-late', event: 'contact.updated', contact: contact(701, { updated_at: '2026-11-21 09:00 AM -0400' }) });
      await ctx.services.inboxWorker.drain();
      expect((await userByExternal('701')).deleted_at).not.toBeNull();
    });

    it('non-Person contacts are acknowledged and ignored', async () => {
      const res = await signed({ id: 'e-household', event: 'contact.created', contact: contact(801, { type: 'Household' }) });
      await ctx.services.inboxWorker.drain();
      const [row] = await ctx.sql('SELECT status, outcome FROM inbound_events WHERE id = $1', [res.body.eventId]);
      expect(row).toEqual({ status: 'processed', outcome: 'ignored' });
      expect(await userByExternal('801')).toBeUndefined();
    });
  });

  describe('seed 002 envelope at POST /api/webhook', () => {
    let ghl: { orgId: number; id: number };
    const GHL_SECRET = 'ghl-webhook-secret-1';
    const envelope = (body: unknown, secret = GHL_SECRET) => {
      const raw = JSON.stringify(body);
      return ctx.http
        .post('/api/webhook')
        .set({ 'Content-Type': 'application/json', 'x-webhook-signature': sign(raw, secret) })
        .send(raw);
    };

    beforeAll(async () => {
      // The built-in gohighlevel template: its integrations have a locationId (the routing key).
      const org = await ctx.http
        .post('/api/organizations')
        .set('x-api-key', ADMIN_KEY)
        .send({ name: uniq('GHL org') });
      const i = await ctx.http
        .post('/api/integrations')
        .set('x-api-key', ADMIN_KEY)
        .send({
          organizationId: org.body.data.id,
          provider: 'gohighlevel',
          name: 'GHL',
          config: { apiKey: 'ghl-token-123', locationId: 'loc-123', webhookSecret: GHL_SECRET },
        });
      expect(i.status).toBe(201);
      ghl = { orgId: org.body.data.id, id: i.body.data.id };
    });

    it('contact.created creates the user in the integration found by payload.locationId', async () => {
      const res = await envelope({
        id: 'ghl-1',
        type: 'contact.created',
        source: 'gohighlevel',
        payload: { id: 'c-1', locationId: 'loc-123', firstName: 'Ada', lastName: 'Lovelace', email: 'ADA@example.com' },
      });
      expect(res.status).toBe(202);
      await ctx.services.inboxWorker.drain();
      const [u] = await ctx.sql(
        `SELECT u.name, u.email, u.source FROM users u JOIN user_identities ui ON ui.user_id = u.id
         WHERE ui.organization_id = $1 AND ui.provider = 'gohighlevel' AND ui.external_id = 'c-1'`,
        [ghl.orgId],
      );
      expect(u).toEqual({ name: 'Ada Lovelace', email: 'ada@example.com', source: 'gohighlevel' });
    });

    it('outbound.message becomes an activity on the user; before its contact exists it waits and retries', async () => {
      const early = await envelope({
        id: 'ghl-msg-1',
        type: 'outbound.message',
        source: 'gohighlevel',
        payload: { contactId: 'c-2', locationId: 'loc-123', messageType: 'SMS', body: 'Hello', direction: 'outbound' },
      });
      expect(early.status).toBe(202);
      await ctx.services.inboxWorker.drain();
      const [waiting] = await ctx.sql('SELECT status, outcome, last_error FROM inbound_events WHERE id = $1', [early.body.eventId]);
      expect(waiting).toMatchObject({ status: 'pending', outcome: 'retry' });
      expect(waiting.last_error).toContain('c-2');

      await envelope({
        id: 'ghl-2',
        type: 'contact.created',
        source: 'gohighlevel',
        payload: { id: 'c-2', locationId: 'loc-123', name: 'Bob' },
      });
      await ctx.sql(`UPDATE inbound_events SET next_attempt_at = now() WHERE id = $1`, [early.body.eventId]);
      await ctx.services.inboxWorker.drain();
      const activities = await ctx.sql(
        `SELECT a.type, a.data->>'body' AS body FROM user_activities a JOIN user_identities ui ON ui.user_id = a.user_id
         WHERE ui.provider = 'gohighlevel' AND ui.external_id = 'c-2'`,
      );
      expect(activities).toEqual([{ type: 'outbound.message', body: 'Hello' }]);
      const [{ user_id: userId }] = await ctx.sql(
        `SELECT user_id FROM user_identities WHERE provider = 'gohighlevel' AND external_id = 'c-2'`,
      );
      const api = await ctx.http.get(`/api/users/${userId}/activities`).set('x-api-key', ADMIN_KEY);
      expect(api.status).toBe(200);
      expect(api.body.data).toEqual([
        expect.objectContaining({ type: 'outbound.message', data: expect.objectContaining({ messageType: 'SMS', body: 'Hello' }) }),
      ]);
    });

    it('an event that keeps failing is parked as failed after the last attempt, and replay runs it again', async () => {
      const res = await envelope({
        id: 'ghl-msg-never',
        type: 'outbound.message',
        payload: { contactId: 'c-never', locationId: 'loc-123', messageType: 'SMS', body: 'Hi' },
      });
      // Seven attempts already failed; the eighth (WEBHOOK_INBOX_MAX_ATTEMPTS) is the last.
      await ctx.sql(`UPDATE inbound_events SET attempts = 7 WHERE id = $1`, [res.body.eventId]);
      await ctx.services.inboxWorker.drain();
      const [parked] = await ctx.sql('SELECT status, outcome, attempts, last_error FROM inbound_events WHERE id = $1', [res.body.eventId]);
      expect(parked).toMatchObject({ status: 'failed', outcome: 'failed', attempts: 8 });
      expect(parked.last_error).toContain('c-never');
      const failed = await ctx.http.get('/api/webhooks/events').query({ status: 'failed' }).set('x-api-key', ADMIN_KEY);
      expect(failed.body.data.map((e: { id: number }) => e.id)).toContain(res.body.eventId);
      await ctx.http.post(`/api/webhooks/events/${res.body.eventId}/replay`).set('x-api-key', ADMIN_KEY);
      await ctx.services.inboxWorker.drain();
      const [again] = await ctx.sql('SELECT status, attempts FROM inbound_events WHERE id = $1', [res.body.eventId]);
      expect(again).toEqual({ status: 'pending', attempts: 1 });
    });

    it('rejects a wrong signature (401), an unknown locationId (404) and a missing one (400)', async () => {
      const body = { type: 'contact.created', payload: { id: 'c-3', locationId: 'loc-123' } };
      expect((await envelope(body, 'wrong-secret')).status).toBe(401);
      expect((await envelope({ ...body, payload: { id: 'c-3', locationId: 'loc-nope' } })).status).toBe(404);
      const missing = await envelope({ type: 'contact.created', payload: { id: 'c-3' } });
      expect(missing.status).toBe(400);
      expect(missing.body.details[0].path).toBe('body.payload.locationId');
      const unsigned = await ctx.http.post('/api/webhook').set('Content-Type', 'application/json').send(JSON.stringify(body));
      expect(unsigned.status).toBe(401);
    });
  });

  describe('GET /api/webhooks/events and replay', () => {
    it('lists with filters, shows one event with its payload, and replays it', async () => {
      const list = await ctx.http
        .get('/api/webhooks/events')
        .query({ provider: 'wealthbox', status: 'processed', limit: 5 })
        .set('x-api-key', ADMIN_KEY);
      expect(list.status).toBe(200);
      expect(list.body.data.length).toBeGreaterThan(0);
      expect(
        list.body.data.every((e: { status: string; provider: string }) => e.status === 'processed' && e.provider === 'wealthbox'),
      ).toBe(true);

      const id = list.body.data[0].id;
      const one = await ctx.http.get(`/api/webhooks/events/${id}`).set('x-api-key', ADMIN_KEY);
      expect(one.body.data).toMatchObject({ id, status: 'processed', payload: expect.any(Object) });

      const replay = await ctx.http.post(`/api/webhooks/events/${id}/replay`).set('x-api-key', ADMIN_KEY);
      expect(replay.status).toBe(202);
      expect(replay.body.data).toMatchObject({ status: 'pending', attempts: 0 });
      await ctx.services.inboxWorker.drain();
      const again = await ctx.http.get(`/api/webhooks/events/${id}`).set('x-api-key', ADMIN_KEY);
      expect(again.body.data.status).toBe('processed');
    });

    it('filters by time and rejects bad filters', async () => {
      const future = await ctx.http.get('/api/webhooks/events').query({ from: '2099-01-01T00:00:00Z' }).set('x-api-key', ADMIN_KEY);
      expect(future.body.data).toEqual([]);
      const bad = await ctx.http.get('/api/webhooks/events').query({ status: 'weird', from: 'yesterday' }).set('x-api-key', ADMIN_KEY);
      expect(bad.status).toBe(400);
      expect(bad.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['query.from', 'query.status']);
    });

    it("an organization key sees only its organization's events", async () => {
      const key = await createOrganizationKey(ctx, wb.orgId);
      const mine = await ctx.http.get('/api/webhooks/events').set('x-api-key', key);
      // Exactly its events: an empty list would pass an "all mine" check, so compare the ids.
      const its = await ctx.sql<{ id: number }>('SELECT id FROM inbound_events WHERE organization_id = $1 ORDER BY id DESC LIMIT 10', [
        wb.orgId,
      ]);
      expect(its.length).toBeGreaterThan(0);
      expect(mine.body.data.map((e: { id: number }) => e.id).sort()).toEqual(its.map((e) => e.id).sort());
      const [other] = await ctx.sql<{ id: number }>('SELECT id FROM inbound_events WHERE organization_id <> $1 LIMIT 1', [wb.orgId]);
      expect((await ctx.http.get(`/api/webhooks/events/${other.id}`).set('x-api-key', key)).status).toBe(404);
      expect((await ctx.http.post(`/api/webhooks/events/${other.id}/replay`).set('x-api-key', key)).status).toBe(404);
    });
  });
});

describe('seed 000 single tenant: POST /api/webhooks/wealthbox with WEALTHBOX_WEBHOOK_SECRET', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(
      { WEALTHBOX_API_KEY: 'env-token-123', WEALTHBOX_API_URL: 'http://127.0.0.1:9', WEALTHBOX_WEBHOOK_SECRET: 'env-webhook-secret' },
      createLogger({ level: 'error', json: true, silent: true }),
    );
  });
  afterAll(() => ctx.close());

  it('goes to the default organization’s Wealthbox integration', async () => {
    const raw = JSON.stringify({ id: 'env-1', event: 'contact.created', contact: contact(901) });
    const res = await ctx.http
      .post('/api/webhooks/wealthbox')
      .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': sign(raw, 'env-webhook-secret') })
      .send(raw);
    expect(res.status).toBe(202);
    await ctx.services.inboxWorker.drain();
    const [u] = await ctx.sql(
      `SELECT o.slug FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.email = 'kevin901@example.com'`,
    );
    expect(u.slug).toBe('default');
  });
});
