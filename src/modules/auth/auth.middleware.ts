import type { RequestHandler } from 'express';
import { AppError } from '../../lib/errors';
import { safeEqual } from '../../lib/crypto';
import type { Principal } from './principal';

/** Turns a presented credential into who is calling: API keys, and the console's portal sessions. */
export interface Authenticator {
  authenticate(presented: string): Promise<Principal | null>;
}

/** `x-api-key` → res.locals.principal, or 401. */
export function requireApiKey(service: Authenticator): RequestHandler {
  return async (req, res, next) => {
    res.locals.principal = await principalFrom(service, req.get('x-api-key'), 'Missing x-api-key header');
    next();
  };
}

async function principalFrom(service: Authenticator, presented: string | undefined, missing: string): Promise<Principal> {
  if (!presented) throw new AppError('unauthorized', 'missing_api_key', missing);
  const principal = await service.authenticate(presented);
  if (!principal) throw new AppError('unauthorized', 'invalid_api_key', 'Invalid or revoked API key');
  return principal;
}

/** Seed 001's upstream push: `X-Internal-API-Key` must equal INTERNAL_API_KEY. */
export function requireInternalKey(expected: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (!expected) {
      throw new AppError('unauthorized', 'internal_sync_disabled', 'Internal sync is disabled: INTERNAL_API_KEY is not set on the server');
    }
    const presented = req.get('x-internal-api-key');
    if (!presented) throw new AppError('unauthorized', 'missing_api_key', 'Missing X-Internal-API-Key header');
    if (!safeEqual(presented, expected)) throw new AppError('unauthorized', 'invalid_api_key', 'Unauthorized - Invalid API key');
    next();
  };
}

/**
 * An admin key in `x-api-key`, or as `Authorization: Bearer <key>` (what Prometheus's
 * scrape config sends): for GET /metrics on the main port.
 */
export function requireAdminKeyOrBearer(service: Authenticator): RequestHandler {
  return async (req, res, next) => {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1]?.trim();
    const principal = await principalFrom(service, req.get('x-api-key') ?? bearer, 'Missing x-api-key header or Authorization: Bearer');
    if (principal.kind !== 'admin') throw new AppError('forbidden', 'admin_key_required', 'Metrics need an admin API key');
    res.locals.principal = principal;
    next();
  };
}
