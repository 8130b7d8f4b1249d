import express from 'express';
import supertest from 'supertest';
import { createLogger } from '../../src/lib/logger';
import { errorHandler } from '../../src/lib/errors';
import { ConfigValidator } from '../../src/modules/integrations/config-schema';
import { createTemplateRepository } from '../../src/modules/integrations/templates.repository';
import { TemplateService } from '../../src/modules/integrations/templates.service';
import { createWealthboxIntegration } from '../helpers/fixtures';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { createTestContext, type TestContext } from '../helpers/test-app';

/**
 * A foreign key refusing a write is what a race between a check and a write ends in (a
 * template deleted as an integration is made from it, a sync started as its integration is
 * deleted). Both are made certain here, not left to timing.
 */
describe('writes whose reference changed meanwhile', () => {
  let ctx: TestContext;
  let fake: FakeWealthbox;
  const logger = createLogger({ level: 'error', json: true, silent: true });

  beforeAll(async () => {
    ctx = await createTestContext();
    fake = await new FakeWealthbox({ contacts: 1 }).start();
  });
  afterAll(async () => {
    await fake.stop();
    await ctx.close();
  });

  it('when a template gains an integration after its usage was counted, then its delete is 409 template_in_use', async () => {
    const made = await createWealthboxIntegration(ctx, fake);
    const [{ template_id: templateId }] = await ctx.sql<{ template_id: number }>('SELECT template_id FROM integrations WHERE id = $1', [
      made.id,
    ]);
    // The count ran before the integration existed.
    const repo = { ...createTemplateRepository(ctx.prisma), usage: async () => 0 };
    const err = await new TemplateService(repo, new ConfigValidator(), () => []).remove(templateId).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, code: 'template_in_use' });
    expect(await ctx.sql('SELECT 1 FROM integration_templates WHERE id = $1', [templateId])).toHaveLength(1);
  });

  it('when a write refers to a row deleted meanwhile, then 409 reference_changed, not a 500', async () => {
    const app = express();
    app.post('/runs', async (_req, _res, next) => {
      // A sync run of an integration that is gone, as a sync started during the integration's delete writes it.
      await ctx.prisma.syncRun
        .create({ data: { integrationId: 2_000_000_000, operation: 'pull', trigger: 'manual', source: 'wealthbox', status: 'running' } })
        .catch(next);
    });
    app.use(errorHandler(logger, true));
    const res = await supertest(app).post('/runs');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ success: false, code: 'reference_changed' });
  });
});
