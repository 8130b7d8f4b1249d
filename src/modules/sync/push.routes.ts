import { Router } from 'express';
import { AppError } from '../../lib/errors';
import { jsonBody, parse } from '../../lib/http';
import { rejectUnstorableInput } from '../../lib/input-guard';
import type { Operation } from '../../openapi/operation';
import { pushBody, pushHeaders } from './push.schemas';
import type { PushService } from './push.service';

export const pushOperations: Operation[] = [
  {
    method: 'post',
    path: '/users',
    tag: 'Sync',
    summary: "Seed 001's bulk user push from the upstream identity system",
    auth: 'internal',
    headers: pushHeaders,
    body: pushBody,
    responses: {
      200: '{ success, message, results: [{ userId, email, status, crmUserId, message }], tenant, metadata }',
      413: 'Too many users or too large',
    },
  },
];

/** POST /api/internal/sync/users (seed 001). Auth and rate limit are applied by the caller. */
export function pushRouter(service: PushService, maxBody: string): Router {
  const router = Router();
  // Each user's text is checked with that user (a bad user fails alone); the rest here.
  const guard = rejectUnstorableInput({ skipBodyText: (path) => /^body\.users\.\d+(\.|$)/.test(path) });
  router.post('/users', jsonBody(maxBody), guard, async (req, res) => {
    const headers = parse(pushHeaders, req.headers, 'headers');
    const body = parse(pushBody, req.body, 'body');
    if (body.tenant.id !== headers['x-tenant-id']) {
      throw new AppError('invalid_data', 'tenant_mismatch', 'X-Tenant-ID does not match tenant.id in the body', [
        { path: 'headers.x-tenant-id', message: `is "${headers['x-tenant-id']}" but body.tenant.id is "${body.tenant.id}"` },
      ]);
    }
    res.json(await service.push(body, headers['x-sync-source']));
  });
  return router;
}
