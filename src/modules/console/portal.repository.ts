import type { Db } from '../../db/prisma';

export interface PortalSessionRow {
  id: number;
  organizationId: number;
  organizationName: string;
  expiresAt: Date;
}

/** Tenant portal links and the sessions they open; tokens only as SHA-256 hashes. */
export interface PortalRepository {
  createLink(row: { organizationId: number; tokenHash: string; expiresAt: Date; createdByKeyId: number | null }): Promise<void>;
  /**
   * Uses a link up and opens its session, in one statement: the update is the check, so a link
   * opened twice at once opens one session. Null when the link is unknown, used, expired, or
   * its organization deleted.
   */
  openSession(linkHash: string, sessionHash: string, sessionTtlSeconds: number): Promise<PortalSessionRow | null>;
  /** A live session by its token's hash (not expired, not revoked, organization not deleted). */
  findSession(sessionHash: string): Promise<PortalSessionRow | null>;
  revokeSession(id: number): Promise<void>;
  /** Deletes links and sessions that ended more than a day ago. */
  prune(): Promise<number>;
}

export function createPortalRepository(db: Db): PortalRepository {
  return {
    async createLink(row) {
      await db.portalLink.create({ data: row });
    },
    async openSession(linkHash, sessionHash, ttlSeconds) {
      const rows = await db.$queryRaw<{ id: number; organization_id: number; name: string; expires_at: Date }[]>`
        WITH used AS (
          UPDATE portal_links l SET used_at = now()
          FROM organizations o
          WHERE l.token_hash = ${linkHash} AND l.used_at IS NULL AND l.expires_at > now()
            AND o.id = l.organization_id AND o.deleted_at IS NULL
          RETURNING l.id, l.organization_id, o.name
        )
        INSERT INTO portal_sessions (organization_id, link_id, token_hash, expires_at)
        SELECT organization_id, id, ${sessionHash}, now() + make_interval(secs => ${ttlSeconds}::int) FROM used
        RETURNING id, organization_id, (SELECT name FROM used) AS name, expires_at`;
      const r = rows[0];
      return r ? { id: r.id, organizationId: r.organization_id, organizationName: r.name, expiresAt: r.expires_at } : null;
    },
    async findSession(sessionHash) {
      const rows = await db.$queryRaw<{ id: number; organization_id: number; name: string; expires_at: Date }[]>`
        SELECT s.id, s.organization_id, o.name, s.expires_at
        FROM portal_sessions s JOIN organizations o ON o.id = s.organization_id
        WHERE s.token_hash = ${sessionHash} AND s.revoked_at IS NULL AND s.expires_at > now() AND o.deleted_at IS NULL`;
      const r = rows[0];
      return r ? { id: r.id, organizationId: r.organization_id, organizationName: r.name, expiresAt: r.expires_at } : null;
    },
    async revokeSession(id) {
      await db.portalSession.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
    },
    async prune() {
      const cutoff = new Date(Date.now() - 86_400_000);
      // Sessions go with their link (cascade); a link outlives its session's expiry by at most the session's lifetime.
      const sessions = await db.portalSession.deleteMany({ where: { expiresAt: { lt: cutoff } } });
      const links = await db.portalLink.deleteMany({ where: { expiresAt: { lt: cutoff }, sessions: { none: {} } } });
      return sessions.count + links.count;
    },
  };
}
