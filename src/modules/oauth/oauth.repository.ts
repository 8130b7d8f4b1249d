import { Prisma, type Db } from '../../db/prisma';

export interface StateRow {
  organizationId: number;
  provider: string;
  codeVerifier: Prisma.JsonValue | null;
  name: string | null;
  returnTo: string | null;
  expiresAt: Date;
}

export interface TokenRow {
  integrationId: number;
  refreshToken: Prisma.JsonValue | null;
  expiresAt: Date | null;
  /** When the tokens were last written: a waiter for the lock sees whether someone refreshed. */
  lastRefreshedAt: Date | null;
}

/** OAuth states and integration tokens. */
export interface OAuthRepository {
  createState(stateHash: string, row: StateRow): Promise<void>;
  /**
   * Uses a state up (once, whatever comes next): the row, or why it cannot be used. The
   * update is the check, so two callbacks with one state cannot both pass.
   */
  consumeState(stateHash: string): Promise<{ row: StateRow } | { problem: 'unknown' | 'used' | 'expired' }>;
  tokens(integrationId: number): Promise<TokenRow | null>;
  /** The token row, locked until the transaction ends: one refresh at a time, across instances. */
  lockTokens(integrationId: number): Promise<TokenRow | null>;
  saveTokens(
    integrationId: number,
    /** refreshToken null: none (a new grant without one); scope undefined: kept as it was. */
    data: { refreshToken: Prisma.InputJsonValue | null; expiresAt: Date | null; scope?: string | null },
  ): Promise<void>;
  recordFailure(integrationId: number, error: string): Promise<void>;
  /** OAuth integrations not refreshed for `days` (some providers expire unused refresh tokens). */
  idle(days: number): Promise<number[]>;
  /** Integrations whose last refresh failed (of one organization, or all). */
  failures(
    organizationId?: number,
  ): Promise<{ integrationId: number; organizationId: number; provider: string; error: string; at: Date }[]>;
  /** Deletes states that expired more than a day ago. */
  pruneStates(): Promise<number>;
}

export function createOAuthRepository(db: Db): OAuthRepository {
  return {
    async createState(stateHash, row) {
      await db.oAuthState.create({
        data: { stateHash, ...row, codeVerifier: (row.codeVerifier ?? undefined) as Prisma.InputJsonValue | undefined },
      });
    },
    async consumeState(stateHash) {
      const [used] = await db.$queryRawUnsafe<
        {
          organization_id: number;
          provider: string;
          code_verifier: Prisma.JsonValue | null;
          name: string | null;
          return_to: string | null;
          expires_at: Date;
        }[]
      >(
        `UPDATE oauth_states SET used_at = now() WHERE state_hash = $1 AND used_at IS NULL
         RETURNING organization_id, provider, code_verifier, name, return_to, expires_at`,
        stateHash,
      );
      if (!used) {
        const known = await db.oAuthState.findUnique({ where: { stateHash }, select: { usedAt: true } });
        return { problem: known ? 'used' : 'unknown' };
      }
      if (used.expires_at.getTime() <= Date.now()) return { problem: 'expired' };
      return {
        row: {
          organizationId: used.organization_id,
          provider: used.provider,
          codeVerifier: used.code_verifier,
          name: used.name,
          returnTo: used.return_to,
          expiresAt: used.expires_at,
        },
      };
    },
    tokens: (integrationId) =>
      db.integrationToken.findUnique({
        where: { integrationId },
        select: { integrationId: true, refreshToken: true, expiresAt: true, lastRefreshedAt: true },
      }),
    async lockTokens(integrationId) {
      const [row] = await db.$queryRawUnsafe<
        { integration_id: number; refresh_token: Prisma.JsonValue | null; expires_at: Date | null; last_refreshed_at: Date | null }[]
      >(
        'SELECT integration_id, refresh_token, expires_at, last_refreshed_at FROM integration_tokens WHERE integration_id = $1 FOR UPDATE',
        integrationId,
      );
      return row
        ? {
            integrationId: row.integration_id,
            refreshToken: row.refresh_token,
            expiresAt: row.expires_at,
            lastRefreshedAt: row.last_refreshed_at,
          }
        : null;
    },
    async saveTokens(integrationId, data) {
      const values = {
        // A new grant without a refresh token must not keep the previous grant's.
        refreshToken: data.refreshToken ?? Prisma.DbNull,
        expiresAt: data.expiresAt,
        scope: data.scope,
        lastRefreshedAt: new Date(),
        lastRefreshError: null,
        lastRefreshFailedAt: null,
      };
      await db.integrationToken.upsert({ where: { integrationId }, create: { integrationId, ...values }, update: values });
    },
    async recordFailure(integrationId, error) {
      await db.integrationToken.updateMany({
        where: { integrationId },
        data: { lastRefreshError: error.slice(0, 1000), lastRefreshFailedAt: new Date() },
      });
    },
    async idle(days) {
      const rows = await db.integrationToken.findMany({
        where: {
          refreshToken: { not: Prisma.DbNull },
          OR: [{ lastRefreshedAt: null }, { lastRefreshedAt: { lt: new Date(Date.now() - days * 86_400_000) } }],
          integration: { isActive: true, status: { not: 'disconnected' }, organization: { deletedAt: null } },
        },
        select: { integrationId: true },
        orderBy: { integrationId: 'asc' },
      });
      return rows.map((r) => r.integrationId);
    },
    async failures(organizationId) {
      const rows = await db.integrationToken.findMany({
        where: {
          lastRefreshError: { not: null },
          integration: { ...(organizationId !== undefined ? { organizationId } : {}), organization: { deletedAt: null } },
        },
        select: {
          integrationId: true,
          lastRefreshError: true,
          lastRefreshFailedAt: true,
          integration: { select: { organizationId: true, provider: true } },
        },
        orderBy: { integrationId: 'asc' },
        take: 100,
      });
      return rows.map((r) => ({
        integrationId: r.integrationId,
        organizationId: r.integration.organizationId,
        provider: r.integration.provider,
        error: r.lastRefreshError as string,
        at: r.lastRefreshFailedAt as Date,
      }));
    },
    async pruneStates() {
      const r = await db.oAuthState.deleteMany({ where: { expiresAt: { lt: new Date(Date.now() - 86_400_000) } } });
      return r.count;
    },
  };
}
