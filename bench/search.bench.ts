/**
 * npm run bench:search: every list request the API offers on a million users
 * (BENCH_SEARCH_USERS) and 50,000 organizations (BENCH_SEARCH_ORGS), through the same
 * repositories the API uses: searches, every sort of the users list in one organization and
 * across all of them, deep pages by cursor, and the organizations list.
 *
 * Each case is timed as the API makes it now (totals exact up to LIST_EXACT_COUNT_LIMIT =
 * 1,000, the sort indexes of migration 20261123050000_list_indexes, deep pages by cursor)
 * and then, as the baseline measured in the same run, as it was made before: exact totals,
 * those indexes dropped, deep pages by offset. The plan of every unsearched page is checked
 * with EXPLAIN: it must read an index in order (no Sort node, no sequential scan of users).
 *
 * Data: organizations 1 and 2 hold 90% and 10% of the users; names from 8 first and 9 last
 * names plus a number, emails person<N>@<one of 4 domains>, lastActiveAt set on two users in
 * three (the rest null), lastSyncedAt on one in two. Uses BENCH_DATABASE_URL when set,
 * otherwise a throw-away embedded PostgreSQL.
 */
import os from 'node:os';
import pg from 'pg';
import { createPrismaClient, type PrismaClient } from '../src/db/prisma';
import { envSchema } from '../src/config/config';
import { createLogger } from '../src/lib/logger';
import { scratchDatabase } from './scratch-database';
import { createUserRepository, type UserListFilter } from '../src/modules/users/users.repository';
import { createOrganizationRepository, type OrganizationListFilter } from '../src/modules/organizations/organizations.repository';

const N = Number(process.env.BENCH_SEARCH_USERS ?? 1_000_000);
const ORGS = Number(process.env.BENCH_SEARCH_ORGS ?? 50_000);
// The service's default (or LIST_EXACT_COUNT_LIMIT when set), read through the config schema.
const COUNT_LIMIT = envSchema.shape.LIST_EXACT_COUNT_LIMIT.parse(process.env.LIST_EXACT_COUNT_LIMIT);
const TARGET_MS = 30;
const logger = createLogger({ level: 'warn', json: false });

type UserCase = { label: string; kind: 'users'; filter: Omit<UserListFilter, 'page' | 'limit' | 'countLimit'>; page?: number };
type OrgCase = {
  label: string;
  kind: 'organizations';
  filter: Omit<OrganizationListFilter, 'page' | 'limit' | 'countLimit'>;
  page?: number;
};
type Case = UserCase | OrgCase;

const newest = { field: 'createdAt', direction: 'desc' } as const;
const byName = { field: 'name', direction: 'asc' } as const;
const SORT_FIELDS = ['id', 'name', 'email', 'createdAt', 'updatedAt', 'lastActiveAt', 'lastSyncedAt'] as const;

const SEARCHES: UserCase[] = [
  { label: 'exact email fragment, one org', kind: 'users', filter: { search: 'person123456@', organizationId: 1, sort: newest } },
  { label: 'rare name (~0.1%), one org', kind: 'users', filter: { search: 'okafor 77', organizationId: 1, sort: newest } },
  { label: 'rare name (~0.1%), all orgs', kind: 'users', filter: { search: 'okafor 77', sort: byName } },
  { label: 'common name (~11%), one org', kind: 'users', filter: { search: 'Müller', organizationId: 1, sort: newest } },
  { label: 'common name (~11%), all, by name', kind: 'users', filter: { search: 'Müller', sort: byName } },
  { label: 'no match, one org', kind: 'users', filter: { search: 'zzqx', organizationId: 1, sort: newest } },
];

// Every sort the users list offers, without a search: in the big organization, the small
// one, and across all organizations.
const SORTS: UserCase[] = SORT_FIELDS.flatMap((field) =>
  (['asc', 'desc'] as const).flatMap((direction) =>
    ([1, 2, undefined] as const).map((organizationId) => ({
      label: `${direction === 'desc' ? '-' : ''}${field}, ${organizationId === undefined ? 'all orgs' : organizationId === 1 ? 'big org' : 'small org'}`,
      kind: 'users' as const,
      filter: { organizationId, sort: { field, direction } },
    })),
  ),
);

async function main(): Promise<void> {
  const db = await scratchDatabase(logger);
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const started = Date.now();
  // Loading is faster with the secondary indexes built afterwards; the result is the same.
  const { rows: indexDefs } = await sql.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'users' AND indexname <> 'users_pkey'`,
  );
  for (const i of indexDefs) await sql.query(`DROP INDEX ${i.name}`);
  await sql.query("INSERT INTO organizations (name, slug) VALUES ('Big', 'big'), ('Small', 'small')");
  await sql.query(
    `INSERT INTO users (organization_id, email, name, source, last_active_at, last_synced_at)
     SELECT CASE WHEN g % 10 = 0 THEN 2 ELSE 1 END,
            'person' || g || '@' || (ARRAY['acme.com','example.org','mail.net','corp.io'])[1 + g % 4],
            (ARRAY['Ann','Bob','Carla','Dmitri','Eve','Farah','Gus','Hana'])[1 + g % 8] || ' ' ||
            (ARRAY['Smith','Jones','Okafor','Nguyen','Garcia','Müller','Rossi','Tanaka','Kowalski'])[1 + (g / 8) % 9] || ' ' || g,
            'api',
            CASE WHEN g % 3 <> 0 THEN timestamptz '2026-01-01' + (g::bigint * 7919 % 1000000) * interval '1 minute' END,
            CASE WHEN g % 2 = 0 THEN timestamptz '2026-06-01' + (g::bigint * 104729 % 1000000) * interval '1 second' END
     FROM generate_series(1, $1::int) g`,
    [N],
  );
  await sql.query(
    `INSERT INTO organizations (name, slug)
     SELECT 'Tenant ' || g || ' ' || (ARRAY['Holdings','Labs','Partners','Group'])[1 + g % 4], 'tenant-' || g
     FROM generate_series(1, $1::int) g`,
    [ORGS],
  );
  for (const i of indexDefs) await sql.query(i.def);
  await sql.query('VACUUM ANALYZE users');
  await sql.query('VACUUM ANALYZE organizations');
  console.log(
    `\nbench:search: ${N.toLocaleString('en-US')} users, ${(ORGS + 2).toLocaleString('en-US')} organizations loaded and indexed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  // Deep rows (multiples of 10, so the baseline's page starts at the same row).
  const ROW_NEWEST = Math.floor(N / 20) * 10; // half of the big organization's users
  const ROW_NAME = Math.floor((N * 0.9) / 10) * 10;
  const ROW_NULLS = Math.floor((N * 0.8) / 10) * 10; // past its 600,000 lastActiveAt values
  const ROW_ORG = Math.floor((ORGS * 0.8) / 10) * 10;
  const row = (r: number) => (r + 1).toLocaleString('en-US');
  // The row before each: where a client paging by cursor would be after many pages.
  const position = async (q: string) => {
    const { rows } = await sql.query<{ value: Date | string | null; id: number }>(q);
    const v = rows[0].value;
    return { value: v instanceof Date ? v.toISOString() : v, id: rows[0].id };
  };
  const deepNewest = await position(
    `SELECT created_at AS value, id FROM users WHERE organization_id = 1 ORDER BY created_at DESC, id DESC OFFSET ${ROW_NEWEST - 1} LIMIT 1`,
  );
  const deepName = await position(`SELECT name AS value, id FROM users ORDER BY name, id OFFSET ${ROW_NAME - 1} LIMIT 1`);
  const deepNulls = await position(
    `SELECT last_active_at AS value, id FROM users WHERE organization_id = 1 ORDER BY last_active_at DESC NULLS LAST, id DESC OFFSET ${ROW_NULLS - 1} LIMIT 1`,
  );
  const deepOrg = await position(`SELECT NULL AS value, id FROM organizations ORDER BY id OFFSET ${ROW_ORG - 1} LIMIT 1`);
  // The baseline reads the same pages by offset.
  const DEEP: Case[] = [
    {
      label: `cursor at row ${row(ROW_NEWEST)}, big org, newest`,
      kind: 'users',
      filter: { organizationId: 1, sort: newest, after: deepNewest },
      page: ROW_NEWEST / 10 + 1,
    },
    {
      label: `cursor at row ${row(ROW_NAME)}, all orgs, by name`,
      kind: 'users',
      filter: { sort: byName, after: deepName },
      page: ROW_NAME / 10 + 1,
    },
    {
      label: `cursor at row ${row(ROW_NULLS)} (nulls), -lastActiveAt`,
      kind: 'users',
      filter: { organizationId: 1, sort: { field: 'lastActiveAt', direction: 'desc' }, after: deepNulls },
      page: ROW_NULLS / 10 + 1,
    },
  ];
  const ORG_CASES: Case[] = [
    { label: 'organizations, first page', kind: 'organizations', filter: {} },
    { label: 'organizations, search "labs" (25%)', kind: 'organizations', filter: { search: 'labs' } },
    { label: 'organizations, search "tenant 4242"', kind: 'organizations', filter: { search: 'tenant 4242' } },
    {
      label: `organizations, cursor at row ${row(ROW_ORG)}`,
      kind: 'organizations',
      filter: { afterId: deepOrg.id },
      page: ROW_ORG / 10 + 1,
    },
  ];

  const prisma = createPrismaClient(db.url, { poolMax: 4, transactionTimeoutMs: 60_000 });
  // The statements of the last request, for EXPLAIN.
  const statements: { text: string; values: unknown[] }[] = [];
  const recording = new Proxy(prisma, {
    get(target, prop, receiver) {
      if (prop !== '$queryRawUnsafe') return Reflect.get(target, prop, receiver);
      return (text: string, ...values: unknown[]) => {
        statements.push({ text, values });
        return target.$queryRawUnsafe(text, ...values);
      };
    },
  }) as PrismaClient;
  const users = createUserRepository(recording);
  const organizations = createOrganizationRepository(prisma);

  // Median of 5 runs after one warm-up; each run is one list request (page of 10 and total).
  const run = async (c: Case, old: boolean) => {
    const countLimit = old ? undefined : COUNT_LIMIT;
    const limit = 10;
    if (c.kind === 'users') {
      const { after: _after, ...rest } = c.filter;
      const f: UserListFilter = old && c.page ? { ...rest, page: c.page, limit } : { ...c.filter, page: 1, limit, countLimit };
      const r = await users.list(f);
      return { total: r.total, exact: r.totalExact, first: r.rows[0]?.id };
    }
    const { afterId, ...rest } = c.filter;
    const f: OrganizationListFilter = old && c.page ? { ...rest, page: c.page, limit } : { ...rest, afterId, page: 1, limit, countLimit };
    const r = await organizations.list(f);
    return { total: r.total, exact: r.totalExact, first: r.rows[0]?.id };
  };
  const measure = async (c: Case, old: boolean) => {
    let result = await run(c, old);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      statements.length = 0;
      const t0 = performance.now();
      result = await run(c, old);
      times.push(performance.now() - t0);
    }
    return { ms: times.sort((a, b) => a - b)[2], ...result };
  };
  // An unsearched page must come from an index in order: no Sort node, no sequential scan of users.
  const readsIndexInOrder = async () => {
    type PlanNode = { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] };
    const sorts = (n: PlanNode): boolean =>
      n['Node Type'] === 'Sort' || (n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'users') || (n.Plans ?? []).some(sorts);
    // The page statements; a capped count may scan (it stops at the limit).
    for (const s of statements.filter((st) => !st.text.startsWith('SELECT count('))) {
      const { rows } = await sql.query(`EXPLAIN (FORMAT JSON) ${s.text}`, s.values);
      if (sorts((rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan)) return false;
    }
    return true;
  };

  const all: Case[] = [...SEARCHES, ...SORTS, ...DEEP, ...ORG_CASES];
  const now = new Map<string, { ms: number; total: number; exact: boolean; first?: number; plan?: boolean }>();
  console.log(
    `load average before the timings: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')} (${os.cpus().length} CPUs)\n`,
  );
  for (const c of all) {
    const m = await measure(c, false);
    const unsearched = c.kind === 'users' && !c.filter.search;
    now.set(c.label, { ...m, plan: unsearched ? await readsIndexInOrder() : undefined });
  }

  // The baseline: the path before this change (exact totals, offsets, no list indexes).
  const listIndexes = await sql.query<{ name: string }>(
    `SELECT indexname AS name FROM pg_indexes WHERE indexname IN (
       'users_organization_id_name_id_idx', 'users_organization_id_updated_at_id_idx', 'users_organization_id_last_active_at_id_idx',
       'users_organization_id_last_synced_at_id_idx', 'users_name_id_idx', 'users_email_id_idx', 'users_created_at_id_idx',
       'users_updated_at_id_idx', 'users_last_active_at_id_idx', 'users_last_synced_at_id_idx', 'users_live_organization_id_id_idx',
       'organizations_slug_trgm_idx')`,
  );
  for (const i of listIndexes.rows) await sql.query(`DROP INDEX ${i.name}`);
  await sql.query('ANALYZE users');

  const fmt = (ms: number) => `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  console.log(
    `${'case'.padEnd(46)} ${'total'.padStart(10)} ${'now'.padStart(9)}  ${'index'.padStart(5)} ${'before'.padStart(10)} ${'ratio'.padStart(8)}`,
  );
  let worst = { label: '', ms: 0 };
  let within = 0;
  for (const c of all) {
    const a = now.get(c.label) as { ms: number; total: number; exact: boolean; first?: number; plan?: boolean };
    const b = await measure(c, true);
    if (a.first !== b.first) throw new Error(`${c.label}: the page differs from the baseline's (${a.first} vs ${b.first})`);
    if (a.ms <= TARGET_MS) within++;
    if (a.ms > worst.ms) worst = { label: c.label, ms: a.ms };
    const total = `${a.total.toLocaleString('en-US')}${a.exact ? '' : '+'}`;
    const plan = a.plan === undefined ? '' : a.plan ? 'yes' : 'NO';
    console.log(
      `${c.label.padEnd(46)} ${total.padStart(10)} ${fmt(a.ms).padStart(9)}  ${plan.padStart(5)} ${fmt(b.ms).padStart(10)} ${`${(b.ms / a.ms).toFixed(1)}x`.padStart(8)}`,
    );
  }
  console.log(
    `\n(median of 5; each figure is one list request: the page of 10 and its total. "now": totals exact up to ${COUNT_LIMIT.toLocaleString('en-US')}` +
      ` ("+": at least), sort indexes, deep pages by cursor; "index": the unsearched page reads an index in order (EXPLAIN);` +
      ` "before": exact totals, no list indexes, deep pages by offset)`,
  );
  console.log(
    `load average after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );
  console.log(
    `\nevery case within ${TARGET_MS} ms: ${within === all.length ? 'YES' : 'NO'} (${within} of ${all.length}; slowest: ${worst.label}, ${fmt(worst.ms)})\n`,
  );

  await prisma.$disconnect();
  await sql.end();
  await db.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
