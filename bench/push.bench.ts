/**
 * npm run bench:push: how fast the bulk user push is, against seed 001's per-user approach
 * measured in the same run on the same database server.
 *
 * 1. POST 10,000 new users to /api/internal/sync/users (the real endpoint, over HTTP).
 * 2. POST the same 10,000 again with a changed title: every one is an update.
 * 3. POST them a third time unchanged.
 * (Before 1: one uncounted push of the same size for another tenant, to warm the process.)
 * 4. Baseline, seed 001's loop (per user: find by email, then create or update), through
 *    Prisma, on 1,000 new users and then the same 1,000 changed.
 * 5. The floor (issue 14): the same rows (users, and their two identities each) written by
 *    hand-written `INSERT … SELECT unnest(…) ON CONFLICT` statements in one transaction, into
 *    the same tables with the same indexes, 10,000 new then the same 10,000 changed. The
 *    service's push is compared with it: target within 3 times.
 *
 * Uses BENCH_DATABASE_URL when set (a server you provide; a scratch database is created
 * on it), otherwise a throw-away embedded PostgreSQL with its default (durable) settings.
 */
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { createApp, createServices } from '../src/app';
import { loadConfig } from '../src/config/config';
import { createPrismaClient, type PrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import pg from 'pg';
import { scratchDatabase } from './scratch-database';

const N = Number(process.env.BENCH_USERS ?? 10_000);
const BASELINE_N = Number(process.env.BENCH_BASELINE_USERS ?? 1_000);
const INTERNAL_KEY = 'bench-internal-key-0123456789';
const logger = createLogger({ level: 'warn', json: false });

function users(n: number, prefix: string, title: string) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    kindeUserId: `kinde-${prefix}-${i}`,
    email: `${prefix}.${i}@bench.example.com`,
    name: `Bench User ${i}`,
    isActive: i % 10 !== 0,
    isAdmin: i % 50 === 0,
    department: ['Sales', 'Support', 'Engineering', 'Finance'][i % 4],
    title,
    lastActiveAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString(),
    roles: i % 3 === 0 ? ['user', 'manager'] : ['user'],
    permissions: ['read', 'write'],
  }));
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/** Seed 001's loop, literally: one lookup and one write per user. */
async function perUserSync(prisma: PrismaClient, organizationId: number, list: ReturnType<typeof users>) {
  for (const u of list) {
    const existing = await prisma.user.findFirst({ where: { organizationId, email: u.email } });
    if (!existing) {
      await prisma.user.create({
        data: {
          organizationId,
          email: u.email,
          name: u.name,
          isActive: u.isActive,
          isAdmin: u.isAdmin,
          department: u.department,
          title: u.title,
          roles: u.roles,
          permissions: u.permissions,
          source: 'wrapper',
          lastSyncedAt: new Date(),
        },
      });
    } else {
      await prisma.user.update({
        where: { id: existing.id },
        data: { name: u.name, isActive: u.isActive, title: u.title, roles: u.roles, permissions: u.permissions, lastSyncedAt: new Date() },
      });
    }
  }
}

/**
 * The floor: what writing these rows costs with nothing around it. Users by one unnest insert
 * (an update on conflict), then their wrapper and kinde identities by another, in one
 * transaction; no events, no run log, no validation.
 */
async function floorWrite(pool: pg.Pool, organizationId: number, list: ReturnType<typeof users>) {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const { rows } = await c.query<{ id: number; email: string }>(
      `INSERT INTO users AS u (organization_id, email, name, is_active, is_admin, department, title, roles, permissions, source, last_active_at, last_synced_at)
       SELECT $1, e, n, a, ad, d, t, r::jsonb, p::jsonb, 'wrapper', la::timestamptz, now()
       FROM unnest($2::text[], $3::text[], $4::boolean[], $5::boolean[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
         AS x(e, n, a, ad, d, t, r, p, la)
       ON CONFLICT (organization_id, email) DO UPDATE SET name = EXCLUDED.name, is_active = EXCLUDED.is_active,
         is_admin = EXCLUDED.is_admin, department = EXCLUDED.department, title = EXCLUDED.title, roles = EXCLUDED.roles,
         permissions = EXCLUDED.permissions, last_active_at = EXCLUDED.last_active_at, last_synced_at = now(), updated_at = now()
       RETURNING id, email`,
      [
        organizationId,
        list.map((u) => u.email),
        list.map((u) => u.name),
        list.map((u) => u.isActive),
        list.map((u) => u.isAdmin),
        list.map((u) => u.department),
        list.map((u) => u.title),
        list.map((u) => JSON.stringify(u.roles)),
        list.map((u) => JSON.stringify(u.permissions)),
        list.map((u) => u.lastActiveAt),
      ],
    );
    const byEmail = new Map(list.map((u) => [u.email, u]));
    const ids: number[] = [];
    const providers: string[] = [];
    const externals: string[] = [];
    for (const r of rows) {
      const u = byEmail.get(r.email) as ReturnType<typeof users>[number];
      ids.push(r.id, r.id);
      providers.push('wrapper', 'kinde');
      externals.push(u.id, u.kindeUserId);
    }
    await c.query(
      `INSERT INTO user_identities (organization_id, user_id, provider, external_id)
       SELECT $1, uid, pr, ex FROM unnest($2::int[], $3::text[], $4::text[]) AS x(uid, pr, ex)
       ON CONFLICT (organization_id, provider, external_id) DO UPDATE SET user_id = EXCLUDED.user_id, updated_at = now()`,
      [organizationId, ids, providers, externals],
    );
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK');
    throw err;
  } finally {
    c.release();
  }
}

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const fmt = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  const db = await scratchDatabase(logger);
  const url = db.url;

  const config = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL: url,
    INTERNAL_API_KEY: INTERNAL_KEY,
    ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    PUSH_MAX_USERS: String(Math.max(N, 10_000)),
    PUSH_MAX_BODY: '50mb',
    SYNC_RATE_LIMIT_MAX: '1000',
  });
  const prisma = createPrismaClient(url, config.database);
  const app = createApp({ config, prisma, logger }, createServices({ config, prisma, logger }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The request body is serialised before the clock starts: that is the sender's work.
  const serialise = (list: ReturnType<typeof users>) =>
    JSON.stringify({ operation: 'user_sync', tenant: { id: 'bench', name: 'Bench Co' }, users: list });
  const pushOnce = async (body: string) => {
    const res = await fetch(`${base}/api/internal/sync/users`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Internal-API-Key': INTERNAL_KEY,
        'X-Tenant-ID': 'bench',
        'X-Sync-Source': 'wrapper',
      },
      body,
    });
    const json = (await res.json()) as {
      metadata: { created: number; updated: number; unchanged: number; failed: number; syncRunId: number };
    };
    if (res.status !== 200) throw new Error(`push answered ${res.status}: ${JSON.stringify(json)}`);
    return json.metadata;
  };

  // Warm-up, not counted: a running service has warm JIT, pools and plan caches. It pushes
  // a full-size batch for another tenant, so the tables are not empty either.
  await pushOnce(serialise(users(N, 'warm', 'Warm')));

  console.log(`\nbench:push on ${os.cpus().length} cores, PostgreSQL ${db.embedded ? 'embedded' : 'from BENCH_DATABASE_URL'}\n`);
  const [first, second] = [serialise(users(N, 'u', 'Sales Manager')), serialise(users(N, 'u', 'Senior Sales Manager'))];
  const created = await timed(() => pushOnce(first));
  const changed = await timed(() => pushOnce(second));
  const same = await timed(() => pushOnce(second));
  for (const [label, r, expect] of [
    [`${fmt(N)} new users`, created, 'created'],
    [`${fmt(N)} changed users`, changed, 'updated'],
    [`${fmt(N)} unchanged users`, same, 'unchanged'],
  ] as const) {
    if (r.value[expect] !== N) throw new Error(`${label}: expected ${N} ${expect}, got ${JSON.stringify(r.value)}`);
    const run = await prisma.syncRun.findUniqueOrThrow({ where: { id: r.value.syncRunId } });
    const inService = (run.details as { durationMs: number }).durationMs;
    console.log(
      `set-based push   ${label.padEnd(22)} ${r.ms.toFixed(0).padStart(7)} ms  ${fmt(rate(N, r.ms)).padStart(8)} users/s  (${inService} ms inside the service)`,
    );
  }

  const org = await prisma.organization.create({ data: { name: 'Baseline', slug: `baseline-${Date.now()}` } });
  const baseNew = await timed(() => perUserSync(prisma, org.id, users(BASELINE_N, 'b', 'Sales Manager')));
  const baseChanged = await timed(() => perUserSync(prisma, org.id, users(BASELINE_N, 'b', 'Senior Sales Manager')));
  console.log(
    `per-user (seed)  ${`${fmt(BASELINE_N)} new users`.padEnd(22)} ${baseNew.ms.toFixed(0).padStart(7)} ms  ${fmt(rate(BASELINE_N, baseNew.ms)).padStart(8)} users/s`,
  );
  console.log(
    `per-user (seed)  ${`${fmt(BASELINE_N)} changed users`.padEnd(22)} ${baseChanged.ms.toFixed(0).padStart(7)} ms  ${fmt(rate(BASELINE_N, baseChanged.ms)).padStart(8)} users/s`,
  );

  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const floorOrg = await prisma.organization.create({ data: { name: 'Floor', slug: `floor-${Date.now()}` } });
  const floorNew = await timed(() => floorWrite(pool, floorOrg.id, users(N, 'f', 'Sales Manager')));
  const floorChanged = await timed(() => floorWrite(pool, floorOrg.id, users(N, 'f', 'Senior Sales Manager')));
  await pool.end();
  console.log(
    `floor (unnest)   ${`${fmt(N)} new users`.padEnd(22)} ${floorNew.ms.toFixed(0).padStart(7)} ms  ${fmt(rate(N, floorNew.ms)).padStart(8)} users/s`,
  );
  console.log(
    `floor (unnest)   ${`${fmt(N)} changed users`.padEnd(22)} ${floorChanged.ms.toFixed(0).padStart(7)} ms  ${fmt(rate(N, floorChanged.ms)).padStart(8)} users/s`,
  );

  const ratioNew = rate(N, created.ms) / rate(BASELINE_N, baseNew.ms);
  const ratioChanged = rate(N, changed.ms) / rate(BASELINE_N, baseChanged.ms);
  console.log(`\nratio set-based / per-user: new ${ratioNew.toFixed(1)}x, changed ${ratioChanged.toFixed(1)}x`);
  console.log(
    `target: ${fmt(N)} users in <= 2000 ms (${created.ms <= 2000 && changed.ms <= 2000 ? 'met' : 'NOT met'}), ratio >= 20x (${ratioNew >= 20 && ratioChanged >= 20 ? 'met' : 'NOT met'})`,
  );
  const overFloorNew = created.ms / floorNew.ms;
  const overFloorChanged = changed.ms / floorChanged.ms;
  console.log(
    `push / floor: new ${overFloorNew.toFixed(2)}x, changed ${overFloorChanged.toFixed(2)}x; target within 3x (${overFloorNew <= 3 && overFloorChanged <= 3 ? 'met' : 'NOT met'})\n`,
  );

  server.close();
  await prisma.$disconnect();
  await db.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
