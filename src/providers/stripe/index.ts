import { accountProvider, field, text, tokenConfigSchema } from '../account-connector';

const STRIPE_API = 'https://api.stripe.com';

/** Stripe (seed 004): a Connect account, connected by OAuth (Standard accounts). */
export const stripe = accountProvider({
  definition: {
    name: 'stripe',
    displayName: 'Stripe',
    category: 'Payments',
    icon: 'stripe',
    description: 'Stripe: a connected account, by Stripe Connect OAuth.',
    apiVersion: '2024-06-20',
    authModes: ['oauth2', 'api_key'],
    // Stripe allows 100 read requests a second in live mode (25 in test mode): the lower one.
    rateLimit: { requests: 25, perMs: 1000 },
    routingKeyField: null,
    webhooks: false,
    oauth: {
      authorizeUrl: 'https://connect.stripe.com/oauth/authorize',
      tokenUrl: 'https://connect.stripe.com/oauth/token',
      scopes: ['read_write'],
      // Stripe Connect's OAuth documents no PKCE; the state binds the flow.
      pkce: false,
      accessTokenField: 'accessToken',
      // The connected account: what Stripe's webhooks and Stripe-Account headers name.
      configFromToken: (t) => (typeof t.stripe_user_id === 'string' ? { stripeUserId: t.stripe_user_id } : {}),
      legacyEnv: { clientId: 'STRIPE_CLIENT_ID', clientSecret: 'STRIPE_CLIENT_SECRET' },
    },
    configSchema: tokenConfigSchema(
      {
        tokenTitle: 'Access token',
        tokenDescription: 'Set by the Connect OAuth connection (or a restricted key pasted for a test)',
        baseUrl: STRIPE_API,
      },
      {
        stripeUserId: {
          type: 'string',
          title: 'Connected account',
          description: 'acct_… from the token answer',
          pattern: '^acct_[A-Za-z0-9]{1,64}$',
        },
      },
    ),
    setupInstructions: [
      '## Connect Stripe',
      '1. In the platform’s Stripe Dashboard (Connect → Settings → OAuth), add `<PUBLIC_BASE_URL>/api/integrations/oauth/stripe/callback` as a redirect URI.',
      '2. Set `OAUTH_STRIPE_CLIENT_ID` (the Connect client id, `ca_…`) and `OAUTH_STRIPE_CLIENT_SECRET` (the platform’s secret key: Stripe authenticates the code exchange with it), or seed 004’s `STRIPE_CLIENT_ID` / `STRIPE_CLIENT_SECRET`.',
      '3. Open `GET /api/integrations/oauth/stripe/authorize` with the organization’s API key: the account is connected with `read_write`, its `stripe_user_id` is kept, and the connection is tested with `GET /v1/account`.',
    ].join('\n'),
  },
  baseUrl: () => STRIPE_API,
  authHeaders: (token) => ({ Authorization: `Bearer ${token}` }),
  async test(http) {
    const { data } = await http.get('/v1/account');
    const account = field(data);
    return {
      account: text(account.id),
      user: text(field(data, 'business_profile').name) ?? text(account.email),
      details: { country: text(account.country) },
    };
  },
});
