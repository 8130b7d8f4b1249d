import type { Response } from 'express';
import { AppError } from '../../lib/errors';

/**
 * Who is calling: an admin key sees every organization, an organization key only its own. A
 * console portal session (no key: keyId null) acts as an organization key of its organization.
 */
export type Principal =
  | { kind: 'admin'; keyId: number | null }
  | { kind: 'organization'; keyId: number | null; organizationId: number; portalSessionId?: number };

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new AppError('unauthorized', 'unauthorized', 'Missing API key');
  return p;
}

/**
 * The organization a request may act on. An organization key asking for another
 * organization gets 404, as if it did not exist, so ids of other tenants leak nothing.
 */
export function scopeOrganization(p: Principal, requested: number | undefined): number | undefined {
  if (p.kind === 'admin') return requested;
  if (requested !== undefined && requested !== p.organizationId) throw AppError.notFound('Organization', requested);
  return p.organizationId;
}

/** As scopeOrganization, for creating things: an admin key must name the organization. */
export function targetOrganization(p: Principal, requested: number | undefined): number {
  const organizationId = scopeOrganization(p, requested);
  if (organizationId === undefined) {
    throw new AppError('invalid_data', 'validation_failed', 'Request validation failed', [
      { path: 'body.organizationId', message: 'required with an admin key' },
    ]);
  }
  return organizationId;
}

/**
 * Whether `p` may see something of `organizationId`; if not, throws `notFound` (the thing's
 * own 404, as if it did not exist), or the organization's 404.
 */
export function assertCanSeeOrganization(p: Principal, organizationId: number | null, notFound?: AppError): void {
  if (p.kind === 'organization' && p.organizationId !== organizationId) {
    throw notFound ?? AppError.notFound('Organization', organizationId ?? undefined);
  }
}

export function requireAdminPrincipal(p: Principal): void {
  if (p.kind !== 'admin') throw new AppError('forbidden', 'admin_key_required', 'This operation needs an admin API key');
}
