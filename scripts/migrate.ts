/** npm run db:migrate — applies pending migrations to DATABASE_URL (or the embedded database). */
import { loadConfig } from '../src/config/config';
import { openDatabase } from '../src/db/embedded';
import { migrate } from '../src/db/migrator';
import { createLogger } from '../src/lib/logger';

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: 'info', json: config.isProduction });
  const database = await openDatabase(config.database, logger);
  try {
    const result = await migrate(database.url, logger);
    logger.info(`migrations: ${result.applied.length} applied, ${result.alreadyApplied} already applied`);
  } finally {
    await database.stop();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
