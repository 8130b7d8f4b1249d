import type { AxiosInstance } from 'axios';
import { bearerReauthorize, createCrmHttpClient } from '../http-client';
import type { ProviderModule } from '../provider';
import { normalizeErrorBody, SalesforceConnector, type SalesforceConfig } from './salesforce.connector';
import {
  DEFAULT_API_RESERVE_PERCENT,
  DEFAULT_REQUESTS_PER_SECOND,
  SALESFORCE_DEFAULT_API_VERSION,
  salesforceDefinition,
} from './salesforce.definition';

/** Salesforce REST: Contacts by SOQL, with a pasted access token or an OAuth one (refreshed on 401); poll only. */
export const salesforce: ProviderModule = {
  definition: salesforceDefinition,
  createConnector(raw, ctx) {
    const config: SalesforceConfig = {
      instanceUrl: String(raw.instanceUrl ?? ''),
      accessToken: String(raw.accessToken ?? ''),
      apiVersion: typeof raw.apiVersion === 'string' && raw.apiVersion ? raw.apiVersion : SALESFORCE_DEFAULT_API_VERSION,
      apiReservePercent: typeof raw.apiReservePercent === 'number' ? raw.apiReservePercent : DEFAULT_API_RESERVE_PERCENT,
    };
    if (!/^https?:\/\/[^/?#]+\/?$/.test(config.instanceUrl)) {
      throw new Error('the Salesforce integration has no valid instanceUrl (like https://yourorg.my.salesforce.com)');
    }
    const refresh = bearerReauthorize(ctx.reauthorize);
    const http: AxiosInstance = createCrmHttpClient({
      provider: 'salesforce',
      baseURL: config.instanceUrl,
      headers: { Accept: 'application/json', Authorization: `Bearer ${config.accessToken}` },
      limiter: ctx.limiter(typeof raw.requestsPerSecond === 'number' ? raw.requestsPerSecond : DEFAULT_REQUESTS_PER_SECOND),
      logger: ctx.logger,
      // The shared client carries the new token on every later call; the connector is told the
      // session changed (its open query cursors belonged to the old one).
      reauthorize: async () => {
        const headers = await refresh();
        if (headers) connector.sessionRenewed();
        return headers;
      },
      ...ctx.http,
    });
    const transforms = http.defaults.transformResponse;
    http.defaults.transformResponse = [
      ...(Array.isArray(transforms) ? transforms : transforms ? [transforms] : []),
      (data: unknown, _headers: unknown, status?: number) => normalizeErrorBody(data, status),
    ];
    const connector = new SalesforceConnector(http, config, ctx.pageSize, ctx.logger, ctx.integrationId);
    http.interceptors.response.use((res) => {
      connector.observe(res.headers as Record<string, unknown>);
      return res;
    });
    return connector;
  },
};
