import pg from 'pg';
import { renderSchemaSql } from '../../scripts/render-schema-sql';
import { migrate } from '../../src/db/migrator';
import { createLogger } from '../../src/lib/logger';
import { createTestDatabase } from '../helpers/test-app';

/**
 * schema.prisma and prisma/migrations must describe the same database. The SQL Prisma
 * renders from the schema goes into one database, our migrations into another, and their
 * catalogs must match: columns, types, nullability, defaults, indexes and constraints.
 */
/** Indexes Prisma's schema language cannot express, created by migration SQL only. */
// Sorted as the comparison lists them: by table, then name.
const MIGRATION_ONLY_INDEXES = [
  'crm_push_queue_open_idx',
  'inbound_events_failed_idx',
  'inbound_events_pending_idx',
  'inbound_events_prunable_idx',
  'users_live_organization_id_id_idx',
  'users_search_trgm_idx',
  'webhook_deliveries_succeeded_idx',
];

const newDatabase = () => createTestDatabase('empty');

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function catalog(url: string) {
  return withClient(url, async (c) => {
    const columns = await c.query(`
      SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default,
             character_maximum_length, numeric_precision, datetime_precision
      FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'
      ORDER BY table_name, column_name`);
    const indexes = await c.query(`
      SELECT tablename, indexname, indexdef FROM pg_indexes
      WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'
      ORDER BY tablename, indexname`);
    const constraints = await c.query(`
      SELECT cl.relname AS table_name, co.conname, co.contype, pg_get_constraintdef(co.oid) AS def
      FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
      JOIN pg_namespace n ON n.oid = cl.relnamespace
      WHERE n.nspname = 'public' AND cl.relname <> '_prisma_migrations'
      ORDER BY cl.relname, co.conname`);
    return { columns: columns.rows, indexes: indexes.rows, constraints: constraints.rows };
  });
}

describe('schema.prisma and migrations', () => {
  it('when both are applied to empty databases, then the resulting schemas are identical', async () => {
    const fromSchema = await newDatabase();
    const fromMigrations = await newDatabase();
    const sql = await renderSchemaSql(fromSchema);
    // The trigram operator class comes from pg_trgm, which the first migration creates.
    await withClient(fromSchema, async (c) => {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
      await c.query(sql);
    });
    await migrate(fromMigrations, createLogger({ level: 'error', json: true, silent: true }));

    const expected = await catalog(fromSchema);
    const actual = await catalog(fromMigrations);
    expect(expected.columns.length).toBeGreaterThan(10);
    const extra = actual.indexes.filter((i) => MIGRATION_ONLY_INDEXES.includes(i.indexname));
    expect(extra.map((i) => i.indexname)).toEqual(MIGRATION_ONLY_INDEXES);
    expect({ ...actual, indexes: actual.indexes.filter((i) => !MIGRATION_ONLY_INDEXES.includes(i.indexname)) }).toEqual(expected);

    // The comparison notices a difference: one extra column on one side fails it.
    await withClient(fromMigrations, (c) => c.query('ALTER TABLE users ADD COLUMN drift int'));
    expect(await catalog(fromMigrations)).not.toEqual(expected);
  }, 120_000);
});
