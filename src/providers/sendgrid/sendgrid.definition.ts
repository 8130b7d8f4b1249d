import type { ProviderDefinition } from '../provider';
import { perSecond } from '../rate-limiter';

export const SENDGRID_API = 'https://api.sendgrid.com';
export const DEFAULT_JOB_TIMEOUT_SECONDS = 60;

export interface SendGridConfig {
  apiKey: string;
  listId: string;
  baseUrl?: string;
  requestsPerSecond?: number;
  jobTimeoutSeconds?: number;
}

/** Custom field ids as the field definitions API gives them (`e1_T`, `e2_N`, `e3_D`; older accounts: `w1`). */
export const SENDGRID_CUSTOM_FIELD = '^[a-z][0-9]+(_[TDN])?$';

export const sendgridDefinition: ProviderDefinition = {
  name: 'sendgrid',
  displayName: 'SendGrid',
  category: 'Email Marketing',
  icon: 'sendgrid',
  description: 'Twilio SendGrid Marketing Campaigns: active users are kept on a contact list, inactive ones taken off it.',
  apiVersion: 'v3',
  authModes: ['api_key'],
  // SendGrid publishes no per-endpoint figure, only X-RateLimit-* headers on every answer (and
  // 600 requests a minute for its older endpoints): 10 a second, and the headers do the rest.
  rateLimit: { requests: 10, perMs: 1000 },
  routingKeyField: null,
  webhooks: false,
  pulls: false,
  push: {
    // The email is the contact's key, sent with every contact, not a mapped field.
    defaultMapping: { firstName: 'first_name', lastName: 'last_name' },
    knownFields: [
      'first_name',
      'last_name',
      'phone_number',
      'address_line_1',
      'address_line_2',
      'city',
      'state_province_region',
      'postal_code',
      'country',
      'alternate_emails',
      'whatsapp',
      'line',
      'facebook',
      'unique_name',
    ],
    customFieldPattern: SENDGRID_CUSTOM_FIELD,
    deletePolicies: ['archive', 'delete'],
    directions: ['push'],
    defaultDirection: 'push',
  },
  configSchema: {
    type: 'object',
    required: ['apiKey', 'listId'],
    additionalProperties: false,
    properties: {
      apiKey: {
        type: 'string',
        title: 'API key',
        description: 'Settings → API Keys; a restricted key with Marketing → Full Access (it starts with `SG.`)',
        format: 'password',
        writeOnly: true,
        minLength: 8,
      },
      listId: {
        type: 'string',
        title: 'Contact list ID',
        description: 'Marketing → Contacts → the list; its id is in the page address (a UUID)',
        pattern: '^[A-Za-z0-9-]{1,64}$',
      },
      baseUrl: { type: 'string', title: 'API base URL', format: 'uri', default: SENDGRID_API },
      requestsPerSecond: {
        type: 'number',
        title: 'Requests per second',
        description: 'Client-side pace of all calls; unset: 10/s; 0: none (fakes, benchmarks)',
        minimum: 0,
        maximum: 100,
      },
      jobTimeoutSeconds: {
        type: 'integer',
        title: 'Import job timeout (seconds)',
        description: 'How long a push follows SendGrid’s asynchronous import before it gives up and retries later',
        minimum: 1,
        maximum: 900,
        default: DEFAULT_JOB_TIMEOUT_SECONDS,
      },
    },
  },
  setupInstructions: [
    '## Connect SendGrid',
    '1. In SendGrid, create an API key (**Settings → API Keys**) with **Marketing** full access, and copy it.',
    '2. Create or pick a contact list (**Marketing → Contacts**) and copy its id from the address bar.',
    '3. Create the integration with `{ "apiKey": "SG.…", "listId": "<uuid>" }`; `pushMapping` maps our fields to reserved fields (`first_name`, `last_name`, `phone_number`, …) or to custom field ids such as `e1_T` (**Marketing → Custom Fields**; the field must exist).',
    '4. Test it: `POST /api/integrations/:id/test` reads the list (`GET /v3/marketing/lists/{listId}`).',
    '5. Contacts are upserted in batches of 1,000 (`PUT /v3/marketing/contacts`, an asynchronous import followed up to `jobTimeoutSeconds`). SendGrid lists have no unsubscribed state: inactive users are removed from the list. `onUserDeleted`: `archive` removes the contact from the list, `delete` deletes the contact.',
  ].join('\n'),
};

export function sendgridBaseUrl(config: Readonly<Record<string, unknown>>): string {
  return typeof config.baseUrl === 'string' && config.baseUrl ? config.baseUrl.replace(/\/+$/, '') : SENDGRID_API;
}

export function sendgridAuthHeaders(apiKey: string): Record<string, string> {
  return { Authorization: `Bearer ${apiKey}` };
}

/** The pace the connector and the writer share (one limiter per integration). */
export function sendgridRequestsPerSecond(config: Readonly<Record<string, unknown>>): number {
  return typeof config.requestsPerSecond === 'number' ? config.requestsPerSecond : perSecond(sendgridDefinition.rateLimit);
}
