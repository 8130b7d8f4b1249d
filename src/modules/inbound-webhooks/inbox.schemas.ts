import { z } from 'zod';
import { isoTime, paginationQuery, dbIdText } from '../../lib/http';
import { cursorQuery } from '../../lib/list-cursor';

const time = isoTime().transform((v) => new Date(v));

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
