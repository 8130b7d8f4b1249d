import { z } from 'zod';

/** What subscribers can ask for (seed 003, plus what this service does). */
export const OUTBOUND_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'organization.updated',
  'sync.completed',
  'sync.failed',
  'integration.status_changed',
] as const;
export type OutboundEventType = (typeof OUTBOUND_EVENT_TYPES)[number];
export type UserEventType = Extract<OutboundEventType, `user.${string}`>;

/**
 * The `data` of outbound events, one schema per type: what subscribers can rely on. The
 * OpenAPI document's `webhooks` section is built from these, and writers build payloads
 * through them, so the document and what is sent cannot drift apart.
 */
const time = z.iso.datetime({ offset: true });

export const userEventData = z.object({
  id: z.number().int(),
  organizationId: z.number().int(),
  email: z.string().nullable(),
  name: z.string(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  phone: z.string().nullable(),
  title: z.string().nullable(),
  department: z.string().nullable(),
  isActive: z.boolean(),
  isAdmin: z.boolean(),
  source: z.string().nullable(),
  createdAt: time,
  updatedAt: time,
  deletedAt: time.nullable(),
});

/** sync.completed and sync.failed, for pushes (integrationId null) and pulls alike. */
export const syncRunEventData = z.object({
  syncRunId: z.number().int(),
  organizationId: z.number().int(),
  integrationId: z.number().int().nullable(),
  /** push: the push's `operation`; pulls: full or incremental. */
  operation: z.string(),
  trigger: z.enum(['manual', 'cron', 'push', 'webhook']),
  /** The pushing system, or the CRM pulled from. */
  source: z.string(),
  status: z.enum(['succeeded', 'partial', 'failed']),
  total: z.number().int(),
  created: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  deleted: z.number().int(),
  failed: z.number().int(),
  error: z.string().nullable(),
  startedAt: time,
  finishedAt: time,
});
export type SyncRunEventData = z.infer<typeof syncRunEventData>;

/** The one way to build a sync event's data: every field named, times as ISO strings. */
export function syncRunEvent(
  run: Omit<SyncRunEventData, 'startedAt' | 'finishedAt'> & { startedAt: Date; finishedAt: Date },
): SyncRunEventData {
  return {
    syncRunId: run.syncRunId,
    organizationId: run.organizationId,
    integrationId: run.integrationId,
    operation: run.operation,
    trigger: run.trigger,
    source: run.source,
    status: run.status,
    total: run.total,
    created: run.created,
    updated: run.updated,
    unchanged: run.unchanged,
    deleted: run.deleted,
    failed: run.failed,
    error: run.error,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
  };
}

export const organizationEventData = z.looseObject({ id: z.number().int(), name: z.string(), slug: z.string() });

export const integrationStatusEventData = z.object({
  integrationId: z.number().int(),
  organizationId: z.number().int(),
  provider: z.string(),
  name: z.string(),
  from: z.string(),
  to: z.string(),
  errorMessage: z.string().nullable(),
});

export const outboundEventData = {
  'user.created': userEventData,
  'user.updated': userEventData,
  'user.deleted': userEventData,
  'organization.updated': organizationEventData,
  'sync.completed': syncRunEventData,
  'sync.failed': syncRunEventData,
  'integration.status_changed': integrationStatusEventData,
} as const satisfies Record<OutboundEventType, z.ZodType>;
