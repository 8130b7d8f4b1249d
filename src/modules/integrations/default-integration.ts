import type { Logger } from 'winston';
import type { OrganizationService } from '../organizations/organizations.service';
import type { IntegrationService } from './integrations.service';

export const DEFAULT_ORGANIZATION_SLUG = 'default';

/**
 * Seed 000's single-tenant settings: with WEALTHBOX_API_KEY set, a "default" organization and
 * its Wealthbox integration exist, built from WEALTHBOX_API_URL and WEALTHBOX_WEBHOOK_SECRET,
 * so POST /api/users/sync works with no other setup. Changed env values update it at start.
 */
export async function ensureDefaultIntegration(
  env: { apiKey?: string; apiUrl?: string; webhookSecret?: string },
  organizations: OrganizationService,
  integrations: IntegrationService,
  logger: Logger,
): Promise<{ organizationId: number; integrationId: number } | undefined> {
  if (!env.apiKey) return undefined;
  const wanted: Record<string, unknown> = { apiKey: env.apiKey };
  if (env.apiUrl) wanted.baseUrl = env.apiUrl;
  if (env.webhookSecret) wanted.webhookSecret = env.webhookSecret;

  const org =
    (await organizations.findBySlug(DEFAULT_ORGANIZATION_SLUG)) ??
    (await organizations.create({ name: 'Default organization', slug: DEFAULT_ORGANIZATION_SLUG }));
  const { rows } = await integrations.list({ organizationId: org.id, provider: 'wealthbox', page: 1, limit: 1 });
  if (rows.length === 0) {
    const created = await integrations.create(org.id, { provider: 'wealthbox', name: 'Wealthbox (from environment)', config: wanted });
    logger.info('default Wealthbox integration created from WEALTHBOX_API_KEY', { organizationId: org.id, integrationId: created.id });
    return { organizationId: org.id, integrationId: created.id };
  }
  const current = integrations.decrypt(await integrations.getRow(rows[0].id));
  if (Object.entries(wanted).some(([k, v]) => current[k] !== v)) {
    await integrations.update(rows[0].id, { config: wanted });
    logger.info('default Wealthbox integration updated from the environment', { integrationId: rows[0].id });
  }
  return { organizationId: org.id, integrationId: rows[0].id };
}
