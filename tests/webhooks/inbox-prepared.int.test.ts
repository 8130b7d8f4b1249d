import pg from 'pg';
import { createInboxRepository, type NewInboundEvent } from '../../src/modules/inbound-webhooks/inbox.repository';
import { createWealthboxIntegration } from '../helpers/fixtures';
import { createTestContext, type TestContext } from '../helpers/test-app';

/**
 * The inbox's insert is a named statement (parsed and planned once per connection) on a direct
 * connection, and unnamed behind a transaction-mode pooler (app.ts: DIRECT_DATABASE_URL set),
 * where the next query may land on a connection that never prepared it. A pool of one
 * connection, so the statement list read after the inserts is that of the connection that ran them.
 */
const NO_FAKE = { token: 'unused-token-123', url: 'http://127.0.0.1:9' };

let ctx: TestContext;
let wb: { orgId: number; id: number };
beforeAll(async () => {
  ctx = await createTestContext();
  wb = await createWealthboxIntegration(ctx, NO_FAKE, { webhookSecret: 'wealthbox-webhook-secret-prepared' });
});
afterAll(() => ctx.close());

const event = (key: string): NewInboundEvent => ({
  integrationId: wb.id,
  organizationId: wb.orgId,
  provider: 'wealthbox',
  channel: 'wealthbox',
  eventType: 'contact.created',
  dedupeKey: `id:${key}`,
  payload: JSON.stringify({ id: key, event: 'contact.created' }),
});

async function insertThrice(prepared: boolean): Promise<{ names: string[]; stored: number; repeat: boolean }> {
  const pool = new pg.Pool({ connectionString: ctx.databaseUrl, max: 1 });
  try {
    const repo = createInboxRepository(ctx.prisma, pool, { prepared });
    const tag = prepared ? 'named' : 'unnamed';
    await repo.insertMany([event(`${tag}-1`)]);
    await repo.insertMany([event(`${tag}-2`), event(`${tag}-3`)]);
    const [again] = await repo.insertMany([event(`${tag}-1`)]);
    const { rows } = await pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
    const [count] = await ctx.sql<{ n: number }>(`SELECT count(*)::int AS n FROM inbound_events WHERE dedupe_key LIKE $1`, [`id:${tag}-%`]);
    return { names: rows.map((r) => r.name), stored: count.n, repeat: again.duplicate };
  } finally {
    await pool.end();
  }
}

describe('inbox insert: prepared on a direct connection only', () => {
  it('when prepared, then the connection holds the named insert, reused by the later inserts', async () => {
    expect(await insertThrice(true)).toEqual({ names: ['inbound_events_insert'], stored: 3, repeat: true });
  });

  it('when behind a pooler (not prepared), then no statement is left on the connection', async () => {
    expect(await insertThrice(false)).toEqual({ names: [], stored: 3, repeat: true });
  });
});
