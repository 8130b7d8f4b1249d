import type { ProviderDefinition } from '../provider';
import { perSecond } from '../rate-limiter';

export interface MailchimpConfig {
  apiKey: string;
  audienceId: string;
  baseUrl?: string;
  doubleOptIn?: boolean;
  tags?: string[];
  requestsPerSecond?: number;
}

/** The data centre is the key's suffix (`…-us21`); the API lives on that host. */
const KEY_PATTERN = '^[A-Za-z0-9]{8,100}-[a-z]{2,4}[0-9]{1,4}$';

export const mailchimpDefinition: ProviderDefinition = {
  name: 'mailchimp',
  displayName: 'Mailchimp',
  category: 'Email Marketing',
  icon: 'mailchimp',
  description: 'Mailchimp: our users become members of an audience (subscribed while active, unsubscribed when not).',
  apiVersion: '3.0',
  authModes: ['api_key'],
  // Mailchimp documents no per-second budget, only 10 simultaneous connections per user
  // (more are answered 429): a steady 10 a second, one call at a time per caller, stays under it.
  rateLimit: { requests: 10, perMs: 1000 },
  routingKeyField: null,
  webhooks: false,
  pulls: false,
  push: {
    // PHONE is left out: a merge field must exist in the audience, and only FNAME and LNAME
    // are there in every new audience.
    defaultMapping: { firstName: 'FNAME', lastName: 'LNAME' },
    knownFields: ['FNAME', 'LNAME', 'PHONE', 'ADDRESS', 'BIRTHDAY', 'COMPANY'],
    // Merge tags: upper-case letters, digits and underscores, at most 10 characters.
    customFieldPattern: '^[A-Z0-9_]{1,10}$',
    deletePolicies: ['archive', 'delete'],
    directions: ['push'],
    defaultDirection: 'push',
  },
  configSchema: {
    type: 'object',
    required: ['apiKey', 'audienceId'],
    additionalProperties: false,
    properties: {
      apiKey: {
        type: 'string',
        title: 'API key',
        description: 'Account → Extras → API keys; it ends with the data centre (e.g. `-us21`), which picks the API host',
        format: 'password',
        writeOnly: true,
        pattern: KEY_PATTERN,
      },
      audienceId: {
        type: 'string',
        title: 'Audience ID',
        description: 'Audience → Settings → Audience name and defaults → Audience ID (the API’s list_id)',
        pattern: '^[A-Za-z0-9]{1,50}$',
      },
      doubleOptIn: {
        type: 'boolean',
        title: 'Double opt-in',
        description: 'New members get `pending` and a confirmation email instead of `subscribed`; existing members keep their status',
        default: false,
      },
      tags: {
        type: 'array',
        title: 'Tags',
        description: 'Tags added to every member we push (never removed)',
        items: { type: 'string', minLength: 1, maxLength: 100 },
        maxItems: 20,
        uniqueItems: true,
      },
      baseUrl: {
        type: 'string',
        title: 'API base URL',
        description: 'Unset: https://<dc>.api.mailchimp.com/3.0 from the key’s data centre',
        format: 'uri',
      },
      requestsPerSecond: {
        type: 'number',
        title: 'Requests per second',
        description: 'Client-side pace of all calls; unset: 10/s; 0: none (fakes, benchmarks)',
        minimum: 0,
        maximum: 100,
      },
    },
  },
  setupInstructions: [
    '## Connect Mailchimp',
    '1. In Mailchimp, open **Account & billing → Extras → API keys**, create a key and copy it (it ends with your data centre, e.g. `-us21`).',
    '2. Find the audience: **Audience → Settings → Audience name and defaults → Audience ID**.',
    '3. Create the integration with `{ "apiKey": "<key>", "audienceId": "<id>" }`; optional: `doubleOptIn: true` (new members confirm by email), `tags: ["app-users"]`, and `pushMapping` (merge tags: FNAME and LNAME by default; add e.g. `{"phone": "PHONE"}` only when the audience has that field).',
    '4. Test it: `POST /api/integrations/:id/test` reads the audience (`GET /3.0/lists/{audienceId}`).',
    '5. Active users are subscribed (or pending with double opt-in), inactive ones unsubscribed; `onUserDeleted` archives the member or deletes it permanently.',
  ].join('\n'),
};

/** The API root for a config: the override, or the key's data centre; always ending in /3.0. */
export function mailchimpBaseUrl(config: Readonly<Record<string, unknown>>): string {
  const override = typeof config.baseUrl === 'string' && config.baseUrl ? config.baseUrl.replace(/\/+$/, '') : null;
  if (override) return /\/3\.0$/.test(override) ? override : `${override}/3.0`;
  const key = typeof config.apiKey === 'string' ? config.apiKey : '';
  const dc = /-([a-z]{2,4}[0-9]{1,4})$/.exec(key)?.[1];
  // The schema refuses a key without a data centre; this host fails the call, never another's.
  return `https://${dc ?? 'invalid-data-centre'}.api.mailchimp.com/3.0`;
}

/** HTTP Basic with any user name and the key as the password (Mailchimp's documented scheme). */
export function mailchimpAuthHeaders(apiKey: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`anystring:${apiKey}`).toString('base64')}` };
}

/** The pace the connector and the writer share (one limiter per integration). */
export function mailchimpRequestsPerSecond(config: Readonly<Record<string, unknown>>): number {
  return typeof config.requestsPerSecond === 'number' ? config.requestsPerSecond : perSecond(mailchimpDefinition.rateLimit);
}
