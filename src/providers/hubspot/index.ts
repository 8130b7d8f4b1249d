import { bearerReauthorize, createCrmHttpClient } from '../http-client';
import type { ProviderModule } from '../provider';
import { createLimiter, perSecond } from '../rate-limiter';
import { HubSpotConnector, type HubSpotConfig } from './hubspot.connector';
import { DEFAULT_SEARCH_PER_SECOND, HUBSPOT_DEFAULT_URL, hubspotDefinition } from './hubspot.definition';
import { hubspotWebhook } from './hubspot.webhook';

/** HubSpot CRM v3: contacts, by private-app token or OAuth bearer; webhooks signed v3. */
export const hubspot: ProviderModule = {
  definition: hubspotDefinition,
  webhook: hubspotWebhook,
  createConnector(raw, ctx) {
    const config = raw as unknown as HubSpotConfig;
    const logger = ctx.logger;
    const http = createCrmHttpClient({
      provider: 'hubspot',
      baseURL: config.baseUrl ?? HUBSPOT_DEFAULT_URL,
      headers: { Accept: 'application/json', Authorization: `Bearer ${config.accessToken}` },
      // 100 requests per 10 s: 10 a second, shared by everything this integration calls.
      limiter: ctx.limiter(typeof raw.requestsPerSecond === 'number' ? raw.requestsPerSecond : perSecond(hubspotDefinition.rateLimit)),
      rateLimitHeaders: {
        remaining: 'X-HubSpot-RateLimit-Remaining',
        intervalMs: 'X-HubSpot-RateLimit-Interval-Milliseconds',
        defaultIntervalMs: 10_000,
      },
      logger,
      reauthorize: bearerReauthorize(ctx.reauthorize),
      ...ctx.http,
    });
    // A 429's body names the budget spent (TEN_SECONDLY_ROLLING, DAILY, the search's secondly
    // limit); the client retries it, and the log says which one it was.
    const transforms = http.defaults.transformResponse;
    http.defaults.transformResponse = [
      ...(Array.isArray(transforms) ? transforms : transforms ? [transforms] : []),
      (data: unknown, _headers: unknown, status?: number) => {
        if (status === 429) {
          const body = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
          logger.warn('hubspot: rate limited', {
            integrationId: ctx.integrationId,
            policyName: body.policyName ?? null,
            errorType: body.errorType ?? null,
            detail: typeof body.message === 'string' ? body.message.slice(0, 200) : null,
          });
        }
        return data;
      },
    ];
    const searchPerSecond = config.searchRequestsPerSecond ?? DEFAULT_SEARCH_PER_SECOND;
    return new HubSpotConnector(http, config, ctx.pageSize, createLimiter(searchPerSecond), (changes) => ctx.saveConfig(changes));
  },
};
