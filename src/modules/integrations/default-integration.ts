import type { Logger } from 'winston';
import type { ProviderRegistry } from '../../providers/registry';
import type { OrganizationService } from '../organizations';
import { DEFAULT_ORGANIZATION_SLUG } from './integrations.repository';
import type { IntegrationService } from './integrations.service';

/**
 * Single-tenant settings (seed 000's environment variables): a provider that finds its
 * settings in the environment gets a "default" organization with its integration, built from
 * them, so POST /api/users/sync works with no other setup. Changed values update it at start.
 * Which variables a provider reads is its own folder's business (fromEnvironment).
 */
export async function ensureEnvironmentIntegrations(
  providers: ProviderRegistry,
  env: Readonly<Record<string, string | undefined>>,
  organizations: OrganizationService,
  integrations: IntegrationService,
  logger: Logger,
): Promise<{ provider: string; organizationId: number; integrationId: number }[]> {
  const made: { provider: string; organizationId: number; integrationId: number }[] = [];
  for (const module of providers.list()) {
    const wanted = module.fromEnvironment?.(env);
    if (!wanted) continue;
    const provider = module.definition.name;
    const org =
      (await organizations.findBySlug(DEFAULT_ORGANIZATION_SLUG)) ??
      (await organizations.create({ name: 'Default organization', slug: DEFAULT_ORGANIZATION_SLUG }));
    const { rows } = await integrations.list({ organizationId: org.id, provider, page: 1, limit: 1 });
    if (rows.length === 0) {
      const created = await integrations.create(org.id, { provider, name: wanted.name, config: wanted.config });
      logger.info('default integration created from the environment', { provider, organizationId: org.id, integrationId: created.id });
      made.push({ provider, organizationId: org.id, integrationId: created.id });
      continue;
    }
    const current = integrations.decrypt(await integrations.getRow(rows[0].id));
    if (Object.entries(wanted.config).some(([k, v]) => current[k] !== v)) {
      await integrations.update(rows[0].id, { config: wanted.config });
      logger.info('default integration updated from the environment', { provider, integrationId: rows[0].id });
    }
    made.push({ provider, organizationId: org.id, integrationId: rows[0].id });
  }
  return made;
}
