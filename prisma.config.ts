// Prisma CLI configuration. The service applies migrations itself (src/db/migrator.ts);
// the CLI is only used for `prisma generate` (see scripts/prisma-generate.js).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/unused' },
});
