import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../../src/db/migrator';
import { createLogger } from '../../src/lib/logger';
import { createTestDatabase } from '../helpers/test-app';

const logger = createLogger({ level: 'error', json: true, silent: true });

const emptyDatabase = () => createTestDatabase('empty');

async function query(url: string, sql: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('migrator', () => {
  it('when run on an empty database, then every migration is applied and recorded as prisma migrate deploy would', async () => {
    const url = await emptyDatabase();
    const result = await migrate(url, logger);
    const files = readMigrations();
    expect(result.applied).toEqual(files.map((f) => f.name));
    const rows = await query(
      url,
      'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
    );
    expect(rows).toHaveLength(files.length);
    for (const [i, file] of files.entries()) {
      const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, file.name, 'migration.sql'));
      expect(rows[i]).toMatchObject({
        migration_name: file.name,
        checksum: createHash('sha256').update(sql).digest('hex'),
        rolled_back_at: null,
        applied_steps_count: 1,
      });
      expect(rows[i].finished_at).toBeInstanceOf(Date);
    }
  });

  it('when run twice, then the second run is a no-op', async () => {
    const url = await emptyDatabase();
    await migrate(url, logger);
    const before = await query(url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name');
    const second = await migrate(url, logger);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(before.length);
    expect(await query(url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name')).toEqual(before);
  });

  it('when two instances migrate at once, then each migration is applied exactly once', async () => {
    const url = await emptyDatabase();
    const [a, b] = await Promise.all([migrate(url, logger), migrate(url, logger)]);
    expect([...a.applied, ...b.applied].sort()).toEqual(readMigrations().map((m) => m.name));
    const rows = await query(url, 'SELECT migration_name, count(*)::int AS n FROM "_prisma_migrations" GROUP BY migration_name');
    expect(rows.every((r) => r.n === 1)).toBe(true);
  });

  it('when a migration fails, then nothing of it stays, it is recorded rolled back, and a fixed file applies next time', async () => {
    const url = await emptyDatabase();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migs-'));
    fs.mkdirSync(path.join(dir, '001_ok'));
    fs.writeFileSync(path.join(dir, '001_ok', 'migration.sql'), 'CREATE TABLE a (id int);');
    fs.mkdirSync(path.join(dir, '002_bad'));
    fs.writeFileSync(path.join(dir, '002_bad', 'migration.sql'), 'CREATE TABLE b (id int); SELECT 1/0;');
    await expect(migrate(url, logger, dir)).rejects.toThrow(/002_bad failed/);
    expect(await query(url, "SELECT to_regclass('public.b') AS t")).toEqual([{ t: null }]);
    const [bad] = await query(url, 'SELECT rolled_back_at, logs FROM "_prisma_migrations" WHERE migration_name = \'002_bad\'');
    expect(bad.rolled_back_at).toBeInstanceOf(Date);
    expect(bad.logs).toContain('division by zero');

    fs.writeFileSync(path.join(dir, '002_bad', 'migration.sql'), 'CREATE TABLE b (id int);');
    const retry = await migrate(url, logger, dir);
    expect(retry.applied).toEqual(['002_bad']);
    expect(await query(url, "SELECT to_regclass('public.b')::text AS t")).toEqual([{ t: 'b' }]);
  });
});
