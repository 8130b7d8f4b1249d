import { createHmac } from 'node:crypto';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createUser, createWealthboxIntegration } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * Deletions against arrival order (issue 9, items 11 and 19): a deletion leaves a tombstone,
 * so an event older than it is stale whenever it arrives, from a webhook or a pull; a user
 * stays while another record of the CRM still points to it.
 */
const SECRET = 'wealthbox-webhook-secret-ordering';
const NO_FAKE = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };
const sign = (raw: string) => createHmac('sha256', SECRET).update(raw).digest('hex');
// In the past however far the minutes go (up to about a week): a source time more than a few
// minutes ahead of the service's clock is not trusted for ordering (people.repository).
const at = (minute: number) => new Date(Date.UTC(2025, 10, 20, 10, 0) + minute * 60_000).toISOString();

function contact(id: number, over: Record<string, unknown> = {}) {
  return {
    id,
    type: 'Person',
    first_name: 'Kevin',
    last_name: 'Anderson',
    updated_at: at(0),
    email_addresses: [{ address: `kevin${id}@example.com`, principal: true }],
    ...over,
  };
}

/** Deterministic shuffles. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let ctx: TestContext;
let wb: { orgId: number; id: number };
const fakes: FakeWealthbox[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
  wb = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: SECRET });
});
afterAll(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  await ctx.close();
});

async function send(body: unknown, integrationId = wb.id): Promise<number> {
  const raw = JSON.stringify(body);
  const res = await ctx.http
    .post(`/api/webhooks/wealthbox/${integrationId}`)
    .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': sign(raw) })
    .send(raw);
  if (res.status !== 202) throw new Error(`webhook: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.eventId;
}
const upsert = (id: number, minute: number, over: Record<string, unknown> = {}, integrationId?: number) =>
  send({ id: `e-${id}-u-${minute}`, event: 'contact.updated', contact: contact(id, { updated_at: at(minute), ...over }) }, integrationId);
const remove = (id: number, minute: number, integrationId?: number) =>
  send({ id: `e-${id}-d-${minute}`, event: 'contact.deleted', occurred_at: at(minute), contact: { id } }, integrationId);
const drain = () => ctx.services.inboxWorker.drain();
const outcome = async (eventId: number) =>
  (await ctx.sql<{ outcome: string }>('SELECT outcome FROM inbound_events WHERE id = $1', [eventId]))[0].outcome;
/** The user holding this email in the organization, if any. */
const userByEmail = async (email: string, orgId = wb.orgId) =>
  (
    await ctx.sql<{ id: number; name: string; title: string | null; deleted_at: Date | null }>(
      'SELECT id, name, title, deleted_at FROM users WHERE organization_id = $1 AND email = $2',
      [orgId, email],
    )
  )[0];
const alive = async (email: string, orgId = wb.orgId) => {
  const u = await userByEmail(email, orgId);
  return Boolean(u && u.deleted_at === null);
};
const identities = (externalId: string, orgId = wb.orgId) =>
  ctx.sql<{ user_id: number }>(
    "SELECT user_id FROM user_identities WHERE organization_id = $1 AND provider = 'wealthbox' AND external_id = $2",
    [orgId, externalId],
  );

describe('inbound deletions against arrival order', () => {
  it('when a flood of shuffled events arrives in many batches, then every deleted contact stays deleted and every other one ends at its newest version', async () => {
    const random = prng(9);
    const first = 10_001;
    const contacts = 200;
    const events: (() => Promise<number>)[] = [];
    const deleted = new Set<number>();
    for (let id = first; id < first + contacts; id++) {
      // Three events a contact: created, updated, then updated again or deleted.
      const base = Math.floor(random() * 1000) * 10;
      events.push(() => upsert(id, base + 1, { first_name: 'v1' }));
      events.push(() => upsert(id, base + 2, { first_name: 'v2' }));
      if (random() < 0.25) {
        deleted.add(id);
        events.push(() => remove(id, base + 3));
      } else events.push(() => upsert(id, base + 3, { first_name: 'v3' }));
    }
    for (let i = events.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [events[i], events[j]] = [events[j], events[i]];
    }
    // Batches of 1 to 40 events, so most contacts' events straddle several batches.
    for (let i = 0; i < events.length;) {
      const n = 1 + Math.floor(random() * 40);
      for (const e of events.slice(i, i + n)) await e();
      await drain();
      i += n;
    }

    const revived: number[] = [];
    const wrong: number[] = [];
    for (let id = first; id < first + contacts; id++) {
      const u = await userByEmail(`kevin${id}@example.com`);
      if (deleted.has(id)) {
        if (u && u.deleted_at === null) revived.push(id);
      } else if (!u || u.deleted_at !== null || u.name !== 'v3 Anderson') wrong.push(id);
    }
    expect(deleted.size).toBeGreaterThan(30);
    expect({ revived, wrong }).toEqual({ revived: [], wrong: [] });
  }, 120_000);

  it('when a deletion arrives before the contact, in separate batches, then the older create is stale and only a newer record revives it', async () => {
    const del = await remove(20_001, 60);
    await drain();
    expect(await outcome(del)).toBe('unknown');
    const [tombstone] = await ctx.sql('SELECT deleted_at FROM tombstones WHERE organization_id = $1 AND external_id = $2', [
      wb.orgId,
      '20001',
    ]);
    expect(tombstone.deleted_at).toEqual(new Date(at(60)));

    const late = await upsert(20_001, 30);
    await drain();
    expect(await outcome(late)).toBe('stale');
    expect(await userByEmail('kevin20001@example.com')).toBeUndefined();

    const newer = await upsert(20_001, 90, { first_name: 'Back' });
    await drain();
    expect(await outcome(newer)).toBe('created');
    expect(await userByEmail('kevin20001@example.com')).toMatchObject({ name: 'Back Anderson', deleted_at: null });
    expect(await ctx.sql('SELECT 1 FROM tombstones WHERE organization_id = $1 AND external_id = $2', [wb.orgId, '20001'])).toHaveLength(0);
  });

  it('when the deletion is the newest event of its batch, then an older update in a later batch is stale', async () => {
    await upsert(20_002, 10);
    await upsert(20_002, 20);
    const del = await remove(20_002, 40);
    await drain();
    expect(await outcome(del)).toBe('unknown');
    const late = await upsert(20_002, 30);
    await drain();
    expect(await outcome(late)).toBe('stale');
    expect(await alive('kevin20002@example.com')).toBe(false);
  });

  it('when an update and a deletion carry the same time, then the deletion wins whichever arrives first', async () => {
    await upsert(20_003, 50);
    await drain();
    await remove(20_003, 50);
    await drain();
    await remove(20_004, 50);
    await drain();
    await upsert(20_004, 50);
    await drain();
    // And within one batch.
    await upsert(20_005, 50);
    await remove(20_005, 50);
    await drain();
    expect([await alive('kevin20003@example.com'), await alive('kevin20004@example.com'), await alive('kevin20005@example.com')]).toEqual([
      false,
      false,
      false,
    ]);
  });

  it('when a linked user from elsewhere loses its contact, then an older update does not link it again', async () => {
    const user = await createUser(ctx, wb.orgId, { email: 'kevin20006@example.com', name: 'From The API' });
    await upsert(20_006, 10);
    await drain();
    expect(await identities('20006')).toEqual([{ user_id: user.id }]);
    const del = await remove(20_006, 20);
    await drain();
    expect(await outcome(del)).toBe('unlinked');
    await upsert(20_006, 15);
    await drain();
    expect(await identities('20006')).toEqual([]);
    expect(await userByEmail('kevin20006@example.com')).toMatchObject({ name: 'From The API', deleted_at: null });
  });

  it('when one of two contacts sharing an email is deleted, then their user stays until the other one is deleted too', async () => {
    const email = 'shared-19@example.com';
    const mail = { email_addresses: [{ address: email, principal: true }] };
    await upsert(20_010, 10, mail);
    await upsert(20_011, 10, { ...mail, first_name: 'Other' });
    await drain();
    const user = await userByEmail(email);
    expect(user.deleted_at).toBeNull();

    const first = await remove(20_010, 20);
    await drain();
    expect(await outcome(first)).toBe('unlinked');
    expect(await userByEmail(email)).toMatchObject({ id: user.id, deleted_at: null });
    expect(await identities('20010')).toEqual([]);
    expect(await identities('20011')).toEqual([{ user_id: user.id }]);

    const second = await remove(20_011, 20);
    await drain();
    expect(await outcome(second)).toBe('deleted');
    expect((await userByEmail(email)).deleted_at).not.toBeNull();
  });
});

describe('a deletion and the pull', () => {
  it('when a contact deleted by a webhook is still listed by a full sync read before the deletion, then it is not revived; a newer version is', async () => {
    const fake = await new FakeWealthbox({ contacts: 20, staff: 1 }).start();
    fakes.push(fake);
    const { orgId, id } = await createWealthboxIntegration(ctx, fake, { webhookSecret: SECRET });
    const seven = fake.updateContact(7, { email: 'seven@clients.example' });
    // The deletion came after the listed version (as if the page was read before it).
    seven.updatedAt = new Date(Date.now() - 10 * 60_000);
    const deletedAt = new Date(Date.now() - 5 * 60_000).toISOString();
    await send({ id: 'pull-del-7', event: 'contact.deleted', occurred_at: deletedAt, contact: { id: 7 } }, id);
    await drain();

    const sync = () => ctx.http.post(`/api/integrations/${id}/sync?mode=full&wait=true`).set('x-api-key', ADMIN_KEY);
    const first = await sync();
    expect(first.body.data).toMatchObject({ status: 'succeeded', created: 20, unchanged: 1 });
    expect(await alive('seven@clients.example', orgId)).toBe(false);
    expect((await sync()).body.data).toMatchObject({ created: 0, updated: 0 });
    expect(await alive('seven@clients.example', orgId)).toBe(false);

    fake.updateContact(7, { jobTitle: 'Back Again' });
    const back = await sync();
    expect(back.body.data).toMatchObject({ created: 1 });
    expect(await userByEmail('seven@clients.example', orgId)).toMatchObject({ title: 'Back Again', deleted_at: null });
    expect(await ctx.sql('SELECT 1 FROM tombstones WHERE organization_id = $1', [orgId])).toHaveLength(0);
  });

  it('when one batch holds a version stamped 2099 and a later one stamped now, then the later one wins, and the next one applies too', async () => {
    const id = 30_001;
    const version = (key: string, updatedAt: string, firstName: string) =>
      send({ id: `e-${id}-${key}`, event: 'contact.updated', contact: contact(id, { updated_at: updatedAt, first_name: firstName }) });
    const future = await version('future', '2099-01-01T00:00:00Z', 'Future');
    const real = await version('real', new Date().toISOString(), 'Real');
    await drain();
    expect([await outcome(future), await outcome(real)]).toEqual(['superseded', 'created']);
    expect((await userByEmail(`kevin${id}@example.com`))?.name).toBe('Real Anderson');
    const next = await version('next', new Date(Date.now() + 1000).toISOString(), 'Next');
    await drain();
    expect(await outcome(next)).toBe('updated');
    expect((await userByEmail(`kevin${id}@example.com`))?.name).toBe('Next Anderson');
  });
});
