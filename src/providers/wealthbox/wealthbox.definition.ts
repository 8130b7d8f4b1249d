import type { ProviderDefinition } from '../provider';
import type { PushFacts } from '../writer';
import { WEALTHBOX_DEFAULT_URL } from './wealthbox.connector';

/**
 * Contact fields a mapping may name: Wealthbox's text fields, and `email` / `phone`, which the
 * writer turns into the principal entry of `email_addresses` / `phone_numbers`.
 */
export const WEALTHBOX_WRITABLE_FIELDS = [
  'first_name',
  'last_name',
  'middle_name',
  'prefix',
  'suffix',
  'nickname',
  'job_title',
  'company_name',
  'email',
  'phone',
  'background_information',
  'important_information',
  'personal_interests',
  'contact_source',
  'contact_type',
] as const;

/** Seed 003's fields in Wealthbox's names; deletion deletes the contact (DELETE /contacts/{id}). */
export const wealthboxPush: PushFacts = {
  defaultMapping: {
    firstName: 'first_name',
    lastName: 'last_name',
    email: 'email',
    phone: 'phone',
    title: 'job_title',
    company: 'company_name',
  },
  knownFields: WEALTHBOX_WRITABLE_FIELDS,
  deletePolicies: ['delete'],
  directions: ['pull', 'push', 'both'],
  defaultDirection: 'pull',
};

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
  push: wealthboxPush,
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
    '5. Pushing users (`direction` push or both) writes Person contacts one at a time: a linked contact is read, then updated (`PUT /contacts/{id}`) only when something differs; a new person is looked up by email first (`GET /contacts?email=`), then created (`POST /contacts`). Default mapping: first_name, last_name, email (the principal email address), phone (the principal phone number), title → job_title, company → company_name. `onUserDeleted: delete` deletes the contact.',
  ].join('\n'),
};
