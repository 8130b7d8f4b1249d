/**
 * npm run api-key:create -- --admin [--name NAME]
 * npm run api-key:create -- --organization ID [--name NAME]
 *
 * Creates an API key directly in the database (DATABASE_URL, or the embedded database) and
 * prints it once. For a first admin key in production, where the service never prints one.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config';
import { openDatabase } from '../src/db/embedded';
import { migrate } from '../src/db/migrator';
import { createPrismaClient } from '../src/db/prisma';
import { createLogger } from '../src/lib/logger';
import { createApiKeyRepository } from '../src/modules/auth/api-keys.repository';
import { ApiKeyService } from '../src/modules/auth/api-keys.service';
import { createOrganizationRepository } from '../src/modules/organizations/organizations.repository';

async function run(): Promise<void> {
  const { values } = parseArgs({
    options: { admin: { type: 'boolean' }, organization: { type: 'string' }, name: { type: 'string' } },
  });
  if (Boolean(values.admin) === Boolean(values.organization)) {
    console.error('usage: api-key:create -- --admin | --organization ID [--name NAME]');
    process.exit(2);
  }
  const config = loadConfig();
  const logger = createLogger({ level: 'warn', json: config.isProduction });
  const database = await openDatabase(config.database, logger);
  await migrate(database.url, logger);
  const prisma = createPrismaClient(database.url, config.database);
  try {
    // Only an existence check is needed of organizations: the repository answers it.
    const service = new ApiKeyService(createApiKeyRepository(prisma), createOrganizationRepository(prisma), logger);
    const { key, record } = await service.create({
      name: values.name ?? (values.admin ? 'admin key' : 'organization key'),
      scope: values.admin ? 'admin' : 'organization',
      organizationId: values.organization ? Number(values.organization) : undefined,
    });
    process.stdout.write(
      `API key ${record.id} (${record.scope}${record.organizationId ? ` of organization ${record.organizationId}` : ''}), shown only now:\n${key}\n`,
    );
  } finally {
    await prisma.$disconnect();
    await database.stop();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
