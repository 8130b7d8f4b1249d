import { execFile, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FakeWealthbox } from '../../fake-crm/wealthbox/fake-wealthbox';
import { Receiver } from '../helpers/receiver';
import { ADMIN_KEY, createTestContext, type TestContext } from '../helpers/test-app';

const DIR = path.join(__dirname, '..', '..', 'scripts', 'admin');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Scripts run for real (not only --help); the last test fails when one has no test here. */
const TESTED = new Set<string>();

describe('scripts/admin against a live instance', () => {
  let ctx: TestContext;
  let server: Server;
  let apiUrl: string;
  let fake: FakeWealthbox;
  let receiver: Receiver;

  const run = (script: string, args: string[] = [], key: string | null = ADMIN_KEY, PATH = process.env.PATH): Promise<Run> => {
    if (args[0] !== '--help') TESTED.add(script);
    return new Promise((resolve) => {
      execFile(
        'sh',
        [path.join(DIR, script), ...args],
        { env: { PATH, API_URL: apiUrl, ...(key ? { API_KEY: key } : {}), POLL_SECONDS: '0.2' } },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  };
  const ok = async (script: string, args: string[] = []) => {
    const r = await run(script, args);
    if (r.code !== 0) throw new Error(`${script} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    ctx = await createTestContext({ WEBHOOK_RETRY_SCHEDULE: '0' });
    server = await new Promise((resolve) => {
      const s = ctx.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    fake = await new FakeWealthbox({ contacts: 30, staff: 2 }).start();
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await ctx.close();
    await fake.stop();
    await receiver.stop();
  });

  it('every script prints usage with --help and exits 0', async () => {
    for (const script of fs.readdirSync(DIR).filter((f) => f.endsWith('.sh') && !f.startsWith('_'))) {
      const r = await run(script, ['--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: ${script}`);
      expect(r.stdout).toContain('Example:');
    }
  });

  it('an HTTP error exits non-zero with the service’s message; a missing key says so', async () => {
    const r = await run('revoke-api-key.sh', ['999999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HTTP 404');
    expect(r.stderr).toContain('API key 999999 not found');
    const bad = await run('create-organization.sh', ['']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('body.name');
    const noKey = await run('list-api-keys.sh', [], null);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('API_KEY is not set');
  });

  it('organizations, API keys, integrations and a followed sync', async () => {
    const org = await ok('create-organization.sh', ['Scripted "Quotes" Inc', 'scripted-inc']);
    expect(org.data).toMatchObject({ name: 'Scripted "Quotes" Inc', slug: 'scripted-inc' });

    const key = await ok('create-api-key.sh', ['ops key', String(org.data.id)]);
    expect(key.data).toMatchObject({ scope: 'organization', organizationId: org.data.id, key: expect.any(String) });
    const keys = await ok('list-api-keys.sh');
    expect(keys.data.map((k: { id: number }) => k.id)).toContain(key.data.id);
    const revoked = await run('revoke-api-key.sh', [String(key.data.id)]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`API key ${key.data.id} revoked`);
    const all = await ok('list-api-keys.sh', ['--all']);
    expect(all.data.find((k: { id: number }) => k.id === key.data.id).revokedAt).not.toBeNull();

    const config = JSON.stringify({ apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 0 });
    const integration = await ok('create-integration.sh', [String(org.data.id), 'wealthbox', 'Scripted WB', config]);
    expect(integration.data).toMatchObject({ provider: 'wealthbox', status: 'pending' });
    const tested = await ok('test-integration.sh', [String(integration.data.id)]);
    expect(tested.success).toBe(true);

    const sync = await run('sync.sh', [String(integration.data.id), 'full']);
    expect(sync.code).toBe(0);
    expect(sync.stderr).toMatch(/run \d+: succeeded, \d+ pages, 32 records/);
    const finished = JSON.parse(sync.stdout.slice(sync.stdout.indexOf('{')));
    expect(finished.data).toMatchObject({ status: 'succeeded', created: 32 });

    const runs = await ok('list-sync-runs.sh', [`integrationId=${integration.data.id}`, 'status=succeeded']);
    expect(runs.data.map((r: { id: number }) => r.id)).toEqual([finished.data.id]);

    // Without jq: the same follow, reading fields with sed; the answer is printed as sent.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'no-jq-'));
    for (const tool of ['sh', 'curl', 'sed', 'mktemp', 'cat', 'rm', 'head', 'tr', 'dirname', 'sleep']) {
      fs.symlinkSync(
        execFileSync('sh', ['-c', `command -v ${tool}`])
          .toString()
          .trim(),
        path.join(bin, tool),
      );
    }
    const plain = await run('sync.sh', [String(integration.data.id), 'incremental'], ADMIN_KEY, bin);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toMatch(/run \d+: succeeded/);
    expect(JSON.parse(plain.stdout).data).toMatchObject({ status: 'succeeded', operation: 'incremental' });
  });

  it('failed webhook events and replay; subscriptions, deliveries and a retry', async () => {
    const org = await ok('create-organization.sh', ['Hooks Inc']);
    const config = JSON.stringify({ apiKey: fake.token, baseUrl: fake.url, webhookSecret: 'script-secret' });
    const integration = await ok('create-integration.sh', [String(org.data.id), 'wealthbox', 'WB', config]);
    const raw = JSON.stringify({ id: 'script-evt', event: 'contact.created', contact: { id: 77, first_name: 'Ann' } });
    const sent = await ctx.http
      .post(`/api/webhooks/wealthbox/${integration.data.id}`)
      .set({ 'Content-Type': 'application/json', 'x-wealthbox-signature': createHmac('sha256', 'script-secret').update(raw).digest('hex') })
      .send(raw);
    expect(sent.status).toBe(202);
    await ctx.sql(`UPDATE inbound_events SET status = 'failed', last_error = 'simulated' WHERE id = $1`, [sent.body.eventId]);
    const failed = await ok('list-failed-webhook-events.sh', ['wealthbox']);
    expect(failed.data.map((e: { id: number }) => e.id)).toContain(sent.body.eventId);
    const replayed = await ok('replay-webhook-event.sh', [String(sent.body.eventId)]);
    expect(replayed.data).toMatchObject({ id: sent.body.eventId, status: 'pending' });

    const sub = await ok('create-webhook-subscription.sh', [String(org.data.id), receiver.url, 'user.created,user.updated']);
    expect(sub.data).toMatchObject({ events: ['user.created', 'user.updated'], secret: expect.stringMatching(/^whsec_/) });
    receiver.fallback = { status: 500, body: 'down' };
    await ctx.services.inboxWorker.drain(); // the replayed event creates a user: one delivery
    await ctx.services.deliveries.drain();
    const deliveries = await ok('list-deliveries.sh', [String(sub.data.id), 'failed']);
    expect(deliveries.data).toHaveLength(1);
    expect(deliveries.data[0].attemptLog[0]).toMatchObject({ statusCode: 500, responseBody: 'down' });

    receiver.fallback = { status: 200, body: 'ok' };
    const retried = await run('retry-delivery.sh', [String(sub.data.id), String(deliveries.data[0].id)]);
    expect(retried.code).toBe(0);
    await ctx.services.deliveries.drain();
    const after = await ok('list-deliveries.sh', [String(sub.data.id), 'succeeded']);
    expect(after.data.map((d: { id: number }) => d.id)).toEqual([deliveries.data[0].id]);
  });

  it('erase-user.sh deletes a user and blanks its row; a bad or unknown id fails', async () => {
    const org = await ok('create-organization.sh', ['Erase Inc']);
    const user = await ctx.http
      .post('/api/users')
      .set('x-api-key', ADMIN_KEY)
      .send({ organizationId: org.data.id, email: 'erase.me@example.com', name: 'Erase Me' });
    expect(user.status).toBe(201);
    const erased = await ok('erase-user.sh', [String(user.body.data.id)]);
    expect(erased.data).toMatchObject({ id: user.body.data.id, erased: { inboundEvents: 0, identities: 0 } });
    const [row] = await ctx.sql<{ email: string | null; name: string }>('SELECT email, name FROM users WHERE id = $1', [user.body.data.id]);
    expect(row).toEqual({ email: null, name: '' });
    const bad = await run('erase-user.sh', ['12; rm']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('ID must be a number');
    const missing = await run('erase-user.sh', ['999999']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('HTTP 404');
  });

  it('every script in scripts/admin was run by these tests', () => {
    const scripts = fs.readdirSync(DIR).filter((f) => f.endsWith('.sh') && !f.startsWith('_'));
    expect(scripts.length).toBeGreaterThanOrEqual(13);
    expect(scripts.filter((s) => !TESTED.has(s))).toEqual([]);
  });
});
