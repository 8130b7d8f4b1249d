import type { ProviderModule } from '../provider';
import { createLimiter } from '../rate-limiter';
import { HubSpotConnector, type HubSpotConfig } from './hubspot.connector';
import { DEFAULT_SEARCH_PER_SECOND, hubspotDefinition } from './hubspot.definition';
import { createHubSpotHttp } from './hubspot.http';
import { hubspotWebhook } from './hubspot.webhook';
import { HubSpotWriter } from './hubspot.writer';

/** HubSpot CRM v3: contacts, by private-app token or OAuth bearer; webhooks signed v3; pushes by batch writes. */
export const hubspot: ProviderModule = {
  definition: hubspotDefinition,
  webhook: hubspotWebhook,
  createConnector(raw, ctx) {
    const config = raw as unknown as HubSpotConfig;
    const searchPerSecond = config.searchRequestsPerSecond ?? DEFAULT_SEARCH_PER_SECOND;
    return new HubSpotConnector(createHubSpotHttp(raw, ctx), config, ctx.pageSize, createLimiter(searchPerSecond), (changes) =>
      ctx.saveConfig(changes),
    );
  },
  createWriter(raw, ctx) {
    return new HubSpotWriter(createHubSpotHttp(raw, ctx), ctx.logger, ctx.integrationId);
  },
};
