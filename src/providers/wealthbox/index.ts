import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import { ConfigError } from '../../config/config';
import { bearerReauthorize, createCrmHttpClient } from '../http-client';
import type { ConnectorContext, ProviderModule } from '../provider';
import { WEALTHBOX_DEFAULT_URL, WealthboxConnector, wealthboxHeaders, type WealthboxConfig } from './wealthbox.connector';
import { wealthboxDefinition } from './wealthbox.definition';
import { wealthboxWebhook } from './wealthbox.webhook';
import { WealthboxWriter } from './wealthbox.writer';

/** Seed 000's single-tenant settings, read here: they are Wealthbox's, not the service's. */
const environment = z.object({
  WEALTHBOX_API_KEY: z.string().min(1).optional(),
  WEALTHBOX_API_URL: z.url().optional(),
  WEALTHBOX_WEBHOOK_SECRET: z.string().min(1).optional(),
});

/** One client setup for reads and writes: the token header, the integration's pace, OAuth refreshes. */
function wealthboxClient(raw: Record<string, unknown>, ctx: ConnectorContext): { http: AxiosInstance; config: WealthboxConfig } {
  const config = raw as unknown as WealthboxConfig;
  const http = createCrmHttpClient({
    provider: 'wealthbox',
    baseURL: config.baseUrl ?? WEALTHBOX_DEFAULT_URL,
    headers: { Accept: 'application/json', ...wealthboxHeaders(config) },
    limiter: ctx.limiter(config.requestsPerSecond ?? 1),
    logger: ctx.logger,
    // Only OAuth tokens are refreshed; a personal token's 401 needs a person.
    reauthorize: config.authType === 'oauth' ? bearerReauthorize(ctx.reauthorize) : undefined,
    ...ctx.http,
  });
  return { http, config };
}

/** Wealthbox CRM: contacts and the firm's users, by personal token or OAuth bearer; pushes as Person contacts. */
export const wealthbox: ProviderModule = {
  definition: wealthboxDefinition,
  webhook: wealthboxWebhook,
  createConnector(raw, ctx) {
    const { http, config } = wealthboxClient(raw, ctx);
    return new WealthboxConnector(http, config, ctx.pageSize);
  },
  createWriter(raw, ctx) {
    return new WealthboxWriter(wealthboxClient(raw, ctx).http);
  },
  fromEnvironment(env) {
    const parsed = environment.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
    if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
    const e = parsed.data;
    if (!e.WEALTHBOX_API_KEY) return undefined;
    return {
      name: 'Wealthbox (from environment)',
      config: {
        apiKey: e.WEALTHBOX_API_KEY,
        ...(e.WEALTHBOX_API_URL ? { baseUrl: e.WEALTHBOX_API_URL } : {}),
        ...(e.WEALTHBOX_WEBHOOK_SECRET ? { webhookSecret: e.WEALTHBOX_WEBHOOK_SECRET } : {}),
      },
      extraWebhookSecret: e.WEALTHBOX_WEBHOOK_SECRET,
    };
  },
};
