import { OAuthCallbackError, type ProviderDefinition } from '../provider';
import type { PushFacts } from '../writer';

/** The US data centre's API domain; the others differ by suffix (.eu, .in, .com.au, .jp, .ca, .com.cn, .sa, .uk). */
export const ZOHO_DEFAULT_API_DOMAIN = 'https://www.zohoapis.com';
/** The current CRM API version (v8); `fields` is mandatory on list calls from v5 on. */
export const ZOHO_DEFAULT_VERSION = 'v8';
export const ZOHO_API_VERSIONS = ['v8', 'v7', 'v6', 'v5'];
/** Credits left (X-API-CREDITS-REMAINING) below which a sync stops for the day, for the org's other tools. */
export const DEFAULT_CREDIT_RESERVE = 1000;

/**
 * Zoho's accounts servers, one per data centre (Zoho's Multi DC pages): the only hosts a
 * callback's `accounts-server` may name, since the code and the client secret are posted there.
 */
const ACCOUNTS_SERVER = /^https:\/\/accounts\.(zoho\.(com|eu|in|com\.au|jp|com\.cn|sa|uk|ae)|zohocloud\.ca)$/;

/**
 * The accounts server a value names, when it is one of Zoho's or the one whose consent page
 * the operator configured (OAUTH_ZOHO_AUTHORIZE_URL: a region's own, or a fake): the code
 * and later the refresh token and client secret are posted there, so no other host will do.
 */
const accountsServerOf = (value: unknown, flow: { authorizeUrl: string }): string | null => {
  if (typeof value !== 'string') return null;
  const server = value.replace(/\/+$/, '');
  return ACCOUNTS_SERVER.test(server) || server === new URL(flow.authorizeUrl).origin ? server : null;
};

/**
 * Writable standard Contacts fields (API names) a mapping may name; text values, and
 * Account_Name (a lookup, set by the account's name). Custom fields are any other API name.
 */
export const ZOHO_WRITABLE_FIELDS = [
  'First_Name',
  'Last_Name',
  'Email',
  'Secondary_Email',
  'Phone',
  'Mobile',
  'Home_Phone',
  'Other_Phone',
  'Fax',
  'Asst_Phone',
  'Assistant',
  'Title',
  'Department',
  'Description',
  'Lead_Source',
  'Account_Name',
  'Mailing_Street',
  'Mailing_City',
  'Mailing_State',
  'Mailing_Zip',
  'Mailing_Country',
  'Other_Street',
  'Other_City',
  'Other_State',
  'Other_Zip',
  'Other_Country',
  'Skype_ID',
  'Twitter',
] as const;

/** Seed 003's mapping; deletion sends contacts to Zoho's recycle bin (DELETE .../Contacts?ids=). */
export const zohoPush: PushFacts = {
  defaultMapping: {
    firstName: 'First_Name',
    lastName: 'Last_Name',
    email: 'Email',
    phone: 'Phone',
    company: 'Account_Name',
    title: 'Title',
  },
  knownFields: ZOHO_WRITABLE_FIELDS,
  // A custom field's API name: letters, digits, underscores, starting with a letter; never `id`.
  customFieldPattern: '^(?!id$)[A-Za-z][A-Za-z0-9_]{0,99}$',
  deletePolicies: ['delete'],
  directions: ['pull', 'push', 'both'],
  defaultDirection: 'pull',
};

export const zohoDefinition: ProviderDefinition = {
  name: 'zoho',
  displayName: 'Zoho CRM',
  category: 'CRM',
  icon: 'zoho',
  description: 'Zoho CRM: contacts become users here, kept current by notifications and incremental syncs.',
  apiVersion: ZOHO_DEFAULT_VERSION,
  authModes: ['api_key', 'oauth2'],
  // Zoho limits an org by API credits per rolling 24 hours (by edition: 5,000 on Free, 50,000
  // plus per-licence credits above) and by concurrent calls (5 on Free to 25 on Ultimate), not
  // by a rate. At 5 calls a second, one at a time, a sync reads up to 1,000 contacts a second
  // and never holds more than a couple of the org's concurrency slots; the daily credits are
  // watched through X-API-CREDITS-REMAINING (see the connector), which a pace cannot do.
  rateLimit: { requests: 5, perMs: 1_000 },
  // Notifications carry no account id of ours: they are posted to the integration's own URL.
  routingKeyField: null,
  webhooks: true,
  push: zohoPush,
  oauth: {
    authorizeUrl: 'https://accounts.zoho.com/oauth/v2/auth',
    tokenUrl: 'https://accounts.zoho.com/oauth/v2/token',
    // Contacts (read, and written by pushes) and their deletions; the org's name for the
    // connection test; the record count (search + layouts) so a full sync can tell its length.
    scopes: [
      'ZohoCRM.modules.contacts.ALL',
      'ZohoCRM.org.READ',
      'ZohoSearch.securesearch.READ',
      'ZohoCRM.settings.layouts.READ',
      'ZohoCRM.notifications.ALL',
    ],
    // Zoho documents PKCE for mobile and desktop clients only; a server-based client has a secret.
    pkce: false,
    // offline: a refresh token; consent: a new one even when the person connected before.
    authorizeParams: { access_type: 'offline', prompt: 'consent' },
    accessTokenField: 'accessToken',
    // The data centre's API domain comes with every token answer.
    configFromToken: (t) => (typeof t.api_domain === 'string' && t.api_domain ? { apiDomain: t.api_domain } : {}),
    // The person's data centre: its accounts server issues and refreshes their tokens.
    configFromCallback: (q, flow) => {
      const given = q['accounts-server'];
      if (given === undefined || given === '') return {};
      const server = accountsServerOf(given, flow);
      if (!server) throw new OAuthCallbackError('accounts-server', 'accounts-server is not one of Zoho’s accounts servers');
      return { accountsServer: server };
    },
    tokenUrlFor: (config, flow) => {
      const server = accountsServerOf(config.accountsServer, flow);
      return server ? `${server}/oauth/v2/token` : undefined;
    },
  },
  configSchema: {
    type: 'object',
    required: ['accessToken', 'apiDomain'],
    additionalProperties: false,
    properties: {
      accessToken: {
        type: 'string',
        title: 'Access token',
        description: 'An OAuth access token (sent as `Authorization: Zoho-oauthtoken <token>`), e.g. from a Self Client in the API console',
        format: 'password',
        writeOnly: true,
        minLength: 8,
        maxLength: 4096,
      },
      apiDomain: {
        type: 'string',
        title: 'API domain',
        description:
          'The data centre’s API domain: https://www.zohoapis.com (US), .eu, .in, .com.au, .jp, .ca, .com.cn, .sa or .uk. OAuth connections take it from the token answer.',
        format: 'uri',
        default: ZOHO_DEFAULT_API_DOMAIN,
        maxLength: 2000,
      },
      webhookToken: {
        type: 'string',
        title: 'Notification token',
        description:
          'The `token` given to Zoho’s watch channel (at most 50 characters); each notification carries it back and is refused without it',
        format: 'password',
        writeOnly: true,
        minLength: 16,
        maxLength: 50,
      },
      accountsServer: {
        type: 'string',
        title: 'Accounts server',
        description:
          'The data centre’s accounts server, which refreshes OAuth tokens (set by the OAuth connection; used only when it is one of Zoho’s or the configured OAUTH_ZOHO_AUTHORIZE_URL’s)',
        format: 'uri',
        maxLength: 200,
      },
      apiVersion: {
        type: 'string',
        title: 'API version',
        enum: ZOHO_API_VERSIONS,
        default: ZOHO_DEFAULT_VERSION,
      },
      requestsPerSecond: {
        type: 'number',
        title: 'Requests per second',
        description: 'Client-side pace of all calls; unset: 5/s; 0: none (fakes, benchmarks)',
        minimum: 0,
        maximum: 25,
      },
      creditReserve: {
        type: 'integer',
        title: 'Credit reserve',
        description: `Syncs stop (partial, resumed by the next run) when Zoho reports fewer API credits left than this; default ${DEFAULT_CREDIT_RESERVE}`,
        minimum: 0,
        maximum: 10_000_000,
      },
    },
  },
  setupInstructions: [
    '## Connect Zoho CRM',
    '1. **OAuth** (recommended): connect through `/api/integrations/oauth/zoho/authorize`. The token answer names the data centre’s `api_domain`, and the callback its accounts server; both are kept. Scopes: `ZohoCRM.modules.contacts.ALL` (`.READ` is enough without pushes), `ZohoCRM.org.READ`, `ZohoSearch.securesearch.READ`, `ZohoCRM.settings.layouts.READ`, `ZohoCRM.notifications.ALL` (the watch channel).',
    '   **Or a pasted token**: in the API console (https://api-console.zoho.com, or your region’s), create a **Self Client**, generate a code with those scopes, exchange it for an access token, and create the integration with `{ "accessToken": "<token>", "apiDomain": "https://www.zohoapis.eu" }` (your data centre: `.com`, `.eu`, `.in`, `.com.au`, `.jp`, `.ca`, `.com.cn`, `.sa`, `.uk`). A pasted access token lasts one hour: prefer OAuth for anything but a test.',
    '2. Test it: `POST /api/integrations/:id/test` reads one contact and `GET /crm/v8/org`.',
    '3. Syncs read `GET /crm/v8/Contacts` (200 a page; past the first 2,000 records by `page_token`), incremental ones with `If-Modified-Since`, and deletions (recycle bin and permanent) from `GET /crm/v8/Contacts/deleted?type=all`. Zoho keeps deleted records listed 60 days (recycle bin) or 120 days (permanent): run an incremental sync at least that often.',
    '4. Notifications: set a `webhookToken` (16 to 50 random characters) on the integration. When the service knows its public address (`PUBLIC_BASE_URL`), it opens the watch channel itself within 10 minutes of the integration being active (`WEBHOOK_CHANNELS_CRON`): `POST {apiDomain}/crm/v8/actions/watch` with a channel id of its own (a random number), `events: ["Contacts.all"]`, the token and `<PUBLIC_BASE_URL>/api/webhooks/zoho/<integration id>`, for a little under a week (Zoho’s maximum). It enables the channel again 48 hours before it expires (`WEBHOOK_CHANNEL_RENEW_AHEAD_HOURS`), at once when the token changes, retries a refusal with backoff (the log says `webhook channel not kept`, with Zoho’s answer), and disables it when the integration is deleted, disconnected or turned off, or its token removed (and enables it again once it is active with a token). Scope `ZohoCRM.notifications.ALL` (connect again if the integration was connected without it). Without `PUBLIC_BASE_URL`, enable the channel yourself with that same body and enable it again before a week is out. Missed notifications are caught by the next incremental sync.',
    '   Each notification’s `token` is checked in constant time; a notification without the right token is refused (401). Notifications name records, not their contents: each insert/update is read back in batches of 100, each delete removes the user.',
    '5. Zoho counts API credits per 24 hours by edition. When Zoho reports fewer than `creditReserve` (default 1,000) left, a sync (or a push) stops cleanly and the next run resumes it.',
    '6. Pushing users (`direction` push or both): new people go through `POST /crm/v8/Contacts/upsert` matched by Email (100 a call), linked ones through `PUT /crm/v8/Contacts`. Default mapping: firstName → First_Name, lastName → Last_Name, email → Email, phone → Phone, company → Account_Name (the account of that name), title → Title. Last_Name is mandatory in Zoho: a user without one gets their display name (else the local part of their email). `onUserDeleted: delete` sends the contact to the recycle bin.',
  ].join('\n'),
};
