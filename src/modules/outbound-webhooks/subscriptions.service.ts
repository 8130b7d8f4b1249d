import type { Logger } from 'winston';
import type { Prisma } from '../../db/prisma';
import type { UnitOfWork } from '../../db/unit-of-work';
import { AppError } from '../../lib/errors';
import { newestFirstPage, type ListPage, type NewestFirstQuery } from '../../lib/list-cursor';
import { mask, type SealedValue, type SecretBox } from '../../lib/secret-box';
import { assertAllowedUrl } from '../../lib/url-guard';
import type { OrganizationLookup } from '../auth';
import { newSubscriptionSecret } from './signing';
import type { DeliveryFilter, DeliveryView, OutcomeBucket, SubscriptionRepository, SubscriptionRow } from './subscriptions.repository';
import type { CreateSubscriptionInput, UpdateSubscriptionInput } from './subscriptions.schemas';

/** What the API shows: the secret only as its last characters. */
export type SubscriptionView = Omit<SubscriptionRow, 'secret' | 'previousSecret'> & {
  secretPreview: string;
  previousSecretActive: boolean;
};

export class SubscriptionService {
  constructor(
    private readonly repo: SubscriptionRepository,
    private readonly uow: UnitOfWork<{ subscriptions: SubscriptionRepository }>,
    private readonly organizations: OrganizationLookup,
    private readonly box: SecretBox,
    private readonly logger: Logger,
    /** exactCountLimit: deliveries are counted exactly up to this many (LIST_EXACT_COUNT_LIMIT). */
    private readonly opts: { allowPrivateUrls: boolean; secretGraceHours: number; exactCountLimit: number },
  ) {}

  /** The page of subscriptions, each with its newest delivery (null before the first). */
  async list(f: { organizationId?: number; page: number; limit: number }) {
    const { rows, total } = await this.repo.list(f);
    const last = await this.repo.lastDeliveries(rows.map((r) => r.id));
    return { rows: rows.map((r) => ({ ...this.view(r), lastDelivery: last.get(r.id) ?? null })), total };
  }

  async getRow(id: number): Promise<SubscriptionRow> {
    const row = await this.repo.get(id);
    if (!row) throw AppError.notFound('Webhook subscription', id);
    return row;
  }

  /** The secret is in this answer and never again. */
  async create(organizationId: number, input: Omit<CreateSubscriptionInput, 'organizationId'>) {
    if (!(await this.organizations.exists(organizationId))) throw AppError.notFound('Organization', organizationId);
    await this.checkUrl(input.url);
    const secret = newSubscriptionSecret();
    const row = await this.repo.create({
      organizationId,
      url: input.url,
      events: input.events,
      description: input.description ?? null,
      isActive: input.isActive ?? true,
      secret: this.box.seal(secret) as unknown as Prisma.InputJsonValue,
    });
    this.logger.info('webhook subscription created', { subscriptionId: row.id, organizationId, events: input.events });
    return { ...this.view(row), secret };
  }

  async update(row: SubscriptionRow, input: UpdateSubscriptionInput): Promise<SubscriptionView> {
    if (input.url) await this.checkUrl(input.url);
    // Turning it back on starts afresh: the failure count that disabled it is history.
    const reenable = input.isActive === true && !row.isActive ? { consecutiveFailures: 0, disabledAt: null, disabledReason: null } : {};
    return this.view(await this.repo.update(row.id, { ...input, ...reenable }));
  }

  async remove(id: number): Promise<void> {
    await this.repo.delete(id);
  }

  /** A new secret; the old one keeps signing beside it for the grace period. */
  async rotateSecret(row: SubscriptionRow, graceHours = this.opts.secretGraceHours) {
    const secret = newSubscriptionSecret();
    const updated = await this.repo.replaceSecret(row.id, row.secret, {
      secret: this.box.seal(secret) as unknown as Prisma.InputJsonValue,
      previousSecret: graceHours > 0 ? (row.secret as Prisma.InputJsonValue) : undefined,
      previousSecretExpiresAt: graceHours > 0 ? new Date(Date.now() + graceHours * 3600_000) : null,
    });
    // Two rotations at once would each show a secret of their own, and only one would sign.
    if (!updated)
      throw new AppError(
        'conflict',
        'secret_rotated_concurrently',
        `The secret of subscription ${row.id} was rotated by another request at the same time; the secret that request showed is the current one`,
      );
    this.logger.info('webhook subscription secret rotated', { subscriptionId: row.id, graceHours });
    return { ...this.view(updated), secret };
  }

  /** A page of a subscription's deliveries, by `page` or by `cursor` (bound to the subscription and filters). */
  deliveries(f: DeliveryFilter, q: NewestFirstQuery): Promise<ListPage<DeliveryView>> {
    return newestFirstPage('deliveries', f, q, this.opts.exactCountLimit, {
      find: (g, at) => this.repo.deliveries(g, at),
      count: (g, take) => this.repo.countDeliveries(g, take),
    });
  }

  /**
   * Deliveries per hour or day (UTC) from `since` (by default two days of hours, or thirty
   * days) to now, every bucket present, empty ones as zeros: a chart's points.
   */
  async deliveryOutcomes(row: SubscriptionRow, bucket: 'hour' | 'day', since?: Date) {
    const step = bucket === 'hour' ? 3600_000 : 86_400_000;
    const from = floorTo(since ?? new Date(Date.now() - (bucket === 'hour' ? 48 : 30) * step), step);
    const found = new Map((await this.repo.deliveryOutcomes(row.id, bucket, from)).map((b) => [b.at.getTime(), b]));
    const points: OutcomeBucket[] = [];
    for (let t = from.getTime(); t <= Date.now(); t += step) {
      points.push(found.get(t) ?? { at: new Date(t), succeeded: 0, failed: 0, pending: 0, sending: 0, skipped: 0 });
    }
    return { bucket, since: from, points };
  }

  async retryDelivery(row: SubscriptionRow, deliveryId: number): Promise<void> {
    if (!row.isActive) {
      throw new AppError(
        'conflict',
        'subscription_disabled',
        `Subscription ${row.id} is disabled; enable it (PATCH isActive: true) or use POST /recover first`,
      );
    }
    const result = await this.repo.retryDelivery(row.id, deliveryId);
    if (result === 'not_found') throw AppError.notFound('Delivery', deliveryId);
    if (result === 'in_progress')
      throw new AppError('conflict', 'delivery_in_progress', `Delivery ${deliveryId} is still queued or being sent`);
  }

  async recover(row: SubscriptionRow, since: Date): Promise<{ requeued: number; subscription: SubscriptionView }> {
    const requeued = await this.uow.transactional(async ({ subscriptions }) => {
      await subscriptions.reenable(row.id);
      return subscriptions.requeueSince(row.id, since);
    });
    this.logger.info('webhook subscription recovered', { subscriptionId: row.id, since: since.toISOString(), requeued });
    return { requeued, subscription: this.view(await this.getRow(row.id)) };
  }

  view(row: SubscriptionRow): SubscriptionView {
    const { secret, previousSecret, ...rest } = row;
    return {
      ...rest,
      secretPreview: mask(this.box.open(secret as unknown as SealedValue)),
      previousSecretActive: Boolean(previousSecret && row.previousSecretExpiresAt && row.previousSecretExpiresAt > new Date()),
    };
  }

  private checkUrl(url: string): Promise<void> {
    return assertAllowedUrl(url, { allowPrivateUrls: this.opts.allowPrivateUrls, path: 'body.url' });
  }
}

/** The start of the UTC hour or day holding `d` (both divide the epoch evenly). */
function floorTo(d: Date, step: number): Date {
  return new Date(Math.floor(d.getTime() / step) * step);
}
