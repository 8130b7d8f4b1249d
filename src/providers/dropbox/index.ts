import { accountProvider, field, text, tokenConfigSchema } from '../account-connector';
import { exportScheduleField } from '../writer';
import type { ProviderModule } from '../provider';
import { perSecond } from '../rate-limiter';
import { createDropboxSink, DROPBOX_CONTENT_URL, DROPBOX_DEFAULT_CHUNK, DROPBOX_DEFAULT_FOLDER, DROPBOX_MAX_CHUNK } from './dropbox.sink';

const DROPBOX_API = 'https://api.dropboxapi.com';

/** Dropbox (seed 003's cloud storage): connected by OAuth; exports write files there. */
const account = accountProvider({
  definition: {
    name: 'dropbox',
    displayName: 'Dropbox',
    category: 'Cloud Storage',
    icon: 'dropbox',
    description: 'Dropbox: user exports are written there as files.',
    apiVersion: '2',
    authModes: ['oauth2', 'api_key'],
    // Dropbox documents no fixed figure (limits are per app and per user); a gentle pace.
    rateLimit: { requests: 5, perMs: 1000 },
    routingKeyField: null,
    webhooks: false,
    exports: true,
    oauth: {
      authorizeUrl: 'https://www.dropbox.com/oauth2/authorize',
      tokenUrl: 'https://api.dropboxapi.com/oauth2/token',
      // Scoped apps: what exports need, and the account's name for the connection test.
      scopes: ['account_info.read', 'files.content.write'],
      pkce: true,
      // Without it Dropbox gives a short-lived access token and no refresh token.
      authorizeParams: { token_access_type: 'offline' },
      accessTokenField: 'accessToken',
      configFromToken: (t) => (typeof t.account_id === 'string' ? { accountId: t.account_id } : {}),
      legacyEnv: { clientId: 'DROPBOX_APP_KEY', clientSecret: 'DROPBOX_APP_SECRET', redirectUri: 'DROPBOX_REDIRECT_URI' },
    },
    configSchema: tokenConfigSchema(
      {
        tokenTitle: 'Access token',
        tokenDescription: 'Set by the OAuth connection (or an access token pasted for a test)',
        baseUrl: DROPBOX_API,
      },
      {
        accountId: { type: 'string', title: 'Account ID', description: 'From the token answer (dbid:…)', maxLength: 200 },
        folderPath: {
          type: 'string',
          title: 'Folder',
          description: 'Where exports go, e.g. /Exports (created when missing; in an App folder app, inside the app’s folder)',
          pattern: '^(/[^/\\u0000]+)*/?$',
          maxLength: 500,
          default: DROPBOX_DEFAULT_FOLDER,
        },
        exportSchedule: exportScheduleField,
        contentUrl: {
          type: 'string',
          title: 'Content API base URL',
          description: 'Where files are uploaded (content-upload endpoints)',
          format: 'uri',
          default: DROPBOX_CONTENT_URL,
        },
        uploadChunkBytes: {
          type: 'integer',
          title: 'Upload chunk size (bytes)',
          description: 'Bytes per upload request; a larger file is sent as an upload session of such chunks (at most 150 MiB each)',
          minimum: 1024,
          maximum: DROPBOX_MAX_CHUNK,
          default: DROPBOX_DEFAULT_CHUNK,
        },
      },
    ),
    setupInstructions: [
      '## Connect Dropbox',
      '1. In the Dropbox App Console, create a scoped app with `account_info.read` and `files.content.write`, and add `<PUBLIC_BASE_URL>/api/integrations/oauth/dropbox/callback` as a redirect URI (or set `OAUTH_DROPBOX_REDIRECT_URI` to the one you registered).',
      '2. Set `OAUTH_DROPBOX_CLIENT_ID` (the app key) and `OAUTH_DROPBOX_CLIENT_SECRET` (the app secret), or seed 003’s `DROPBOX_APP_KEY` / `DROPBOX_APP_SECRET`.',
      '3. Open `GET /api/integrations/oauth/dropbox/authorize` with the organization’s API key: the connection asks for offline access (a refresh token; access tokens last 4 hours) and is tested with `POST /2/users/get_current_account`.',
      '4. Exports: `POST /api/integrations/<id>/export` writes the organization’s users as `users-<org slug>-<YYYY-MM-DD>.csv` to `folderPath` (default `/Exports`; an existing file of that name is kept and the new one renamed `… (1).csv`); `exportSchedule` (a 5-field cron) runs it on a schedule.',
    ].join('\n'),
  },
  baseUrl: () => DROPBOX_API,
  authHeaders: (token) => ({ Authorization: `Bearer ${token}` }),
  async test(http) {
    // An RPC endpoint without arguments: no body, and no Content-Type (Dropbox refuses a JSON one with an empty body).
    const { data } = await http.post('/2/users/get_current_account', undefined, { headers: { 'Content-Type': undefined } });
    const account = field(data);
    return { account: text(account.account_id), user: text(field(data, 'name').display_name) ?? text(account.email), details: {} };
  },
});

export const dropbox: ProviderModule = {
  ...account,
  createFileSink: (config, ctx) => createDropboxSink(config, ctx, perSecond(account.definition.rateLimit)),
};
