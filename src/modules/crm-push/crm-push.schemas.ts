import { z } from 'zod';
import { dbId, paginationQuery } from '../../lib/http';

export const pushQueueQuery = z
  .object({
    ...paginationQuery,
    status: z.enum(['pending', 'sending', 'done', 'parked']).optional(),
  })
  .strict();

export const retryPushBody = z
  .object({
    /** Only these users' parked rows; all parked rows when left out. */
    userIds: z.array(dbId).min(1).max(1000).optional(),
  })
  .strict();
