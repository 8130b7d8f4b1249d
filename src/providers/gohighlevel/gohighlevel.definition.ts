import type { ProviderDefinition } from '../provider';
import type { PushFacts } from '../writer';
import { GOHIGHLEVEL_DEFAULT_URL, GOHIGHLEVEL_DEFAULT_VERSION } from './gohighlevel.connector';

/** The Version header values HighLevel documents (marketplace docs, Versioning page). */
export const GOHIGHLEVEL_API_VERSIONS = ['2021-07-28', '2021-04-15', '2023-02-21', 'v3'];

/**
 * Contact fields of API v2 a mapping may name (UpsertContactDto's, as PUT accepts them too):
 * text, except `tags` (comma-separated; replaces the contact's tags) and `dnd` (true/false).
 * HighLevel has no job title field; custom fields (customFields [{id, value}]) are not mapped.
 */
/** The share of the location's daily calls left for its other apps (apiReservePercent). */
export const GOHIGHLEVEL_DEFAULT_API_RESERVE_PERCENT = 10;

export const GOHIGHLEVEL_WRITABLE_FIELDS = [
  'firstName',
  'lastName',
  'name',
  'email',
  'phone',
  'companyName',
  'address1',
  'city',
  'state',
  'postalCode',
  'country',
  'website',
  'timezone',
  'source',
  'dateOfBirth',
  'tags',
  'dnd',
  'assignedTo',
] as const;

/** Seed 002's createContact/updateContact fields; deletion deletes the contact (DELETE /contacts/{id}). */
export const goHighLevelPush: PushFacts = {
  // No `name`: HighLevel builds it from first and last name, and its reads return no other, so a
  // pushed display name would come back different and not be recognised as our own write.
  defaultMapping: { firstName: 'firstName', lastName: 'lastName', email: 'email', phone: 'phone', company: 'companyName' },
  knownFields: GOHIGHLEVEL_WRITABLE_FIELDS,
  deletePolicies: ['delete'],
  directions: ['pull', 'push', 'both'],
  defaultDirection: 'pull',
};

/** Seed 002's GoHighLevel template, on API v2 (LeadConnector), plus the webhook key. */
export const goHighLevelDefinition: ProviderDefinition = {
  name: 'gohighlevel',
  displayName: 'GoHighLevel CRM',
  category: 'CRM',
  icon: 'gohighlevel',
  description: 'HighLevel (LeadConnector API v2): the contacts of one location (sub-account) become users here.',
  apiVersion: GOHIGHLEVEL_DEFAULT_VERSION,
  authModes: ['api_key', 'oauth2'],
  // 100 requests per 10 s per app per location (burst), 200,000 a day.
  rateLimit: { requests: 100, perMs: 10_000 },
  routingKeyField: 'locationId',
  webhooks: true,
  push: goHighLevelPush,
  oauth: {
    authorizeUrl: 'https://marketplace.gohighlevel.com/oauth/chooselocation',
    tokenUrl: 'https://services.leadconnectorhq.com/oauth/token',
    // contacts.write: pushes (upsert, update, delete).
    scopes: ['contacts.readonly', 'contacts.write', 'locations.readonly'],
    pkce: false,
    accessTokenField: 'apiKey',
    // A location token names its location: the integration's routing key.
    configFromToken: (token) => (typeof token.locationId === 'string' && token.locationId ? { locationId: token.locationId } : {}),
  },
  configSchema: {
    type: 'object',
    required: ['apiKey', 'locationId'],
    additionalProperties: false,
    properties: {
      apiKey: {
        type: 'string',
        title: 'API Key',
        description: 'GoHighLevel Private Integration Token of the location (or an OAuth access token for it)',
        format: 'password',
        writeOnly: true,
        minLength: 8,
        maxLength: 4096,
      },
      locationId: {
        type: 'string',
        title: 'Location ID',
        description: 'GHL Subaccount/Location ID; webhooks are routed to this integration by it',
        minLength: 1,
        maxLength: 200,
        pattern: '^[A-Za-z0-9_-]+$',
      },
      calendarId: { type: 'string', title: 'Calendar ID', description: 'Optional calendar ID for bookings', maxLength: 200 },
      webhookUrl: { type: 'string', title: 'Webhook URL', description: 'Webhook endpoint URL', format: 'uri', maxLength: 2000 },
      apiVersion: {
        type: 'string',
        title: 'API Version',
        description: 'Sent as the Version header on every request',
        enum: GOHIGHLEVEL_API_VERSIONS,
        default: GOHIGHLEVEL_DEFAULT_VERSION,
      },
      baseUrl: { type: 'string', title: 'Base URL', format: 'uri', default: GOHIGHLEVEL_DEFAULT_URL, maxLength: 2000 },
      clientId: {
        type: 'string',
        title: 'OAuth Client ID',
        description: 'For OAuth-based integrations',
        format: 'password',
        writeOnly: true,
        maxLength: 500,
      },
      clientSecret: {
        type: 'string',
        title: 'OAuth Client Secret',
        description: 'For OAuth-based integrations',
        format: 'password',
        writeOnly: true,
        maxLength: 500,
      },
      webhookPublicKey: {
        type: 'string',
        title: 'Webhook public key',
        description:
          'Ed25519 public key (PEM, or its base64 body on one line) that x-ghl-signature is checked with. Leave unset for HighLevel’s published key; set it only to test with another signer.',
        maxLength: 2000,
        // PEM, or its body on one line (the base64 SPKI form HighLevel also prints).
        pattern: '^\\s*(-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\\s]+-----END PUBLIC KEY-----|[A-Za-z0-9+/]{40,}={0,2})\\s*$',
      },
      apiReservePercent: {
        type: 'number',
        title: 'API budget reserve (%)',
        description:
          'Share of the location’s daily API calls (X-RateLimit-Daily-Remaining) left for its other apps: at or below it a sync stops cleanly and is resumed later',
        minimum: 0,
        maximum: 90,
        default: GOHIGHLEVEL_DEFAULT_API_RESERVE_PERCENT,
      },
      requestsPerSecond: {
        type: 'number',
        title: 'Requests per second',
        description: 'Client-side pace; unset: 9/s (90% of HighLevel’s 100 per 10 s); 0: none (fakes, benchmarks)',
        minimum: 0,
        maximum: 100,
      },
      webhookSecret: {
        type: 'string',
        title: 'Envelope webhook secret',
        description: 'Only for seed 002’s generic envelope (POST /api/webhook, x-webhook-signature); HighLevel’s own webhooks need none',
        format: 'password',
        writeOnly: true,
        minLength: 8,
        maxLength: 500,
      },
    },
  },
  setupInstructions: [
    '## Connect GoHighLevel',
    '1. In the HighLevel sub-account, open **Settings → Private Integrations** and create a token with the `contacts.readonly` and `locations.readonly` scopes (and `contacts.write` to push users).',
    '2. Copy the **Location ID** (Settings → Business Profile).',
    '3. Create the integration with `{ "apiKey": "<token>", "locationId": "<location id>" }`. Every request sends `Version: 2021-07-28` (field `apiVersion`).',
    '4. Test it: `POST /api/integrations/:id/test` calls `GET /locations/{locationId}`.',
    '5. Webhooks: HighLevel delivers ContactCreate/ContactUpdate/ContactDelete only to a **marketplace app’s** webhook URL, set in the app’s settings (there is no API to register one). Point it at `/api/webhooks/gohighlevel`; events are routed by their `locationId` and checked against HighLevel’s Ed25519 key.',
    '6. HighLevel allows 100 requests per 10 seconds and 200,000 a day per location; syncs stay under the first, shared by every instance, and stop cleanly (status `partial`, resumed an hour later) when the day’s calls left fall to `apiReservePercent` (default 10%). It lists no deleted contacts: a full sync (or a ContactDelete webhook) removes them.',
    '7. Pushing users (`direction` push or both): one call per person (HighLevel has no batch write): `PUT /contacts/{id}` for a linked contact, else `POST /contacts/upsert`, which matches by email or phone as the location’s “Allow Duplicate Contact” setting says. A user with neither is not sent. Default mapping: firstName, lastName, email, phone, company → companyName (no `name`: HighLevel builds it from the two). `onUserDeleted: delete` deletes the contact.',
  ].join('\n'),
};
