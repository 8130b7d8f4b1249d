import { z } from 'zod';
import { cursorQuery } from '../../lib/list-cursor';
import { booleanQuery, paginationQuery, dbIdText } from '../../lib/http';

export const syncQuery = z
  .object({
    mode: z.enum(['full', 'incremental']).default('full'),
    /** pull: read people from the CRM; push: send every user that differs from what we last pushed (a backfill). */
    direction: z.enum(['pull', 'push']).default('pull'),
    /** true: answer when the runs end, with their counts; false: 202 as soon as they start. */
    wait: booleanQuery.default(false),
  })
  .strict();

export const usersSyncQuery = syncQuery.omit({ direction: true }).extend({
  integrationId: dbIdText.optional(),
  organizationId: dbIdText.optional(),
});

export const listRunsQuery = z
  .object({
    ...paginationQuery,
    ...cursorQuery,
    organizationId: dbIdText.optional(),
    integrationId: dbIdText.optional(),
    status: z.enum(['running', 'succeeded', 'partial', 'failed', 'interrupted', 'abandoned']).optional(),
    trigger: z.enum(['manual', 'cron', 'push', 'webhook']).optional(),
    operation: z.string().trim().min(1).max(50).optional(),
  })
  .strict();

/** An admin may narrow the scheduled syncs' queue and failures to one organization. */
export const syncJobsQuery = z.object({ organizationId: dbIdText.optional() }).strict();
