import type { AxiosInstance } from 'axios';
import { bearerReauthorize, createCrmHttpClient, dailyFromHeaders } from '../http-client';
import type { ConnectorContext } from '../provider';
import { perSecond } from '../rate-limiter';
import { HUBSPOT_DEFAULT_API_RESERVE_PERCENT, HUBSPOT_DEFAULT_URL, hubspotDefinition } from './hubspot.definition';

/**
 * The HTTP client of one HubSpot integration, for its connector and its writer alike: one
 * limiter (100 requests per 10 s, shared), HubSpot's rate-limit headers, the 401 refresh.
 */
export function createHubSpotHttp(raw: Record<string, unknown>, ctx: ConnectorContext): AxiosInstance {
  const logger = ctx.logger;
  const http = createCrmHttpClient({
    provider: 'hubspot',
    baseURL: typeof raw.baseUrl === 'string' && raw.baseUrl ? raw.baseUrl : HUBSPOT_DEFAULT_URL,
    headers: { Accept: 'application/json', Authorization: `Bearer ${String(raw.accessToken ?? '')}` },
    // 100 requests per 10 s: 10 a second, shared by everything this integration calls.
    limiter: ctx.limiter(typeof raw.requestsPerSecond === 'number' ? raw.requestsPerSecond : perSecond(hubspotDefinition.rateLimit)),
    rateLimitHeaders: {
      remaining: 'X-HubSpot-RateLimit-Remaining',
      intervalMs: 'X-HubSpot-RateLimit-Interval-Milliseconds',
      defaultIntervalMs: 10_000,
    },
    // A private app's daily calls (250,000 and up per account; OAuth apps get no daily headers).
    dailyQuota: {
      read: dailyFromHeaders('X-HubSpot-RateLimit-Daily', 'X-HubSpot-RateLimit-Daily-Remaining'),
      reserve: { percent: typeof raw.apiReservePercent === 'number' ? raw.apiReservePercent : HUBSPOT_DEFAULT_API_RESERVE_PERCENT },
      account: 'the HubSpot account',
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
  return http;
}
