/** npm run db:migrate — applies pending migrations to DATABASE_URL (or the embedded database). */
import { loadConfig } from '../src/config/config';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { migrate } from '../src/db/migrator';
import { createLogger } from '../src/lib/logger';

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: 'info', json: config.isProduction });
  const embedded = config.database.url
    ? undefined
    : await startEmbeddedPostgres({ dir: config.database.embeddedDir, port: config.database.embeddedPort, database: 'crm', logger });
  try {
    const result = await migrate(config.database.url ?? (embedded as { url: string }).url, logger);
    logger.info(`migrations: ${result.applied.length} applied, ${result.alreadyApplied} already applied`);
  } finally {
    await embedded?.stop();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
