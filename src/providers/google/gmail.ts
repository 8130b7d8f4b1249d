import { accountProvider, field, text, tokenConfigSchema } from '../account-connector';
import { bearer, googleOAuth } from './google.oauth';

const GMAIL_URL = 'https://gmail.googleapis.com';

/** Gmail (seed 004): connected by OAuth, read only. */
export const gmail = accountProvider({
  definition: {
    name: 'gmail',
    displayName: 'Gmail',
    category: 'Email',
    icon: 'gmail',
    description: 'Gmail: a mailbox connected by OAuth (read only).',
    apiVersion: 'v1',
    authModes: ['oauth2', 'api_key'],
    // Gmail's per-user quota is 250 units a second; a profile read costs 1.
    rateLimit: { requests: 10, perMs: 1000 },
    routingKeyField: null,
    webhooks: false,
    oauth: googleOAuth(['https://www.googleapis.com/auth/gmail.readonly'], {
      clientId: 'GMAIL_CLIENT_ID',
      clientSecret: 'GMAIL_CLIENT_SECRET',
    }),
    configSchema: tokenConfigSchema({
      tokenTitle: 'Access token',
      tokenDescription: 'Set by the OAuth connection (or an OAuth access token pasted for a test)',
      baseUrl: GMAIL_URL,
    }),
    setupInstructions: [
      '## Connect Gmail',
      '1. In Google Cloud Console, enable the Gmail API, create an OAuth client (Web application) and add `<PUBLIC_BASE_URL>/api/integrations/oauth/gmail/callback` as an authorized redirect URI.',
      '2. Set `OAUTH_GMAIL_CLIENT_ID` and `OAUTH_GMAIL_CLIENT_SECRET` (or seed 004’s `GMAIL_CLIENT_ID` / `GMAIL_CLIENT_SECRET`).',
      '3. Open `GET /api/integrations/oauth/gmail/authorize` with the organization’s API key: Google asks for `gmail.readonly` with offline access; the callback tests the tokens with `GET /gmail/v1/users/me/profile`.',
      '`gmail.readonly` is a restricted scope: an app used outside your own Google Workspace needs Google’s verification.',
    ].join('\n'),
  },
  baseUrl: () => GMAIL_URL,
  authHeaders: bearer,
  async test(http) {
    const { data } = await http.get('/gmail/v1/users/me/profile');
    const profile = field(data);
    return { account: text(profile.emailAddress), user: text(profile.emailAddress), details: { historyId: text(profile.historyId) } };
  },
});
