import { FakeDropbox } from '../../fake-crm/dropbox/fake-dropbox';
import { DRIVE_CHUNK_UNIT, FakeGoogleDrive } from '../../fake-crm/google-drive/fake-google-drive';
import { FakeOAuth } from '../../fake-crm/oauth/fake-oauth';
import { ExportJobs } from '../../src/jobs/export.jobs';
import { createLogger } from '../../src/lib/logger';
import { createOrganization, createOrganizationKey, createUser, createWealthboxIntegration } from '../helpers/fixtures';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

/**
 * Exports through HTTP against the fake Drive and Dropbox: the CSV each storage received is
 * compared byte for byte with one built here, independently of the service's CSV writer.
 */
const BASE = 'https://crm.example.test';
const CALLBACK = `${BASE}/api/integrations/oauth/dropbox/callback`;

let ctx: TestContext;
let drive: FakeGoogleDrive;
let box: FakeDropbox;
let auth: FakeOAuth;

beforeAll(async () => {
  auth = await new FakeOAuth({ flavor: 'dropbox' }).start();
  auth.addClient({ clientId: 'dropbox-client', clientSecret: 'dropbox-secret', redirectUris: [CALLBACK] });
  drive = await new FakeGoogleDrive({ folders: ['exports-folder'] }).start();
  box = await new FakeDropbox({ acceptToken: (t) => auth.isValidAccessToken(t) }).start();
  ctx = await createTestContext({
    PUBLIC_BASE_URL: BASE,
    OAUTH_DROPBOX_CLIENT_ID: 'dropbox-client',
    OAUTH_DROPBOX_CLIENT_SECRET: 'dropbox-secret',
    OAUTH_DROPBOX_AUTHORIZE_URL: `${auth.url}/oauth2/authorize`,
    OAUTH_DROPBOX_TOKEN_URL: `${auth.url}/oauth2/token`,
  });
});
afterAll(async () => {
  await ctx?.close();
  await Promise.all([drive?.stop(), box?.stop(), auth?.stop()]);
});

// ---- an independent CSV writer: RFC 4180, CRLF, UTF-8 BOM, OWASP formula guard ----

const HEADER = [
  'id',
  'email',
  'name',
  'firstName',
  'lastName',
  'phone',
  'title',
  'department',
  'isActive',
  'isAdmin',
  'source',
  'createdAt',
  'updatedAt',
];

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = v instanceof Date ? v.toISOString() : typeof v === 'boolean' ? String(v) : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function expectedCsv(rows: Record<string, unknown>[]): Buffer {
  const lines = [HEADER.join(','), ...rows.map((r) => HEADER.map((h) => cell(r[h])).join(','))];
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8')]);
}

/** The organization's users as the export should see them: not deleted, in id order. */
async function usersOf(organizationId: number) {
  return ctx.prisma.user.findMany({
    where: { organizationId, deletedAt: null },
    orderBy: { id: 'asc' },
    select: {
      id: true,
      email: true,
      name: true,
      firstName: true,
      lastName: true,
      phone: true,
      title: true,
      department: true,
      isActive: true,
      isAdmin: true,
      source: true,
      createdAt: true,
      updatedAt: true,
    },
  });
}

/** Users with awkward values: unicode, quotes, commas, line breaks, formula-looking cells, nulls. */
async function seedUsers(orgId: number) {
  await createUser(ctx, orgId, { name: 'Zoë Ñúñez-Ødegård', firstName: 'Zoë', lastName: 'Ñúñez', title: '李小龍 🐉' });
  await createUser(ctx, orgId, { name: '=HYPERLINK("http://evil.example","click")', department: 'R&D, "Labs"' });
  await createUser(ctx, orgId, { name: 'Plus Phone', phone: '+1 555 0100', title: '-2+3', department: '@SUM(A1)' });
  await createUser(ctx, orgId, { name: 'Line\nBreak', isAdmin: true, isActive: false, title: null, phone: null });
  await createUser(ctx, orgId, { name: 'Full-width ＝cmd', title: '＝1+1' });
  const gone = await createUser(ctx, orgId, { name: 'Deleted Person' });
  expect((await ctx.http.delete(`/api/users/${gone.id}`).set('x-api-key', ADMIN_KEY)).status).toBe(204);
  // Leading tab and CR are trimmed by the API, so these go in directly.
  await ctx.prisma.user.create({
    data: { organizationId: orgId, name: '\tTabbed', title: '\rcarriage', email: null, source: 'wealthbox' },
  });
}

async function integration(orgId: number, provider: string, config: Record<string, unknown>): Promise<number> {
  const res = await ctx.http
    .post('/api/integrations')
    .set('x-api-key', ADMIN_KEY)
    .send({ organizationId: orgId, provider, name: provider, config });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

const exportNow = (id: number, key = ADMIN_KEY, wait = true) =>
  ctx.http.post(`/api/integrations/${id}/export?wait=${wait}`).set('x-api-key', key);
const run = async (runId: number) => (await ctx.http.get(`/api/sync/runs/${runId}`).set('x-api-key', ADMIN_KEY)).body.data;
const today = (run: { startedAt: string }) => run.startedAt.slice(0, 10);

describe('POST /api/integrations/:id/export', () => {
  it('when a Drive export is asked, then the folder gets the CSV of the users byte for byte, and the run records the file', async () => {
    const org = await createOrganization(ctx);
    await seedUsers(org.id);
    const id = await integration(org.id, 'google_drive', { accessToken: drive.token, baseUrl: drive.url, folderId: 'exports-folder' });

    const res = await exportNow(id);
    expect(res.status).toBe(200);
    const out = res.body.data;
    expect(out).toMatchObject({ status: 'succeeded', total: 6, error: null, path: null });
    const recorded = await run(out.runId);
    expect(out.fileName).toBe(`users-${org.slug}-${today(recorded)}.csv`);

    const expected = expectedCsv(await usersOf(org.id));
    const got = drive.files.get(out.fileName);
    expect(got?.toString('utf8')).toBe(expected.toString('utf8'));
    expect(got?.equals(expected)).toBe(true);
    expect(got?.toString('utf8')).not.toContain('Deleted Person');
    expect(got?.toString('utf8')).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(drive.fileList.at(-1)).toMatchObject({ parents: ['exports-folder'], mimeType: 'text/csv', id: out.fileId });

    expect(recorded).toMatchObject({
      operation: 'export',
      trigger: 'manual',
      source: 'google_drive',
      status: 'succeeded',
      total: 6,
      integrationId: id,
      organizationId: org.id,
      details: { fileId: drive.fileList.at(-1)?.id, path: null, bytes: expected.length, fileName: out.fileName },
    });
    const listed = await ctx.http.get(`/api/sync/runs?operation=export&integrationId=${id}`).set('x-api-key', ADMIN_KEY);
    expect(listed.body.data.map((r: { id: number }) => r.id)).toEqual([out.runId]);
  });

  it('when a Dropbox export is larger than a chunk and a chunk fails with a 5xx, then it is retried and the file is whole', async () => {
    const org = await createOrganization(ctx);
    await seedUsers(org.id);
    for (let i = 0; i < 30; i++) await createUser(ctx, org.id, { name: `Person ${i} Ünïcödé`, department: 'Sales, EMEA' });
    const id = await integration(org.id, 'dropbox', {
      accessToken: box.token,
      baseUrl: box.url,
      contentUrl: box.url,
      folderPath: '/Team Exports',
      uploadChunkBytes: 1024,
    });
    let injected = false;
    box.onRequest = (r) => {
      if (!injected && r.path === '/2/files/upload_session/append_v2') {
        injected = true;
        box.failNext(1, 503);
      }
    };
    try {
      const res = await exportNow(id);
      expect(res.status).toBe(200);
      const out = res.body.data;
      expect(out).toMatchObject({ status: 'succeeded', total: 36, path: `/Team Exports/${out.fileName}` });
      const expected = expectedCsv(await usersOf(org.id));
      expect(box.files.get(`/Team Exports/${out.fileName}`)?.equals(expected)).toBe(true);
      expect(injected).toBe(true);
      const appends = box.requests.filter((r) => r.path === '/2/files/upload_session/append_v2');
      expect(appends.length).toBeGreaterThan(2);
      expect((await run(out.runId)).details).toMatchObject({ fileId: out.fileId, path: out.path, bytes: expected.length });
    } finally {
      box.onRequest = undefined;
    }
  });

  it('when an organization has more users than a page and a Drive chunk, then pages and 256 KiB chunks make one whole file, a lost 5xx chunk resumed', async () => {
    const org = await createOrganization(ctx);
    const long = 'Department of very long names '.repeat(6);
    await ctx.prisma.user.createMany({
      data: Array.from({ length: 1500 }, (_, i) => ({
        organizationId: org.id,
        name: `Bulk ${i}`,
        email: `bulk${i}@example.com`,
        department: `${long}${i}`,
      })),
    });
    const id = await integration(org.id, 'google_drive', {
      accessToken: drive.token,
      baseUrl: drive.url,
      uploadChunkBytes: DRIVE_CHUNK_UNIT,
    });
    const putsBefore = drive.chunkPuts;
    const requestsBefore = drive.requests.length;
    let injected = false;
    drive.onRequest = (r) => {
      if (!injected && r.method === 'PUT') {
        injected = true;
        drive.failNext(1, 503);
      }
    };
    try {
      const out = (await exportNow(id)).body.data;
      expect(out).toMatchObject({ status: 'succeeded', total: 1500 });
      const expected = expectedCsv(await usersOf(org.id));
      expect(expected.length).toBeGreaterThan(DRIVE_CHUNK_UNIT);
      expect(drive.files.get(out.fileName)?.equals(expected)).toBe(true);
      const chunks = Math.ceil(expected.length / DRIVE_CHUNK_UNIT);
      expect(drive.chunkPuts - putsBefore).toBe(chunks);
      // The chunk the 503 refused was sent twice; the session was asked in between.
      const sent = drive.requests.slice(requestsBefore).filter((r) => r.method === 'PUT');
      expect(injected).toBe(true);
      expect(sent.filter((r) => /^bytes \d/.test(r.contentRange ?? ''))).toHaveLength(chunks + 1);
      expect(sent.some((r) => r.contentRange === 'bytes */*')).toBe(true);
      expect(drive.fileList.at(-1)?.parents).toEqual(['root']);
    } finally {
      drive.onRequest = undefined;
    }
  });

  it('when an organization key asks to export another organization’s integration, then 404 and nothing runs', async () => {
    const owner = await createOrganization(ctx);
    const other = await createOrganization(ctx);
    const id = await integration(owner.id, 'google_drive', { accessToken: drive.token, baseUrl: drive.url });
    const res = await exportNow(id, await createOrganizationKey(ctx, other.id));
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('integration_not_found');
    expect(await ctx.sql('SELECT id FROM sync_runs WHERE integration_id = $1', [id])).toEqual([]);
    // Its own key may.
    expect((await exportNow(id, await createOrganizationKey(ctx, owner.id))).status).toBe(200);
  });

  it('when the provider stores no files (Wealthbox), then 409 export_not_supported', async () => {
    const { id } = await createWealthboxIntegration(ctx, { token: 'wb-token-0000', url: 'http://127.0.0.1:9' });
    const res = await exportNow(id);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('export_not_supported');
  });

  it('when an export is running, then a second one answers 409 export_running; wait=false answers 202 with the run', async () => {
    const org = await createOrganization(ctx);
    await createUser(ctx, org.id, { name: 'Only One' });
    const id = await integration(org.id, 'google_drive', { accessToken: drive.token, baseUrl: drive.url });
    drive.slowDown(400);
    try {
      const first = await exportNow(id, ADMIN_KEY, false);
      expect(first.status).toBe(202);
      expect(first.body.data).toMatchObject({ integrationId: id, status: 'running', runId: expect.any(Number) });
      const second = await exportNow(id);
      expect(second.status).toBe(409);
      expect(second.body.code).toBe('export_running');
      let status = 'running';
      for (let i = 0; i < 100 && status === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        status = (await run(first.body.data.runId)).status;
      }
      expect(status).toBe('succeeded');
    } finally {
      drive.clearFaults();
    }
    // The lease is given back: the next export runs.
    expect((await exportNow(id)).body.data.status).toBe('succeeded');
  });

  it('when the Dropbox access token dies mid-life, then the export refreshes it once (OAuth) and writes the file', async () => {
    const org = await createOrganization(ctx);
    await createUser(ctx, org.id, { name: 'Refresh Me' });
    const key = await createOrganizationKey(ctx, org.id);
    const id = await integration(org.id, 'dropbox', { accessToken: 'pasted-token-0000', baseUrl: box.url, contentUrl: box.url });
    const started = await ctx.http.post('/api/integrations/oauth/dropbox/authorize').set('x-api-key', key);
    expect(started.status).toBe(200);
    const consent = await fetch(started.body.data.url, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location') as string);
    const connected = await ctx.http.get('/api/integrations/oauth/dropbox/callback').query(Object.fromEntries(back.searchParams));
    expect(connected.body.data).toMatchObject({ integrationId: id, status: 'active', test: { success: true } });

    const before = auth.lastAccessToken!.token;
    auth.expireAccessToken(before);
    const out = (await exportNow(id, key)).body.data;
    expect(out.status).toBe('succeeded');
    expect(auth.refreshCalls).toBe(1);
    const fresh = auth.lastAccessToken!.token;
    expect(fresh).not.toBe(before);
    expect(box.files.get(out.path)?.equals(expectedCsv(await usersOf(org.id)))).toBe(true);
    expect(box.requests.filter((r) => r.path === '/2/files/upload').map((r) => r.token)).toEqual(expect.arrayContaining([before, fresh]));
  });

  it('when the storage refuses the credentials for good, then the run fails and the integration shows the error', async () => {
    const org = await createOrganization(ctx);
    const id = await integration(org.id, 'google_drive', { accessToken: 'ya29.revoked-token', baseUrl: drive.url });
    const out = (await exportNow(id)).body.data;
    expect(out).toMatchObject({ status: 'failed', fileId: null });
    expect(out.error).toMatch(/401/);
    expect((await run(out.runId)).status).toBe('failed');
    const shown = (await ctx.http.get(`/api/integrations/${id}`).set('x-api-key', ADMIN_KEY)).body.data;
    expect(shown.status).toBe('error');
    expect(shown.errorMessage).toMatch(/^Authentication failed/);
  });
});

describe('scheduled exports', () => {
  const logger = createLogger({ level: 'error', json: true, silent: true });

  it('when a schedule is set, then the job picks it up, runs once per scheduled minute across instances, and drops it when unset', async () => {
    const org = await createOrganization(ctx);
    await createUser(ctx, org.id, { name: 'Scheduled' });
    const id = await integration(org.id, 'dropbox', { accessToken: box.token, baseUrl: box.url, contentUrl: box.url });
    const bad = await ctx.http
      .patch(`/api/integrations/${id}`)
      .set('x-api-key', ADMIN_KEY)
      .send({ config: { exportSchedule: 'every day' } });
    expect(bad.status).toBe(400);
    const set = await ctx.http
      .patch(`/api/integrations/${id}`)
      .set('x-api-key', ADMIN_KEY)
      .send({ config: { exportSchedule: '0 6 * * *' } });
    expect(set.status).toBe(200);

    // Two instances firing the same schedule.
    const a = new ExportJobs(ctx.services.exports, logger, { enabled: true, timezone: 'UTC', reconcileMs: 3_600_000 });
    const b = new ExportJobs(ctx.services.exports, logger, { enabled: true, timezone: 'UTC', reconcileMs: 3_600_000 });
    try {
      await a.reconcile();
      expect(a.scheduled().get(id)).toBe('0 6 * * *');
      const at = new Date('2030-01-01T06:00:00.000Z');
      const first = await a.runScheduled(id, at);
      expect(first).toMatchObject({ status: 'succeeded', total: 1 });
      expect(await b.runScheduled(id, new Date(at.getTime() + 700))).toBeNull();
      const runs = await ctx.sql<{ trigger: string; status: string }>(
        "SELECT trigger, status FROM sync_runs WHERE integration_id = $1 AND operation = 'export'",
        [id],
      );
      expect(runs).toEqual([{ trigger: 'cron', status: 'succeeded' }]);

      const cleared = await ctx.http
        .patch(`/api/integrations/${id}`)
        .set('x-api-key', ADMIN_KEY)
        .send({ config: { exportSchedule: null } });
      expect(cleared.status).toBe(200);
      expect(await a.reconcile()).toMatchObject({ removed: 1 });
      expect(a.scheduled().has(id)).toBe(false);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
