import type { AxiosInstance } from 'axios';
import { bearerReauthorize, createCrmHttpClient } from '../http-client';
import type { ConnectorContext } from '../provider';
import { parseLimitInfo } from './salesforce.budget';
import { normalizeErrorBody, type SalesforceConfig } from './salesforce.connector';
import { DEFAULT_API_RESERVE_PERCENT, DEFAULT_REQUESTS_PER_SECOND, SALESFORCE_DEFAULT_API_VERSION } from './salesforce.definition';

/** An integration's config as the connector and the writer read it; refused without a usable instance URL. */
export function salesforceConfigOf(raw: Record<string, unknown>): SalesforceConfig {
  const config: SalesforceConfig = {
    instanceUrl: String(raw.instanceUrl ?? ''),
    accessToken: String(raw.accessToken ?? ''),
    apiVersion: typeof raw.apiVersion === 'string' && raw.apiVersion ? raw.apiVersion : SALESFORCE_DEFAULT_API_VERSION,
    apiReservePercent: typeof raw.apiReservePercent === 'number' ? raw.apiReservePercent : DEFAULT_API_RESERVE_PERCENT,
  };
  if (!/^https?:\/\/[^/?#]+\/?$/.test(config.instanceUrl)) {
    throw new Error('the Salesforce integration has no valid instanceUrl (like https://yourorg.my.salesforce.com)');
  }
  return config;
}

/**
 * The HTTP client of one Salesforce integration, for its connector and its writer alike: the
 * shared limiter, the 401 refresh (`renewed` hears of it), Salesforce's error arrays made
 * readable, and every answer's headers handed to `observe` (the daily API budget).
 */
export function createSalesforceHttp(
  config: SalesforceConfig,
  raw: Record<string, unknown>,
  ctx: ConnectorContext,
  hooks: { renewed(): void; observe(headers: Record<string, unknown>): void },
): AxiosInstance {
  const refresh = bearerReauthorize(ctx.reauthorize);
  const http = createCrmHttpClient({
    provider: 'salesforce',
    baseURL: config.instanceUrl,
    headers: { Accept: 'application/json', Authorization: `Bearer ${config.accessToken}` },
    limiter: ctx.limiter(typeof raw.requestsPerSecond === 'number' ? raw.requestsPerSecond : DEFAULT_REQUESTS_PER_SECOND),
    // The org's daily calls, shared by every instance's connector and writer of this integration.
    dailyQuota: {
      read: (headers) => {
        const usage = parseLimitInfo(headers['sforce-limit-info']);
        return usage && usage.limit > 0 ? { remaining: usage.limit - usage.used, limit: usage.limit } : null;
      },
      reserve: { percent: config.apiReservePercent },
      account: 'the Salesforce org',
    },
    logger: ctx.logger,
    // The shared client carries the new token on every later call.
    reauthorize: async () => {
      const headers = await refresh();
      if (headers) hooks.renewed();
      return headers;
    },
    ...ctx.http,
  });
  const transforms = http.defaults.transformResponse;
  http.defaults.transformResponse = [
    ...(Array.isArray(transforms) ? transforms : transforms ? [transforms] : []),
    (data: unknown, _headers: unknown, status?: number) => normalizeErrorBody(data, status),
  ];
  http.interceptors.response.use((res) => {
    hooks.observe(res.headers as Record<string, unknown>);
    return res;
  });
  return http;
}
