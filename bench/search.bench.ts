/**
 * npm run bench:search: the users list on a million users (BENCH_SEARCH_USERS), through the
 * same repository the API uses, with the trigram index and then, as the baseline measured in
 * the same run, without it (what a plain ILIKE costs).
 *
 * Data: two organizations (90% / 10%), names from 8 first and 9 last names plus a number,
 * emails person<N>@<one of 4 domains>. Uses BENCH_DATABASE_URL when set, otherwise a
 * throw-away embedded PostgreSQL.
 */
import pg from 'pg';
import { createPrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import { scratchDatabase } from './scratch-database';
import { createUserRepository, type UserListFilter } from '../src/modules/users/users.repository';

const N = Number(process.env.BENCH_SEARCH_USERS ?? 1_000_000);
const logger = createLogger({ level: 'warn', json: false });

const CASES: { label: string; filter: Omit<UserListFilter, 'page' | 'limit'> }[] = [
  {
    label: 'exact email fragment, one org',
    filter: { search: 'person123456@', organizationId: 1, sort: { field: 'createdAt', direction: 'desc' } },
  },
  {
    label: 'rare name (~0.1%), one org',
    filter: { search: 'okafor 77', organizationId: 1, sort: { field: 'createdAt', direction: 'desc' } },
  },
  { label: 'rare name (~0.1%), all orgs', filter: { search: 'okafor 77', sort: { field: 'name', direction: 'asc' } } },
  {
    label: 'common name (~11%), one org',
    filter: { search: 'Müller', organizationId: 1, sort: { field: 'createdAt', direction: 'desc' } },
  },
  { label: 'no match, one org', filter: { search: 'zzqx', organizationId: 1, sort: { field: 'createdAt', direction: 'desc' } } },
  { label: 'no search, one org, newest', filter: { organizationId: 1, sort: { field: 'createdAt', direction: 'desc' } } },
  { label: 'no search, all orgs, by name', filter: { sort: { field: 'name', direction: 'asc' } } },
];

async function main(): Promise<void> {
  const db = await scratchDatabase(logger);
  const url = db.url;

  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  const started = Date.now();
  // Loading is faster with the search index built afterwards; the result is the same index.
  const { rows } = await sql.query("SELECT pg_get_indexdef('users_search_trgm_idx'::regclass) AS def");
  await sql.query('DROP INDEX users_search_trgm_idx');
  await sql.query("INSERT INTO organizations (name, slug) VALUES ('Big', 'big'), ('Small', 'small')");
  await sql.query(
    `INSERT INTO users (organization_id, email, name, source)
     SELECT CASE WHEN g % 10 = 0 THEN 2 ELSE 1 END,
            'person' || g || '@' || (ARRAY['acme.com','example.org','mail.net','corp.io'])[1 + g % 4],
            (ARRAY['Ann','Bob','Carla','Dmitri','Eve','Farah','Gus','Hana'])[1 + g % 8] || ' ' ||
            (ARRAY['Smith','Jones','Okafor','Nguyen','Garcia','Müller','Rossi','Tanaka','Kowalski'])[1 + (g / 8) % 9] || ' ' || g,
            'api'
     FROM generate_series(1, $1::int) g`,
    [N],
  );
  await sql.query(rows[0].def);
  await sql.query('VACUUM ANALYZE users');
  console.log(`\nbench:search: ${N.toLocaleString('en-US')} users loaded and indexed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  const prisma = createPrismaClient(url, { poolMax: 4, transactionTimeoutMs: 60_000 });
  const repo = createUserRepository(prisma);
  // Median of 5 runs after one warm-up; each run is the page query and the count, as the API does.
  const measure = async (filter: (typeof CASES)[number]['filter']) => {
    const f = { ...filter, page: 1, limit: 10 };
    let total = (await repo.list(f)).total;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      total = (await repo.list(f)).total;
      times.push(performance.now() - t0);
    }
    return { ms: times.sort((a, b) => a - b)[2], total };
  };

  const withIndex = new Map<string, { ms: number; total: number }>();
  for (const c of CASES) withIndex.set(c.label, await measure(c.filter));
  await sql.query('DROP INDEX users_search_trgm_idx');
  await sql.query('ANALYZE users');

  console.log(`${'case'.padEnd(32)} ${'matches'.padStart(9)} ${'trigram'.padStart(10)} ${'no index'.padStart(10)}  ratio`);
  for (const c of CASES) {
    const a = withIndex.get(c.label) as { ms: number; total: number };
    const b = c.filter.search ? await measure(c.filter) : undefined;
    const ratio = b ? `${(b.ms / a.ms).toFixed(1)}x` : '-';
    console.log(
      `${c.label.padEnd(32)} ${a.total.toLocaleString('en-US').padStart(9)} ${`${a.ms.toFixed(0)} ms`.padStart(10)} ${(b ? `${b.ms.toFixed(0)} ms` : '-').padStart(10)}  ${ratio}`,
    );
  }
  console.log('\n(median of 5; each figure is one list request: the page of 10 and the total count)\n');

  await prisma.$disconnect();
  await sql.end();
  await db.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
