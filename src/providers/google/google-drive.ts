import { accountProvider, field, text, tokenConfigSchema } from '../account-connector';
import type { ProviderModule } from '../provider';
import { perSecond } from '../rate-limiter';
import { bearer, googleOAuth } from './google.oauth';
import { exportScheduleField } from '../writer';
import { createDriveSink, DRIVE_CHUNK_UNIT, DRIVE_DEFAULT_CHUNK, DRIVE_URL } from './google-drive.sink';

/** Google Drive (seed 003's cloud storage): connected by OAuth; exports write files there. */
const account = accountProvider({
  definition: {
    name: 'google_drive',
    displayName: 'Google Drive',
    category: 'Cloud Storage',
    icon: 'google-drive',
    description: 'Google Drive: user exports are written there as files.',
    apiVersion: 'v3',
    authModes: ['oauth2', 'api_key'],
    // Drive allows 12,000 queries a minute per project and per user; we call it rarely.
    rateLimit: { requests: 10, perMs: 1000 },
    routingKeyField: null,
    webhooks: false,
    exports: true,
    // drive.file: only the files this app creates, not the person's whole Drive.
    oauth: googleOAuth(
      ['https://www.googleapis.com/auth/drive.file'],
      { clientId: 'GOOGLE_CLIENT_ID', clientSecret: 'GOOGLE_CLIENT_SECRET', redirectUri: 'GOOGLE_REDIRECT_URI' },
      ['google'],
    ),
    configSchema: tokenConfigSchema(
      {
        tokenTitle: 'Access token',
        tokenDescription: 'Set by the OAuth connection (or an OAuth access token pasted for a test)',
        baseUrl: DRIVE_URL,
      },
      {
        folderId: {
          type: 'string',
          title: 'Folder ID',
          description:
            'Where exports go; unset: the root of My Drive. With the drive.file scope, a folder this app created (or one opened with the Google Picker)',
          pattern: '^[A-Za-z0-9_-]{1,200}$',
        },
        exportSchedule: exportScheduleField,
        uploadUrl: {
          type: 'string',
          title: 'Upload base URL',
          description: `Where files are uploaded (/upload/drive/v3/files); unset: the API base URL (${DRIVE_URL})`,
          format: 'uri',
        },
        uploadChunkBytes: {
          type: 'integer',
          title: 'Upload chunk size (bytes)',
          description: 'Bytes per request of a resumable upload; a multiple of 256 KiB (Drive’s rule)',
          minimum: DRIVE_CHUNK_UNIT,
          maximum: 64 * 1024 * 1024,
          multipleOf: DRIVE_CHUNK_UNIT,
          default: DRIVE_DEFAULT_CHUNK,
        },
      },
    ),
    setupInstructions: [
      '## Connect Google Drive',
      '1. In Google Cloud Console, create an OAuth client (Web application) and add `<PUBLIC_BASE_URL>/api/integrations/oauth/google_drive/callback` as an authorized redirect URI (or set `OAUTH_GOOGLE_DRIVE_REDIRECT_URI` to the one you registered, e.g. seed 003’s `/integrations/oauth/google/callback`).',
      '2. Set `OAUTH_GOOGLE_DRIVE_CLIENT_ID` and `OAUTH_GOOGLE_DRIVE_CLIENT_SECRET` (or `GOOGLE_CLIENT_ID` / `GOOGLE_CLIENT_SECRET`).',
      '3. Open `GET /api/integrations/oauth/google_drive/authorize` (or `/google/authorize`) with the organization’s API key: Google asks for the `drive.file` scope (only files this app creates) with offline access, and the callback stores the tokens and tests them with `GET /drive/v3/about`.',
      '4. Exports: `POST /api/integrations/<id>/export` writes the organization’s users as `users-<org slug>-<YYYY-MM-DD>.csv` to `folderId` (unset: My Drive’s root); `exportSchedule` (a 5-field cron) runs it on a schedule.',
    ].join('\n'),
  },
  baseUrl: () => DRIVE_URL,
  authHeaders: bearer,
  async test(http) {
    const { data } = await http.get('/drive/v3/about', { params: { fields: 'user(displayName,emailAddress,permissionId)' } });
    const user = field(data, 'user');
    return { account: text(user.emailAddress), user: text(user.displayName), details: { permissionId: text(user.permissionId) } };
  },
});

export const googleDrive: ProviderModule = {
  ...account,
  createFileSink: (config, ctx) => createDriveSink(config, ctx, perSecond(account.definition.rateLimit)),
};
