import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { Receiver } from '../helpers/receiver';
import { ADMIN_KEY, createTestDatabase, ENCRYPTION_KEY } from '../helpers/test-app';

/**
 * ROLE=api|worker, as real processes on one database: the API instance serves REST and
 * queues work; only the worker instance sends it (and serves nothing but its health).
 */
const root = path.resolve(__dirname, '../..');
let databaseUrl: string;
let receiver: Receiver;
const children: ChildProcess[] = [];

function start(role: 'api' | 'worker', port: number): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    // Node itself with tsx's loader: the tsx wrapper would leave its child running on a kill.
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      ROLE: role,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      API_KEY: ADMIN_KEY,
      ENCRYPTION_KEY,
      CRON_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      ALLOW_PRIVATE_URLS: 'true',
      WEBHOOK_POLL_MS: '50',
      METRICS_ENABLED: 'false',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 40_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const url = (port: number, p: string) => `http://127.0.0.1:${port}${p}`;
const json = async (port: number, p: string, init: RequestInit = {}) => {
  const res = await fetch(url(port, p), {
    ...init,
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY, ...(init.headers ?? {}) },
  });
  return { status: res.status, body: (await res.json()) as { data: { id: number }; role?: string } };
};
const healthy = (port: number) => until(`port ${port}`, async () => ((await fetch(url(port, '/health'))).ok ? true : undefined));

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  receiver = await new Receiver().start();
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await receiver.stop();
});

it('when the API and the workers run as separate roles, then the API queues and only the worker sends', async () => {
  const apiPort = 20_000 + Math.floor(Math.random() * 10_000);
  const workerPort = apiPort + 1;
  start('api', apiPort);
  await healthy(apiPort);

  const org = await json(apiPort, '/api/organizations', { method: 'POST', body: JSON.stringify({ name: 'Roles Inc' }) });
  expect(org.status).toBe(201);
  const sub = await json(apiPort, '/api/webhook-subscriptions', {
    method: 'POST',
    body: JSON.stringify({ organizationId: org.body.data.id, url: receiver.url, events: ['user.created'] }),
  });
  expect(sub.status).toBe(201);
  const user = await json(apiPort, '/api/users', {
    method: 'POST',
    body: JSON.stringify({ organizationId: org.body.data.id, email: 'roles@example.com', name: 'Role Person' }),
  });
  expect(user.status).toBe(201);

  // The API instance runs no delivery worker: the delivery waits in the table.
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const pending = await db.query(`SELECT status, attempts FROM webhook_deliveries WHERE subscription_id = $1`, [sub.body.data.id]);
    expect(pending.rows).toEqual([{ status: 'pending', attempts: 0 }]);
    expect(receiver.received).toHaveLength(0);

    start('worker', workerPort);
    await healthy(workerPort);
    const health = await json(workerPort, '/health');
    expect(health.body.role).toBe('worker');
    // A worker serves no API.
    expect((await json(workerPort, '/api/users')).status).toBe(404);
    await until('the delivery', async () => (receiver.received.length > 0 ? true : undefined));
    expect(receiver.received[0].body).toContain('roles@example.com');
    const done = await db.query(`SELECT status FROM webhook_deliveries WHERE subscription_id = $1`, [sub.body.data.id]);
    expect(done.rows).toEqual([{ status: 'succeeded' }]);
  } finally {
    await db.end();
  }
}, 90_000);
