import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient, Prisma } from '../generated/prisma/client';

export { PrismaClient, Prisma };
/** What repositories accept, so a service can pass a transaction client down. */
export type Db = PrismaClient | Prisma.TransactionClient;
/** The root client: it can open a transaction (a transaction's client cannot). */
export type TxDb = Db & { $transaction<T>(fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> };

export function createPrismaClient(url: string, opts: { poolMax: number; transactionTimeoutMs: number }): PrismaClient {
  const adapter = new PrismaPg({ connectionString: url, max: opts.poolMax });
  return new PrismaClient({
    adapter,
    transactionOptions: { timeout: opts.transactionTimeoutMs, maxWait: 10_000 },
  });
}
