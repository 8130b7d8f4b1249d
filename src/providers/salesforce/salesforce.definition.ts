import type { ProviderDefinition } from '../provider';
import type { PushFacts } from '../writer';

/**
 * Summer '26 (v67.0) is the newest release the REST API guide lists as generally available at
 * the time of writing; Salesforce keeps old versions for years, so an org on a later release
 * still answers it.
 */
export const SALESFORCE_DEFAULT_API_VERSION = 'v67.0';

/** Share of the org's daily API calls a run leaves for the customer's other tools. */
export const DEFAULT_API_RESERVE_PERCENT = 10;

/**
 * Salesforce documents no per-second limit for REST; what bounds us is the org's calls per
 * 24 hours (Sforce-Limit-Info, kept to its reserve by the connector) and 25 concurrent
 * long-running (20 s+) requests per org, which one run (a page and its prefetch) never nears.
 * 10/s is far above what a sync needs (a page holds up to 2,000 contacts) and only keeps a
 * runaway loop from spending the daily budget in minutes.
 */
export const DEFAULT_REQUESTS_PER_SECOND = 10;

/**
 * Writable standard Contact fields a mapping may name. `Account.Name` is not a Contact field:
 * the writer finds (or creates) the Account of that name and sets the Contact's AccountId.
 */
export const SALESFORCE_CONTACT_FIELDS = [
  'FirstName',
  'LastName',
  'Email',
  'Phone',
  'MobilePhone',
  'HomePhone',
  'OtherPhone',
  'Title',
  'Department',
  'Description',
  'Salutation',
  'MailingStreet',
  'MailingCity',
  'MailingState',
  'MailingPostalCode',
  'MailingCountry',
  'LeadSource',
  'Account.Name',
] as const;

/** Seed 003's mapping; Contacts have no company field, so company names the Contact's Account. */
export const salesforcePush: PushFacts = {
  defaultMapping: { firstName: 'FirstName', lastName: 'LastName', email: 'Email', phone: 'Phone', company: 'Account.Name', title: 'Title' },
  knownFields: SALESFORCE_CONTACT_FIELDS,
  customFieldPattern: '^[A-Za-z][A-Za-z0-9_]*__c$',
  deletePolicies: ['delete'],
  directions: ['pull', 'push', 'both'],
  defaultDirection: 'pull',
};

export const salesforceDefinition: ProviderDefinition = {
  name: 'salesforce',
  displayName: 'Salesforce',
  category: 'CRM',
  icon: 'salesforce',
  description: 'Salesforce Sales Cloud: Contacts become users here, kept current by incremental syncs (poll only).',
  apiVersion: SALESFORCE_DEFAULT_API_VERSION,
  authModes: ['api_key', 'oauth2'],
  rateLimit: { requests: DEFAULT_REQUESTS_PER_SECOND, perMs: 1000 },
  routingKeyField: null,
  webhooks: false,
  push: salesforcePush,
  oauth: {
    authorizeUrl: 'https://login.salesforce.com/services/oauth2/authorize',
    tokenUrl: 'https://login.salesforce.com/services/oauth2/token',
    scopes: ['api', 'refresh_token'],
    // The web server flow takes code_challenge / code_verifier (S256); a connected app may
    // even require it ("Require PKCE").
    pkce: true,
    accessTokenField: 'accessToken',
    // The token answer names the org's instance (My Domain); it has no expires_in: the
    // session lasts the org's timeout and a 401 triggers the refresh.
    configFromToken: (token) => (typeof token.instance_url === 'string' && token.instance_url ? { instanceUrl: token.instance_url } : {}),
  },
  configSchema: {
    type: 'object',
    required: ['instanceUrl', 'accessToken'],
    additionalProperties: false,
    properties: {
      instanceUrl: {
        type: 'string',
        title: 'Instance URL',
        description: 'The org’s My Domain URL, e.g. https://yourorg.my.salesforce.com (filled in by an OAuth connection)',
        format: 'uri',
        pattern: '^https?://[^/?#]+/?$',
        maxLength: 500,
      },
      accessToken: {
        type: 'string',
        title: 'Access token',
        description: 'An OAuth access token (session id) of the integration user; an OAuth connection fills it in and refreshes it',
        format: 'password',
        writeOnly: true,
        minLength: 8,
        maxLength: 4096,
      },
      apiVersion: {
        type: 'string',
        title: 'API version',
        description: 'REST API version used in every path (/services/data/<version>/...)',
        pattern: '^v\\d+\\.\\d$',
        default: SALESFORCE_DEFAULT_API_VERSION,
      },
      apiReservePercent: {
        type: 'number',
        title: 'API budget reserve (%)',
        description:
          'Share of the org’s daily API calls (Sforce-Limit-Info) a sync leaves for the customer’s other tools: at or below it the sync stops cleanly and the next run resumes',
        minimum: 0,
        maximum: 90,
        default: DEFAULT_API_RESERVE_PERCENT,
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
    '## Connect Salesforce',
    '1. **OAuth (recommended):** create a Connected App (or External Client App) with OAuth enabled, the scopes `api` and `refresh_token` (“Perform requests at any time”), and the callback URL of this service; PKCE is used. Connecting stores the access token and the org’s `instance_url`, and refreshes the token when Salesforce answers 401.',
    '2. **Pasted token:** create the integration with `{ "instanceUrl": "https://yourorg.my.salesforce.com", "accessToken": "<session id>" }`. It cannot be refreshed: when the session expires, paste a new one.',
    '3. The integration user needs API Enabled and read access to Contacts, their Email, Phone and Title fields, and Account names.',
    '4. Test it: `POST /api/integrations/:id/test` reads the org (`SELECT … FROM Organization`) and reports the API calls used today.',
    '5. A sync reads Contacts with SOQL (`/services/data/<version>/query`, up to 2,000 a page), by `LastModifiedDate` for incremental runs, and deletions from `sobjects/Contact/deleted` (Salesforce keeps about 15 days of them; older ones are reconciled by the next full sync).',
    '6. **API budget:** every call counts against the org’s daily API limit, shared with the customer’s other tools. A sync stops (status `partial`, resumed by the next run) when the calls left fall to `apiReservePercent` of the limit (default 10%).',
    '7. **Push** (`direction`: `push` or `both`): users are written as Contacts with sObject Collections, 200 a call: linked Contacts updated by Id; others looked up by Email first (one SOQL query per batch, so a retried push does not duplicate them), then updated or created. `company` names the Contact’s Account: found by Name, or created. Salesforce requires LastName: when a user has none, their display name (else the local part of their email) is sent. A value our user lacks clears the field of a linked Contact (never LastName or the Account), and is left out otherwise. `onUserDeleted: delete` deletes the Contact (to Salesforce’s recycle bin). The integration user then also needs create and edit access to Contacts and Accounts (and delete for `delete`).',
    '8. **Poll only:** Salesforce pushes changes only through the Streaming API (CometD/Bayeux), the Pub/Sub API (gRPC) and Outbound Messages (SOAP); none of them is an HTTP webhook this service receives, so changes arrive by the scheduled incremental syncs.',
  ].join('\n'),
};
