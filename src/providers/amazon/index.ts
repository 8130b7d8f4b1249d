import { accountProvider, field, text, tokenConfigSchema } from '../account-connector';
import { OAuthCallbackError } from '../provider';

/** SP-API's regional endpoints: a seller's marketplaces decide which one holds its data. */
const REGIONS: Record<string, string> = {
  na: 'https://sellingpartnerapi-na.amazon.com',
  eu: 'https://sellingpartnerapi-eu.amazon.com',
  fe: 'https://sellingpartnerapi-fe.amazon.com',
};

/**
 * Amazon Selling Partner API (seed 004), authorized by a seller in Seller Central and
 * Login with Amazon's token endpoint. Not RFC 6749 on the way in: the consent page takes the
 * app's application_id (not the LWA client id) and sends back spapi_oauth_code and
 * selling_partner_id; the exchange and refreshes are standard.
 */
export const amazon = accountProvider({
  definition: {
    name: 'amazon',
    displayName: 'Amazon Selling Partner',
    category: 'Marketplace',
    icon: 'amazon',
    description: 'Amazon SP-API: a seller account, authorized in Seller Central.',
    apiVersion: 'sellers/v1',
    authModes: ['oauth2', 'api_key'],
    // getMarketplaceParticipations allows 0.016 requests a second with a burst of 15: a test
    // now and then fits the burst, and spacing calls a minute apart would only make a person
    // wait. SP-API's 429s (with their rate headers) are retried by the client.
    rateLimit: null,
    routingKeyField: null,
    webhooks: false,
    oauth: {
      authorizeUrl: 'https://sellercentral.amazon.com/apps/authorize/consent',
      tokenUrl: 'https://api.amazon.com/auth/o2/token',
      scopes: [],
      pkce: false,
      accessTokenField: 'accessToken',
      codeParam: 'spapi_oauth_code',
      requiredSettings: ['APPLICATION_ID'],
      // Seller Central's consent page: the app's id, our state, where to come back, and
      // version=beta while the app is a draft (OAUTH_AMAZON_DRAFT=true).
      authorizeQuery: (standard, setting) => ({
        application_id: setting('APPLICATION_ID') ?? '',
        state: standard.state,
        redirect_uri: standard.redirect_uri,
        ...(setting('DRAFT') === 'true' ? { version: 'beta' } : {}),
      }),
      configFromCallback: (q) => {
        const id = q.selling_partner_id;
        if (id === undefined) return {};
        if (typeof id !== 'string' || !/^[A-Z0-9]{1,64}$/.test(id)) {
          throw new OAuthCallbackError('selling_partner_id', 'selling_partner_id is not a seller id');
        }
        return { sellingPartnerId: id };
      },
      legacyEnv: { clientId: 'AMAZON_CLIENT_ID', clientSecret: 'AMAZON_CLIENT_SECRET' },
    },
    configSchema: tokenConfigSchema(
      {
        tokenTitle: 'Access token',
        tokenDescription: 'Set by the connection (an LWA access token pasted for a test)',
        baseUrl: REGIONS.na,
      },
      {
        region: {
          type: 'string',
          title: 'Region',
          enum: Object.keys(REGIONS),
          default: 'na',
          description: 'na, eu or fe: the SP-API endpoint',
        },
        sellingPartnerId: { type: 'string', title: 'Selling partner ID', pattern: '^[A-Z0-9]{1,64}$' },
      },
    ),
    setupInstructions: [
      '## Connect an Amazon seller account',
      '1. Register the app in Seller Central (Develop Apps), with `<PUBLIC_BASE_URL>/api/integrations/oauth/amazon/callback` as its OAuth redirect URI.',
      '2. Set `OAUTH_AMAZON_APPLICATION_ID` (the app id, `amzn1.sp.solution…`), `OAUTH_AMAZON_CLIENT_ID` and `OAUTH_AMAZON_CLIENT_SECRET` (the LWA credentials, or seed 004’s `AMAZON_CLIENT_ID` / `AMAZON_CLIENT_SECRET`), and `OAUTH_AMAZON_DRAFT=true` while the app is a draft. Sellers outside North America: set `OAUTH_AMAZON_AUTHORIZE_URL` to their Seller Central’s consent page and the integration’s `region`.',
      '3. Open `GET /api/integrations/oauth/amazon/authorize` with the organization’s API key: the seller consents, the `selling_partner_id` is kept, and the connection is tested with `GET /sellers/v1/marketplaceParticipations`.',
    ].join('\n'),
  },
  baseUrl: (config) => REGIONS[typeof config.region === 'string' ? config.region : 'na'] ?? REGIONS.na,
  // SP-API takes the LWA token in its own header (no AWS signature since October 2023).
  authHeaders: (token) => ({ 'x-amz-access-token': token }),
  async test(http) {
    const { data } = await http.get('/sellers/v1/marketplaceParticipations');
    const payload = Array.isArray(field(data).payload) ? (field(data).payload as unknown[]) : [];
    const marketplaces = payload.map((p) => text(field(p, 'marketplace').id)).filter((m): m is string => m !== null);
    return { account: marketplaces.length ? `${marketplaces.length} marketplace(s)` : null, user: null, details: { marketplaces } };
  },
});
