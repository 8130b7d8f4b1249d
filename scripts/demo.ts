/**
 * npm run demo: the service's main job with no CRM credentials. Starts the service on an
 * embedded PostgreSQL (.data/demo-postgres, a fresh database each time) and a fake CRM
 * with a few thousand contacts, then through the API: creates an organization, an API key
 * and an integration, tests the connection, runs a full sync (its progress is logged),
 * prints the counts and a few curl commands, and keeps running until Ctrl-C.
 *
 * DEMO_PROVIDER (wealthbox | hubspot | gohighlevel | salesforce | zoho), DEMO_PORT (3000), DEMO_CONTACTS (3000).
 * DEMO_OAUTH=1 (with hubspot, salesforce or zoho): also connects by OAuth against a fake authorization server,
 * printing the consent URL a person would open and following it as their browser would.
 */
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { KIT_PROVIDERS, startFakeKit } from '../fake-crm/kits';
import { FakeOAuth } from '../fake-crm/oauth/fake-oauth';
import { bootstrap, createApp, createServices } from '../src/app';
import { loadConfig } from '../src/config/config';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { migrate } from '../src/db/migrator';
import { createPrismaClient } from '../src/db/prisma';
import { developmentEncryptionKey } from '../src/lib/dev-encryption-key';
import { createLogger } from '../src/lib/logger';

const PORT = Number(process.env.DEMO_PORT ?? 3000);
const CONTACTS = Number(process.env.DEMO_CONTACTS ?? 3000);
const PROVIDER = process.env.DEMO_PROVIDER ?? 'wealthbox';
const OAUTH = process.env.DEMO_OAUTH === '1' || process.env.DEMO_OAUTH === 'true';

async function main(): Promise<void> {
  const logger = createLogger({ level: 'info', json: false });
  const say = (text: string) => process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);

  say('1. Embedded PostgreSQL (.data/demo-postgres) and a fresh "crm_demo" database');
  const db = await startEmbeddedPostgres({ dir: '.data/demo-postgres', port: 54339, database: 'postgres', logger });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS crm_demo WITH (FORCE)');
  await admin.query('CREATE DATABASE crm_demo');
  await admin.end();
  const url = db.url.replace(/\/postgres$/, '/crm_demo');
  await migrate(url, logger);

  if (!(KIT_PROVIDERS as readonly string[]).includes(PROVIDER)) throw new Error(`DEMO_PROVIDER must be one of ${KIT_PROVIDERS.join(', ')}`);
  say(`2. A fake ${PROVIDER} with ${CONTACTS.toLocaleString('en-US')} contacts (fake-crm/${PROVIDER})`);
  const oauthFlavors = ['hubspot', 'salesforce', 'zoho'] as const;
  const flavor = oauthFlavors.find((f) => f === PROVIDER);
  if (OAUTH && !flavor) throw new Error(`DEMO_OAUTH works with DEMO_PROVIDER=${oauthFlavors.join(', ')}`);
  const auth = OAUTH && flavor ? await new FakeOAuth({ flavor, rotateRefreshTokens: true }).start() : null;
  const fake = await startFakeKit(PROVIDER, CONTACTS, { acceptToken: auth ? (t) => auth.isValidAccessToken(t) : undefined });
  logger.info(`fake ${PROVIDER} at ${fake.url}`);
  const oauthEnv: Record<string, string> = {};
  if (auth) {
    // Salesforce's instance_url and Zoho's api_domain in the token answer point at the fake CRM.
    auth.instanceUrl = fake.url;
    auth.apiDomain = fake.url;
    auth.addClient({
      clientId: 'demo-client',
      clientSecret: 'demo-client-secret',
      redirectUris: [`http://localhost:${PORT}/api/integrations/oauth/${PROVIDER}/callback`],
    });
    const prefix = `OAUTH_${PROVIDER.toUpperCase()}_`;
    Object.assign(oauthEnv, {
      [`${prefix}CLIENT_ID`]: 'demo-client',
      [`${prefix}CLIENT_SECRET`]: 'demo-client-secret',
      [`${prefix}AUTHORIZE_URL`]: auth.authorizeUrl,
      [`${prefix}TOKEN_URL`]: auth.tokenUrl,
      PUBLIC_BASE_URL: `http://localhost:${PORT}`,
    });
    logger.info(`fake OAuth authorization server at ${auth.url}`);
  }

  say(`3. The service on http://localhost:${PORT}`);
  const config = loadConfig({
    ALLOW_PRIVATE_URLS: 'true',
    ...process.env,
    ...oauthEnv,
    DATABASE_URL: url,
    PORT: String(PORT),
    CRON_ENABLED: 'false',
    LOG_LEVEL: 'warn',
  });
  config.encryption.key ??= developmentEncryptionKey('.data').key;
  const prisma = createPrismaClient(url, config.database);
  const services = createServices({ config, prisma, logger });
  await bootstrap({ config, logger }, services);
  const app = createApp({ config, prisma, logger: createLogger({ level: 'warn', json: false }) }, services);
  const server = app.listen(PORT, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://localhost:${(server.address() as AddressInfo).port}`;
  const { key: adminKey } = await services.apiKeys.create({ name: 'demo admin', scope: 'admin' });

  const call = async (method: string, path: string, body?: unknown, key = adminKey) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };

  say(`4. Through the API: an organization, its API key, a ${PROVIDER} integration, a connection test`);
  const org = (await call('POST', '/api/organizations', { name: 'Acme Wealth Advisors' })).data as { id: number };
  const orgKey = (
    (await call('POST', '/api/api-keys', { name: 'acme', scope: 'organization', organizationId: org.id })).data as { key: string }
  ).key;
  const integration = (
    await call('POST', '/api/integrations', { provider: PROVIDER, name: `Acme ${PROVIDER}`, config: fake.config }, orgKey)
  ).data as { id: number };
  const test = await call('POST', `/api/integrations/${integration.id}/test`, undefined, orgKey);
  logger.info(`connection test: ${test.message}`);

  if (auth) {
    say('4b. OAuth: the consent URL a person would open, then their browser following the redirects');
    const started = (await call('POST', `/api/integrations/oauth/${PROVIDER}/authorize`, undefined, orgKey)).data as { url: string };
    logger.info(`open: ${started.url}`);
    const consent = await fetch(started.url, { redirect: 'manual' });
    const back = consent.headers.get('location') as string;
    logger.info(`the provider redirects to: ${back.replace(/code=[^&]+/, 'code=…')}`);
    const done = (await (await fetch(back)).json()) as { data: { integrationId: number; status: string; test: { message: string } } };
    logger.info(
      `connected by OAuth: integration ${done.data.integrationId} is ${done.data.status} (${done.data.test.message}); tokens sealed, refreshed ahead of expiry`,
    );
  }

  say('5. A full sync (progress is logged while it runs)');
  const run = (await call('POST', `/api/integrations/${integration.id}/sync?mode=full&wait=true`, undefined, orgKey)).data as Record<
    string,
    number
  >;
  logger.info(
    `sync ${run.status}: ${run.total} people read, ${run.created} created, ${run.updated} updated, ${run.unchanged} unchanged, ${run.failed} failed`,
  );
  const stats = (await call('GET', `/api/organizations/${org.id}/stats`, undefined, orgKey)).data as { users: Record<string, number> };
  logger.info(`organization now has ${stats.users.total} users (${stats.users.active} active)`);

  say('6. Explore (the service keeps running; Ctrl-C stops everything)');
  process.stdout.write(
    [
      `# In a browser: ${base}/console/ (sign in with either key)`,
      `export API_KEY=${orgKey}    # the organization's key; admin key: ${adminKey}`,
      `curl -s "${base}/api/users?limit=5&search=nguyen" -H "x-api-key: $API_KEY"`,
      `curl -s "${base}/api/organizations/${org.id}/stats" -H "x-api-key: $API_KEY"`,
      `curl -s "${base}/api/sync/runs?limit=5" -H "x-api-key: $API_KEY"`,
      `curl -s -X POST "${base}/api/integrations/${integration.id}/sync?mode=incremental&wait=true" -H "x-api-key: $API_KEY"`,
      '',
    ].join('\n'),
  );

  const stop = async () => {
    server.close();
    await services.pull.stop();
    await prisma.$disconnect();
    await fake.stop();
    await auth?.stop();
    await db.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  if (process.env.DEMO_EXIT === 'true') await stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
