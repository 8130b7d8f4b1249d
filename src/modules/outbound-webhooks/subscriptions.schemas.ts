import { z } from 'zod';
import { isoTime, paginationQuery, dbId, dbIdText } from '../../lib/http';
import { cursorQuery } from '../../lib/list-cursor';
import { OUTBOUND_EVENT_TYPES } from '../outbox';

const url = z
  .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
  .max(2000)
  .refine((u) => !/^https?:\/\/[^/]*@/.test(u), 'must not carry a user name or password');

const events = z
  .array(z.enum(OUTBOUND_EVENT_TYPES, { error: `must be one of ${OUTBOUND_EVENT_TYPES.join(', ')}` }))
  .min(1, 'at least one event is required')
  .transform((list) => [...new Set(list)]);

export const createSubscriptionBody = z
  .object({
    organizationId: dbId.optional(),
    url,
    events,
    description: z.string().max(500).nullable().optional(),
    isActive: z.boolean().optional(),
  })
  .strict();

export const updateSubscriptionBody = z
  .object({
    url: url.optional(),
    events: events.optional(),
    description: z.string().max(500).nullable().optional(),
    /** true re-enables a disabled subscription and resets its failure count. */
    isActive: z.boolean().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'at least one field is required');

export const listSubscriptionsQuery = z.object({ ...paginationQuery, organizationId: dbIdText.optional() }).strict();

export const DELIVERY_STATUSES = ['pending', 'sending', 'succeeded', 'failed', 'skipped'] as const;

export const listDeliveriesQuery = z
  .object({
    ...paginationQuery,
    ...cursorQuery,
    limit: z.coerce.number().int().min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').default(50),
    status: z.enum(DELIVERY_STATUSES).optional(),
    event: z.enum(OUTBOUND_EVENT_TYPES).optional(),
  })
  .strict();

export const rotateSecretBody = z
  .object({
    /** How long the old secret keeps signing beside the new one. */
    graceHours: z.number().min(0).max(720).optional(),
  })
  .strict();

export const recoverQuery = z
  .object({
    since: isoTime(),
  })
  .strict();

/** How far back an outcomes chart may reach, per bucket: a week of hours, a year of days. */
export const OUTCOME_RANGE_DAYS = { hour: 7, day: 366 } as const;

export const deliveryOutcomesQuery = z
  .object({
    bucket: z.enum(['hour', 'day'], { error: 'must be hour or day' }).default('hour'),
    /** Default: two days of hours, or thirty days. */
    since: isoTime().optional(),
  })
  .strict()
  .superRefine((q, ctx) => {
    const days = OUTCOME_RANGE_DAYS[q.bucket];
    if (q.since && Date.now() - new Date(q.since).getTime() > days * 86_400_000) {
      ctx.addIssue({ code: 'custom', path: ['since'], message: `must be within ${days} days for ${q.bucket} buckets` });
    }
  });

export const deliveryParams = z
  .object({
    id: dbIdText,
    deliveryId: dbIdText,
  })
  .strict();

export type CreateSubscriptionInput = z.infer<typeof createSubscriptionBody>;
export type UpdateSubscriptionInput = z.infer<typeof updateSubscriptionBody>;
