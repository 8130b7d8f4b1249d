import { createCrmHttpClient } from '../http-client';
import type { ProviderModule } from '../provider';
import { perSecond } from '../rate-limiter';
import { ZohoConnector, type CreditWatch, type ZohoConfig } from './zoho.connector';
import { DEFAULT_CREDIT_RESERVE, ZOHO_DEFAULT_API_DOMAIN, ZOHO_DEFAULT_VERSION, zohoDefinition } from './zoho.definition';
import { zohoWebhook } from './zoho.webhook';

/** Zoho's header scheme for OAuth access tokens (pasted ones are the same kind): not Bearer. */
export const zohoAuthorization = (token: string) => `Zoho-oauthtoken ${token}`;

const CREDITS_HEADER = 'x-api-credits-remaining';

/** Zoho CRM: contacts, by a pasted access token or OAuth; notifications checked by their token. */
export const zoho: ProviderModule = {
  definition: zohoDefinition,
  webhook: zohoWebhook,
  createConnector(raw, ctx) {
    const config = raw as unknown as ZohoConfig;
    const logger = ctx.logger;
    const http = createCrmHttpClient({
      provider: 'zoho',
      baseURL: typeof config.apiDomain === 'string' && config.apiDomain ? config.apiDomain : ZOHO_DEFAULT_API_DOMAIN,
      headers: { Accept: 'application/json', Authorization: zohoAuthorization(config.accessToken) },
      limiter: ctx.limiter(typeof raw.requestsPerSecond === 'number' ? raw.requestsPerSecond : perSecond(zohoDefinition.rateLimit)),
      logger,
      // A refreshed OAuth token, in Zoho's own scheme.
      reauthorize: async () => {
        const token = await ctx.reauthorize();
        return token ? { Authorization: zohoAuthorization(token) } : null;
      },
      ...ctx.http,
    });
    // Every answer (failures too) may say how many of the org's daily credits are left; a 429
    // says which limit it was (concurrency or credits), and the log keeps it.
    const credits: CreditWatch = { remaining: null };
    const transforms = http.defaults.transformResponse;
    http.defaults.transformResponse = [
      ...(Array.isArray(transforms) ? transforms : transforms ? [transforms] : []),
      (data: unknown, headers: Record<string, unknown> | undefined, status?: number) => {
        const left = Number(headers?.[CREDITS_HEADER]);
        if (headers?.[CREDITS_HEADER] !== undefined && Number.isFinite(left)) credits.remaining = left;
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
    return new ZohoConnector(
      http,
      { ...config, apiVersion: config.apiVersion ?? ZOHO_DEFAULT_VERSION, creditReserve: config.creditReserve ?? DEFAULT_CREDIT_RESERVE },
      ctx.pageSize,
      credits,
      logger,
    );
  },
};
