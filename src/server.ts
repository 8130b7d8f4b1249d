import type { Server } from 'node:http';
import { bootstrap, createApp, createServices, createWorkerApp } from './app';
import { ConfigError, loadConfig, type Config } from './config/config';
import { openDatabase } from './db/embedded';
import { migrate } from './db/migrator';
import { createPrismaClient, type PrismaClient } from './db/prisma';
import { metricsHandler } from './lib/metrics';
import express from 'express';
import { developmentEncryptionKey } from './lib/dev-encryption-key';
import { createLogger } from './lib/logger';

/** The app listening, or the listen error (EADDRINUSE, EACCES). */
function listen(app: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
}

/** Starts the service and stops it cleanly on SIGTERM/SIGINT. Builds nothing itself. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, json: config.isProduction });
  if (!config.encryption.key) {
    if (config.isProduction) {
      console.error(
        'Invalid configuration:\n  - ENCRYPTION_KEY: required in production (32 bytes, base64 or hex: openssl rand -base64 32)',
      );
      process.exit(1);
    }
    const dev = developmentEncryptionKey('.data');
    config.encryption.key = dev.key;
    if (dev.created) {
      process.stdout.write(
        `\n  No ENCRYPTION_KEY was set, so a development key was made and saved in ${dev.file}.\n  Integration secrets are encrypted with it; keep that file with the database. Shown only this once:\n\n    ENCRYPTION_KEY=${dev.key.toString('base64')}\n\n`,
      );
    }
  }

  const database = await openDatabase(config.database, logger);
  // Behind a transaction-mode pooler, migrations (a session advisory lock) go to PostgreSQL itself.
  await migrate(config.database.directUrl ?? database.url, logger);
  const prisma: PrismaClient = createPrismaClient(database.url, config.database);
  const services = createServices({ config, prisma, logger });
  await bootstrap({ config, logger }, services);
  const bootstrapKey = await services.apiKeys.ensureBootstrapKey(!config.isProduction);
  if (bootstrapKey) {
    // Printed once, to the terminal of the person who started the service.
    process.stdout.write(
      `\n  No admin API key existed, so one was created. It is shown only this once:\n\n    ${bootstrapKey}\n\n  export API_KEY=${bootstrapKey}\n\n`,
    );
  }
  // A worker serves only its health; the API is an api (or all) instance's.
  const app = config.role === 'worker' ? createWorkerApp({ config, prisma, logger }) : createApp({ config, prisma, logger }, services);
  let server: Server;
  try {
    server = await listen(app, config.port, config.host);
  } catch (err) {
    // A port in use: say so and stop, rather than run on without serving (Express 5 hands the
    // error to the callback, which would otherwise have gone on as if listening).
    logger.error(`cannot listen on ${config.host}:${config.port}`, {
      error: err instanceof Error ? err.message : String(err),
      code: (err as NodeJS.ErrnoException).code ?? null,
    });
    await prisma.$disconnect();
    await database.stop();
    process.exit(1);
  }
  // METRICS_PORT: /metrics on a listener of its own, for a network only Prometheus reaches.
  let metricsServer: Server | null = null;
  if (config.metrics.enabled && config.metrics.port !== undefined) {
    const metricsApp = express();
    metricsApp.get('/metrics', metricsHandler(services.metrics));
    const port = config.metrics.port;
    metricsServer = await listen(metricsApp, port, config.metrics.host);
    logger.info(`metrics on http://${config.metrics.host}:${port}/metrics`);
  }
  if (config.role !== 'api') services.workers.start();
  if (config.role !== 'worker')
    logger.info(`the console: http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}/console/`);
  logger.info(`listening on http://${config.host}:${config.port}`, {
    env: config.env,
    role: config.role,
    embeddedDatabase: database.embedded,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received: finishing in-flight requests`);
    const forced = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 25_000);
    forced.unref();
    // First no new scheduled runs, and running syncs stop after their current page
    // (checkpointed), so a request waiting on one (?wait=true) gets its answer; meanwhile the
    // server stops accepting and finishes the requests in flight.
    await services.workers.stop();
    const syncsStopped = services.pull.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await syncsStopped;
    metricsServer?.close();
    await prisma.$disconnect();
    await database.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('failed to start:', err instanceof Error ? err.stack : err);
  process.exit(1);
});
