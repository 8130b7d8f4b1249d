import { FakeHubSpot, type FakeHubSpotContact } from '../../fake-crm/hubspot/fake-hubspot';
import { createOrganization, createUser } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * The push to CRMs end to end, against the fake HubSpot: the queue the outbox feeds, the
 * worker, identities, the echo rule, order, an outage, deletions and the backfill. The worker
 * is driven by drain() (the background loop is off in tests: WEBHOOK_WORKERS_ENABLED false).
 */
let fake: FakeHubSpot;
let ctx: TestContext;
let orgId: number;
let orgName: string;
let id: number;

const admin = {
  get: (path: string) => ctx.http.get(path).set('x-api-key', ADMIN_KEY),
  post: (path: string, body?: object) => ctx.http.post(path).set('x-api-key', ADMIN_KEY).send(body),
  patch: (path: string, body: object) => ctx.http.patch(path).set('x-api-key', ADMIN_KEY).send(body),
  delete: (path: string) => ctx.http.delete(path).set('x-api-key', ADMIN_KEY),
};
const drain = () => ctx.services.crmPush.worker.drain();
const byEmail = (email: string): FakeHubSpotContact | undefined =>
  [...fake.contacts.values()].find((c) => c.properties.email === email && c.archivedAt === null);
const identity = async (userId: number) =>
  (
    await ctx.sql<{ external_id: string; pushed_hash: string | null }>(
      `SELECT external_id, pushed_hash FROM user_identities WHERE user_id = $1 AND provider = 'hubspot'`,
      [userId],
    )
  )[0];
const queueRow = async (userId: number) =>
  (
    await ctx.sql<{ status: string; version: number; last_action: string | null; last_error: string | null; attempts: number }>(
      'SELECT status, version, last_action, last_error, attempts FROM crm_push_queue WHERE integration_id = $1 AND user_id = $2',
      [id, userId],
    )
  )[0];
/** Requests the fake received that wrote contacts. */
const writes = () => fake.requests.filter((r) => r.method === 'POST' && /\/contacts\/batch\/(create|update|upsert)$/.test(r.path));

beforeAll(async () => {
  fake = await new FakeHubSpot({ contacts: 0, seed: 7 }).start();
  ctx = await createTestContext({ WEBHOOK_WORKERS_ENABLED: 'false', CRM_PUSH_RETRY_BASE_MS: '10', CRM_PUSH_RETRY_MAX_MS: '50' });
  const org = await createOrganization(ctx, { name: 'Ünïcode Holdings' });
  orgId = org.id;
  orgName = 'Ünïcode Holdings';
  const res = await admin.post('/api/integrations', {
    organizationId: orgId,
    provider: 'hubspot',
    name: 'HubSpot',
    config: { accessToken: fake.token, baseUrl: fake.url, requestsPerSecond: 0, direction: 'both', onUserDeleted: 'archive' },
  });
  expect(res.status).toBe(201);
  id = res.body.data.id;
  expect((await admin.post(`/api/integrations/${id}/test`)).body.success).toBe(true);
});
afterAll(async () => {
  await ctx.close();
  await fake.stop();
});

describe('pushing users to a CRM', () => {
  let userId: number;
  let contactId: string;

  it('when a user is created, then it appears at the CRM with the mapped fields and its id is kept on the identity', async () => {
    const u = await createUser(ctx, orgId, {
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      firstName: 'Ada',
      lastName: 'Lovelace',
      title: 'Engineer',
      phone: '+44 20 7946 0000',
    });
    userId = u.id;
    await drain();
    const c = byEmail('ada@example.com');
    expect(c?.properties).toMatchObject({
      firstname: 'Ada',
      lastname: 'Lovelace',
      jobtitle: 'Engineer',
      phone: '+44 20 7946 0000',
      company: orgName,
    });
    contactId = (c as FakeHubSpotContact).id;
    expect((await identity(userId))?.external_id).toBe(contactId);
    expect(await queueRow(userId)).toMatchObject({ status: 'done', last_action: 'created' });
  });

  it('when the user changes, then the same record is updated, and a repeat sends nothing', async () => {
    expect((await admin.patch(`/api/users/${userId}`, { title: 'Chief Engineer' })).status).toBe(200);
    const before = writes().length;
    await drain();
    expect(fake.contact(contactId).properties.jobtitle).toBe('Chief Engineer');
    expect([...fake.contacts.values()].filter((c) => c.properties.email === 'ada@example.com')).toHaveLength(1);
    expect(writes().length).toBe(before + 1);
    expect(await queueRow(userId)).toMatchObject({ status: 'done', last_action: 'updated' });

    // A backfill queues everyone again: the user is as last pushed, so no call is made.
    const run = await admin.post(`/api/integrations/${id}/sync?direction=push&wait=true`);
    expect(run.status).toBe(200);
    expect(run.body.data).toMatchObject({ status: 'succeeded', unchanged: 1, created: 0, updated: 0 });
    expect(writes().length).toBe(before + 1);
  });

  it('when a pull reads the record we pushed, then it is not pushed back (no echo) and the user is unchanged', async () => {
    const [{ updated_at: before }] = await ctx.sql<{ updated_at: Date }>('SELECT updated_at FROM users WHERE id = $1', [userId]);
    const version = (await queueRow(userId)).version;
    const res = await admin.post(`/api/integrations/${id}/sync?mode=full&wait=true`);
    expect(res.body.data.status).toBe('succeeded');
    const [{ updated_at: after }] = await ctx.sql<{ updated_at: Date }>('SELECT updated_at FROM users WHERE id = $1', [userId]);
    expect(after.getTime()).toBe(before.getTime());
    expect((await queueRow(userId)).version).toBe(version);
  });

  it('when the CRM changes a record it got from us, then the change is not sent back to it', async () => {
    fake.updateContact(contactId, { jobtitle: 'CTO' });
    const version = (await queueRow(userId)).version;
    const writesBefore = writes().length;
    await admin.post(`/api/integrations/${id}/sync?mode=full&wait=true`);
    await drain();
    // The user came from the API, so the CRM does not own its profile; either way nothing goes back.
    expect((await queueRow(userId)).version).toBe(version);
    expect(writes().length).toBe(writesBefore);
  });

  it('when a user changes several times quickly, then the CRM ends with the last change and never an older one', async () => {
    for (const title of ['T1', 'T2', 'T3', 'T4', 'T5']) {
      expect((await admin.patch(`/api/users/${userId}`, { title })).status).toBe(200);
    }
    const row = await queueRow(userId);
    expect(row.version).toBeGreaterThanOrEqual(5);
    const before = writes().length;
    await drain();
    expect(fake.contact(contactId).properties.jobtitle).toBe('T5');
    // Five changes while queued cost one call.
    expect(writes().length).toBe(before + 1);
  });

  it('when the CRM is down, then the changes wait and reach it once it is back, none lost', async () => {
    const users = [];
    for (let i = 0; i < 3; i++) users.push(await createUser(ctx, orgId, { email: `down${i}@example.com`, name: `Down ${i}` }));
    fake.failNext(1000, 503);
    await drain();
    for (const u of users) expect(await queueRow(u.id)).toMatchObject({ status: 'pending' });
    expect((await queueRow(users[0].id)).attempts).toBeGreaterThan(0);
    expect(users.every((u) => !byEmail(u.email))).toBe(true);
    fake.clearFaults();
    await ctx.sql(`UPDATE crm_push_queue SET next_attempt_at = now() WHERE integration_id = $1`, [id]);
    await drain();
    for (const u of users) {
      expect(byEmail(u.email)).toBeDefined();
      expect(await queueRow(u.id)).toMatchObject({ status: 'done', last_action: 'created' });
    }
  });

  it('when one of our users is deleted, then the configured policy archives its record', async () => {
    const u = await createUser(ctx, orgId, { email: 'leaving@example.com', name: 'Leaving Soon' });
    await drain();
    const c = byEmail('leaving@example.com') as FakeHubSpotContact;
    expect(c).toBeDefined();
    expect((await admin.delete(`/api/users/${u.id}`)).status).toBe(204);
    await drain();
    expect(fake.contact(c.id).archivedAt).not.toBeNull();
    expect(await queueRow(u.id)).toMatchObject({ status: 'done', last_action: 'archived' });
    expect(await identity(u.id)).toBeUndefined();
  });

  it('when another organization has users, then none of them reach this CRM', async () => {
    const other = await createOrganization(ctx);
    const stranger = await createUser(ctx, other.id, { email: 'stranger@example.com', name: 'Stranger' });
    await drain();
    expect(byEmail('stranger@example.com')).toBeUndefined();
    expect(await ctx.sql('SELECT 1 FROM crm_push_queue WHERE user_id = $1', [stranger.id])).toHaveLength(0);
  });

  it('when an organization key asks for another organization’s push queue, then 404', async () => {
    const other = await createOrganization(ctx);
    const key = (await admin.post('/api/api-keys', { name: 'k', scope: 'organization', organizationId: other.id })).body.data.key;
    const res = await ctx.http.get(`/api/integrations/${id}/push-queue`).set('x-api-key', key);
    expect(res.status).toBe(404);
    const mine = await admin.get(`/api/integrations/${id}/push-queue?status=done`);
    expect(mine.status).toBe(200);
    expect(mine.body.counts.done).toBeGreaterThan(0);
    expect(mine.body.data.every((r: { status: string }) => r.status === 'done')).toBe(true);
  });
});

describe('the push backfill', () => {
  /** A push-only HubSpot integration of `organizationId` on `fake`, tested (active); its id. */
  const pushOnlyHubSpot = async (organizationId: number, fake: FakeHubSpot, name: string): Promise<number> => {
    const created = await admin.post('/api/integrations', {
      organizationId,
      provider: 'hubspot',
      name,
      config: { accessToken: fake.token, baseUrl: fake.url, requestsPerSecond: 0, direction: 'push' },
    });
    expect(created.status).toBe(201);
    expect((await admin.post(`/api/integrations/${created.body.data.id}/test`)).body).toMatchObject({ success: true });
    return created.body.data.id;
  };

  it('when it fails part way, then the next run resumes from its checkpoint and every user is at the CRM once', async () => {
    const org = await createOrganization(ctx);
    // Users made before the integration pushes: only a backfill sends them.
    const emails: string[] = [];
    for (let i = 0; i < 1200; i += 200) {
      const users = Array.from({ length: 200 }, (_, k) => ({ email: `bf${i + k}@example.com`, name: `Backfill ${i + k}` }));
      for (const u of users) emails.push(u.email);
      await Promise.all(users.map((u) => createUser(ctx, org.id, u)));
    }
    const fakeB = await new FakeHubSpot({ contacts: 0, seed: 9, portalId: 70001 }).start();
    try {
      const bid = await pushOnlyHubSpot(org.id, fakeB, 'HubSpot B');
      // The third page's calls fail past the client's retries.
      let n = 0;
      fakeB.onRequest = (r) => {
        if (r.method === 'POST' && r.path.includes('/batch/') && ++n === 11) fakeB.failNext(100, 500);
      };
      const first = await admin.post(`/api/integrations/${bid}/sync?direction=push&wait=true`);
      expect({ status: first.status, body: first.body }).toMatchObject({ body: { data: { status: 'failed' } } });
      const done = fakeB.contacts.size;
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(1200);
      fakeB.onRequest = undefined;
      fakeB.clearFaults();
      const second = await admin.post(`/api/integrations/${bid}/sync?direction=push&wait=true`);
      expect(second.body.data.status).toBe('succeeded');
      const run = (await admin.get(`/api/sync/runs/${second.body.data.runId}`)).body.data;
      expect(run.details.resumedFromRunId).toBe(first.body.data.runId);
      expect(run.operation).toBe('push');
      // Resumed, not repeated: the second run did not walk the pages the first finished.
      expect(second.body.data.total).toBeLessThan(1200);
      const at = [...fakeB.contacts.values()].map((c) => c.properties.email);
      expect(new Set(at).size).toBe(1200);
      expect(at.length).toBe(1200);
      expect(new Set(at)).toEqual(new Set(emails));
      // Push only: nothing is ever pulled from it.
      const pull = await admin.post(`/api/integrations/${bid}/sync?mode=full`);
      expect(pull.status).toBe(409);
      expect(pull.body.code).toBe('pull_not_enabled');
    } finally {
      await fakeB.stop();
    }
  });

  it('when the CRM refuses more than 100 users of one page, then the run counts and names every one', async () => {
    const org = await createOrganization(ctx);
    const users = await Promise.all(
      Array.from({ length: 200 }, (_, k) => createUser(ctx, org.id, { email: `refused${k}@example.com`, name: `Refused ${k}` })),
    );
    // 160 addresses HubSpot refuses (no dot in the domain), one record at a time.
    const bad = users.slice(0, 160).map((u) => u.id);
    await ctx.sql(`UPDATE users SET email = 'refused' || id || '@nodot' WHERE id = ANY($1::int[])`, [bad]);
    const fakeC = await new FakeHubSpot({ contacts: 0, seed: 11, portalId: 70002 }).start();
    try {
      const cid = await pushOnlyHubSpot(org.id, fakeC, 'HubSpot C');
      const run = await admin.post(`/api/integrations/${cid}/sync?direction=push&wait=true`);
      expect(run.body.data.status).toBe('partial');
      const details = (await admin.get(`/api/sync/runs/${run.body.data.runId}`)).body.data;
      expect({ successful: details.successful, failed: details.failed }).toEqual({ successful: 40, failed: 160 });
      const named = (details.details.failures as { externalId: string; reason: string }[]).map((f) => f.externalId);
      expect(new Set(named)).toEqual(new Set(bad.map((userId) => `user:${userId}`)));
      expect(fakeC.contacts.size).toBe(40);
    } finally {
      await fakeC.stop();
    }
  });

  it('when the integration only pulls, then a push backfill is refused with 409', async () => {
    const org = await createOrganization(ctx);
    const created = await admin.post('/api/integrations', {
      organizationId: org.id,
      provider: 'hubspot',
      name: 'Pull only',
      config: { accessToken: fake.token, baseUrl: fake.url, requestsPerSecond: 0 },
    });
    const res = await admin.post(`/api/integrations/${created.body.data.id}/sync?direction=push`);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('push_not_enabled');
  });

  it('when a mapping names a field the CRM does not have, then 400 names it', async () => {
    const res = await admin.patch(`/api/integrations/${id}`, { config: { pushMapping: { title: 'Not A Field!' } } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.details)).toContain('pushMapping');
  });
});
