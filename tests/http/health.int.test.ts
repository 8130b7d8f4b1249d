import { createTestContext, type TestContext } from '../helpers/test-app';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('GET /health and /ready', () => {
  it('when the process is up, then /health answers ok without a key', async () => {
    const res = await ctx.http.get('/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });

  it('when the database is migrated, then /ready answers ready', async () => {
    const res = await ctx.http.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ready', database: 'ok', migrations: 'applied' });
  });

  it('when a migration is missing from the database, then /ready answers 503 naming it', async () => {
    await ctx.sql('UPDATE "_prisma_migrations" SET rolled_back_at = now()');
    const res = await ctx.http.get('/ready');
    expect(res.status).toBe(503);
    expect(res.body.pendingMigrations).toContain('20261122000000_init');
    await ctx.sql('UPDATE "_prisma_migrations" SET rolled_back_at = NULL');
  });
});
