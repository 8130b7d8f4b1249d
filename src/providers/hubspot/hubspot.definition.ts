import type { ProviderDefinition } from '../provider';
import type { PushFacts } from '../writer';

export const HUBSPOT_DEFAULT_URL = 'https://api.hubapi.com';
/** The share of a private app's daily calls left for the account's other tools (apiReservePercent). */
export const HUBSPOT_DEFAULT_API_RESERVE_PERCENT = 10;

/** HubSpot allows 5 search requests per second per account, apart from the ten-secondly budget. */
export const DEFAULT_SEARCH_PER_SECOND = 4;

/**
 * Default contact properties a mapping may name (internal names, writable through the CRM
 * API). Custom properties are any other internal name (lower case, digits, underscores).
 */
export const HUBSPOT_WRITABLE_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'mobilephone',
  'fax',
  'company',
  'jobtitle',
  'website',
  'address',
  'city',
  'state',
  'zip',
  'country',
  'industry',
  'annualrevenue',
  'numemployees',
  'salutation',
  'message',
  'lifecyclestage',
  'hs_lead_status',
  'hubspot_owner_id',
  'hs_language',
  'twitterhandle',
  'date_of_birth',
] as const;

/**
 * Seed 003's mapping; deletion archives (HubSpot's API delete is an archive, restorable for 90
 * days: POST .../batch/archive). A permanent GDPR delete is another endpoint
 * (POST /crm/v3/objects/contacts/gdpr-delete, one contact a call) and is not offered here.
 */
export const hubspotPush: PushFacts = {
  defaultMapping: { firstName: 'firstname', lastName: 'lastname', email: 'email', phone: 'phone', company: 'company', title: 'jobtitle' },
  knownFields: HUBSPOT_WRITABLE_PROPERTIES,
  customFieldPattern: '^[a-z][a-z0-9_]*$',
  deletePolicies: ['archive'],
  directions: ['pull', 'push', 'both'],
  defaultDirection: 'pull',
};

export const hubspotDefinition: ProviderDefinition = {
  name: 'hubspot',
  displayName: 'HubSpot CRM',
  category: 'CRM',
  icon: 'hubspot',
  description: 'HubSpot CRM: contacts become users here, kept current by webhooks and incremental syncs.',
  apiVersion: 'v3',
  authModes: ['api_key', 'oauth2'],
  // 100 requests per 10 s for a private app on a free or starter portal (150 on professional
  // and enterprise): the lower figure, so any portal stays under it.
  rateLimit: { requests: 100, perMs: 10_000 },
  routingKeyField: 'portalId',
  webhooks: true,
  push: hubspotPush,
  oauth: {
    authorizeUrl: 'https://app.hubspot.com/oauth/authorize',
    tokenUrl: 'https://api.hubapi.com/oauth/v1/token',
    scopes: ['oauth', 'crm.objects.contacts.read', 'crm.objects.contacts.write'],
    // HubSpot documents no PKCE for its code flow (unconfirmed); the state still binds it.
    pkce: false,
    accessTokenField: 'accessToken',
  },
  configSchema: {
    type: 'object',
    required: ['accessToken'],
    additionalProperties: false,
    properties: {
      accessToken: {
        type: 'string',
        title: 'Access token',
        description: 'A private app’s access token (Settings → Integrations → Private Apps), or an OAuth access token',
        format: 'password',
        writeOnly: true,
        minLength: 8,
      },
      appSecret: {
        type: 'string',
        title: 'App client secret',
        description: 'Signs the webhooks HubSpot sends (the app’s Auth tab → Client secret); without it webhooks are refused',
        format: 'password',
        writeOnly: true,
        minLength: 8,
      },
      portalId: {
        type: ['string', 'integer'],
        title: 'Portal (Hub) ID',
        description: 'The HubSpot account; webhooks are routed by it. Learned at the connection test when left out.',
        pattern: '^[1-9][0-9]{0,19}$',
        minimum: 1,
      },
      baseUrl: { type: 'string', title: 'API base URL', format: 'uri', default: HUBSPOT_DEFAULT_URL },
      apiReservePercent: {
        type: 'number',
        title: 'API budget reserve (%)',
        description:
          'Share of a private app’s daily API calls (X-HubSpot-RateLimit-Daily-Remaining) left for the account’s other tools: at or below it a sync stops cleanly and is resumed later',
        minimum: 0,
        maximum: 90,
        default: HUBSPOT_DEFAULT_API_RESERVE_PERCENT,
      },
      requestsPerSecond: {
        type: 'number',
        title: 'Requests per second',
        description: 'Client-side pace of all calls; unset: 10/s (HubSpot’s 100 per 10 s); 0: none (fakes, benchmarks)',
        minimum: 0,
        maximum: 100,
      },
      searchRequestsPerSecond: {
        type: 'number',
        title: 'Search requests per second',
        description: 'Incremental syncs use the search API, limited by HubSpot to 5 requests per second per account (0: not paced)',
        minimum: 0,
        maximum: 5,
        default: DEFAULT_SEARCH_PER_SECOND,
      },
    },
  },
  setupInstructions: [
    '## Connect HubSpot',
    '1. In HubSpot, create a private app (**Settings → Integrations → Private Apps**) with the scopes `crm.objects.contacts.read` and `crm.objects.contacts.write` (the write scope lets our users be pushed to HubSpot), and copy its access token.',
    '2. Create the integration with `{ "accessToken": "<token>" }`.',
    '3. Test it: `POST /api/integrations/:id/test` reads `GET /account-info/v3/details` and stores the account’s `portalId`, which routes its webhooks.',
    '4. Webhooks: in the app’s **Webhooks** tab, set the target URL to `<PUBLIC_BASE_URL>/api/webhooks/hubspot` and subscribe to contact creation, deletion, privacy deletion, restore, merge and property changes (email, firstname, lastname, phone, jobtitle, company). Add the app’s client secret as `appSecret`: requests are checked against the v3 signature and refused when older than 5 minutes.',
    '5. HubSpot allows 100 requests per 10 seconds for a private app (searches: 5 per second); the integration keeps under both.',
    '6. **Push** (`direction`: `push` or `both`): users go to HubSpot in batches of 100: linked contacts by id (`batch/update`), others by email (`batch/upsert` with `idProperty: email`, so a retry never duplicates), people without an email by `batch/create`. `pushMapping` overrides the default mapping (firstName → firstname, lastName → lastname, email → email, phone → phone, company → company, title → jobtitle). A value our user lacks clears the property of a linked contact, and is left out when creating. `onUserDeleted: archive` archives the contact (restorable in HubSpot for 90 days); a permanent GDPR deletion is done in HubSpot itself.',
  ].join('\n'),
};
