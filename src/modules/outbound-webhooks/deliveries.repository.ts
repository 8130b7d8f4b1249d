import type { Db } from '../../db/prisma';
import type { SealedValue } from '../../lib/secret-box';

/** A delivery claimed for sending, with its event and subscription. */
export interface ClaimedDelivery {
  id: number;
  attempts: number;
  event_id: string;
  type: string;
  data: unknown;
  created_at: Date;
  subscription_id: number;
  url: string;
  is_active: boolean;
  secret: SealedValue;
  previous_secret: SealedValue | null;
  previous_secret_expires_at: Date | null;
}

/** One attempt's result, as stored, and what it does to the subscription's failure count. */
export interface AttemptRecord {
  id: number;
  attempt: number;
  started_at: string;
  status_code: number | null;
  latency_ms: number;
  response_body: string | null;
  error: string | null;
  status: string;
  next: string | null;
  /** Not stored: what it does to the subscription's failure count. */
  subscriptionId: number;
  effect: 'reset' | 'fail' | 'gone' | 'none';
}

/** A subscription a group of results changed (disabled, or its count reset). */
export interface ChangedSubscription {
  id: number;
  is_active: boolean;
  disabled_reason: string | null;
}

// Claims due deliveries (and those whose sender died mid-attempt) for this worker: a row is
// locked, marked `sending` with a deadline and committed, so no other instance sends it.
//
// Fairness ($3 = the most deliveries of one subscription in flight): a subscription with $3
// unexpired `sending` rows, on any instance, gets nothing; the others get at most their room,
// oldest due first, taken in turns across organizations and, within one, across its
// subscriptions, so one slow endpoint or busy tenant cannot fill the pool. Cost: one index
// probe per subscription with pending deliveries (a loose index scan on
// (status, subscription_id, next_attempt_at)) plus the rows it may take, never the backlog
// behind them. The due check rounds now() as the column does (timestamptz(3) rounds half up):
// a row written with now() is due to any later claim, even one in the same half-millisecond.
const CLAIM = `
  WITH RECURSIVE waiting AS (
    (SELECT subscription_id AS id FROM webhook_deliveries WHERE status = 'pending' ORDER BY subscription_id LIMIT 1)
    UNION ALL
    SELECT (SELECT w.subscription_id FROM webhook_deliveries w
            WHERE w.status = 'pending' AND w.subscription_id > waiting.id ORDER BY w.subscription_id LIMIT 1)
    FROM waiting WHERE waiting.id IS NOT NULL
  ), sending AS (
    SELECT subscription_id, locked_until >= now() AS live FROM webhook_deliveries WHERE status = 'sending'
  ), room AS (
    SELECT s.id, s.organization_id,
           least($3::int - (SELECT count(*) FROM sending x WHERE x.subscription_id = s.id AND x.live)::int, $1::int) AS free
    FROM (SELECT id FROM waiting WHERE id IS NOT NULL UNION SELECT subscription_id FROM sending WHERE NOT live) o
    JOIN webhook_subscriptions s ON s.id = o.id
  ), candidate AS (
    SELECT c.id, c.next_attempt_at, r.organization_id,
           row_number() OVER (PARTITION BY r.id ORDER BY c.next_attempt_at, c.id) AS nth, r.free
    FROM room r CROSS JOIN LATERAL (
      (SELECT id, next_attempt_at FROM webhook_deliveries
       WHERE status = 'sending' AND subscription_id = r.id AND locked_until < now()
       ORDER BY next_attempt_at LIMIT r.free)
      UNION ALL
      (SELECT id, next_attempt_at FROM webhook_deliveries
       WHERE status = 'pending' AND subscription_id = r.id AND next_attempt_at <= now()::timestamptz(3)
       ORDER BY next_attempt_at LIMIT r.free)
    ) c
    WHERE r.free > 0
  ), picked AS (
    SELECT id FROM (
      SELECT id, next_attempt_at, row_number() OVER (PARTITION BY organization_id ORDER BY nth, next_attempt_at, id) AS turn
      FROM candidate WHERE nth <= free
    ) t
    ORDER BY turn, next_attempt_at, id
    LIMIT $1
  ), due AS (
    -- Locked only now, re-checked: a row another claim took meanwhile is skipped.
    SELECT id FROM webhook_deliveries
    WHERE id IN (SELECT id FROM picked)
      AND ((status = 'pending' AND next_attempt_at <= now()::timestamptz(3)) OR (status = 'sending' AND locked_until < now()))
    FOR UPDATE SKIP LOCKED
  )
  UPDATE webhook_deliveries d
  SET status = 'sending', attempts = d.attempts + 1, locked_until = now() + make_interval(secs => $2), updated_at = now()
  FROM due, webhook_events e, webhook_subscriptions s
  WHERE d.id = due.id AND e.id = d.event_id AND s.id = d.subscription_id
  RETURNING d.id, d.attempts, e.id AS event_id, e.type, e.data, e.created_at, s.id AS subscription_id, s.url, s.is_active,
            s.secret, s.previous_secret, s.previous_secret_expires_at`;

// Attempts' results, many at once: the log rows, each delivery's next state, and each
// subscription's failure count (a success resets it; each final failure counts one; reaching
// the limit, or a 410, disables the subscription).
const RECORD = `
  WITH r AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id int, attempt int, started_at timestamptz, status_code int,
      latency_ms int, response_body text, error text, status text, next timestamptz)
  ), live AS (
    -- A subscription deleted mid-attempt takes its deliveries with it: their results have
    -- nothing left to record. The lock keeps the rest until the attempts are written; the
    -- update below reads through it, so each row is locked before this statement updates it
    -- (a row this statement had already updated would not be returned by the lock).
    SELECT w.id FROM webhook_deliveries w JOIN r ON r.id = w.id FOR KEY SHARE OF w
  ), att AS (
    INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_at, status_code, latency_ms, response_body, error)
    SELECT r.id, attempt, started_at, status_code, latency_ms, response_body, error FROM r JOIN live ON live.id = r.id
  ), d AS (
    UPDATE webhook_deliveries w SET status = r.status, next_attempt_at = r.next, locked_until = NULL,
      last_status_code = r.status_code, last_error = r.error,
      delivered_at = CASE WHEN r.status = 'succeeded' THEN now() ELSE w.delivered_at END, updated_at = now()
    FROM r JOIN live ON live.id = r.id WHERE w.id = r.id AND w.status = 'sending'
  ), a AS (
    -- Per subscription, in attempt order: reset (a success came last among them), fails (final
    -- failures after the last success), gone (a 410).
    SELECT * FROM jsonb_to_recordset($2::jsonb) AS y(subscription_id int, reset boolean, fails int, gone boolean, last_error text)
  )
  UPDATE webhook_subscriptions s SET
    consecutive_failures = CASE WHEN a.reset THEN a.fails ELSE s.consecutive_failures + a.fails END,
    is_active = CASE WHEN a.gone OR (CASE WHEN a.reset THEN a.fails ELSE s.consecutive_failures + a.fails END) >= $3
                     THEN false ELSE s.is_active END,
    disabled_at = CASE WHEN s.is_active AND (a.gone OR (CASE WHEN a.reset THEN a.fails ELSE s.consecutive_failures + a.fails END) >= $3)
                       THEN now() ELSE s.disabled_at END,
    disabled_reason = CASE
      WHEN s.is_active AND a.gone THEN 'the endpoint answered 410 Gone'
      WHEN s.is_active AND (CASE WHEN a.reset THEN a.fails ELSE s.consecutive_failures + a.fails END) >= $3
        THEN (CASE WHEN a.reset THEN a.fails ELSE s.consecutive_failures + a.fails END) || ' consecutive deliveries failed; the last: ' || a.last_error
      ELSE s.disabled_reason END,
    updated_at = now()
  FROM a
  WHERE s.id = a.subscription_id AND (a.fails > 0 OR a.gone OR (a.reset AND s.consecutive_failures <> 0))
  RETURNING s.id, s.is_active, s.disabled_reason`;

// The claim's attempt is given back: nothing was sent.
const SKIP = `
  UPDATE webhook_deliveries SET status = 'skipped', attempts = attempts - 1, next_attempt_at = NULL, locked_until = NULL,
    last_error = 'subscription disabled', updated_at = now()
  WHERE id = $1`;

const OPEN_COUNT = `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status IN ('pending', 'sending')`;

/** The deliveries queue, for the delivery worker. */
export interface DeliveryRepository {
  /**
   * Claims up to `limit` due deliveries for `lockSeconds` (FOR UPDATE SKIP LOCKED), at most
   * `perSubscription` in flight per subscription across instances, in turns across tenants.
   */
  claim(limit: number, lockSeconds: number, perSubscription: number): Promise<ClaimedDelivery[]>;
  skip(id: number): Promise<void>;
  /** Writes a group of results in one statement; returns the subscriptions it changed. */
  record(batch: AttemptRecord[], disableAfter: number): Promise<ChangedSubscription[]>;
  /** Deliveries waiting or being sent (a metrics gauge). */
  openCount(): Promise<number>;
}

export function createDeliveryRepository(db: Db): DeliveryRepository {
  return {
    claim: (limit, lockSeconds, perSubscription) => db.$queryRawUnsafe<ClaimedDelivery[]>(CLAIM, limit, lockSeconds, perSubscription),
    async skip(id) {
      await db.$executeRawUnsafe(SKIP, id);
    },
    record(batch, disableAfter) {
      const subs = new Map<number, { subscription_id: number; reset: boolean; fails: number; gone: boolean; last_error: string | null }>();
      for (const r of batch) {
        const s = subs.get(r.subscriptionId) ?? {
          subscription_id: r.subscriptionId,
          reset: false,
          fails: 0,
          gone: false,
          last_error: null,
        };
        if (r.effect === 'reset') Object.assign(s, { reset: true, fails: 0 });
        if (r.effect === 'fail') Object.assign(s, { fails: s.fails + 1, last_error: r.error ?? `HTTP ${r.status_code}` });
        if (r.effect === 'gone') s.gone = true;
        subs.set(r.subscriptionId, s);
      }
      const rows = batch.map(({ subscriptionId: _s, effect: _e, ...row }) => row);
      return db.$queryRawUnsafe<ChangedSubscription[]>(RECORD, JSON.stringify(rows), JSON.stringify([...subs.values()]), disableAfter);
    },
    async openCount() {
      const [row] = await db.$queryRawUnsafe<{ n: number }[]>(OPEN_COUNT);
      return row.n;
    },
  };
}
