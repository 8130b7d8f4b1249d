import { pendingMigrations } from './migrator';
import type { PrismaClient } from './prisma';

/** For GET /ready: rejects when the database does not answer; else the migrations not yet applied. */
export async function unappliedMigrations(prisma: PrismaClient): Promise<string[]> {
  await prisma.$queryRawUnsafe('SELECT 1');
  return pendingMigrations((sql) => prisma.$queryRawUnsafe(sql));
}
