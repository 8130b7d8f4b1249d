import type pg from 'pg';
import type { Prisma, TxDb } from '../../db/prisma';
import type { IntegrationRow } from '../integrations/integrations.repository';
import { integrationSelect } from '../integrations/integrations.repository';
import { DEFAULT_ORGANIZATION_SLUG } from '../integrations/default-integration';

export interface NewInboundEvent {
  integrationId: number;
  organizationId: number;
  provider: string;
  channel: string;
  eventType: string;
  dedupeKey: string;
  payload: string;
}

export interface StoredEvent {
  id: number;
  duplicate: boolean;
}

export interface InboundEventFilter {
  organizationId?: number;
  integrationId?: number;
  provider?: string;
  status?: string;
  from?: Date;
  to?: Date;
  page: number;
  limit: number;
}

export const inboundEventSelect = {
  id: true,
  integrationId: true,
  organizationId: true,
  provider: true,
  channel: true,
  eventType: true,
  dedupeKey: true,
  status: true,
  outcome: true,
  attempts: true,
  nextAttemptAt: true,
  lastError: true,
  receivedAt: true,
  processedAt: true,
} as const;

export interface InboxRepository {
  integration(id: number): Promise<IntegrationRow | null>;
  /** Seed 000's single-tenant integration: the default organization's Wealthbox. */
  defaultIntegration(provider: string): Promise<IntegrationRow | null>;
  /** Live integrations whose CRM account id is `key` (at most one per provider: a unique index). */
  byRoutingKey(key: string, provider?: string): Promise<IntegrationRow[]>;
  /** Stores events; for each, its id, and whether the sender had already sent it (same dedupe key: the stored event's id). */
  insertMany(events: NewInboundEvent[]): Promise<StoredEvent[]>;
  list(f: InboundEventFilter): Promise<{ rows: unknown[]; total: number }>;
  get(id: number): Promise<(Prisma.InboundEventGetPayload<{ select: typeof inboundEventSelect }> & { payload: unknown }) | null>;
  /** Queues the event to be processed again; false when it is being processed right now. */
  replay(id: number): Promise<boolean>;
}

export function createInboxRepository(db: TxDb, pool: pg.Pool): InboxRepository {
  return {
    integration: (id) => db.integration.findFirst({ where: { id, organization: { deletedAt: null } }, select: integrationSelect }),
    defaultIntegration: (provider) =>
      db.integration.findFirst({
        where: { provider, organization: { slug: DEFAULT_ORGANIZATION_SLUG, deletedAt: null } },
        select: integrationSelect,
        orderBy: { id: 'asc' },
      }),
    byRoutingKey: (key, provider) =>
      db.integration.findMany({
        where: { routingKey: key, ...(provider !== undefined ? { provider } : {}), organization: { deletedAt: null } },
        select: integrationSelect,
        orderBy: { id: 'asc' },
        take: 10,
      }),
    async insertMany(events) {
      // One statement for many requests; a key repeated within the batch is stored once.
      // Straight to pg: this runs on every inbound request (see poolOf).
      const { rows } = await pool.query<{ integration_id: number; dedupe_key: string; id: number }>(
        `INSERT INTO inbound_events (integration_id, organization_id, provider, channel, event_type, dedupe_key, payload)
         SELECT (e->>'integrationId')::int, (e->>'organizationId')::int, e->>'provider', e->>'channel', e->>'eventType',
                e->>'dedupeKey', (e->>'payload')::jsonb
         FROM jsonb_array_elements($1::jsonb) AS x(e)
         ON CONFLICT (integration_id, dedupe_key) DO NOTHING
         RETURNING integration_id, dedupe_key, id`,
        [JSON.stringify(events)],
      );
      const inserted = new Map(rows.map((r) => [`${r.integration_id}:${r.dedupe_key}`, r.id]));
      const repeats = events.filter((e) => !inserted.has(`${e.integrationId}:${e.dedupeKey}`));
      // Repeats are rare: only they cost a second statement, which finds the events stored before.
      const earlier = new Map<string, number>();
      if (repeats.length > 0) {
        const found = await pool.query<{ integration_id: number; dedupe_key: string; id: number }>(
          `SELECT e.integration_id, e.dedupe_key, e.id FROM inbound_events e
           JOIN jsonb_array_elements($1::jsonb) AS x(r)
             ON e.integration_id = (r->>'integrationId')::int AND e.dedupe_key = r->>'dedupeKey'`,
          [JSON.stringify(repeats.map((e) => ({ integrationId: e.integrationId, dedupeKey: e.dedupeKey })))],
        );
        for (const r of found.rows) earlier.set(`${r.integration_id}:${r.dedupe_key}`, r.id);
      }
      const firstCopy = new Set<string>();
      return events.map((e) => {
        const key = `${e.integrationId}:${e.dedupeKey}`;
        const id = inserted.get(key);
        // A second copy in the same batch is a duplicate of the first.
        if (id !== undefined && !firstCopy.has(key)) {
          firstCopy.add(key);
          return { id, duplicate: false };
        }
        return { id: id ?? (earlier.get(key) as number), duplicate: true };
      });
    },
    async list(f) {
      const where: Prisma.InboundEventWhereInput = {
        ...(f.organizationId !== undefined ? { organizationId: f.organizationId } : {}),
        ...(f.integrationId !== undefined ? { integrationId: f.integrationId } : {}),
        ...(f.provider ? { provider: f.provider } : {}),
        ...(f.status ? { status: f.status } : {}),
        ...(f.from || f.to ? { receivedAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
      };
      const [rows, total] = await Promise.all([
        db.inboundEvent.findMany({
          where,
          select: inboundEventSelect,
          orderBy: { id: 'desc' },
          skip: (f.page - 1) * f.limit,
          take: f.limit,
        }),
        db.inboundEvent.count({ where }),
      ]);
      return { rows, total };
    },
    get: (id) => db.inboundEvent.findUnique({ where: { id }, select: { ...inboundEventSelect, payload: true } }),
    async replay(id) {
      // A worker holding the row (FOR UPDATE) makes this wait until it commits; then it is requeued.
      const n = await db.$executeRawUnsafe(
        `UPDATE inbound_events SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL, processed_at = NULL
         WHERE id = $1`,
        id,
      );
      return n === 1;
    },
  };
}
