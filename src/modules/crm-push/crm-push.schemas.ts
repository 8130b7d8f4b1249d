import { z } from 'zod';
import { dbId, paginationQuery } from '../../lib/http';
import { cursorQuery } from '../../lib/list-cursor';
import { PUSH_QUEUE_STATUSES } from './crm-push.repository';

export const pushQueueQuery = z
  .object({
    ...paginationQuery,
    ...cursorQuery,
    status: z.enum(PUSH_QUEUE_STATUSES).optional(),
  })
  .strict();

export const retryPushBody = z
  .object({
    /** Only these users' parked rows; all parked rows when left out. */
    userIds: z.array(dbId).min(1).max(1000).optional(),
  })
  .strict();
