import { accountProvider, field, text } from '../account-connector';
import { createCrmHttpClient } from '../http-client';
import type { ConnectorContext, ProviderModule } from '../provider';
import {
  mailchimpAuthHeaders,
  mailchimpBaseUrl,
  mailchimpDefinition,
  mailchimpRequestsPerSecond,
  type MailchimpConfig,
} from './mailchimp.definition';
import { MailchimpWriter } from './mailchimp.writer';

const account = accountProvider({
  definition: mailchimpDefinition,
  baseUrl: mailchimpBaseUrl,
  authHeaders: mailchimpAuthHeaders,
  async test(http, config) {
    // Reading the audience checks the key, the data centre and the audience id in one call.
    const { data } = await http.get(`/lists/${encodeURIComponent(String(config.audienceId))}`);
    const list = field(data);
    return {
      account: text(list.name) ?? text(list.id),
      user: text(field(data, 'contact').company),
      details: { audienceId: text(list.id), memberCount: field(data, 'stats').member_count ?? null },
    };
  },
});

/** The config's key where the shared account connector reads a token, and the one pace for connector and writer. */
function shared(config: Record<string, unknown>, ctx: ConnectorContext): [Record<string, unknown>, ConnectorContext] {
  const rps = mailchimpRequestsPerSecond(config);
  return [
    { ...config, accessToken: config.apiKey, baseUrl: mailchimpBaseUrl(config) },
    { ...ctx, limiter: () => ctx.limiter(rps) },
  ];
}

/** Mailchimp Marketing 3.0: users pushed to one audience; nothing is pulled. */
export const mailchimp: ProviderModule = {
  definition: account.definition,
  createConnector: (config, ctx) => account.createConnector(...shared(config, ctx)),
  createWriter(raw, ctx) {
    const config = raw as unknown as MailchimpConfig;
    const http = createCrmHttpClient({
      provider: 'mailchimp',
      baseURL: mailchimpBaseUrl(raw),
      headers: { Accept: 'application/json', ...mailchimpAuthHeaders(config.apiKey) },
      limiter: ctx.limiter(mailchimpRequestsPerSecond(raw)),
      logger: ctx.logger,
      ...ctx.http,
    });
    return new MailchimpWriter(http, config, ctx.logger);
  },
};
