/**
 * Prints the SQL that creates prisma/schema.prisma from an empty database, rendered
 * offline by Prisma 6.19's WASM schema engine (the Prisma 7 CLI needs a native engine that
 * cannot always be downloaded). Use it when writing a migration: compare its output with
 * the current migrations and put the difference in a new prisma/migrations/<ts>_<name>/.
 * tests/db/schema-drift.int.test.ts uses it to prove that schema and migrations agree.
 *
 *   DATABASE_URL=postgresql://... npx tsx scripts/render-schema-sql.ts
 *
 * The engine insists on reaching a database through the driver adapter; it writes nothing.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

export async function renderSchemaSql(databaseUrl: string): Promise<string> {
  // Inside the project so the config file resolves prisma6 and the adapter.
  const work = fs.mkdtempSync(path.join(root, 'node_modules', '.schema-sql-'));
  try {
    const schema = fs
      .readFileSync(path.join(root, 'prisma', 'schema.prisma'), 'utf8')
      // Prisma 6 still wants a url in the datasource block; it is not used.
      .replace(/provider\s*=\s*"postgresql"/, 'provider = "postgresql"\n  url = "postgresql://unused"');
    fs.writeFileSync(path.join(work, 'schema.prisma'), schema);
    fs.writeFileSync(
      path.join(work, 'prisma.config.ts'),
      `import { defineConfig } from 'prisma6/config';
import { PrismaPg } from '@prisma/adapter-pg';
export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'schema.prisma',
  adapter: async () => new PrismaPg({ connectionString: ${JSON.stringify(databaseUrl)} }) as never,
});
`,
    );
    const cli = path.join(root, 'node_modules', 'prisma6', 'build', 'index.js');
    const env = {
      ...process.env,
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      // The CLI checks for native engines before any command; the WASM engine does the work.
      PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
      PRISMA_QUERY_ENGINE_LIBRARY: process.execPath,
    };
    const args = [cli, 'migrate', 'diff', '--from-empty', '--to-schema-datamodel', 'schema.prisma', '--script'];
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: work, env });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`prisma migrate diff failed (${code}): ${err}${out}`))));
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  renderSchemaSql(process.env.DATABASE_URL ?? '')
    .then((sql) => process.stdout.write(sql))
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
