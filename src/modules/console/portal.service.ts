import type { Logger } from 'winston';
import { AppError } from '../../lib/errors';
import { randomToken, sha256Hex } from '../../lib/crypto';
import type { Principal } from '../auth';
import type { PortalRepository } from './portal.repository';

/** Portal sessions are told from API keys (crm_…) by their prefix. */
export const SESSION_PREFIX = 'cps_';
const LINK_PREFIX = 'cpl_';

export interface OrganizationNames {
  exists(id: number): Promise<boolean>;
}

/**
 * The tenant portal: an admin asks for a link to one organization's console; the person who
 * opens it gets a browser session that acts as an organization key of that organization,
 * without anyone handing out a key. Links open once and soon; sessions end on their own.
 */
export class PortalService {
  constructor(
    private readonly repo: PortalRepository,
    private readonly organizations: OrganizationNames,
    private readonly logger: Logger,
    private readonly opts: { linkTtlSeconds: number; sessionTtlSeconds: number },
  ) {}

  /** A new link's token and expiry; the token is never stored, only its hash. */
  async createLink(organizationId: number, createdByKeyId: number | null): Promise<{ token: string; expiresAt: Date }> {
    if (!(await this.organizations.exists(organizationId))) throw AppError.notFound('Organization', organizationId);
    const token = `${LINK_PREFIX}${randomToken(32)}`;
    const expiresAt = new Date(Date.now() + this.opts.linkTtlSeconds * 1000);
    await this.repo.createLink({ organizationId, tokenHash: sha256Hex(token), expiresAt, createdByKeyId });
    // Ended links and sessions go as new ones come: there are as many as links handed out.
    await this.repo.prune();
    this.logger.info('portal link created', { organizationId, createdByKeyId, expiresAt });
    return { token, expiresAt };
  }

  /** Opens the session of a link (once); one answer for unknown, used and expired links. */
  async openSession(linkToken: string): Promise<{ sessionKey: string; organizationId: number; organizationName: string; expiresAt: Date }> {
    const sessionKey = `${SESSION_PREFIX}${randomToken(32)}`;
    const session = linkToken.startsWith(LINK_PREFIX)
      ? await this.repo.openSession(sha256Hex(linkToken), sha256Hex(sessionKey), this.opts.sessionTtlSeconds)
      : null;
    if (!session) {
      throw new AppError('unauthorized', 'invalid_portal_link', 'This portal link is unknown, expired or already used: ask for a new one');
    }
    this.logger.info('portal session opened', { organizationId: session.organizationId, sessionId: session.id });
    return { sessionKey, organizationId: session.organizationId, organizationName: session.organizationName, expiresAt: session.expiresAt };
  }

  /** A presented portal session key → an organization principal, or null. */
  async authenticate(presented: string): Promise<Principal | null> {
    if (!presented.startsWith(SESSION_PREFIX)) return null;
    const session = await this.repo.findSession(sha256Hex(presented));
    if (!session) return null;
    return { kind: 'organization', keyId: null, organizationId: session.organizationId, portalSessionId: session.id };
  }

  async end(sessionId: number): Promise<void> {
    await this.repo.revokeSession(sessionId);
    this.logger.info('portal session ended', { sessionId });
  }
}
