import type { AxiosInstance } from 'axios';
import { createCrmHttpClient } from '../http-client';
import type { ConnectorContext, ProviderModule } from '../provider';
import { perSecond } from '../rate-limiter';
import { ZohoConnector, type ZohoConfig } from './zoho.connector';
import { DEFAULT_CREDIT_RESERVE, ZOHO_DEFAULT_API_DOMAIN, ZOHO_DEFAULT_VERSION, zohoDefinition } from './zoho.definition';
import { zohoWebhook } from './zoho.webhook';
import { ZohoChannelKeeper } from './zoho.watch';
import { ZohoWriter } from './zoho.writer';

/** Zoho's header scheme for OAuth access tokens (pasted ones are the same kind): not Bearer. */
export const zohoAuthorization = (token: string) => `Zoho-oauthtoken ${token}`;

const CREDITS_HEADER = 'x-api-credits-remaining';
/** X-API-CREDITS-REMAINING of an answer (sent once half the day's credits are spent), or null. */
const creditsLeft = (headers: Record<string, unknown> | undefined): number | null => {
  const left = Number(headers?.[CREDITS_HEADER]);
  return headers?.[CREDITS_HEADER] !== undefined && Number.isFinite(left) ? left : null;
};
const reserveOf = (config: ZohoConfig) =>
  typeof config.creditReserve === 'number' && config.creditReserve >= 0 ? config.creditReserve : DEFAULT_CREDIT_RESERVE;

/**
 * The HTTP client the connector and the writer share the setup of: Zoho's auth scheme, the
 * integration's limiter, a refreshed token after a 401, and the org's remaining API credits
 * read from every answer (failures too), so both stop at the same reserve.
 */
function zohoClient(raw: Record<string, unknown>, ctx: ConnectorContext): { http: AxiosInstance; config: ZohoConfig } {
  const config = raw as unknown as ZohoConfig;
  const logger = ctx.logger;
  const http = createCrmHttpClient({
    provider: 'zoho',
    baseURL: typeof config.apiDomain === 'string' && config.apiDomain ? config.apiDomain : ZOHO_DEFAULT_API_DOMAIN,
    headers: { Accept: 'application/json', Authorization: zohoAuthorization(config.accessToken) },
    limiter: ctx.limiter(typeof raw.requestsPerSecond === 'number' ? raw.requestsPerSecond : perSecond(zohoDefinition.rateLimit)),
    // The org's credits left today (told once half are spent), shared by every instance's
    // connector and writer: syncs and pushes stop at the reserve, a count of credits.
    dailyQuota: {
      read: (headers) => {
        const left = creditsLeft(headers);
        return left === null ? null : { remaining: left, limit: null };
      },
      reserve: { calls: reserveOf(config) },
      account: 'Zoho CRM',
    },
    logger,
    // A refreshed OAuth token, in Zoho's own scheme.
    reauthorize: async () => {
      const token = await ctx.reauthorize();
      return token ? { Authorization: zohoAuthorization(token) } : null;
    },
    ...ctx.http,
  });
  // A 429 says which limit it was (concurrency or credits), and the log keeps it.
  const credits = { remaining: null as number | null };
  const transforms = http.defaults.transformResponse;
  http.defaults.transformResponse = [
    ...(Array.isArray(transforms) ? transforms : transforms ? [transforms] : []),
    (data: unknown, headers: Record<string, unknown> | undefined, status?: number) => {
      credits.remaining = creditsLeft(headers) ?? credits.remaining;
      if (status === 429) {
        const body = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
        logger.warn('zoho: rate limited', {
          integrationId: ctx.integrationId,
          code: body.code ?? null,
          detail: typeof body.message === 'string' ? body.message.slice(0, 200) : null,
          creditsRemaining: credits.remaining,
        });
      }
      return data;
    },
  ];
  return {
    http,
    config: {
      ...config,
      apiVersion: config.apiVersion ?? ZOHO_DEFAULT_VERSION,
      creditReserve: reserveOf(config),
    },
  };
}

/** Zoho CRM: contacts, by a pasted access token or OAuth; notifications checked by their token, through a watch channel the service keeps open; pushes by upsert. */
export const zoho: ProviderModule = {
  definition: zohoDefinition,
  webhook: zohoWebhook,
  createConnector(raw, ctx) {
    const { http, config } = zohoClient(raw, ctx);
    return new ZohoConnector(http, config, ctx.pageSize, ctx.logger);
  },
  createWriter(raw, ctx) {
    const { http, config } = zohoClient(raw, ctx);
    return new ZohoWriter(http, config, ctx.logger);
  },
  createChannelKeeper(raw, ctx) {
    const { http, config } = zohoClient(raw, ctx);
    return new ZohoChannelKeeper(http, config);
  },
};
