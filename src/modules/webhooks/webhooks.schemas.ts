import { z } from 'zod';
import { paginationQuery } from '../../lib/http';

const time = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time such as 2026-11-22T10:00:00Z' }).transform((v) => new Date(v));

export const INBOUND_STATUSES = ['pending', 'processed', 'failed'] as const;

export const listInboundEventsQuery = z
  .object({
    ...paginationQuery,
    status: z.enum(INBOUND_STATUSES).optional(),
    provider: z.string().trim().min(1).max(50).optional(),
    integrationId: z.coerce.number().int().positive().max(2_147_483_647).optional(),
    organizationId: z.coerce.number().int().positive().max(2_147_483_647).optional(),
    /** Received at or after. */
    from: time.optional(),
    /** Received before. */
    to: time.optional(),
  })
  .strict();
