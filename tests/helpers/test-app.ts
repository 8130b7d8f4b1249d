import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import pg from 'pg';
import supertest from 'supertest';
import type { Logger } from 'winston';
import { bootstrap, createApp, createServices, type Services } from '../../src/app';
import { loadConfig, type Config } from '../../src/config/config';
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma';
import { createLogger } from '../../src/lib/logger';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const INTERNAL_KEY = 'test-internal-key-0123456789abcdef';
/** 32 bytes, base64. */
export const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestContext {
  app: Express;
  http: ReturnType<typeof supertest>;
  prisma: PrismaClient;
  services: Services;
  config: Config;
  databaseUrl: string;
  /** Raw SQL on the test database, for assertions the API does not expose. */
  sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_PG_ADMIN_URL;
  if (!url) throw new Error('TEST_PG_ADMIN_URL is not set: run the tests through jest (global setup)');
  return url;
}

export function databaseUrl(name: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh database: a copy of the migrated template, or empty (for migration tests). */
export async function createTestDatabase(from: 'template' | 'empty' = 'template'): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(from === 'template' ? `CREATE DATABASE ${name} TEMPLATE ${process.env.TEST_PG_TEMPLATE}` : `CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return databaseUrl(name);
}

/** The whole app on its own database, with test keys and optional env overrides. */
export async function createTestContext(env: Record<string, string> = {}, logger?: Logger): Promise<TestContext> {
  // A DATABASE_URL in `env` reuses that database (a second instance, a restart).
  const url = env.DATABASE_URL ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: url,
    API_KEY: ADMIN_KEY,
    INTERNAL_API_KEY: INTERNAL_KEY,
    ENCRYPTION_KEY,
    CRON_ENABLED: 'false',
    CRM_RETRY_BASE_MS: '10',
    CRM_REQUEST_TIMEOUT_MS: '2000',
    SYNC_OVERLAP_SECONDS: '0',
    LOG_LEVEL: 'error',
    RATE_LIMIT_MAX: '100000',
    AUTH_FAILURE_MAX: '100000',
    SYNC_RATE_LIMIT_MAX: '100000',
    // Receivers in tests listen on 127.0.0.1.
    ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_POLL_MS: '20',
    ...env,
  });
  logger ??= createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'error', json: true, silent: !process.env.TEST_LOG_LEVEL });
  const prisma = createPrismaClient(url, config.database);
  const services = createServices({ config, prisma, logger });
  await bootstrap({ config, logger }, services);
  const app = createApp({ config, prisma, logger }, services);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  return {
    app,
    http: supertest(app),
    prisma,
    services,
    config,
    databaseUrl: url,
    sql: async (text, params) => (await pool.query(text, params as unknown[])).rows,
    close: async () => {
      await services.workers.stop();
      await services.pull.stop();
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
