import type { AxiosInstance } from 'axios';
import { bearerReauthorize, createCrmHttpClient, dailyFromHeaders } from '../http-client';
import type { ConnectorContext, ProviderModule } from '../provider';
import { perSecond } from '../rate-limiter';
import { GOHIGHLEVEL_DEFAULT_URL, GoHighLevelConnector, goHighLevelHeaders, type GoHighLevelConfig } from './gohighlevel.connector';
import { GOHIGHLEVEL_DEFAULT_API_RESERVE_PERCENT, goHighLevelDefinition } from './gohighlevel.definition';
import { goHighLevelWebhook } from './gohighlevel.webhook';
import { GoHighLevelWriter } from './gohighlevel.writer';

/**
 * Requests per second: 90% of HighLevel's 100 per 10 s. At the full 10/s the window fills,
 * X-RateLimit-Remaining reaches 0 every ~100 requests, and the client then pauses for the
 * whole X-RateLimit-Interval-Milliseconds (10 s): half the throughput of staying just under.
 */
export const GOHIGHLEVEL_REQUESTS_PER_SECOND = perSecond(goHighLevelDefinition.rateLimit) * 0.9;

/** One client setup for reads and writes: bearer + Version headers, the location's limiter and budget headers. */
function goHighLevelClient(raw: Record<string, unknown>, ctx: ConnectorContext): { http: AxiosInstance; config: GoHighLevelConfig } {
  const config = raw as unknown as GoHighLevelConfig;
  const http = createCrmHttpClient({
    provider: 'gohighlevel',
    baseURL: typeof config.baseUrl === 'string' && config.baseUrl ? config.baseUrl : GOHIGHLEVEL_DEFAULT_URL,
    headers: goHighLevelHeaders(config),
    limiter: ctx.limiter(typeof raw.requestsPerSecond === 'number' ? raw.requestsPerSecond : GOHIGHLEVEL_REQUESTS_PER_SECOND),
    rateLimitHeaders: { remaining: 'X-RateLimit-Remaining', intervalMs: 'X-RateLimit-Interval-Milliseconds', defaultIntervalMs: 10_000 },
    // 200,000 calls a day per location, told by every answer; the reserve is left for the location's other apps.
    dailyQuota: {
      read: dailyFromHeaders('X-RateLimit-Limit-Daily', 'X-RateLimit-Daily-Remaining'),
      reserve: { percent: typeof raw.apiReservePercent === 'number' ? raw.apiReservePercent : GOHIGHLEVEL_DEFAULT_API_RESERVE_PERCENT },
      account: 'the HighLevel location',
    },
    logger: ctx.logger,
    reauthorize: bearerReauthorize(ctx.reauthorize),
    ...ctx.http,
  });
  return { http, config };
}

/** HighLevel (LeadConnector API v2): one location's contacts, by private integration token or OAuth access token. */
export const gohighlevel: ProviderModule = {
  definition: goHighLevelDefinition,
  webhook: goHighLevelWebhook,
  createConnector(raw, ctx) {
    const { http, config } = goHighLevelClient(raw, ctx);
    return new GoHighLevelConnector(http, config, ctx.pageSize);
  },
  createWriter(raw, ctx) {
    const { http, config } = goHighLevelClient(raw, ctx);
    return new GoHighLevelWriter(http, config);
  },
};
