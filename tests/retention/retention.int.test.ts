import { createHmac } from 'node:crypto';
import { loadConfig } from '../../src/config/config';
import { createLogger } from '../../src/lib/logger';
import { createRetentionRepository, RetentionService, type RetentionRepository } from '../../src/modules/retention';
import { createOrganization, createOrganizationKey, createUser, createWealthboxIntegration, uniq } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

const SECRET = 'retention-webhook-secret-1';
const NO_FAKE = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };
const admin = { 'x-api-key': ADMIN_KEY };
const silent = createLogger({ level: 'error', json: true, silent: true });

function contact(id: number, first: string, email: string) {
  return {
    id,
    type: 'Person',
    first_name: first,
    last_name: 'Tester',
    updated_at: '2026-11-20 10:00 AM -0400',
    email_addresses: [{ address: email, principal: true }],
  };
}

describe('retention and erasure', () => {
  let ctx: TestContext;

  const webhook = (integrationId: number, body: unknown) => {
    const raw = JSON.stringify(body);
    return ctx.http
      .post(`/api/webhooks/wealthbox/${integrationId}`)
      .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': createHmac('sha256', SECRET).update(raw).digest('hex') })
      .send(raw);
  };
  const payloadOf = async (id: number) =>
    (await ctx.sql<{ payload: Record<string, unknown> }>('SELECT payload FROM inbound_events WHERE id = $1', [id]))[0].payload;
  const exists = async (table: string, id: number | string) => (await ctx.sql(`SELECT 1 FROM ${table} WHERE id = $1`, [id])).length === 1;
  const subscribe = async (organizationId: number) => {
    const res = await ctx.http
      .post('/api/webhook-subscriptions')
      .set(admin)
      .send({ organizationId, url: 'http://127.0.0.1:9/hook', events: ['user.created', 'user.updated', 'user.deleted'] });
    expect(res.status).toBe(201);
    return res.body.data.id as number;
  };

  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  describe('pruning', () => {
    it('when a batch is full, then the next one runs, until one affects fewer rows than a batch', async () => {
      const calls: number[] = [];
      let left = 5;
      const take = async (_before: Date, limit: number) => {
        const n = Math.min(left, limit);
        left -= n;
        calls.push(n);
        return n;
      };
      const none = async () => 0;
      const repo: RetentionRepository = {
        pruneInboundPayloads: take,
        deleteDeliveredDeliveries: none,
        deleteUndeliveredEvents: none,
        deleteFinishedRuns: none,
      };
      const now = new Date('2026-11-23T12:00:00Z');
      const service = new RetentionService(
        repo,
        silent,
        { inboundPayloadDays: 30, deliveriesDays: 30, syncRunsDays: 0, batch: 2 },
        () => now,
      );
      const counts = await service.prune();
      expect(calls).toEqual([2, 2, 1]);
      expect(counts).toEqual({ inboundPayloads: 5, deliveries: 0, webhookEvents: 0, syncRuns: 0 });
    });

    it('when inbound payloads are older than the window, then they are pruned in batches, the rows and dedupe keys stay, and a replay is refused', async () => {
      const wb = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: SECRET });
      const ids: Record<string, number> = {};
      for (const [i, key] of ['old-1', 'old-2', 'old-3', 'old-pending', 'new'].entries()) {
        const res = await webhook(wb.id, { id: key, event: 'contact.created', contact: contact(900 + i, 'Pat', `pat${i}@example.com`) });
        expect(res.status).toBe(202);
        ids[key] = res.body.eventId;
      }
      await ctx.services.inboxWorker.drain();
      const old = [ids['old-1'], ids['old-2'], ids['old-3'], ids['old-pending']];
      await ctx.sql(`UPDATE inbound_events SET received_at = now() - interval '31 days' WHERE id = ANY($1)`, [old]);
      await ctx.sql(`UPDATE inbound_events SET status = 'failed' WHERE id = $1`, [ids['old-3']]);
      // Not yet processed: kept whatever its age.
      await ctx.sql(`UPDATE inbound_events SET status = 'pending', next_attempt_at = now() + interval '1 day' WHERE id = $1`, [
        ids['old-pending'],
      ]);

      // 0 days keeps everything.
      const keepAll = new RetentionService(createRetentionRepository(ctx.prisma), silent, {
        inboundPayloadDays: 0,
        deliveriesDays: 0,
        syncRunsDays: 0,
        batch: 2,
      });
      expect(await keepAll.prune()).toEqual({ inboundPayloads: 0, deliveries: 0, webhookEvents: 0, syncRuns: 0 });
      expect(await payloadOf(ids['old-1'])).toMatchObject({ id: 'old-1' });

      const batched = new RetentionService(createRetentionRepository(ctx.prisma), silent, {
        inboundPayloadDays: 30,
        deliveriesDays: 0,
        syncRunsDays: 0,
        batch: 2,
      });
      expect((await batched.prune()).inboundPayloads).toBe(3);
      for (const key of ['old-1', 'old-2', 'old-3']) {
        expect(await payloadOf(ids[key])).toEqual({ pruned: true, at: expect.any(String) });
      }
      expect(await payloadOf(ids['old-pending'])).toMatchObject({ id: 'old-pending' });
      expect(await payloadOf(ids.new)).toMatchObject({ id: 'new' });
      expect((await batched.prune()).inboundPayloads).toBe(0);

      const again = await webhook(wb.id, { id: 'old-1', event: 'contact.created', contact: contact(900, 'Pat', 'pat0@example.com') });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ duplicate: true, eventId: ids['old-1'] });

      const replay = await ctx.http.post(`/api/webhooks/events/${ids['old-3']}/replay`).set(admin);
      expect(replay.status).toBe(409);
      expect(replay.body.code).toBe('event_pruned');
      expect((await ctx.sql<{ status: string }>('SELECT status FROM inbound_events WHERE id = $1', [ids['old-3']]))[0].status).toBe(
        'failed',
      );
      expect((await ctx.http.post(`/api/webhooks/events/${ids.new}/replay`).set(admin)).status).toBe(202);
    });

    it('when deliveries succeeded long ago, then they, their attempts and their events go; open, failed and recent ones stay', async () => {
      const org = await createOrganization(ctx);
      await subscribe(org.id);
      const users = [];
      for (let i = 0; i < 4; i++) users.push(await createUser(ctx, org.id));
      const rows = await ctx.sql<{ id: number; event_id: string }>(
        `SELECT d.id, d.event_id FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
         WHERE e.organization_id = $1 ORDER BY d.id`,
        [org.id],
      );
      expect(rows).toHaveLength(4);
      const [oldOk, recentOk, oldFailed, open] = rows;
      await ctx.sql(`UPDATE webhook_deliveries SET status = 'succeeded', delivered_at = now() - interval '31 days' WHERE id = $1`, [
        oldOk.id,
      ]);
      await ctx.sql(`UPDATE webhook_deliveries SET status = 'succeeded', delivered_at = now() - interval '1 day' WHERE id = $1`, [
        recentOk.id,
      ]);
      await ctx.sql(`UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL WHERE id = $1`, [oldFailed.id]);
      await ctx.sql(
        `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_at, status_code, latency_ms) VALUES ($1, 1, now() - interval '31 days', 200, 5)`,
        [oldOk.id],
      );
      await ctx.sql(`UPDATE webhook_events SET created_at = now() - interval '31 days' WHERE organization_id = $1`, [org.id]);
      // An old event with no delivery (its subscription was deleted, say).
      const orphan = '00000000-0000-4000-8000-000000000001';
      await ctx.sql(
        `INSERT INTO webhook_events (id, organization_id, type, data, created_at) VALUES ($1, $2, 'user.updated', '{}', now() - interval '40 days')`,
        [orphan, org.id],
      );
      const fresh = '00000000-0000-4000-8000-000000000002';
      await ctx.sql(`INSERT INTO webhook_events (id, organization_id, type, data) VALUES ($1, $2, 'user.updated', '{}')`, [fresh, org.id]);

      const pruned = await ctx.services.retentionJob.run();
      expect(pruned.deliveries).toBe(1);
      expect(pruned.webhookEvents).toBe(2);
      expect(await exists('webhook_deliveries', oldOk.id)).toBe(false);
      expect(await ctx.sql('SELECT 1 FROM webhook_delivery_attempts WHERE delivery_id = $1', [oldOk.id])).toHaveLength(0);
      expect(await exists('webhook_events', oldOk.event_id)).toBe(false);
      expect(await exists('webhook_events', orphan)).toBe(false);
      for (const kept of [recentOk, oldFailed, open]) {
        expect(await exists('webhook_deliveries', kept.id)).toBe(true);
        expect(await exists('webhook_events', kept.event_id)).toBe(true);
      }
      expect(await exists('webhook_events', fresh)).toBe(true);
    });

    it('when sync runs are older than the window, then finished ones go but each integration keeps its newest of each operation', async () => {
      const a = await createWealthboxIntegration(ctx, NO_FAKE);
      const b = await createWealthboxIntegration(ctx, NO_FAKE);
      const run = async (orgId: number, integrationId: number | null, operation: string, status: string, daysAgo: number) => {
        const [row] = await ctx.sql<{ id: number }>(
          `INSERT INTO sync_runs (organization_id, integration_id, operation, trigger, source, status, started_at, finished_at)
           VALUES ($1, $2, $3, 'cron', 'wealthbox', $4, now() - make_interval(days => $5), CASE WHEN $4 = 'running' THEN NULL ELSE now() - make_interval(days => $5) END)
           RETURNING id`,
          [orgId, integrationId, operation, status, daysAgo],
        );
        return row.id;
      };
      // Still running (never deleted), and older by id than a3, the newest incremental.
      const aRunning = await run(a.orgId, a.id, 'incremental', 'running', 200);
      const a1 = await run(a.orgId, a.id, 'full', 'succeeded', 120);
      const a2 = await run(a.orgId, a.id, 'full', 'failed', 100);
      const a3 = await run(a.orgId, a.id, 'incremental', 'succeeded', 100);
      const a4 = await run(a.orgId, a.id, 'full', 'succeeded', 95);
      const a5 = await run(a.orgId, a.id, 'full', 'succeeded', 1);
      const b1 = await run(b.orgId, b.id, 'full', 'failed', 300);
      const push = await run(a.orgId, null, 'user_sync', 'succeeded', 100);

      const pruned = await ctx.services.retentionJob.run();
      expect(pruned.syncRuns).toBe(4);
      for (const gone of [a1, a2, a4, push]) expect(await exists('sync_runs', gone)).toBe(false);
      for (const kept of [a3, aRunning, a5, b1]) expect(await exists('sync_runs', kept)).toBe(true);
    });

    it('is listed by GET /api/sync/jobs with its schedule, days kept and last pass; it is scheduled only with CRON_ENABLED', async () => {
      ctx.services.retentionJob.start(); // CRON_ENABLED=false in tests: no schedule
      const res = await ctx.http.get('/api/sync/jobs').set(admin);
      expect(res.status).toBe(200);
      const job = (res.body.data as { name: string }[]).find((j) => j.name === 'retention');
      expect(job).toMatchObject({
        schedule: '17 * * * *',
        enabled: false,
        nextRunAt: null,
        keepDays: { inboundPayloads: 30, deliveries: 30, syncRuns: 90 },
        lastRun: { at: expect.any(String), pruned: expect.objectContaining({ syncRuns: 4 }) },
      });

      const on = await createTestContext({ DATABASE_URL: ctx.databaseUrl, CRON_ENABLED: 'true', RETENTION_CRON: '5 * * * *' });
      try {
        on.services.retentionJob.start();
        expect(on.services.retentionJob.describe()).toMatchObject({ enabled: true, schedule: '5 * * * *', nextRunAt: expect.any(Date) });
        await on.services.retentionJob.stop();
        expect(on.services.retentionJob.describe().nextRunAt).toBeNull();
      } finally {
        await on.close();
      }
    });

    it('when a retention setting is malformed, then the configuration names it', () => {
      expect(() => loadConfig({ RETENTION_CRON: 'hourly', RETENTION_SYNC_RUNS_DAYS: '-1', RETENTION_BATCH: '0' })).toThrow(
        expect.objectContaining({
          problems: expect.arrayContaining([
            'RETENTION_CRON: must be a cron expression',
            expect.stringContaining('RETENTION_SYNC_RUNS_DAYS'),
            expect.stringContaining('RETENTION_BATCH'),
          ]),
        }),
      );
      expect(loadConfig({}).retention).toEqual({
        inboundPayloadDays: 30,
        deliveriesDays: 30,
        syncRunsDays: 90,
        cron: '17 * * * *',
        batch: 1000,
      });
    });
  });

  describe('erasure: DELETE /api/users/:id?erase=true', () => {
    it('when a user is erased, then payloads no longer name it, its row is blanked, and other users are untouched', async () => {
      const wb = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: SECRET });
      await subscribe(wb.orgId);
      const annEmail = `${uniq('ann')}@example.com`;
      const bobEmail = `${uniq('bob')}@example.com`;
      const annEvt = (await webhook(wb.id, { id: uniq('e'), event: 'contact.created', contact: contact(70001, 'Annabel', annEmail) })).body
        .eventId;
      const bobEvt = (await webhook(wb.id, { id: uniq('e'), event: 'contact.created', contact: contact(70002, 'Roberto', bobEmail) })).body
        .eventId;
      await ctx.services.inboxWorker.drain();
      // A later event naming Ann only by email (upper case), and one naming her record id only.
      const byEmail = (
        await webhook(wb.id, { id: uniq('e'), event: 'contact.updated', contact: contact(70003, 'Someone', annEmail.toUpperCase()) })
      ).body.eventId;
      const byId = (await webhook(wb.id, { id: uniq('e'), event: 'contact.deleted', contact: { id: 70001 } })).body.eventId;
      // An address that contains Ann's as a substring only.
      const lookalike = (
        await webhook(wb.id, { id: uniq('e'), event: 'contact.updated', contact: contact(70004, 'Other', `x${annEmail}`) })
      ).body.eventId;

      const [ann] = await ctx.sql<{ id: number }>(
        `SELECT user_id AS id FROM user_identities WHERE provider = 'wealthbox' AND external_id = '70001' AND organization_id = $1`,
        [wb.orgId],
      );
      const [bob] = await ctx.sql<{ id: number }>(
        `SELECT user_id AS id FROM user_identities WHERE provider = 'wealthbox' AND external_id = '70002' AND organization_id = $1`,
        [wb.orgId],
      );

      // Another organization's key cannot erase (nor see) Ann.
      const other = await createOrganization(ctx);
      const otherKey = await createOrganizationKey(ctx, other.id);
      const refused = await ctx.http.delete(`/api/users/${ann.id}`).query({ erase: 'true' }).set('x-api-key', otherKey);
      expect(refused.status).toBe(404);
      expect(await payloadOf(annEvt)).toMatchObject({ contact: { first_name: 'Annabel' } });

      const bad = await ctx.http.delete(`/api/users/${ann.id}`).query({ erase: 'yes' }).set(admin);
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body.details)).toContain('query.erase');

      const res = await ctx.http.delete(`/api/users/${ann.id}`).query({ erase: 'true' }).set(admin);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id: ann.id, erased: { inboundEvents: 3, identities: 1 } });
      expect(res.body.data.erased.outboundEvents).toBeGreaterThanOrEqual(2); // created, deleted

      for (const id of [annEvt, byEmail, byId]) expect(await payloadOf(id)).toEqual({ pruned: true, erased: true, at: expect.any(String) });
      expect(await payloadOf(bobEvt)).toMatchObject({ contact: { first_name: 'Roberto' } });
      expect(await payloadOf(lookalike)).toMatchObject({ contact: { id: 70004 } });
      const pending = await ctx.sql<{ status: string; outcome: string }>('SELECT status, outcome FROM inbound_events WHERE id = ANY($1)', [
        [byEmail, byId],
      ]);
      expect(pending.every((e) => e.status === 'processed')).toBe(true);

      const events = await ctx.sql<{ type: string; data: Record<string, unknown> }>(
        `SELECT type, data FROM webhook_events WHERE organization_id = $1 AND data->>'id' = $2::text ORDER BY created_at`,
        [wb.orgId, ann.id],
      );
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['user.created', 'user.deleted']));
      for (const e of events) expect(e.data).toEqual({ id: ann.id, organizationId: wb.orgId, erased: true });
      const all = JSON.stringify(await ctx.sql('SELECT data FROM webhook_events WHERE organization_id = $1', [wb.orgId]));
      expect(all.toLowerCase()).not.toContain(annEmail.toLowerCase());
      expect(all).not.toContain('Annabel');
      expect(all).toContain(bobEmail);

      const [row] = await ctx.sql<Record<string, unknown>>(
        'SELECT email, name, first_name, last_name, deleted_at FROM users WHERE id = $1',
        [ann.id],
      );
      expect(row).toMatchObject({ email: null, name: '', first_name: null, last_name: null, deleted_at: expect.any(Date) });
      const [identity] = await ctx.sql<{ data: unknown }>('SELECT data FROM user_identities WHERE user_id = $1', [ann.id]);
      expect(identity.data).toBeNull();
      const [bobRow] = await ctx.sql<{ email: string; deleted_at: Date | null }>('SELECT email, deleted_at FROM users WHERE id = $1', [
        bob.id,
      ]);
      expect(bobRow).toEqual({ email: bobEmail, deleted_at: null });

      // An erased event is not replayed; an already deleted user can be erased again (nothing left).
      expect((await ctx.http.post(`/api/webhooks/events/${annEvt}/replay`).set(admin)).status).toBe(409);
      const twice = await ctx.http.delete(`/api/users/${ann.id}`).query({ erase: 'true' }).set(admin);
      expect(twice.status).toBe(200);
      expect(twice.body.data.erased).toEqual({ inboundEvents: 0, outboundEvents: 0, identities: 1, activities: 0 });
    });

    it('when erase is absent, then the delete stays a soft delete that keeps the data', async () => {
      const org = await createOrganization(ctx);
      const user = await createUser(ctx, org.id, { name: 'Kept Name' });
      const res = await ctx.http.delete(`/api/users/${user.id}`).set(admin);
      expect(res.status).toBe(204);
      const [row] = await ctx.sql<{ email: string; name: string }>('SELECT email, name FROM users WHERE id = $1', [user.id]);
      expect(row).toEqual({ email: user.email, name: 'Kept Name' });
    });
  });
});
