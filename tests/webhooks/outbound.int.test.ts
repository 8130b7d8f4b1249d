import net from 'node:net';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import winston from 'winston';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { Webhook } from 'standardwebhooks';
import { eventRecorder, syncRunEventData } from '../../src/modules/outbox';
import {
  createOrganization,
  createOrganizationKey,
  createUser,
  createWealthboxIntegration,
  push,
  pushBody,
  pushUser,
  uniq,
} from '../helpers/fixtures';
import { queueDeliveries } from '../helpers/deliveries';
import { Receiver, waitFor } from '../helpers/receiver';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

const admin = { 'x-api-key': ADMIN_KEY };

describe('outbound webhooks', () => {
  let ctx: TestContext;
  let receiver: Receiver;

  // Fast retries: the schedule's shape, in milliseconds instead of seconds.
  const env = { WEBHOOK_RETRY_SCHEDULE: '0,0.05,0.05,0.05,0.05', WEBHOOK_RETRY_JITTER: '0' };

  beforeAll(async () => {
    ctx = await createTestContext(env);
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await ctx.close();
    await receiver.stop();
  });
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.replies = [];
    receiver.fallback = { status: 200, body: 'ok' };
  });

  async function subscribe(orgId: number, events: string[] = ['user.created', 'user.updated', 'user.deleted'], url = receiver.url) {
    const res = await ctx.http.post('/api/webhook-subscriptions').set(admin).send({ organizationId: orgId, url, events });
    expect(res.status).toBe(201);
    return res.body.data as { id: number; secret: string };
  }
  const deliveries = async (subId: number) =>
    (await ctx.http.get(`/api/webhook-subscriptions/${subId}/deliveries`).set(admin)).body.data as {
      id: number;
      status: string;
      attempts: number;
      event: string;
      attemptLog: { attempt: number; statusCode: number | null; latencyMs: number; responseBody: string | null }[];
    }[];
  const subscription = async (id: number) => (await ctx.http.get(`/api/webhook-subscriptions/${id}`).set(admin)).body.data;

  describe('subscriptions API', () => {
    it('creates with a whsec_ secret shown once, lists, updates and deletes', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id, ['user.created']);
      expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);
      const got = await ctx.http.get(`/api/webhook-subscriptions/${sub.id}`).set(admin);
      expect(got.body.data).toMatchObject({ id: sub.id, url: receiver.url, events: ['user.created'], isActive: true });
      expect(JSON.stringify(got.body)).not.toContain(sub.secret);
      expect(got.body.data.secretPreview).toBe(`••••${sub.secret.slice(-4)}`);
      const list = await ctx.http.get('/api/webhook-subscriptions').query({ organizationId: org.id }).set(admin);
      expect(list.body.data.map((s: { id: number }) => s.id)).toEqual([sub.id]);
      const patched = await ctx.http
        .patch(`/api/webhook-subscriptions/${sub.id}`)
        .set(admin)
        .send({ events: ['user.deleted'], isActive: false });
      expect(patched.body.data).toMatchObject({ events: ['user.deleted'], isActive: false });
      expect((await ctx.http.delete(`/api/webhook-subscriptions/${sub.id}`).set(admin)).status).toBe(204);
      expect((await ctx.http.get(`/api/webhook-subscriptions/${sub.id}`).set(admin)).status).toBe(404);
    });

    it('when a subscription has deliveries, then the list shows its newest one; before the first, null', async () => {
      const org = await createOrganization(ctx);
      const quiet = await subscribe(org.id, ['user.deleted']);
      const sub = await subscribe(org.id, ['user.created']);
      receiver.replies = [{ status: 500, body: 'no' }];
      receiver.fallback = { status: 204 };
      await createUser(ctx, org.id);
      await ctx.services.deliveries.drain();
      await createUser(ctx, org.id);
      await ctx.services.deliveries.drain();
      const [newest] = await deliveries(sub.id);
      const list = await ctx.http.get('/api/webhook-subscriptions').query({ organizationId: org.id }).set(admin);
      const byId = new Map(list.body.data.map((s: { id: number; lastDelivery: unknown }) => [s.id, s.lastDelivery]));
      expect(byId.get(quiet.id)).toBeNull();
      expect(byId.get(sub.id)).toEqual({
        id: newest.id,
        status: 'succeeded',
        lastStatusCode: 204,
        createdAt: expect.any(String),
        deliveredAt: expect.any(String),
      });
      // The 500 left a retry due in seconds: gone with its subscription, so no later test's receiver gets it.
      for (const id of [quiet.id, sub.id]) expect((await ctx.http.delete(`/api/webhook-subscriptions/${id}`).set(admin)).status).toBe(204);
    });

    it('when deliveries span hours, then outcomes count them per UTC hour or day, empty hours as zeros', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id, ['user.created']);
      const [a, b, c] = await queueDeliveries(ctx, sub.id, 3, 0);
      // Two finished three hours ago, one waiting now (due tomorrow, so no drain of another test sends it).
      await ctx.sql(`UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 day' WHERE id = $1`, [c]);
      await ctx.sql(
        `UPDATE webhook_deliveries SET created_at = now() - interval '3 hours', status = 'failed', next_attempt_at = NULL WHERE id = $1`,
        [a],
      );
      await ctx.sql(
        `UPDATE webhook_deliveries SET created_at = now() - interval '3 hours', status = 'succeeded', next_attempt_at = NULL WHERE id = $1`,
        [b],
      );
      const [{ created_at: threeAgo }] = await ctx.sql<{ created_at: Date }>('SELECT created_at FROM webhook_deliveries WHERE id = $1', [
        a,
      ]);
      const [{ created_at: now }] = await ctx.sql<{ created_at: Date }>('SELECT created_at FROM webhook_deliveries WHERE id = $1', [c]);
      const hour = (d: Date) => new Date(Math.floor(d.getTime() / 3600_000) * 3600_000).toISOString();
      const since = new Date(now.getTime() - 5 * 3600_000).toISOString();

      const res = await ctx.http.get(`/api/webhook-subscriptions/${sub.id}/deliveries/outcomes`).query({ since }).set(admin);
      expect(res.status).toBe(200);
      const { bucket, points } = res.body.data as { bucket: string; points: ({ at: string } & Record<string, number>)[] };
      expect(bucket).toBe('hour');
      expect(points[0].at).toBe(hour(new Date(since)));
      // One point an hour, none missing, up to the current hour.
      points.forEach((p, i) => expect(Date.parse(p.at)).toBe(Date.parse(points[0].at) + i * 3600_000));
      // (The current hour, or the next one if the clock crossed it since the insert.)
      expect([hour(now), hour(new Date(now.getTime() + 3600_000))]).toContain(points.at(-1)?.at);
      const at = (iso: string) => points.find((p) => p.at === iso);
      expect(at(hour(threeAgo))).toEqual({ at: hour(threeAgo), succeeded: 1, failed: 1, pending: 0, sending: 0, skipped: 0 });
      expect(at(hour(now))).toMatchObject({ pending: 1, succeeded: 0, failed: 0 });
      const total = (list: Record<string, number | string>[]) =>
        list.reduce((n, p) => n + ['succeeded', 'failed', 'pending', 'sending', 'skipped'].reduce((m, k) => m + Number(p[k]), 0), 0);
      expect(total(points)).toBe(3);

      const days = await ctx.http.get(`/api/webhook-subscriptions/${sub.id}/deliveries/outcomes`).query({ bucket: 'day' }).set(admin);
      expect(days.body.data.points).toHaveLength(31);
      expect(days.body.data.points.every((p: { at: string }) => p.at.endsWith('T00:00:00.000Z'))).toBe(true);
      expect(total(days.body.data.points)).toBe(3);
    });

    it('when outcomes are asked for badly or of another organization, then 400 names the field, or 404', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id, ['user.created']);
      const path = `/api/webhook-subscriptions/${sub.id}/deliveries/outcomes`;
      const week = await ctx.http.get(path).query({ bucket: 'week' }).set(admin);
      expect(week.status).toBe(400);
      expect(week.body.details).toEqual([expect.objectContaining({ path: 'query.bucket', message: 'must be hour or day' })]);
      const far = await ctx.http
        .get(path)
        .query({ since: new Date(Date.now() - 8 * 86_400_000).toISOString() })
        .set(admin);
      expect(far.status).toBe(400);
      expect(far.body.details).toEqual([
        expect.objectContaining({ path: 'query.since', message: 'must be within 7 days for hour buckets' }),
      ]);
      const bad = await ctx.http.get(path).query({ since: 'yesterday' }).set(admin);
      expect(bad.body.details.map((d: { path: string }) => d.path)).toEqual(['query.since']);
      const other = await createOrganizationKey(ctx, (await createOrganization(ctx)).id);
      expect((await ctx.http.get(path).set('x-api-key', other)).status).toBe(404);
    });

    it('names every bad field', async () => {
      const org = await createOrganization(ctx);
      const res = await ctx.http
        .post('/api/webhook-subscriptions')
        .set(admin)
        .send({ organizationId: org.id, url: 'ftp://example.com/x', events: ['user.exploded'] });
      expect(res.status).toBe(400);
      expect(res.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['body.events.0', 'body.url']);
      const empty = await ctx.http
        .post('/api/webhook-subscriptions')
        .set(admin)
        .send({ organizationId: org.id, url: receiver.url, events: [] });
      expect(empty.body.details[0]).toMatchObject({ path: 'body.events', message: 'at least one event is required' });
    });

    it("an organization key cannot see another organization's subscription", async () => {
      const a = await createOrganization(ctx);
      const b = await createOrganization(ctx);
      const sub = await subscribe(a.id);
      const keyB = await createOrganizationKey(ctx, b.id);
      expect((await ctx.http.get(`/api/webhook-subscriptions/${sub.id}`).set('x-api-key', keyB)).status).toBe(404);
      expect((await ctx.http.get(`/api/webhook-subscriptions/${sub.id}/deliveries`).set('x-api-key', keyB)).status).toBe(404);
      const listB = await ctx.http.get('/api/webhook-subscriptions').set('x-api-key', keyB);
      expect(listB.body.data).toEqual([]);
    });
  });

  describe('delivery', () => {
    it('POSTs { id, event, timestamp, data } with seed 003 and Standard Webhooks headers; standardwebhooks verifies it', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id);
      const user = await createUser(ctx, org.id, { name: 'Grace Hopper' });
      await ctx.services.deliveries.drain();
      expect(receiver.received).toHaveLength(1);
      const [{ headers, body }] = receiver.received;
      const parsed = JSON.parse(body);
      expect(parsed).toMatchObject({ event: 'user.created', data: { id: user.id, name: 'Grace Hopper', organizationId: org.id } });
      expect(parsed.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(parsed.timestamp).toISOString()).toBe(parsed.timestamp);
      expect(headers['content-type']).toBe('application/json');
      expect(headers['x-webhook-event']).toBe('user.created');
      expect(headers['x-webhook-id']).toBe(String(sub.id));
      expect(headers['webhook-id']).toBe(parsed.id);
      // Seed 003's verification example, as a subscriber would run it.
      expect(headers['x-webhook-signature']).toBe(createHmac('sha256', sub.secret).update(body).digest('hex'));
      // The off-the-shelf Standard Webhooks verifier.
      const verified = new Webhook(sub.secret).verify(body, headers as Record<string, string>);
      expect(verified).toEqual(parsed);
      expect(() =>
        new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(body, headers as Record<string, string>),
      ).toThrow();
    });

    it('500 twice then 200: delivered on the third attempt, each attempt logged', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id);
      receiver.replies = [
        { status: 500, body: 'boom 1' },
        { status: 500, body: 'boom 2' },
      ];
      ctx.services.deliveries.start();
      try {
        await createUser(ctx, org.id);
        const d = await waitFor('delivery', async () => (await deliveries(sub.id)).find((x) => x.status === 'succeeded'));
        expect(d.attempts).toBe(3);
        expect(d.attemptLog.map((a) => [a.attempt, a.statusCode, a.responseBody])).toEqual([
          [1, 500, 'boom 1'],
          [2, 500, 'boom 2'],
          [3, 200, 'ok'],
        ]);
        expect(d.attemptLog.every((a) => a.latencyMs >= 0)).toBe(true);
      } finally {
        await ctx.services.deliveries.stop();
      }
      // Retries send the same event: one id across the three requests.
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    });

    it('honours Retry-After on 429', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id);
      receiver.replies = [{ status: 429, headers: { 'Retry-After': '1' } }];
      ctx.services.deliveries.start();
      try {
        await createUser(ctx, org.id);
        await waitFor('delivery', async () => (await deliveries(sub.id)).find((x) => x.status === 'succeeded'));
      } finally {
        await ctx.services.deliveries.stop();
      }
      const [first, second] = receiver.received;
      expect(second.at - first.at).toBeGreaterThanOrEqual(950);
    });

    it('410 disables the subscription at once', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id);
      receiver.fallback = { status: 410 };
      await createUser(ctx, org.id);
      await ctx.services.deliveries.drain();
      const s = await subscription(sub.id);
      expect(s).toMatchObject({ isActive: false, disabledReason: 'the endpoint answered 410 Gone' });
      expect(receiver.received).toHaveLength(1);
      // Later events are kept (skipped) for a recovery, not sent.
      await createUser(ctx, org.id);
      await ctx.services.deliveries.drain();
      expect(receiver.received).toHaveLength(1);
      expect((await deliveries(sub.id)).map((d) => d.status)).toEqual(['skipped', 'failed']);
    });

    it('a receiver that is down: disabled after 10 failed deliveries; recover redelivers what failed', async () => {
      // Nothing listens there now. A port below Linux's ephemeral range (32768+), where the
      // other tests' servers (port 0) never land: a freed ephemeral port was once taken by
      // another test's server before the deliveries ran (the last error read "HTTP 401").
      const url = `http://127.0.0.1:${await freePortBelowEphemeral()}/hook`;
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id, ['user.created'], url);
      const started = new Date();
      for (let i = 0; i < 10; i++) await createUser(ctx, org.id);
      ctx.services.deliveries.start();
      try {
        await waitFor('disabled', async () => !(await subscription(sub.id)).isActive);
      } finally {
        await ctx.services.deliveries.stop();
      }
      const s = await subscription(sub.id);
      expect(s.consecutiveFailures).toBe(10);
      expect(s.disabledReason).toMatch(/^10 consecutive deliveries failed; the last: ECONNREFUSED/);
      const all = await deliveries(sub.id);
      expect(all).toHaveLength(10);
      expect(all.every((d) => d.status === 'failed' && d.attempts === 5 && d.attemptLog.length === 5)).toBe(true);

      // The endpoint is fixed: recover re-enables it and sends everything since the outage.
      const back = await new Receiver().start(Number(new URL(url).port));
      try {
        const rec = await ctx.http.post(`/api/webhook-subscriptions/${sub.id}/recover`).query({ since: started.toISOString() }).set(admin);
        expect(rec.status).toBe(200);
        expect(rec.body.data).toMatchObject({
          requeued: 10,
          subscription: { isActive: true, consecutiveFailures: 0, disabledReason: null },
        });
        await ctx.services.deliveries.drain();
        expect(back.received).toHaveLength(10);
        expect((await deliveries(sub.id)).every((d) => d.status === 'succeeded')).toBe(true);
      } finally {
        await back.stop();
      }
      const bad = await ctx.http.post(`/api/webhook-subscriptions/${sub.id}/recover`).query({ since: 'last week' }).set(admin);
      expect(bad.status).toBe(400);
    });

    it('manual retry of a failed delivery', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id);
      receiver.fallback = { status: 500 };
      await createUser(ctx, org.id);
      for (let i = 0; i < 5; i++) {
        await ctx.sql(`UPDATE webhook_deliveries SET next_attempt_at = now() WHERE subscription_id = $1`, [sub.id]);
        await ctx.services.deliveries.drain();
      }
      const [failed] = await deliveries(sub.id);
      expect(failed.status).toBe('failed');
      receiver.fallback = { status: 200 };
      const retry = await ctx.http.post(`/api/webhook-subscriptions/${sub.id}/deliveries/${failed.id}/retry`).set(admin);
      expect(retry.status).toBe(202);
      await ctx.services.deliveries.drain();
      const [done] = await deliveries(sub.id);
      expect(done).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(done.attemptLog).toHaveLength(6);
      expect((await ctx.http.post(`/api/webhook-subscriptions/${sub.id}/deliveries/999999/retry`).set(admin)).status).toBe(404);
    });

    it('a restart in the middle of retries: the next instance continues them', async () => {
      // Its own receiver: replies go to requests in arrival order, and a delivery an earlier
      // test left due (the manual retry test's, when it failed) took the 503 meant for this one.
      const own = await new Receiver().start();
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id, undefined, own.url);
      const first = await createTestContext({ DATABASE_URL: ctx.databaseUrl, WEBHOOK_RETRY_SCHEDULE: '0,1,1,1,1' });
      own.replies = [{ status: 503 }];
      try {
        await createUser(first, org.id);
        await first.services.deliveries.drain();
        await first.close(); // the retry is due in a second; this instance is gone
        const [pending] = await deliveries(sub.id);
        expect(pending).toMatchObject({ status: 'pending', attempts: 1 });

        const second = await createTestContext({ DATABASE_URL: ctx.databaseUrl, ...env });
        second.services.workers.start();
        try {
          await waitFor('retried delivery', async () => (await deliveries(sub.id))[0].status === 'succeeded');
        } finally {
          await second.close();
        }
        expect(own.received.map((r) => r.headers['webhook-id'])).toEqual([
          own.received[0].headers['webhook-id'],
          own.received[0].headers['webhook-id'],
        ]);
      } finally {
        await own.stop();
      }
    });

    it('several instances never send the same attempt twice (60 events, 3 workers)', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id, ['user.created']);
      for (let i = 0; i < 60; i++) await createUser(ctx, org.id);
      const others = await Promise.all([1, 2].map(() => createTestContext({ DATABASE_URL: ctx.databaseUrl, ...env })));
      try {
        await Promise.all([ctx, ...others].map((c) => c.services.deliveries.drain()));
      } finally {
        await Promise.all(others.map((o) => o.close()));
      }
      const ids = receiver.received.map((r) => r.headers['webhook-id']);
      expect(ids).toHaveLength(60);
      expect(new Set(ids).size).toBe(60);
      expect((await deliveries(sub.id)).every((d) => d.attempts === 1 && d.status === 'succeeded')).toBe(true);
    });
  });

  describe('secret rotation', () => {
    it('signs with the new and the old secret during the grace period', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id);
      const rotated = await ctx.http.post(`/api/webhook-subscriptions/${sub.id}/rotate-secret`).set(admin).send({ graceHours: 1 });
      expect(rotated.status).toBe(200);
      const fresh = rotated.body.data.secret as string;
      expect(fresh).not.toBe(sub.secret);
      expect(rotated.body.data.previousSecretActive).toBe(true);
      await createUser(ctx, org.id);
      await ctx.services.deliveries.drain();
      const [{ headers, body }] = receiver.received;
      expect(String(headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect(() => new Webhook(fresh).verify(body, headers as Record<string, string>)).not.toThrow();
      expect(() => new Webhook(sub.secret).verify(body, headers as Record<string, string>)).not.toThrow();
      expect(headers['x-webhook-signature']).toBe(createHmac('sha256', fresh).update(body).digest('hex'));
      expect(headers['x-webhook-signature-previous']).toBe(createHmac('sha256', sub.secret).update(body).digest('hex'));

      // Without a grace period the old secret stops at once.
      receiver.received.length = 0;
      await ctx.http.post(`/api/webhook-subscriptions/${sub.id}/rotate-secret`).set(admin).send({ graceHours: 0 });
      await createUser(ctx, org.id);
      await ctx.services.deliveries.drain();
      expect(() => new Webhook(fresh).verify(receiver.received[0].body, receiver.received[0].headers as Record<string, string>)).toThrow();
    });

    it('when two rotations read the same secret (at once), then the second is 409 and the first’s secret is the one that signs', async () => {
      const org = await createOrganization(ctx);
      const sub = await subscribe(org.id);
      // Both read the subscription before either wrote: what concurrent requests do.
      const read = await ctx.services.subscriptions.getRow(sub.id);
      const first = await ctx.services.subscriptions.rotateSecret(read, 0);
      const second = await ctx.services.subscriptions.rotateSecret(read, 0).catch((e: unknown) => e);
      expect(second).toMatchObject({ status: 409, code: 'secret_rotated_concurrently' });
      await createUser(ctx, org.id);
      await ctx.services.deliveries.drain();
      const [{ headers, body }] = receiver.received;
      expect(() => new Webhook(first.secret).verify(body, headers as Record<string, string>)).not.toThrow();
      // Through the API, rotations one after another each answer the secret then current.
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          ctx.http.post(`/api/webhook-subscriptions/${sub.id}/rotate-secret`).set(admin).send({ graceHours: 0 }),
        ),
      );
      expect(answers.every((r) => r.status === 200 || (r.status === 409 && r.body.code === 'secret_rotated_concurrently'))).toBe(true);
    });
  });

  describe('the outbox', () => {
    it('holds no event for a rolled-back change, and one for a committed change', async () => {
      const org = await createOrganization(ctx);
      await subscribe(org.id, ['user.updated']);
      const user = await createUser(ctx, org.id, { name: 'Before' });
      const count = async () =>
        (await ctx.sql<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_events WHERE organization_id = $1`, [org.id]))[0].n;
      await expect(
        ctx.prisma.$transaction(async (tx) => {
          await tx.user.update({ where: { id: user.id }, data: { name: 'Rolled back' } });
          await eventRecorder(tx).users(org.id, 'user.updated', [user.id]);
          expect(await tx.webhookEvent.count({ where: { organizationId: org.id } })).toBe(1);
          throw new Error('the change fails after its event was written');
        }),
      ).rejects.toThrow('the change fails');
      expect(await count()).toBe(0);
      const [row] = await ctx.sql('SELECT name FROM users WHERE id = $1', [user.id]);
      expect(row.name).toBe('Before');

      const res = await ctx.http.patch(`/api/users/${user.id}`).set(admin).send({ name: 'After' });
      expect(res.status).toBe(200);
      const [event] = await ctx.sql(`SELECT type, data->>'name' AS name FROM webhook_events WHERE organization_id = $1`, [org.id]);
      expect(event).toEqual({ type: 'user.updated', name: 'After' });
    });

    it('a rejected change writes no event', async () => {
      const org = await createOrganization(ctx);
      await subscribe(org.id, ['user.updated', 'user.created']);
      const a = await createUser(ctx, org.id);
      const b = await createUser(ctx, org.id);
      const before = await ctx.sql(`SELECT count(*)::int AS n FROM webhook_events WHERE organization_id = $1`, [org.id]);
      const res = await ctx.http.patch(`/api/users/${b.id}`).set(admin).send({ email: a.email });
      expect(res.status).toBe(409);
      const after = await ctx.sql(`SELECT count(*)::int AS n FROM webhook_events WHERE organization_id = $1`, [org.id]);
      expect(after[0].n).toBe(before[0].n);
    });

    it('organizations nobody subscribed to get no event rows', async () => {
      const org = await createOrganization(ctx);
      await createUser(ctx, org.id);
      const [row] = await ctx.sql(`SELECT count(*)::int AS n FROM webhook_events WHERE organization_id = $1`, [org.id]);
      expect(row.n).toBe(0);
    });

    it('push, organization and integration changes produce their events', async () => {
      const tenant = uniq('T');
      const first = await push(ctx, tenant, pushBody(tenant, [pushUser(1)]));
      const orgId = first.body.metadata.organizationId;
      await subscribe(orgId, ['user.created', 'user.updated', 'sync.completed', 'organization.updated', 'integration.status_changed']);
      await push(ctx, tenant, pushBody(tenant, [pushUser(1, { title: 'CTO' }), pushUser(2)]));
      await ctx.http.patch(`/api/organizations/${orgId}`).set(admin).send({ name: 'Renamed' });
      const integration = await ctx.http
        .post('/api/integrations')
        .set(admin)
        .send({
          organizationId: orgId,
          provider: 'wealthbox',
          name: 'WB',
          config: { apiKey: 'token-123456', baseUrl: 'http://127.0.0.1:9' },
        });
      await ctx.http.post(`/api/integrations/${integration.body.data.id}/test`).set(admin);
      const sub = (await ctx.http.get('/api/webhook-subscriptions').query({ organizationId: orgId }).set(admin)).body.data[0];
      await ctx.services.deliveries.drain();
      const got = receiver
        .bodies()
        .filter((_b, i) => receiver.received[i].headers['x-webhook-id'] === String(sub.id))
        .map((b) => [b.event, b.data]);
      expect(got.map(([e]) => e)).toEqual([
        'user.created',
        'user.updated',
        'sync.completed',
        'organization.updated',
        'integration.status_changed',
      ]);
      expect(got[2][1]).toMatchObject({ trigger: 'push', status: 'succeeded', created: 1, updated: 1 });
      expect(got[3][1]).toMatchObject({ id: orgId, name: 'Renamed' });
      expect(got[4][1]).toMatchObject({ from: 'pending', to: 'error' });
    });

    it('sync.completed has one shape for pushes and pulls: the documented one', async () => {
      const fake = await new FakeWealthbox({ contacts: 2 }).start();
      try {
        const { orgId, id } = await createWealthboxIntegration(ctx, fake);
        const sub = await subscribe(orgId, ['sync.completed']);
        await ctx.http.post(`/api/integrations/${id}/sync?wait=true`).set(admin);
        // A push into the same organization (found by its external id).
        const [org] = await ctx.sql<{ slug: string }>('SELECT slug FROM organizations WHERE id = $1', [orgId]);
        await ctx.sql('UPDATE organizations SET external_id = $1 WHERE id = $2', [`ext-${org.slug}`, orgId]);
        await push(ctx, `ext-${org.slug}`, pushBody(`ext-${org.slug}`, [pushUser(1)]));
        await ctx.services.deliveries.drain();
        const datas = receiver
          .bodies()
          .filter((_b, i) => receiver.received[i].headers['x-webhook-id'] === String(sub.id))
          .map((b) => b.data);
        expect(datas.map((d) => d.trigger)).toEqual(['manual', 'push']);
        const documented = (await ctx.http.get('/api/openapi.json')).body.webhooks['sync.completed'].post.requestBody.content[
          'application/json'
        ].schema.properties.data;
        for (const data of datas) {
          expect(syncRunEventData.strict().safeParse(data).error).toBeUndefined();
          expect(Object.keys(data).sort()).toEqual(Object.keys(documented.properties).sort());
        }
      } finally {
        await fake.stop();
      }
    });
  });

  it('deleting a subscription while its delivery is in flight records nothing for it and logs no error', async () => {
    const errors: string[] = [];
    const logger = winston.createLogger({
      level: 'warn',
      transports: [new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (errors.push(String(c)), cb()) }) })],
    });
    const own = await createTestContext({ ...env, DATABASE_URL: ctx.databaseUrl }, logger);
    let release: () => void = () => undefined;
    let arrived = false;
    const slow = http.createServer((req, res) => {
      arrived = true;
      req.resume();
      release = () => res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    try {
      own.services.workers.start();
      const org = await createOrganization(own);
      const res = await own.http
        .post('/api/webhook-subscriptions')
        .set(admin)
        .send({ organizationId: org.id, url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/hook`, events: ['user.created'] });
      await createUser(own, org.id);
      await waitFor('the delivery to arrive', () => arrived);
      expect((await own.http.delete(`/api/webhook-subscriptions/${res.body.data.id}`).set(admin)).status).toBe(204);
      release();
      // Stopping waits for the send in flight and its bookkeeping.
      await own.services.workers.stop();
      expect(errors.filter((l) => /error|foreign key/i.test(l))).toEqual([]);
      expect(await own.sql('SELECT id FROM webhook_deliveries WHERE subscription_id = $1', [res.body.data.id])).toEqual([]);
      // The worker carries on: a later delivery to another subscription goes out.
      const other = await subscribe(org.id, ['user.created']);
      await createUser(own, org.id);
      await own.services.deliveries.drain();
      expect((await deliveries(other.id)).map((d) => d.status)).toEqual(['succeeded']);
    } finally {
      await own.close();
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });
});

describe('SSRF guard', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ ALLOW_PRIVATE_URLS: 'false' });
  });
  afterAll(() => ctx.close());

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://10.1.2.3/x',
    'http://[::1]/x',
  ])('refuses %s', async (url) => {
    const org = await createOrganization(ctx);
    const res = await ctx.http
      .post('/api/webhook-subscriptions')
      .set(admin)
      .send({ organizationId: org.id, url, events: ['user.created'] });
    expect(res.status).toBe(400);
    expect(res.body.details[0].path).toBe('body.url');
    expect(res.body.details[0].message).toMatch(/private, loopback or link-local|cannot resolve/);
  });

  it('refuses at send time too (a subscription made where private URLs were allowed)', async () => {
    const receiver = await new Receiver().start();
    const permissive = await createTestContext({ DATABASE_URL: ctx.databaseUrl, ALLOW_PRIVATE_URLS: 'true' });
    try {
      const org = await createOrganization(permissive);
      const sub = await permissive.http
        .post('/api/webhook-subscriptions')
        .set(admin)
        .send({ organizationId: org.id, url: receiver.url, events: ['user.created'] });
      expect(sub.status).toBe(201);
      await createUser(ctx, org.id);
      await ctx.services.deliveries.drain();
      expect(receiver.received).toHaveLength(0);
      const [d] = (await ctx.http.get(`/api/webhook-subscriptions/${sub.body.data.id}/deliveries`).set(admin)).body.data;
      expect(d.status).toBe('failed');
      expect(d.lastError).toMatch(/127\.0\.0\.1, a private, loopback or link-local address/);
    } finally {
      await permissive.close();
      await receiver.stop();
    }
  });
});

/** A port nobody listens on, below the ephemeral range, so no port-0 server can take it meanwhile. */
async function freePortBelowEphemeral(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below the ephemeral range');
}
