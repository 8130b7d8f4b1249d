import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createServices } from '../../src/app';
import { createLogger } from '../../src/lib/logger';
import { createPrismaClient } from '../../src/db/prisma';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createOrganizationKey, createWealthboxIntegration, push, pushBody, pushUser, uniq } from '../helpers/fixtures';

let ctx: TestContext;
const fakes: FakeWealthbox[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  await ctx.close();
});

/** A fresh organization with a Wealthbox integration on its own fake server. */
async function setup(contacts = 250, config: Record<string, unknown> = {}) {
  const fake = await new FakeWealthbox({ contacts, staff: 3 }).start();
  fakes.push(fake);
  const { orgId, id } = await createWealthboxIntegration(ctx, fake, config);
  return { fake, orgId, id };
}

const sync = (id: number, mode = 'full', wait = true) =>
  ctx.http.post(`/api/integrations/${id}/sync?mode=${mode}&wait=${wait}`).set('x-api-key', ADMIN_KEY);
const users = (orgId: number) =>
  ctx.sql<{
    id: number;
    email: string | null;
    name: string;
    title: string | null;
    is_active: boolean;
    deleted_at: Date | null;
    updated_at: Date;
    source: string;
  }>('SELECT id, email, name, title, is_active, deleted_at, updated_at, source FROM users WHERE organization_id = $1 ORDER BY id', [orgId]);
const integration = async (id: number) => (await ctx.http.get(`/api/integrations/${id}`).set('x-api-key', ADMIN_KEY)).body.data;

async function waitFor<T>(fn: () => Promise<T | undefined | false>, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('pull sync from Wealthbox', () => {
  it('is protected and validates its input', async () => {
    const { id } = await setup(1);
    expect((await ctx.http.post(`/api/integrations/${id}/sync`)).status).toBe(401);
    const bad = await ctx.http.post(`/api/integrations/${id}/sync?mode=sideways`).set('x-api-key', ADMIN_KEY);
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].path).toBe('query.mode');
    expect((await ctx.http.post('/api/integrations/999999/sync').set('x-api-key', ADMIN_KEY)).status).toBe(404);
    expect((await ctx.http.get('/api/sync/runs?status=bogus').set('x-api-key', ADMIN_KEY)).status).toBe(400);
  });

  it('when a full sync runs, then every page is read to the last one and every person becomes a user', async () => {
    const { fake, orgId, id } = await setup(250);
    const res = await sync(id);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'succeeded', total: 253, created: 253, updated: 0, unchanged: 0, failed: 0, deleted: 0 });
    const contactPages = fake.requests.filter((r) => r.path === '/v1/contacts').map((r) => r.query.page);
    expect(contactPages).toEqual(['1', '2', '3']);

    const rows = await users(orgId);
    expect(rows).toHaveLength(253);
    expect(rows.every((u) => u.source === 'wealthbox')).toBe(true);
    const noEmail = [...fake.contacts.values()].find((c) => c.email === null);
    const [link] = await ctx.sql(
      'SELECT u.email, u.name FROM user_identities ui JOIN users u ON u.id = ui.user_id WHERE ui.organization_id = $1 AND ui.provider = $2 AND ui.external_id = $3',
      [orgId, 'wealthbox', String(noEmail?.id)],
    );
    expect(link).toMatchObject({ email: null });
    const staff = await ctx.sql("SELECT data FROM user_identities WHERE organization_id = $1 AND provider = 'wealthbox_user'", [orgId]);
    expect(staff).toHaveLength(3);
    expect(staff[0].data).toMatchObject({ kind: 'staff' });

    expect(await integration(id)).toMatchObject({ status: 'active', errorMessage: null, lastSyncAt: expect.any(String) });
    const run = (await ctx.http.get(`/api/sync/runs/${res.body.data.runId}`).set('x-api-key', ADMIN_KEY)).body.data;
    expect(run).toMatchObject({
      operation: 'full',
      trigger: 'manual',
      source: 'wealthbox',
      status: 'succeeded',
      pages: 4,
      totalPages: 3,
      integrationId: id,
    });
    expect(run.details).toMatchObject({ durationMs: expect.any(Number), reconciliation: { deleted: 0, unlinked: 0 } });
  });

  it('when nothing changed at the source, then a full sync writes no user rows', async () => {
    const { orgId, id } = await setup(120);
    await sync(id);
    const before = await users(orgId);
    const [identitiesBefore] = await ctx.sql('SELECT max(updated_at) AS at FROM user_identities WHERE organization_id = $1', [orgId]);
    const res = await sync(id);
    expect(res.body.data).toMatchObject({ status: 'succeeded', created: 0, updated: 0, unchanged: 123 });
    expect(await users(orgId)).toEqual(before);
    const [identitiesAfter] = await ctx.sql('SELECT max(updated_at) AS at FROM user_identities WHERE organization_id = $1', [orgId]);
    expect(identitiesAfter).toEqual(identitiesBefore);
  });

  it('when contacts change, then an incremental sync asks for updated_since and writes only those', async () => {
    const { fake, orgId, id } = await setup(150);
    await sync(id);
    fake.updateContact(5, { jobTitle: 'Chief Juggler' });
    fake.updateContact(7, { status: 'Inactive' });
    fake.requests.length = 0;
    const res = await sync(id, 'incremental');
    expect(res.body.data).toMatchObject({ status: 'succeeded', updated: 2, created: 0 });
    // Fewer than a full read (153): the changed two, the staff list (3; no updated_since
    // filter there) and the contacts of the cursor's own minute (the fake makes one a second,
    // and Wealthbox times are to the minute: at most 60).
    expect(res.body.data.total).toBeLessThanOrEqual(2 + 3 + 60);
    const contactCalls = fake.requests.filter((r) => r.path === '/v1/contacts' && r.query.deleted !== 'true');
    expect(contactCalls[0].query.updated_since).toEqual(expect.any(String));

    const [five] = await ctx.sql(
      "SELECT u.title FROM users u JOIN user_identities ui ON ui.user_id = u.id WHERE ui.organization_id = $1 AND ui.provider = 'wealthbox' AND ui.external_id = '5'",
      [orgId],
    );
    expect(five.title).toBe('Chief Juggler');
    const [seven] = await ctx.sql(
      "SELECT u.is_active FROM users u JOIN user_identities ui ON ui.user_id = u.id WHERE ui.organization_id = $1 AND ui.provider = 'wealthbox' AND ui.external_id = '7'",
      [orgId],
    );
    expect(seven.is_active).toBe(false);
  });

  it('when contacts are deleted at the source, then an incremental sync soft-deletes their users', async () => {
    const { fake, orgId, id } = await setup(60);
    await sync(id);
    const [{ user_id: userId }] = await ctx.sql(
      "SELECT user_id FROM user_identities WHERE organization_id = $1 AND external_id = '11' AND provider = 'wealthbox'",
      [orgId],
    );
    fake.deleteContact(11);
    const res = await sync(id, 'incremental');
    expect(res.body.data).toMatchObject({ status: 'succeeded', deleted: 1 });
    const [gone] = await ctx.sql('SELECT deleted_at, is_active FROM users WHERE id = $1', [userId]);
    expect(gone.deleted_at).toBeInstanceOf(Date);
    expect(gone.is_active).toBe(false);
  });

  it('when a full sync no longer sees a contact, then reconciliation soft-deletes it; when it comes back, so does the user', async () => {
    const { fake, orgId, id } = await setup(40);
    await sync(id);
    const contact = fake.contacts.get(12);
    fake.contacts.delete(12);
    (fake as unknown as { cache: Map<string, unknown> }).cache.clear();
    const res = await sync(id);
    expect(res.body.data).toMatchObject({ deleted: 1 });
    expect((await users(orgId)).filter((u) => u.deleted_at)).toHaveLength(1);

    fake.contacts.set(12, contact as NonNullable<typeof contact>);
    (fake as unknown as { cache: Map<string, unknown> }).cache.clear();
    const back = await sync(id);
    expect(back.body.data).toMatchObject({ created: 0, updated: 1 });
    expect((await users(orgId)).filter((u) => u.deleted_at)).toHaveLength(0);
  });

  it('when a contact matches a user from another source by email, then it is linked, not overwritten, and deletion only unlinks', async () => {
    const { fake, orgId, id } = await setup(30);
    const [{ external_id: tenant }] = await ctx.sql<{ external_id: string }>(
      'SELECT COALESCE(external_id, $2) AS external_id FROM organizations WHERE id = $1',
      [orgId, uniq('T')],
    );
    await ctx.sql('UPDATE organizations SET external_id = $2 WHERE id = $1', [orgId, tenant]);
    const contact = [...fake.contacts.values()].find((c) => c.email) as NonNullable<ReturnType<typeof fake.contacts.get>>;
    const pushed = await push(ctx, tenant, pushBody(tenant, [pushUser(1, { email: contact.email, name: 'Name From Wrapper' })]));
    const userId = pushed.body.results[0].crmUserId;

    await sync(id);
    const [row] = await ctx.sql('SELECT name, source FROM users WHERE id = $1', [userId]);
    expect(row).toEqual({ name: 'Name From Wrapper', source: 'wrapper' });
    expect(await ctx.sql("SELECT 1 FROM user_identities WHERE user_id = $1 AND provider = 'wealthbox'", [userId])).toHaveLength(1);
    expect(await ctx.sql('SELECT 1 FROM users WHERE organization_id = $1 AND email = $2', [orgId, contact.email])).toHaveLength(1);

    fake.deleteContact(contact.id);
    const res = await sync(id, 'incremental');
    expect(res.body.data.deleted).toBe(0);
    const [after] = await ctx.sql('SELECT deleted_at FROM users WHERE id = $1', [userId]);
    expect(after.deleted_at).toBeNull();
    expect(await ctx.sql("SELECT 1 FROM user_identities WHERE user_id = $1 AND provider = 'wealthbox'", [userId])).toHaveLength(0);
  });

  it('when a contact has an invalid email, then it fails alone and the run’s discrepancy report says why', async () => {
    const { fake, id } = await setup(20);
    fake.updateContact(3, { email: 'not-an-email' });
    const res = await sync(id);
    expect(res.body.data).toMatchObject({ status: 'partial', failed: 1, created: 22 });
    const run = (await ctx.http.get(`/api/sync/runs/${res.body.data.runId}`).set('x-api-key', ADMIN_KEY)).body.data;
    expect(run.details.failures).toEqual([{ externalId: 'wealthbox:3', reason: 'invalid email "not-an-email"' }]);
  });

  it('when the token is rejected (401), then the run fails and the integration goes to error with the message', async () => {
    const { id } = await setup(5, { apiKey: 'bad-token-xyz-1' });
    const res = await sync(id);
    expect(res.body.data).toMatchObject({ status: 'failed', error: expect.stringContaining('401') });
    expect(await integration(id)).toMatchObject({ status: 'error', errorMessage: expect.stringContaining('Authentication failed') });
  });

  it('when the CRM answers 429 with Retry-After and then 500, then the sync waits, retries and succeeds', async () => {
    const { fake, id } = await setup(150);
    fake.rateLimitNext(1, 1);
    fake.failNext(2, 500);
    const started = Date.now();
    const res = await sync(id);
    expect(res.body.data).toMatchObject({ status: 'succeeded', created: 153 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('when failures outlast the retries, then the run fails, the integration is in error, and the next run resumes from the checkpoint', async () => {
    const { fake, orgId, id } = await setup(250);
    // Page 1 succeeds, then page 2 keeps failing.
    const original = fake.failNext.bind(fake);
    fake.slowDown(0);
    let served = 0;
    fake.requests.length = 0;
    const watcher = setInterval(() => {
      const contactCalls = fake.requests.filter((r) => r.path === '/v1/contacts').length;
      if (contactCalls >= 1 && served === 0) {
        served = 1;
        original(50, 503);
      }
    }, 1);
    const res = await sync(id);
    clearInterval(watcher);
    fake.clearFaults();
    expect(res.body.data.status).toBe('failed');
    expect(await integration(id)).toMatchObject({ status: 'error', errorMessage: expect.stringContaining('503') });
    const firstPages = res.body.data.total;

    const again = await sync(id);
    expect(again.body.data.status).toBe('succeeded');
    const run = (await ctx.http.get(`/api/sync/runs/${again.body.data.runId}`).set('x-api-key', ADMIN_KEY)).body.data;
    expect(run.details.resumedFromRunId).toBe(res.body.data.runId);
    expect(firstPages + again.body.data.total).toBe(253);
    expect(await users(orgId)).toHaveLength(253);
    expect(await integration(id)).toMatchObject({ status: 'active' });
  });

  it('when a process dies mid-run, then its run is marked abandoned and the next run finishes the job without duplicates', async () => {
    const { fake, orgId, id } = await setup(250);
    // Run until page 2 fails, then make the database look like the process died there:
    // the run still "running", the lease held by an instance that is gone.
    fake.requests.length = 0;
    const watcher = setInterval(() => {
      if (fake.requests.filter((r) => r.path === '/v1/contacts').length >= 1) {
        fake.failNext(50, 503);
        clearInterval(watcher);
      }
    }, 1);
    const first = await sync(id);
    fake.clearFaults();
    await ctx.sql("UPDATE sync_runs SET status = 'running', finished_at = NULL WHERE id = $1", [first.body.data.runId]);
    await ctx.sql(
      "UPDATE integrations SET status = 'active', sync_lease_owner = 'dead:instance', sync_lease_until = now() + interval '1 hour' WHERE id = $1",
      [id],
    );

    // While the dead instance's lease is live, nobody else may run.
    const refused = await sync(id);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('sync_already_running');

    await ctx.sql("UPDATE integrations SET sync_lease_until = now() - interval '1 second' WHERE id = $1", [id]);
    const second = await sync(id);
    expect(second.body.data.status).toBe('succeeded');
    const [dead] = await ctx.sql('SELECT status, error FROM sync_runs WHERE id = $1', [first.body.data.runId]);
    expect(dead).toMatchObject({ status: 'abandoned', error: expect.any(String) });
    const run = (await ctx.http.get(`/api/sync/runs/${second.body.data.runId}`).set('x-api-key', ADMIN_KEY)).body.data;
    expect(run.details.resumedFromRunId).toBe(first.body.data.runId);
    // The resumed run continues the pass of the one it resumes: it reconciles, and what the
    // first run read counts as seen (nothing unseen, so nothing asked of the CRM).
    expect(run.details.reconciliation).toMatchObject({ pass: first.body.data.runId, deleted: 0, unseen: 0, held: 253 });

    const rows = await users(orgId);
    expect(rows).toHaveLength(253);
    const [dups] = await ctx.sql(
      'SELECT count(*)::int - count(DISTINCT (provider, external_id))::int AS dups FROM user_identities WHERE organization_id = $1',
      [orgId],
    );
    expect(dups.dups).toBe(0);
  });

  it('when a sync is already running, then a second one is refused with 409', async () => {
    const { fake, id } = await setup(300);
    fake.slowDown(100);
    const first = await sync(id, 'full', false);
    expect(first.status).toBe(202);
    const second = await sync(id);
    expect(second.status).toBe(409);
    fake.clearFaults();
    await waitFor(async () => {
      const run = (await ctx.http.get(`/api/sync/runs/${first.body.data.runId}`).set('x-api-key', ADMIN_KEY)).body.data;
      return run.status !== 'running' && run;
    }, 'the first run to end');
  });

  it('when two service instances start the same integration at once, then exactly one run happens', async () => {
    const { id } = await setup(50);
    const prisma = createPrismaClient(ctx.databaseUrl, ctx.config.database);
    try {
      const other = createServices({ config: ctx.config, prisma, logger: createLogger({ level: 'error', json: true, silent: true }) });
      const results = await Promise.allSettled([
        ctx.services.pull.start(id, { mode: 'full', trigger: 'manual' }),
        other.pull.start(id, { mode: 'full', trigger: 'manual' }),
      ]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      expect(ok).toHaveLength(1);
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.code).toBe('sync_already_running');
      await (ok[0] as PromiseFulfilledResult<{ done: Promise<unknown> }>).value.done;
      expect(await ctx.sql('SELECT 1 FROM sync_runs WHERE integration_id = $1', [id])).toHaveLength(1);
      await other.pull.stop();
    } finally {
      await prisma.$disconnect();
    }
  });

  it('when the service shuts down mid-run, then the run is checkpointed as interrupted and the next one resumes it', async () => {
    const { fake, orgId, id } = await setup(400);
    const prisma = createPrismaClient(ctx.databaseUrl, ctx.config.database);
    const instance = createServices({ config: ctx.config, prisma, logger: createLogger({ level: 'error', json: true, silent: true }) });
    fake.slowDown(50);
    const { runId } = await instance.pull.start(id, { mode: 'full', trigger: 'manual' });
    await waitFor(
      async () => (await ctx.sql<{ pages: number }>('SELECT pages FROM sync_runs WHERE id = $1', [runId]))[0].pages >= 1,
      'a first page',
    );
    await instance.pull.stop();
    await prisma.$disconnect();
    fake.clearFaults();
    const [stopped] = await ctx.sql('SELECT status, checkpoint FROM sync_runs WHERE id = $1', [runId]);
    expect(stopped.status).toBe('interrupted');
    expect(stopped.checkpoint).toMatchObject({ stream: 0, cursor: expect.any(String) });

    const next = await sync(id);
    expect(next.body.data.status).toBe('succeeded');
    expect(await users(orgId)).toHaveLength(403);
  });

  it('when POST /api/users/sync is called with an organization key, then that organization’s integrations sync (seed 000)', async () => {
    const { orgId, id } = await setup(10);
    const key = await createOrganizationKey(ctx, orgId);
    const res = await ctx.http.post('/api/users/sync?wait=true').set('x-api-key', key);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ message: expect.stringContaining('Synced 13'), total: 13 });
    expect(res.body.runs).toEqual([expect.objectContaining({ integrationId: id, status: 'succeeded' })]);
    const started = await ctx.http.post('/api/users/sync').set('x-api-key', key);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ total: 1, runs: [{ integrationId: id, runId: expect.any(Number) }] });
    await waitFor(
      async () => (await ctx.sql("SELECT 1 FROM sync_runs WHERE id = $1 AND status <> 'running'", [started.body.runs[0].runId])).length > 0,
      'run end',
    );
  });

  it('when runs are listed, then filters apply and an organization key sees only its own', async () => {
    const a = await setup(3);
    const b = await setup(3);
    await sync(a.id);
    await sync(b.id);
    const keyA = await createOrganizationKey(ctx, a.orgId);
    const mine = await ctx.http.get('/api/sync/runs?limit=100').set('x-api-key', keyA);
    // Exactly A's run: an empty list would pass an "all mine" check, so compare the ids.
    const aRuns = await ctx.sql<{ id: number }>('SELECT id FROM sync_runs WHERE organization_id = $1 ORDER BY id DESC', [a.orgId]);
    expect(aRuns.length).toBeGreaterThan(0);
    expect(mine.body.data.map((r: { id: number }) => r.id)).toEqual(aRuns.map((r) => r.id));
    expect(mine.body.data[0]).not.toHaveProperty('checkpoint');
    const other = (await ctx.http.get(`/api/sync/runs?integrationId=${b.id}`).set('x-api-key', ADMIN_KEY)).body.data[0];
    expect((await ctx.http.get(`/api/sync/runs/${other.id}`).set('x-api-key', keyA)).status).toBe(404);
    const filtered = await ctx.http.get(`/api/sync/runs?integrationId=${a.id}&status=succeeded&trigger=manual`).set('x-api-key', ADMIN_KEY);
    expect(filtered.body.pagination.total).toBe(1);
  });
});

describe('pull sync: records sharing a user, and deletions (issue 9)', () => {
  const identity = (orgId: number, externalId: string, provider = 'wealthbox') =>
    ctx.sql<{ user_id: number }>('SELECT user_id FROM user_identities WHERE organization_id = $1 AND provider = $2 AND external_id = $3', [
      orgId,
      provider,
      externalId,
    ]);
  const userByEmail = async (orgId: number, email: string) =>
    (
      await ctx.sql<{ id: number; name: string; deleted_at: Date | null; updated_at: Date }>(
        'SELECT id, name, deleted_at, updated_at FROM users WHERE organization_id = $1 AND email = $2',
        [orgId, email],
      )
    )[0];

  it('when two contacts and a staff member share emails, then one record owns each profile and a second full sync writes no user row', async () => {
    const { fake, orgId, id } = await setup(250);
    // On different pages, so that each run used to write both profiles, the last one winning.
    fake.updateContact(5, { firstName: 'Five', email: 'shared@clients.example' });
    fake.updateContact(150, { firstName: 'OneFifty', email: 'shared@clients.example' });
    fake.updateContact(6, { firstName: 'Six', email: 'staff-too@advisors.example' });
    fake.staff[0].email = 'staff-too@advisors.example';
    expect((await sync(id)).body.data).toMatchObject({ status: 'succeeded', failed: 0 });
    const before = await users(orgId);

    const again = await sync(id);
    expect(again.body.data).toMatchObject({ status: 'succeeded', created: 0, updated: 0 });
    expect(await users(orgId)).toEqual(before);
    // The owner is the lowest (provider, external id): contact "150" before "5", a contact before staff.
    expect((await userByEmail(orgId, 'shared@clients.example')).name).toMatch(/^OneFifty /);
    expect((await userByEmail(orgId, 'staff-too@advisors.example')).name).toMatch(/^Six /);
  });

  it('when one of two contacts sharing an email is deleted (incremental), then their user stays until the other one goes too', async () => {
    const { fake, orgId, id } = await setup(60);
    fake.updateContact(5, { email: 'pair@clients.example' });
    fake.updateContact(50, { email: 'pair@clients.example' });
    await sync(id);
    const user = await userByEmail(orgId, 'pair@clients.example');

    fake.deleteContact(5);
    expect((await sync(id, 'incremental')).body.data).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(await userByEmail(orgId, 'pair@clients.example')).toMatchObject({ id: user.id, deleted_at: null });
    expect(await identity(orgId, '5')).toEqual([]);
    expect(await identity(orgId, '50')).toEqual([{ user_id: user.id }]);
    // Later full syncs neither delete nor revive it: the profile passes to "50" once, then nothing.
    expect((await sync(id)).body.data).toMatchObject({ deleted: 0, created: 0 });
    expect((await sync(id)).body.data).toMatchObject({ deleted: 0, created: 0, updated: 0 });
    expect((await userByEmail(orgId, 'pair@clients.example')).deleted_at).toBeNull();

    fake.deleteContact(50);
    expect((await sync(id, 'incremental')).body.data).toMatchObject({ deleted: 1 });
    expect((await userByEmail(orgId, 'pair@clients.example')).deleted_at).not.toBeNull();
  });

  it('when one of two contacts sharing an email is deleted (full reconciliation), then their user stays', async () => {
    const { fake, orgId, id } = await setup(60);
    fake.updateContact(5, { email: 'pair@clients.example' });
    fake.updateContact(50, { email: 'pair@clients.example' });
    await sync(id);
    const user = await userByEmail(orgId, 'pair@clients.example');

    fake.deleteContact(50);
    expect((await sync(id)).body.data).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(await identity(orgId, '50')).toEqual([]);
    for (let i = 0; i < 2; i++) {
      expect((await sync(id)).body.data).toMatchObject({ deleted: 0, created: 0, updated: 0 });
      expect(await userByEmail(orgId, 'pair@clients.example')).toMatchObject({ id: user.id, deleted_at: null });
    }
    fake.deleteContact(5);
    expect((await sync(id)).body.data).toMatchObject({ deleted: 1 });
  });

  it('when contacts are deleted while a full sync reads its pages, then the live contacts they shift keep their users and only deleted ones lose theirs', async () => {
    const { fake, orgId, id } = await setup(250);
    await sync(id);
    // Between page 1 and page 2: ten contacts of page 1 go (so ten records of page 2 move onto
    // page 1, already read), and five of page 3 (not read yet).
    let done = false;
    fake.onRequest = (req) => {
      if (done || req.path !== '/v1/contacts' || req.query.page !== '2' || req.query.deleted) return;
      done = true;
      for (let c = 1; c <= 10; c++) fake.deleteContact(c);
      for (let c = 240; c <= 244; c++) fake.deleteContact(c);
    };
    const res = await sync(id);
    fake.onRequest = undefined;
    expect(done).toBe(true);
    expect(res.body.data).toMatchObject({ status: 'succeeded', deleted: 5 });
    const linkedTo = async (externalId: number) =>
      (
        await ctx.sql<{ deleted_at: Date | null }>(
          "SELECT u.deleted_at FROM users u JOIN user_identities ui ON ui.user_id = u.id WHERE ui.organization_id = $1 AND ui.provider = 'wealthbox' AND ui.external_id = $2",
          [orgId, String(externalId)],
        )
      )[0];
    for (let c = 101; c <= 110; c++) expect(await linkedTo(c)).toEqual({ deleted_at: null });
    for (let c = 240; c <= 244; c++) expect(await linkedTo(c)).toBeUndefined();
    // Read before they went: the next run deletes them.
    expect((await sync(id)).body.data).toMatchObject({ status: 'succeeded', deleted: 10 });
    const live = (await users(orgId)).filter((u) => u.deleted_at === null);
    expect(live).toHaveLength(250 - 15 + 3);
  });

  it('when a run would delete more than SYNC_MAX_DELETE_FRACTION of the account, then it deletes nothing, finishes partial and says why', async () => {
    const { fake, orgId, id } = await setup(40);
    await sync(id);
    for (let c = 1; c <= 30; c++) fake.deleteContact(c);
    const details = async (runId: number) => (await ctx.http.get(`/api/sync/runs/${runId}`).set('x-api-key', ADMIN_KEY)).body.data.details;
    // Incremental (the deleted listing): refused, and listed again by the next run.
    for (let i = 0; i < 2; i++) {
      const incremental = await sync(id, 'incremental');
      expect(incremental.body.data).toMatchObject({ status: 'partial', deleted: 0 });
      expect((await details(incremental.body.data.runId)).deletions).toMatchObject({
        reported: 30,
        held: 43,
        refused: expect.stringContaining('SYNC_MAX_DELETE_FRACTION'),
      });
    }
    // Full (reconciliation): refused before asking the CRM about each one.
    fake.requests.length = 0;
    const full = await sync(id);
    expect(full.body.data).toMatchObject({ status: 'partial', deleted: 0 });
    expect((await details(full.body.data.runId)).reconciliation).toMatchObject({
      refused: expect.stringContaining('SYNC_MAX_DELETE_FRACTION'),
      unseen: 30,
      held: 43,
    });
    expect(fake.requests.filter((r) => r.path.startsWith('/v1/contacts/'))).toHaveLength(0);
    expect((await users(orgId)).filter((u) => u.deleted_at)).toHaveLength(0);
  });
});

describe('pull sync: the deletion bound is configurable', () => {
  let local: TestContext;
  const lines: string[] = [];
  beforeAll(async () => {
    const winston = await import('winston');
    const Transport = (await import('winston-transport')).default;
    class Capture extends Transport {
      override log(info: unknown, next: () => void) {
        lines.push(JSON.stringify(info));
        next();
      }
    }
    local = await createTestContext(
      { SYNC_MAX_DELETE_FRACTION: '0.2' },
      winston.createLogger({ level: 'warn', transports: [new Capture()] }),
    );
  });
  afterAll(() => local.close());

  it('when a run would delete more than the configured share, then it refuses with a warning; within it, it deletes', async () => {
    const fake = await new FakeWealthbox({ contacts: 40, staff: 3 }).start();
    fakes.push(fake);
    const { id } = await createWealthboxIntegration(local, fake);
    const run = () => local.http.post(`/api/integrations/${id}/sync?mode=full&wait=true`).set('x-api-key', ADMIN_KEY);
    await run();
    for (let c = 1; c <= 12; c++) fake.deleteContact(c);
    expect((await run()).body.data).toMatchObject({ status: 'partial', deleted: 0 });
    expect(lines.some((l) => l.includes('sync deletions refused') && l.includes('"warn"'))).toBe(true);
    fake.contacts.forEach((c) => {
      if (c.id <= 4) c.deletedAt = null;
    });
    (fake as unknown as { cache: Map<string, unknown> }).cache.clear();
    expect((await run()).body.data).toMatchObject({ status: 'succeeded', deleted: 8 });
  });
});
