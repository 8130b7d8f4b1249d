import type { PrismaClient } from './prisma';

/**
 * Runs `fn` while holding a PostgreSQL advisory lock named `name`, across every instance on
 * the database: a transaction holds pg_advisory_xact_lock for as long as `fn` runs, so a
 * second instance waits and then sees what the first did. `fn` may use other connections.
 */
export async function withAdvisoryLock<T>(prisma: PrismaClient, name: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe('SELECT pg_advisory_xact_lock(hashtext($1))', name);
      return fn();
    },
    { timeout: timeoutMs, maxWait: timeoutMs },
  );
}
