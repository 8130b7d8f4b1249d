import type { ProviderDefinition } from '../provider';
import { WEALTHBOX_DEFAULT_URL } from './wealthbox.connector';

export const wealthboxDefinition: ProviderDefinition = {
  name: 'wealthbox',
  displayName: 'Wealthbox CRM',
  category: 'CRM',
  icon: 'wealthbox',
  description: 'Wealthbox CRM for financial advisors: contacts and the firm’s users become users here.',
  apiVersion: 'v1',
  authModes: ['api_key', 'oauth2'],
  // About 300 requests per 5 minutes per token (crm-apis.md, unconfirmed); the config's
  // requestsPerSecond (default 1) is what the limiter follows.
  rateLimit: { requests: 300, perMs: 300_000 },
  routingKeyField: null,
  webhooks: true,
  oauth: {
    authorizeUrl: 'https://app.crmworkspace.com/oauth/authorize',
    tokenUrl: 'https://app.crmworkspace.com/oauth/token',
    scopes: ['login', 'data'],
    pkce: false,
    accessTokenField: 'apiKey',
    fixedConfig: { authType: 'oauth' },
  },
  configSchema: {
    type: 'object',
    required: ['apiKey'],
    additionalProperties: false,
    properties: {
      apiKey: {
        type: 'string',
        title: 'API access token',
        description: 'Settings → API Access → Create Access Token',
        format: 'password',
        writeOnly: true,
        minLength: 8,
      },
      authType: { type: 'string', title: 'Token kind', enum: ['access_token', 'oauth'], default: 'access_token' },
      baseUrl: { type: 'string', title: 'API base URL', format: 'uri', default: WEALTHBOX_DEFAULT_URL },
      webhookSecret: { type: 'string', title: 'Webhook secret', format: 'password', writeOnly: true, minLength: 8 },
      requestsPerSecond: { type: 'number', title: 'Requests per second', minimum: 0, maximum: 50, default: 1 },
      includeUsers: { type: 'boolean', title: 'Also sync the firm’s Wealthbox users', default: true },
    },
  },
  setupInstructions: [
    '## Connect Wealthbox',
    '1. In Wealthbox, open **Settings → API Access** and create an access token.',
    '2. Create the integration with `{ "apiKey": "<token>" }`. OAuth tokens: add `"authType": "oauth"`.',
    '3. Test it: `POST /api/integrations/:id/test` calls `GET /me`.',
    '4. Wealthbox allows about 300 requests per 5 minutes; the default of 1 request per second stays under it.',
  ].join('\n'),
};
