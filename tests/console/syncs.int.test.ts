import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { ADMIN_KEY } from '../helpers/test-app';
import { startConsole, type ConsoleHarness } from '../helpers/console-browser';
import { createOrganizationKey, createWealthboxIntegration } from '../helpers/fixtures';

describe('the console: the Syncs page', () => {
  let h: ConsoleHarness;
  let fake: FakeWealthbox;
  let wb: { orgId: number; id: number };
  let other: { orgId: number; id: number };
  const admin = { 'x-api-key': ADMIN_KEY };

  beforeAll(async () => {
    h = await startConsole();
    // 250 contacts: three pages of 100, and two more (the firm's staff) after them.
    fake = await new FakeWealthbox({ contacts: 250, staff: 2 }).start();
    wb = await createWealthboxIntegration(h.ctx, fake, { direction: 'both' });
    other = await createWealthboxIntegration(h.ctx, fake);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await fake?.stop();
  });

  it('when GET /api/sync/jobs is asked for one organization, then an admin sees its queue and an organization key no other', async () => {
    const bad = await h.ctx.http.get('/api/sync/jobs?organizationId=x').set(admin);
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].path).toBe('query.organizationId');
    expect((await h.ctx.http.get('/api/sync/jobs?since=today').set(admin)).status).toBe(400);
    await h.ctx.sql(
      `INSERT INTO sync_jobs (integration_id, organization_id, mode, scheduled_for, not_before)
       VALUES ($1, $2, 'full', now(), now() + interval '1 hour')`,
      [other.id, other.orgId],
    );
    const nightly = async (query: string, key = ADMIN_KEY) => {
      const res = await h.ctx.http.get(`/api/sync/jobs${query}`).set('x-api-key', key);
      return { status: res.status, job: res.body.data?.find((j: { name: string }) => j.name === 'nightly-full-sync') };
    };
    expect((await nightly('')).job.queue.pending).toBe(1);
    expect((await nightly(`?organizationId=${other.orgId}`)).job.queue.pending).toBe(1);
    expect((await nightly(`?organizationId=${wb.orgId}`)).job.queue.pending).toBe(0);
    const key = await createOrganizationKey(h.ctx, wb.orgId);
    expect((await nightly('', key)).job.queue.pending).toBe(0);
    expect((await nightly(`?organizationId=${other.orgId}`, key)).status).toBe(404);
    await h.ctx.sql('DELETE FROM sync_jobs WHERE integration_id = $1', [other.id]);
  });

  it('when "Sync now" starts a full pull, then the run shows as running with its progress, finishes with its counts, is charted, and opens with its details', async () => {
    const { page, unexpectedErrors } = await h.signIn(ADMIN_KEY, `/console/#/syncs?org=${wb.orgId}`);
    await page.getByRole('heading', { name: 'Syncs', level: 1 }).waitFor();
    await page.getByText('Choose an integration above to sync it now.').waitFor();
    await page.getByRole('combobox', { name: 'Integration' }).selectOption(String(wb.id));
    await page.getByRole('heading', { name: 'Sync now' }).waitFor();
    // This integration pulls and pushes: each kind is offered.
    await expect(page.getByLabel('What to sync').locator('option').allTextContents()).resolves.toEqual([
      'Full pull',
      'Incremental pull',
      'Push backfill',
    ]);
    expect(page.url()).toContain(`integration=${wb.id}`);

    // Each page of contacts takes 400 ms: the run is seen running.
    fake.slowDown(400);
    const started = page.waitForResponse((r) => r.url().includes(`/api/integrations/${wb.id}/sync`) && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Sync now' }).click();
    const answer = await started;
    expect(answer.status()).toBe(202);
    const { runId } = (await answer.json()).data;
    await page
      .getByRole('status')
      .filter({ hasText: `run #${runId}` })
      .waitFor();

    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: `Run #${runId}`, exact: true }) });
    await row.getByText('running').waitFor();
    await row.getByText(/page \d+/).waitFor();
    fake.clearFaults();
    await row.getByText('succeeded').waitFor({ timeout: 20_000 });
    // 250 contacts and 2 staff members, all new.
    const cells = await row.getByRole('cell').allTextContents();
    expect(cells.slice(-6)).toEqual(['252', '252', '0', '0', '0', '0']);
    expect(await row.locator('.sync-progress').count()).toBe(0);

    // The chart has this run's bar (created), with its figures in its title.
    const chart = page.getByRole('img', { name: /Records per run/ });
    await expect(chart.locator('rect').count()).resolves.toBeGreaterThan(0);
    await expect(chart.locator('title').last().textContent()).resolves.toContain(`Run #${runId}`);
    await expect(chart.locator('title').last().textContent()).resolves.toContain('Created 252');

    await row.getByRole('link', { name: `Run #${runId}` }).click();
    const detail = page.getByRole('region', { name: `Run #${runId}` });
    await detail.getByText('No record was refused.').waitFor();
    await expect(detail.locator('[data-count=created]').textContent()).resolves.toBe('252');
    await expect(detail.locator('pre').textContent()).resolves.toContain('"reconciliation"');
    await expect(detail.textContent()).resolves.toContain('Full pull, manual');
    expect(page.url()).toContain(`run=${runId}`);

    await page.getByRole('button', { name: 'Close' }).click();
    await detail.waitFor({ state: 'detached' });
    expect(unexpectedErrors()).toEqual([]);
    await page.context().close();
  }, 45_000);

  it('when a run refused records or went quiet, a push is started, or a start is refused, then the page shows each', async () => {
    const { id } = await createWealthboxIntegration(h.ctx, fake, { direction: 'both' });
    // A push needs an integration tested active.
    await h.ctx.http.post(`/api/integrations/${id}/test`).set(admin).expect(200);
    // A run with two refused records, as the pull service records them.
    const [{ id: runId }] = await h.ctx.sql<{ id: number }>(
      `INSERT INTO sync_runs (organization_id, integration_id, operation, trigger, source, status, total, successful, failed, details, error, started_at, finished_at)
       SELECT organization_id, id, 'incremental', 'cron', 'wealthbox', 'failed', 12, 10, 2,
         '{"failures": [{"externalId": "wealthbox:17", "reason": "invalid email \\"x@\\""}, {"externalId": "wealthbox:18", "reason": "record.name must be text"}]}',
         'Sync failed: the CRM answered 500', now() - interval '2 minutes', now() - interval '1 minute'
       FROM integrations WHERE id = $1 RETURNING id`,
      [id],
    );
    const orgId = (await h.ctx.sql<{ organization_id: number }>('SELECT organization_id FROM integrations WHERE id = $1', [id]))[0]
      .organization_id;
    // And a run whose instance went away: it stays "running" with nothing recorded for 10 minutes.
    const [{ id: quietId }] = await h.ctx.sql<{ id: number }>(
      `INSERT INTO sync_runs (organization_id, integration_id, operation, trigger, source, status, total, pages, total_pages, heartbeat_at, started_at)
       VALUES ($1, $2, 'full', 'manual', 'wealthbox', 'running', 300, 3, 10, now() - interval '10 minutes', now() - interval '12 minutes')
       RETURNING id`,
      [orgId, id],
    );
    const key = await createOrganizationKey(h.ctx, orgId);
    const { page, unexpectedErrors } = await h.signIn(key, `/console/#/syncs?integration=${id}&run=${runId}`);
    const detail = page.getByRole('region', { name: `Run #${runId}` });
    await detail.getByRole('alert').filter({ hasText: 'the CRM answered 500' }).waitFor();
    await expect(detail.getByRole('table', { name: 'Records refused by this run' }).getByRole('row').allTextContents()).resolves.toEqual([
      'RecordWhy',
      'wealthbox:17invalid email "x@"',
      'wealthbox:18record.name must be text',
    ]);
    const quiet = page.getByRole('row').filter({ has: page.getByRole('link', { name: `Run #${quietId}`, exact: true }) });
    await quiet.getByText('nothing recorded since 10 min ago', { exact: false }).waitFor();
    await expect(quiet.getByRole('progressbar').getAttribute('aria-valuenow')).resolves.toBe('30');
    // No rate or time left for a run that records nothing.
    await expect(quiet.locator('.sync-progress > span').textContent()).resolves.toBe(
      'page 3 of 10 · 300 records · nothing recorded since 10 min ago',
    );
    // The scheduled jobs panel lists the failed scheduled run.
    const jobs = page.getByRole('region', { name: 'Scheduled jobs' });
    await jobs.getByRole('link', { name: `Run #${runId}` }).waitFor();
    await expect(jobs.getByRole('row').filter({ hasText: 'nightly-full-sync' }).textContent()).resolves.toContain('off');

    // A push backfill from the page (this organization has no users: nothing to send).
    await page.getByLabel('What to sync').selectOption({ label: 'Push backfill' });
    const pushed = page.waitForResponse((r) => r.url().includes(`/api/integrations/${id}/sync`) && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Sync now' }).click();
    const answer = await pushed;
    expect(answer.status()).toBe(202);
    const push = (await answer.json()).data;
    expect(push.direction).toBe('push');
    const pushRow = page.getByRole('row').filter({ has: page.getByRole('link', { name: `Run #${push.runId}`, exact: true }) });
    await pushRow.getByText('succeeded').waitFor();
    await expect(pushRow.textContent()).resolves.toContain('Push backfill');

    // Turned off and set to pull only meanwhile: the start is refused with the API's message, and
    // the refusal reloads the integration (its state shown, push no longer offered).
    await h.ctx.http
      .patch(`/api/integrations/${id}`)
      .set(admin)
      .send({ isActive: false, config: { direction: 'pull' } })
      .expect(200);
    await page.getByLabel('What to sync').selectOption({ label: 'Full pull' });
    await page.getByRole('button', { name: 'Sync now' }).click();
    const syncNow = page.getByRole('region', { name: 'Sync now' });
    await syncNow
      .getByRole('alert')
      .filter({ hasText: `Integration ${id} is turned off` })
      .waitFor();
    await syncNow.getByText('turned off', { exact: true }).waitFor();
    await expect(page.getByLabel('What to sync').locator('option').allTextContents()).resolves.toEqual(['Full pull', 'Incremental pull']);
    expect(unexpectedErrors([409])).toEqual([]);
    await page.context().close();
  }, 30_000);
});
