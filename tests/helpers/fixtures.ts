import { randomBytes } from 'node:crypto';
import { ADMIN_KEY, INTERNAL_KEY, type TestContext } from './test-app';

export const uniq = (prefix = 'x') => `${prefix}-${randomBytes(4).toString('hex')}`;

export async function createOrganization(ctx: TestContext, body: Record<string, unknown> = {}): Promise<{ id: number; slug: string }> {
  const res = await ctx.http
    .post('/api/organizations')
    .set('x-api-key', ADMIN_KEY)
    .send({ name: uniq('Org'), ...body });
  if (res.status !== 201) throw new Error(`createOrganization: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}

export async function createOrganizationKey(ctx: TestContext, organizationId: number): Promise<string> {
  const res = await ctx.http
    .post('/api/api-keys')
    .set('x-api-key', ADMIN_KEY)
    .send({ name: 'org key', scope: 'organization', organizationId });
  if (res.status !== 201) throw new Error(`createOrganizationKey: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.key;
}

export async function createUser(ctx: TestContext, organizationId: number, body: Record<string, unknown> = {}) {
  const res = await ctx.http
    .post('/api/users')
    .set('x-api-key', ADMIN_KEY)
    .send({ organizationId, email: `${uniq('u')}@example.com`, name: 'Some User', ...body });
  if (res.status !== 201) throw new Error(`createUser: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data as { id: number; email: string; organizationId: number };
}

export function pushUser(i: number, overrides: Record<string, unknown> = {}) {
  return {
    id: `user-${i}`,
    kindeUserId: `kinde-${i}`,
    email: `user${i}@company.com`,
    name: `User ${i}`,
    isActive: true,
    isAdmin: false,
    department: 'Sales',
    title: 'Sales Manager',
    roles: ['user'],
    permissions: ['read'],
    ...overrides,
  };
}

export function pushBody(tenantId: string, users: unknown[], extra: Record<string, unknown> = {}) {
  return {
    operation: 'user_sync',
    tenant: { id: tenantId, name: `Company ${tenantId}`, subdomain: tenantId.toLowerCase(), kindeOrgId: `kinde-org-${tenantId}` },
    users,
    metadata: { syncTime: new Date().toISOString(), syncedBy: 'wrapper-user-sync-service', syncType: 'full', applicationCode: 'crm' },
    ...extra,
  };
}

export function push(ctx: TestContext, tenantId: string, body: unknown, headers: Record<string, string> = {}) {
  return ctx.http
    .post('/api/internal/sync/users')
    .set({ 'X-Internal-API-Key': INTERNAL_KEY, 'X-Tenant-ID': tenantId, 'X-Sync-Source': 'wrapper', ...headers })
    .send(body as object);
}

/** A new organization with a Wealthbox integration pointed at `fake` (no client-side rate limit). */
export async function createWealthboxIntegration(
  ctx: TestContext,
  fake: { token: string; url: string },
  config: Record<string, unknown> = {},
): Promise<{ orgId: number; id: number; body: Record<string, unknown> }> {
  const org = await createOrganization(ctx);
  const res = await ctx.http
    .post('/api/integrations')
    .set('x-api-key', ADMIN_KEY)
    .send({
      organizationId: org.id,
      provider: 'wealthbox',
      name: 'WB',
      config: { apiKey: fake.token, baseUrl: fake.url, requestsPerSecond: 0, ...config },
    });
  if (res.status !== 201) throw new Error(`createWealthboxIntegration: ${res.status} ${JSON.stringify(res.body)}`);
  return { orgId: org.id, id: res.body.data.id, body: res.body.data };
}
