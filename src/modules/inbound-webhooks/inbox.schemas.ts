import { z } from 'zod';
import { paginationQuery, dbIdText } from '../../lib/http';
import { cursorQuery } from '../../lib/list-cursor';

const time = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time such as 2026-11-22T10:00:00Z' }).transform((v) => new Date(v));

export const INBOUND_STATUSES = ['pending', 'processed', 'failed'] as const;

export const listInboundEventsQuery = z
  .object({
    ...paginationQuery,
    ...cursorQuery,
    status: z.enum(INBOUND_STATUSES).optional(),
    provider: z.string().trim().min(1).max(50).optional(),
    integrationId: dbIdText.optional(),
    organizationId: dbIdText.optional(),
    /** Received at or after. */
    from: time.optional(),
    /** Received before. */
    to: time.optional(),
  })
  .strict();
