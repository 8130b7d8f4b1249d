import { createHmac } from 'node:crypto';
import { FakeWealthbox, type FakeContact } from '../../fake-crm/wealthbox/fake-wealthbox';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';
import { createWealthboxIntegration } from '../helpers/fixtures';

/**
 * Reconciliation of full pulls (issue 14): each page marks the identities it read with the
 * run's pass in its own transaction, so a run cut short and resumed continues the same pass
 * and still deletes, at the end, what the CRM no longer has, and nothing else.
 */
let ctx: TestContext;
const fakes: FakeWealthbox[] = [];
const SECRET = 'reconciliation-webhook-secret';

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  await ctx.close();
});

async function setup(contacts: number) {
  const fake = await new FakeWealthbox({ contacts, staff: 3 }).start();
  fakes.push(fake);
  const { orgId, id } = await createWealthboxIntegration(ctx, fake, { webhookSecret: SECRET });
  return { fake, orgId, id };
}

const sync = async (id: number) =>
  (await ctx.http.post(`/api/integrations/${id}/sync?mode=full&wait=true`).set('x-api-key', ADMIN_KEY)).body.data;
const runDetails = async (runId: number) => (await ctx.http.get(`/api/sync/runs/${runId}`).set('x-api-key', ADMIN_KEY)).body.data.details;

/** A full run that fails once its first page is written: page 2 (and its retries) answer 503. */
async function interruptedFull(fake: FakeWealthbox, id: number) {
  fake.onRequest = (req) => {
    if (req.path !== '/v1/contacts' || req.query.page !== '2' || req.query.deleted) return;
    fake.onRequest = undefined;
    fake.failNext(50, 503);
  };
  const run = await sync(id);
  fake.onRequest = undefined;
  fake.clearFaults();
  expect(run).toMatchObject({ status: 'failed', total: 100 });
  return run;
}

/** The CRM's contact lookups (GET /v1/contacts/:id): what reconciliation asked about. */
const lookups = (fake: FakeWealthbox) => fake.requests.filter((r) => /^\/v1\/contacts\/\d+$/.test(r.path)).map((r) => r.path.slice(13));

const liveContactIds = async (orgId: number) =>
  (
    await ctx.sql<{ external_id: string }>(
      `SELECT ui.external_id FROM user_identities ui JOIN users u ON u.id = ui.user_id AND u.deleted_at IS NULL
       WHERE ui.organization_id = $1 AND ui.provider = 'wealthbox' ORDER BY ui.external_id::int`,
      [orgId],
    )
  ).map((r) => Number(r.external_id));
const deletedUsers = async (orgId: number) =>
  (await ctx.sql('SELECT 1 FROM users WHERE organization_id = $1 AND deleted_at IS NOT NULL', [orgId])).length;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('full pull reconciliation across an interruption', () => {
  it('when a full run is interrupted partway and resumed, then it deletes exactly what the CRM no longer has and asks only about those', async () => {
    const { fake, orgId, id } = await setup(250);
    expect(await sync(id)).toMatchObject({ status: 'succeeded', created: 253 });
    const gone = [20, 21, 22, 230, 231];
    for (const c of gone) fake.deleteContact(c);

    const first = await interruptedFull(fake, id);
    fake.requests.length = 0;
    const resumed = await sync(id);
    expect(resumed).toMatchObject({ status: 'succeeded', deleted: 5 });
    const details = await runDetails(resumed.runId);
    expect(details.resumedFromRunId).toBe(first.runId);
    // The pass of the interrupted run: the 100 records its page read count as seen, so only
    // the five the CRM no longer lists are unseen, and only they are asked about.
    expect(details.reconciliation).toEqual({ pass: first.runId, held: 253, unseen: 5, stillExisting: 0, deleted: 5, unlinked: 0 });
    expect(
      lookups(fake)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(gone);
    expect(await liveContactIds(orgId)).toEqual(range(1, 250).filter((c) => !gone.includes(c)));
    expect(await deletedUsers(orgId)).toBe(5);
    const tombs = await ctx.sql<{ external_id: string }>(
      "SELECT external_id FROM tombstones WHERE organization_id = $1 AND provider = 'wealthbox' ORDER BY external_id::int",
      [orgId],
    );
    expect(tombs.map((t) => Number(t.external_id))).toEqual(gone);

    // The next pass starts afresh and finds nothing more to delete.
    const next = await sync(id);
    expect(next).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect((await runDetails(next.runId)).reconciliation).toMatchObject({ pass: next.runId, unseen: 0, held: 248 });
  });

  it('when the interrupted checkpoint carries no pass (written before passes), then what its pages read is asked of the CRM, never deleted unasked', async () => {
    const { fake, orgId, id } = await setup(250);
    await sync(id);
    const gone = [40, 41, 240];
    for (const c of gone) fake.deleteContact(c);
    const first = await interruptedFull(fake, id);
    await ctx.sql("UPDATE sync_runs SET checkpoint = checkpoint - 'pass' WHERE id = $1", [first.runId]);

    fake.requests.length = 0;
    const resumed = await sync(id);
    expect(resumed).toMatchObject({ status: 'succeeded', deleted: 3 });
    // A new pass: the 100 contacts of the first run's page are unseen by it, and still exist.
    expect((await runDetails(resumed.runId)).reconciliation).toMatchObject({
      pass: resumed.runId,
      unseen: 103,
      stillExisting: 100,
      deleted: 3,
    });
    expect(lookups(fake)).toHaveLength(103);
    expect(await liveContactIds(orgId)).toEqual(range(1, 250).filter((c) => !gone.includes(c)));
  });

  it('when a resumed pass would delete more than SYNC_MAX_DELETE_FRACTION, then it refuses from the counts, asks nothing, deletes nothing and says so', async () => {
    const { fake, orgId, id } = await setup(400);
    await sync(id);
    for (const c of range(151, 400)) fake.deleteContact(c);
    const first = await interruptedFull(fake, id);

    fake.requests.length = 0;
    const resumed = await sync(id);
    expect(resumed).toMatchObject({ status: 'partial', deleted: 0 });
    // 250 unseen of 403 held: counted in SQL with the pass the interrupted run started (its
    // page's 100 contacts are seen, else 350 would be unseen).
    expect((await runDetails(resumed.runId)).reconciliation).toEqual({
      pass: first.runId,
      held: 403,
      unseen: 250,
      deleted: 0,
      unlinked: 0,
      refused: expect.stringContaining('would delete 250 of the 403 people held, more than SYNC_MAX_DELETE_FRACTION (0.5)'),
    });
    expect(lookups(fake)).toHaveLength(0);
    expect(await deletedUsers(orgId)).toBe(0);
    expect(await liveContactIds(orgId)).toHaveLength(400);
  });

  it('when a contact is created after its page was read (a webhook brings it), then the pass does not see it, the CRM still has it, and it is kept', async () => {
    const { fake, orgId, id } = await setup(250);
    await sync(id);
    fake.deleteContact(7);
    const first = await interruptedFull(fake, id);

    // Created at the CRM now: the listing the run pages through (the fake keeps it between
    // requests) was taken before, so no page of this pass shows it; the lookup finds it.
    const late: FakeContact = {
      ...(fake.contacts.get(1) as FakeContact),
      id: 9001,
      email: 'late.comer@clients.example',
      firstName: 'Late',
    };
    fake.contacts.set(late.id, late);
    const raw = JSON.stringify({
      id: 'late-1',
      event: 'contact.created',
      contact: {
        id: late.id,
        type: 'Person',
        first_name: 'Late',
        last_name: 'Comer',
        updated_at: '2026-11-23 10:00 AM -0400',
        email_addresses: [{ address: late.email, principal: true }],
      },
    });
    const hook = await ctx.http
      .post(`/api/webhooks/wealthbox/${id}`)
      .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': createHmac('sha256', SECRET).update(raw).digest('hex') })
      .send(raw);
    expect(hook.status).toBe(202);
    await ctx.services.inboxWorker.drain();
    expect(await liveContactIds(orgId)).toContain(9001);

    fake.requests.length = 0;
    const resumed = await sync(id);
    expect(resumed).toMatchObject({ status: 'succeeded', deleted: 1 });
    expect((await runDetails(resumed.runId)).reconciliation).toEqual({
      pass: first.runId,
      held: 254,
      unseen: 2,
      stillExisting: 1,
      deleted: 1,
      unlinked: 0,
    });
    expect(lookups(fake).sort()).toEqual(['7', '9001']);
    const live = await liveContactIds(orgId);
    expect(live).toContain(9001);
    expect(live).not.toContain(7);
    expect(live).toHaveLength(250);
  });
});
