import { accountProvider, field, text } from '../account-connector';
import { createCrmHttpClient } from '../http-client';
import type { ConnectorContext, ProviderModule } from '../provider';
import {
  sendgridAuthHeaders,
  sendgridBaseUrl,
  sendgridDefinition,
  sendgridRequestsPerSecond,
  type SendGridConfig,
} from './sendgrid.definition';
import { SendGridWriter } from './sendgrid.writer';

const account = accountProvider({
  definition: sendgridDefinition,
  baseUrl: sendgridBaseUrl,
  authHeaders: sendgridAuthHeaders,
  async test(http, config) {
    // Reading the list checks the key, its Marketing scope and the list id in one call.
    const { data } = await http.get(`/v3/marketing/lists/${encodeURIComponent(String(config.listId))}`);
    const list = field(data);
    return {
      account: text(list.name) ?? text(list.id),
      user: null,
      details: { listId: text(list.id), contactCount: list.contact_count ?? null },
    };
  },
});

/** The config's key where the shared account connector reads a token, and the one pace for connector and writer. */
function shared(config: Record<string, unknown>, ctx: ConnectorContext): [Record<string, unknown>, ConnectorContext] {
  const rps = sendgridRequestsPerSecond(config);
  return [
    { ...config, accessToken: config.apiKey },
    { ...ctx, limiter: () => ctx.limiter(rps) },
  ];
}

/** Twilio SendGrid Marketing Campaigns (v3 contacts): users pushed to one contact list; nothing is pulled. */
export const sendgrid: ProviderModule = {
  definition: account.definition,
  createConnector: (config, ctx) => account.createConnector(...shared(config, ctx)),
  createWriter(raw, ctx) {
    const config = raw as unknown as SendGridConfig;
    const http = createCrmHttpClient({
      provider: 'sendgrid',
      baseURL: sendgridBaseUrl(raw),
      headers: { Accept: 'application/json', ...sendgridAuthHeaders(config.apiKey) },
      limiter: ctx.limiter(sendgridRequestsPerSecond(raw)),
      // X-RateLimit-Reset is a time, not an interval: when the budget is spent, wait a second
      // and let the 429 retries (with their backoff) do the rest.
      rateLimitHeaders: { remaining: 'X-RateLimit-Remaining', defaultIntervalMs: 1000 },
      logger: ctx.logger,
      ...ctx.http,
    });
    return new SendGridWriter(http, config, ctx.logger);
  },
};
