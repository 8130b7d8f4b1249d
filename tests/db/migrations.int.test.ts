import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../../src/db/migrator';
import { createLogger } from '../../src/lib/logger';
import { allProviders } from '../../src/providers';
import { createTestDatabase } from '../helpers/test-app';

const logger = createLogger({ level: 'error', json: true, silent: true });

const emptyDatabase = () => createTestDatabase('empty');

/** A new database with every migration before `name` applied: what an upgrade to it starts from. */
async function migratedBefore(name: string): Promise<string> {
  const url = await emptyDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migs-'));
  for (const m of readMigrations().filter((f) => f.name < name)) {
    fs.mkdirSync(path.join(dir, m.name));
    fs.copyFileSync(path.join(MIGRATIONS_DIR, m.name, 'migration.sql'), path.join(dir, m.name, 'migration.sql'));
  }
  await migrate(url, logger, dir);
  return url;
}

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
  it('when a database holds source times from the future, then the upgrade makes them no time and leaves the rest', async () => {
    const NAME = '20261124000200_distrust_future_source_times';
    // Every migration before this one, then rows as the service wrote them before it.
    const url = await migratedBefore(NAME);
    const soon = new Date(Date.now() + 60_000).toISOString();
    const past = '2025-03-01T10:00:00.000Z';
    await query(
      url,
      `INSERT INTO organizations (id, name, slug) VALUES (1, 'O', 'o');
       INSERT INTO users (id, organization_id, email, name) VALUES (1, 1, 'a@example.com', 'A');
       INSERT INTO user_identities (organization_id, user_id, provider, external_id, data) VALUES
         (1, 1, 'crm', 'future', '{"sourceUpdatedAt": "2099-01-01T00:00:00.000Z", "k": 1}'),
         (1, 1, 'crm', 'past', '{"sourceUpdatedAt": "${past}"}'),
         (1, 1, 'crm', 'soon', '{"sourceUpdatedAt": "${soon}"}'),
         (1, 1, 'crm', 'no-time-text', '{"sourceUpdatedAt": "2099-13-45T99:00:00Z"}'),
         (1, 1, 'crm', 'none', NULL);
       INSERT INTO tombstones (organization_id, provider, external_id, deleted_at) VALUES
         (1, 'crm', 't-future', '2099-01-01T00:00:00Z'), (1, 'crm', 't-past', '${past}');`,
    );
    expect((await migrate(url, logger)).applied).toEqual(
      readMigrations()
        .filter((f) => f.name >= NAME)
        .map((f) => f.name),
    );
    const ids = await query(url, `SELECT external_id, data FROM user_identities ORDER BY external_id`);
    expect(Object.fromEntries(ids.map((r) => [r.external_id, r.data]))).toEqual({
      future: { sourceUpdatedAt: null, k: 1 },
      past: { sourceUpdatedAt: past },
      // Within the guard's 5 minutes: trusted, kept.
      soon: { sourceUpdatedAt: soon },
      'no-time-text': { sourceUpdatedAt: '2099-13-45T99:00:00Z' },
      none: null,
    });
    const tombs = await query(url, `SELECT external_id, deleted_at FROM tombstones ORDER BY external_id`);
    expect(tombs.map((r) => [r.external_id, r.deleted_at?.toISOString() ?? null])).toEqual([
      ['t-future', null],
      ['t-past', past],
    ]);
  });

  it('when built-in templates hold setup texts, then the upgrade marks those the code once wrote as the service’s and leaves edited ones unmarked', async () => {
    const url = await migratedBefore('20261124000400_template_setup_from_code');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const insert = `INSERT INTO integration_templates (name, display_name, category, config_schema, setup_instructions, built_in)
                      VALUES ($1, $1, 'CRM', '{"type":"object"}', $2, $3)`;
      for (const m of allProviders) await c.query(insert, [m.definition.name, m.definition.setupInstructions, true]);
      await c.query(`UPDATE integration_templates SET setup_instructions = 'Edited by the operator' WHERE name = 'hubspot'`);
      await c.query(insert, ['custom_crm', allProviders[0].definition.setupInstructions, false]);
    } finally {
      await c.end();
    }
    await migrate(url, logger);
    const rows = await query(url, `SELECT name, setup_from_code, md5(setup_instructions) AS hash FROM integration_templates ORDER BY name`);
    const marked = Object.fromEntries(rows.map((r) => [r.name, r.setup_from_code === r.hash]));
    // The texts the upgrade lists: every provider's text as of the upgrade. A text changed
    // since is not listed (the service itself marks it from then on) and counts as edited here.
    const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, '20261124000400_template_setup_from_code', 'migration.sql'), 'utf8');
    const listed = (name: string, text: string) => sql.includes(`('${name}', '${createHash('md5').update(text, 'utf8').digest('hex')}')`);
    const expected = Object.fromEntries(
      allProviders.map((m) => [
        m.definition.name,
        m.definition.name !== 'hubspot' && listed(m.definition.name, m.definition.setupInstructions),
      ]),
    );
    expect(Object.values(expected).filter(Boolean).length).toBeGreaterThanOrEqual(10);
    expect(marked).toEqual({ ...expected, custom_crm: false });
    expect(rows.find((r) => r.name === 'hubspot').setup_from_code).toBeNull();
  });
});
