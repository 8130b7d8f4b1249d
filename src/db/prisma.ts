import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient, Prisma } from '../generated/prisma/client';

export { PrismaClient, Prisma };
/** What repositories accept: the root client, or a transaction's (see unit-of-work.ts). */
export type Db = PrismaClient | Prisma.TransactionClient;
/** The root client: it can open a transaction (a transaction's client cannot). Only src/db opens one. */
export type TxDb = Db & { $transaction<T>(fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> };

const pools = new WeakMap<object, pg.Pool>();

export function createPrismaClient(url: string, opts: { poolMax: number; transactionTimeoutMs: number }): PrismaClient {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolMax });
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool, { disposeExternalPool: true }),
    transactionOptions: { timeout: opts.transactionTimeoutMs, maxWait: 10_000 },
  });
  pools.set(prisma, pool);
  return prisma;
}

/**
 * The pg pool under a client, shared with it. For the one statement on a hot request path
 * (storing inbound webhooks) where Prisma's per-query overhead is measurable; everything else
 * goes through Prisma.
 */
export function poolOf(prisma: PrismaClient): pg.Pool {
  const pool = pools.get(prisma);
  if (!pool) throw new Error('this PrismaClient was not made by createPrismaClient');
  return pool;
}
