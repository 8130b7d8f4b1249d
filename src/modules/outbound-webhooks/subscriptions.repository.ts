import type { Db, Prisma } from '../../db/prisma';

export const subscriptionSelect = {
  id: true,
  organizationId: true,
  url: true,
  events: true,
  description: true,
  isActive: true,
  secret: true,
  previousSecret: true,
  previousSecretExpiresAt: true,
  consecutiveFailures: true,
  disabledAt: true,
  disabledReason: true,
  createdAt: true,
  updatedAt: true,
} as const;

export type SubscriptionRow = Prisma.WebhookSubscriptionGetPayload<{ select: typeof subscriptionSelect }>;

export interface DeliveryFilter {
  subscriptionId: number;
  status?: string;
  event?: string;
}

function deliveryWhere(f: DeliveryFilter): Prisma.WebhookDeliveryWhereInput {
  return {
    subscriptionId: f.subscriptionId,
    ...(f.status ? { status: f.status } : {}),
    ...(f.event ? { event: { type: f.event } } : {}),
  };
}

export interface DeliveryView {
  id: number;
  eventId: string;
  event: string;
  status: string;
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
  payload: { id: string; event: string; timestamp: Date; data: unknown };
  attemptLog: {
    attempt: number;
    startedAt: Date;
    statusCode: number | null;
    latencyMs: number;
    responseBody: string | null;
    error: string | null;
  }[];
}

/** A subscription's newest delivery, for lists (the console's "last delivery" column). */
export interface LastDelivery {
  id: number;
  status: string;
  lastStatusCode: number | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** Deliveries created in one hour or day (UTC), counted by status. */
export interface OutcomeBucket {
  at: Date;
  succeeded: number;
  failed: number;
  pending: number;
  sending: number;
  skipped: number;
}

export interface SubscriptionRepository {
  list(f: { organizationId?: number; page: number; limit: number }): Promise<{ rows: SubscriptionRow[]; total: number }>;
  /** The newest delivery of each of `subscriptionIds` that has one. */
  lastDeliveries(subscriptionIds: number[]): Promise<Map<number, LastDelivery>>;
  get(id: number): Promise<SubscriptionRow | null>;
  create(data: Prisma.WebhookSubscriptionUncheckedCreateInput): Promise<SubscriptionRow>;
  update(id: number, data: Prisma.WebhookSubscriptionUncheckedUpdateInput): Promise<SubscriptionRow>;
  /** Writes a new secret only while `current` is still the secret; null when another rotation came first. */
  replaceSecret(
    id: number,
    current: Prisma.JsonValue,
    data: Prisma.WebhookSubscriptionUncheckedUpdateInput,
  ): Promise<SubscriptionRow | null>;
  delete(id: number): Promise<void>;
  /** A subscription's deliveries newest first, below an id when given (a cursor's). */
  deliveries(f: DeliveryFilter, at: { below?: number; skip: number; take: number }): Promise<DeliveryView[]>;
  /** How many deliveries match, counting no further than `take`. */
  countDeliveries(f: DeliveryFilter, take: number): Promise<number>;
  /** The buckets since `since` that have deliveries, oldest first. */
  deliveryOutcomes(subscriptionId: number, bucket: 'hour' | 'day', since: Date): Promise<OutcomeBucket[]>;
  /** Queues one delivery again (a new round of attempts); false when it is not finished. */
  retryDelivery(subscriptionId: number, deliveryId: number): Promise<'queued' | 'not_found' | 'in_progress'>;
  /** Turns the subscription on again with a clean failure count. */
  reenable(subscriptionId: number): Promise<void>;
  /** Queues again what failed or was skipped since `since`; returns how many. */
  requeueSince(subscriptionId: number, since: Date): Promise<number>;
}

const ATTEMPT_LOG_LIMIT = 20;

export function createSubscriptionRepository(db: Db): SubscriptionRepository {
  return {
    async list(f) {
      const where = f.organizationId !== undefined ? { organizationId: f.organizationId } : {};
      const [rows, total] = await Promise.all([
        db.webhookSubscription.findMany({
          where,
          select: subscriptionSelect,
          orderBy: { id: 'asc' },
          skip: (f.page - 1) * f.limit,
          take: f.limit,
        }),
        db.webhookSubscription.count({ where }),
      ]);
      return { rows, total };
    },
    async lastDeliveries(subscriptionIds) {
      if (subscriptionIds.length === 0) return new Map();
      // One probe of (subscription_id, created_at) per subscription, not a scan of its history.
      const rows = await db.$queryRawUnsafe<(LastDelivery & { subscriptionId: number })[]>(
        `SELECT s.id AS "subscriptionId", d.id, d.status, d.last_status_code AS "lastStatusCode", d.created_at AS "createdAt",
                d.delivered_at AS "deliveredAt"
         FROM unnest($1::int[]) AS s(id)
         CROSS JOIN LATERAL (
           SELECT id, status, last_status_code, created_at, delivered_at FROM webhook_deliveries
           WHERE subscription_id = s.id ORDER BY created_at DESC, id DESC LIMIT 1
         ) d`,
        subscriptionIds,
      );
      return new Map(rows.map(({ subscriptionId, ...last }) => [subscriptionId, last]));
    },
    get: (id) => db.webhookSubscription.findUnique({ where: { id }, select: subscriptionSelect }),
    create: (data) => db.webhookSubscription.create({ data, select: subscriptionSelect }),
    update: (id, data) => db.webhookSubscription.update({ where: { id }, data, select: subscriptionSelect }),
    async replaceSecret(id, current, data) {
      const { count } = await db.webhookSubscription.updateMany({
        where: { id, secret: { equals: current as Prisma.InputJsonValue } },
        data,
      });
      return count ? db.webhookSubscription.findUnique({ where: { id }, select: subscriptionSelect }) : null;
    },
    async delete(id) {
      await db.webhookSubscription.delete({ where: { id } });
    },
    async deliveries(f, at) {
      const rows = await db.webhookDelivery.findMany({
        where: at.below === undefined ? deliveryWhere(f) : { AND: [deliveryWhere(f), { id: { lt: at.below } }] },
        orderBy: { id: 'desc' },
        skip: at.skip,
        take: at.take,
        include: {
          event: { select: { id: true, type: true, data: true, createdAt: true } },
          attemptLog: {
            orderBy: { id: 'desc' },
            take: ATTEMPT_LOG_LIMIT,
            select: { attempt: true, startedAt: true, statusCode: true, latencyMs: true, responseBody: true, error: true },
          },
        },
      });
      return rows.map((d) => ({
        id: d.id,
        eventId: d.eventId,
        event: d.event.type,
        status: d.status,
        attempts: d.attempts,
        nextAttemptAt: d.nextAttemptAt,
        lastStatusCode: d.lastStatusCode,
        lastError: d.lastError,
        deliveredAt: d.deliveredAt,
        createdAt: d.createdAt,
        payload: { id: d.event.id, event: d.event.type, timestamp: d.event.createdAt, data: d.event.data },
        attemptLog: d.attemptLog.reverse(),
      }));
    },
    countDeliveries: (f, take) => db.webhookDelivery.count({ where: deliveryWhere(f), take }),
    deliveryOutcomes: (subscriptionId, bucket, since) =>
      // A range of (subscription_id, created_at); the range is bounded by the query's schema.
      db.$queryRawUnsafe<OutcomeBucket[]>(
        `SELECT date_trunc($2, created_at, 'UTC') AS at,
                count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
                count(*) FILTER (WHERE status = 'failed')::int AS failed,
                count(*) FILTER (WHERE status = 'pending')::int AS pending,
                count(*) FILTER (WHERE status = 'sending')::int AS sending,
                count(*) FILTER (WHERE status = 'skipped')::int AS skipped
         FROM webhook_deliveries
         WHERE subscription_id = $1 AND created_at >= $3::timestamptz
         GROUP BY 1 ORDER BY 1`,
        subscriptionId,
        bucket,
        since.toISOString(),
      ),
    async retryDelivery(subscriptionId, deliveryId) {
      const found = await db.webhookDelivery.findFirst({ where: { id: deliveryId, subscriptionId }, select: { status: true } });
      if (!found) return 'not_found';
      const n = await db.$executeRawUnsafe(
        `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_until = NULL, updated_at = now()
         WHERE id = $1 AND subscription_id = $2 AND status NOT IN ('pending', 'sending')`,
        deliveryId,
        subscriptionId,
      );
      return n === 1 ? 'queued' : 'in_progress';
    },
    async reenable(subscriptionId) {
      await db.webhookSubscription.update({
        where: { id: subscriptionId },
        data: { isActive: true, consecutiveFailures: 0, disabledAt: null, disabledReason: null },
      });
    },
    requeueSince: (subscriptionId, since) =>
      db.$executeRawUnsafe(
        `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_until = NULL, updated_at = now()
         WHERE subscription_id = $1 AND status IN ('failed', 'skipped') AND created_at >= $2::timestamptz`,
        subscriptionId,
        since.toISOString(),
      ),
  };
}
