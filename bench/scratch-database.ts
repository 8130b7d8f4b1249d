import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'winston';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { migrate } from '../src/db/migrator';

/**
 * A freshly migrated database for one benchmark run: on BENCH_DATABASE_URL's server when
 * set, otherwise on a throw-away embedded PostgreSQL (default, durable settings).
 */
export async function scratchDatabase(logger: Logger): Promise<{ url: string; embedded: boolean; dispose(): Promise<void> }> {
  let tmp: string | undefined;
  let stop: (() => Promise<void>) | undefined;
  let serverUrl = process.env.BENCH_DATABASE_URL;
  if (!serverUrl) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-bench-pg-'));
    const db = await startEmbeddedPostgres({ dir: tmp, port: 54000 + Math.floor(Math.random() * 2000), database: 'postgres', logger });
    stop = db.stop;
    serverUrl = db.url;
  }
  const name = `bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  await migrate(url, logger);
  return {
    url,
    embedded: Boolean(stop),
    dispose: async () => {
      if (stop) await stop();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
