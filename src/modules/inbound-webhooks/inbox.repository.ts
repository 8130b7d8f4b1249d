import type pg from 'pg';
import type { Db, Prisma } from '../../db/prisma';

export interface NewInboundEvent {
  /** Integers (they are written into the statement's JSON as they are). */
  integrationId: number;
  organizationId: number;
  provider: string;
  channel: string;
  eventType: string;
  dedupeKey: string;
  /** The event as JSON text (JSON.stringify's). */
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

export type InboundEventRow = Prisma.InboundEventGetPayload<{ select: typeof inboundEventSelect }>;

function inboundWhere(f: InboundEventFilter): Prisma.InboundEventWhereInput {
  return {
    ...(f.organizationId !== undefined ? { organizationId: f.organizationId } : {}),
    ...(f.integrationId !== undefined ? { integrationId: f.integrationId } : {}),
    ...(f.provider ? { provider: f.provider } : {}),
    ...(f.status ? { status: f.status } : {}),
    ...(f.from || f.to ? { receivedAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
  };
}

/** A stored event claimed for processing. */
export interface ClaimedEvent {
  id: number;
  integration_id: number;
  organization_id: number;
  provider: string;
  channel: string;
  event_type: string;
  payload: unknown;
  attempts: number;
  received_at: Date;
}

/** What processing decided for one event. */
export interface EventResult {
  id: number;
  status: 'processed' | 'pending' | 'failed';
  outcome: string;
  error: string | null;
  /** pending: when to try again. */
  next: string | null;
}

// Due events, locked for the claiming transaction; other instances skip them. Read through
// inbound_events_pending_idx (pending ids in order), whatever the length of the history behind them.
const CLAIM = `
  SELECT id, integration_id, organization_id, provider, channel, event_type, payload, attempts, received_at
  FROM inbound_events
  WHERE status = 'pending' AND next_attempt_at <= now()
  ORDER BY id
  LIMIT $1
  FOR UPDATE SKIP LOCKED`;

// One event of those CLAIM would take, when it is due and free.
const CLAIM_ONE = `
  SELECT id, integration_id, organization_id, provider, channel, event_type, payload, attempts, received_at
  FROM inbound_events
  WHERE id = $1 AND status = 'pending' AND next_attempt_at <= now()
  FOR UPDATE SKIP LOCKED`;

const RECORD = `
  UPDATE inbound_events e SET
    status = r->>'status', outcome = r->>'outcome', attempts = e.attempts + 1, last_error = r->>'error',
    processed_at = CASE WHEN r->>'status' = 'processed' THEN now() END,
    next_attempt_at = COALESCE((r->>'next')::timestamptz, e.next_attempt_at)
  FROM jsonb_array_elements($1::jsonb) AS x(r)
  WHERE e.id = (r->>'id')::int`;

// The rows as one JSON array, each payload as it came (see rowsJson). Ids are given in the
// array's order (the order the inbox applies them in): ORDER BY n says so rather than trusting the plan.
const INSERT_MANY = `
  INSERT INTO inbound_events (integration_id, organization_id, provider, channel, event_type, dedupe_key, payload)
  SELECT i, o, pr, c, t, k, p
  FROM ROWS FROM (json_to_recordset($1::json) AS (i int, o int, pr text, c text, t text, k text, p jsonb)) WITH ORDINALITY AS x(i, o, pr, c, t, k, p, n)
  ORDER BY n
  ON CONFLICT (integration_id, dedupe_key) DO NOTHING
  RETURNING integration_id, dedupe_key, id`;

/**
 * The rows as one JSON array, with each payload (already JSON text) placed as it is: encoded
 * as a string instead, it would be escaped here and parsed twice by PostgreSQL, and the
 * payload is most of the bytes.
 */
function rowsJson(events: NewInboundEvent[]): string {
  const s = JSON.stringify;
  return `[${events
    .map(
      (e) =>
        `{"i":${e.integrationId},"o":${e.organizationId},"pr":${s(e.provider)},"c":${s(e.channel)},"t":${s(e.eventType)},"k":${s(e.dedupeKey)},"p":${e.payload}}`,
    )
    .join(',')}]`;
}

export interface InboxRepository {
  /** Stores events; for each, its id, and whether the sender had already sent it (same dedupe key: the stored event's id). */
  insertMany(events: NewInboundEvent[]): Promise<StoredEvent[]>;
  /** Matching events newest first, below an id when given (a cursor's). */
  find(f: InboundEventFilter, at: { below?: number; skip: number; take: number }): Promise<InboundEventRow[]>;
  /** How many events match, counting no further than `take`. */
  count(f: InboundEventFilter, take: number): Promise<number>;
  get(id: number): Promise<(InboundEventRow & { payload: unknown }) | null>;
  /** Queues the event to be processed again; false when it is gone or its payload was pruned. */
  replay(id: number): Promise<boolean>;
  /** Events waiting to be processed (a metrics gauge). */
  pendingCount(): Promise<number>;
}

/** The inbox worker's side: claim due events, record what became of them. */
export interface InboxQueue {
  /** Claims up to `limit` due events; call in the transaction that applies them. */
  claim(limit: number): Promise<ClaimedEvent[]>;
  /** Claims one event, if it is still due and free. */
  claimOne(id: number): Promise<ClaimedEvent | null>;
  /** Stores each event's new status, attempt count and next attempt. */
  record(results: EventResult[]): Promise<void>;
  /** How many attempts the event has used; null when it is gone. */
  attempts(id: number): Promise<number | null>;
}

/**
 * `pool`: the pg pool under `db` (see poolOf), for the insert on every inbound request.
 * `prepared`: the insert is a named statement, parsed and planned once per connection (a
 * fifth of its time in PostgreSQL went to that). Only on a direct connection: behind a
 * transaction-mode pooler (DIRECT_DATABASE_URL set) the next query may run on a connection
 * that never saw the statement.
 */
export function createInboxRepository(db: Db, pool: pg.Pool, opts: { prepared: boolean }): InboxRepository {
  return {
    async insertMany(events) {
      // One statement for many requests; a key repeated within the batch is stored once.
      // Straight to pg: this runs on every inbound request (see poolOf).
      const { rows } = await pool.query<{ integration_id: number; dedupe_key: string; id: number }>({
        ...(opts.prepared ? { name: 'inbound_events_insert' } : {}),
        text: INSERT_MANY,
        values: [rowsJson(events)],
      });
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
    find: (f, at) =>
      db.inboundEvent.findMany({
        where: at.below === undefined ? inboundWhere(f) : { AND: [inboundWhere(f), { id: { lt: at.below } }] },
        select: inboundEventSelect,
        orderBy: { id: 'desc' },
        skip: at.skip,
        take: at.take,
      }),
    count: (f, take) => db.inboundEvent.count({ where: inboundWhere(f), take }),
    get: (id) => db.inboundEvent.findUnique({ where: { id }, select: { ...inboundEventSelect, payload: true } }),
    async replay(id) {
      // A worker holding the row (FOR UPDATE) makes this wait until it commits; then it is requeued.
      // A pruned payload (retention, erasure) has nothing left to process: not requeued.
      const n = await db.$executeRawUnsafe(
        `UPDATE inbound_events SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL, processed_at = NULL
         WHERE id = $1 AND NOT (payload @> '{"pruned": true}'::jsonb)`,
        id,
      );
      return n === 1;
    },
    async pendingCount() {
      const [row] = await db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM inbound_events WHERE status = 'pending'`);
      return row.n;
    },
  };
}

export function createInboxQueue(db: Db): InboxQueue {
  return {
    claim: (limit) => db.$queryRawUnsafe<ClaimedEvent[]>(CLAIM, limit),
    async claimOne(id) {
      const [row] = await db.$queryRawUnsafe<ClaimedEvent[]>(CLAIM_ONE, id);
      return row ?? null;
    },
    async record(results) {
      await db.$executeRawUnsafe(RECORD, JSON.stringify(results));
    },
    async attempts(id) {
      const [row] = await db.$queryRawUnsafe<{ attempts: number }[]>('SELECT attempts FROM inbound_events WHERE id = $1', id);
      return row ? row.attempts : null;
    },
  };
}
