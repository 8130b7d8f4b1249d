import type { Logger } from 'winston';
import type { UnitOfWork } from '../../db/unit-of-work';
import { AppError, zodDetails } from '../../lib/errors';
import { findUnstorable, storableText } from '../../lib/input-guard';
import { syncRunEvent } from '../outbox';
import type { Metrics } from '../../lib/metrics';
import { sha256Hex } from '../../lib/crypto';
import { slugify } from '../organizations';
import type { IdentityDoc, PushRepository, UserDoc } from './push.repository';
import { pushUser, type PushBody, type PushResult, type PushUser } from './push.schemas';

export interface PushResponse {
  success: true;
  message: string;
  results: PushResult[];
  tenant: { id: string; name: string };
  metadata: {
    operation: string;
    syncedAt: string;
    totalUsers: number;
    successful: number;
    failed: number;
    created: number;
    updated: number;
    unchanged: number;
    syncRunId: number;
    organizationId: number;
  };
}

interface Accepted {
  index: number;
  user: PushUser;
  doc: UserDoc;
}

const MAX_REPORTED_FAILURES = 100;

export class PushService {
  constructor(
    /** A push commits whole or not at all. */
    private readonly uow: UnitOfWork<PushRepository>,
    private readonly logger: Logger,
    private readonly opts: { maxUsers: number; batchSize: number; metrics?: Metrics },
  ) {}

  async push(body: PushBody, source: string): Promise<PushResponse> {
    const startedAt = new Date();
    if (body.users.length > this.opts.maxUsers) {
      throw new AppError(
        'payload_too_large',
        'too_many_users',
        `A push may carry at most ${this.opts.maxUsers} users; this one has ${body.users.length}. Split it into several requests.`,
      );
    }
    const results: PushResult[] = new Array(body.users.length);
    const accepted = this.validateUsers(body.users, results);

    const outcome = await this.uow.transactional(async (repo) => {
      const org = await this.lockOrganization(repo, body);
      if (org.deleted) {
        throw new AppError(
          'conflict',
          'organization_deleted',
          `Organization for tenant ${body.tenant.id} was deleted; restore it before pushing users`,
        );
      }
      let created = 0;
      let updated = 0;
      for (let start = 0; start < accepted.length; start += this.opts.batchSize) {
        const chunk = accepted.slice(start, start + this.opts.batchSize);
        const inserted = await repo.insertNew(
          org.id,
          source,
          chunk.map((a) => a.doc),
        );
        // Only users that existed before can have changed; only unchanged ones still need their id.
        const existing = chunk.filter((a) => !inserted.has(a.doc.email)).map((a) => a.doc);
        const changed = await repo.updateChanged(org.id, existing);
        const untouched = await repo.idsByEmail(
          org.id,
          existing.filter((d) => !changed.has(d.email)).map((d) => d.email),
        );
        const idOf = (email: string) => (inserted.get(email) ?? changed.get(email) ?? untouched.get(email)) as number;
        const identities = chunk.flatMap((a) => identityDocs(a.user, idOf(a.doc.email), source));
        const relinked = await repo.upsertIdentities(org.id, identities);
        const updatedIds: number[] = [];
        for (const a of chunk) {
          const id = idOf(a.doc.email);
          const status = inserted.has(a.doc.email) ? 'created' : changed.has(a.doc.email) || relinked.has(id) ? 'updated' : 'unchanged';
          if (status === 'created') created++;
          if (status === 'updated') updatedIds.push(id);
          results[a.index] = { userId: a.user.id ?? null, email: a.doc.email, status, crmUserId: id, message: messages[status] };
        }
        updated += updatedIds.length;
        await repo.events.users(org.id, 'user.created', inserted.values());
        await repo.events.users(org.id, 'user.updated', updatedIds);
      }
      const failed = body.users.length - accepted.length;
      const unchanged = accepted.length - created - updated;
      const failures = results.filter((r) => r.status === 'failed').slice(0, MAX_REPORTED_FAILURES);
      const status = failed === 0 ? 'succeeded' : accepted.length === 0 ? 'failed' : 'partial';
      const syncRunId = await repo.recordRun({
        organizationId: org.id,
        operation: body.operation,
        trigger: 'push',
        source,
        status,
        total: body.users.length,
        successful: accepted.length,
        failed,
        created,
        updated,
        unchanged,
        details: { metadata: body.metadata ?? null, failures, durationMs: Date.now() - startedAt.getTime() },
        startedAt,
      });
      await repo.events.record(
        org.id,
        status === 'failed' ? 'sync.failed' : 'sync.completed',
        syncRunEvent({
          syncRunId,
          organizationId: org.id,
          integrationId: null,
          operation: body.operation,
          trigger: 'push',
          source,
          status,
          total: body.users.length,
          created,
          updated,
          unchanged,
          deleted: 0,
          failed,
          error: status === 'failed' ? 'every user in the push was rejected' : null,
          startedAt,
          finishedAt: new Date(),
        }),
      );
      return { organizationId: org.id, syncRunId, created, updated, unchanged, failed, status };
    });

    const successful = accepted.length;
    const m = this.opts.metrics;
    if (m) {
      m.syncRuns.inc({ provider: 'push', operation: body.operation, outcome: outcome.status });
      m.syncDuration.observe({ provider: 'push', operation: body.operation }, (Date.now() - startedAt.getTime()) / 1000);
      for (const result of ['created', 'updated', 'unchanged', 'failed'] as const) {
        if (outcome[result] > 0) m.syncRecords.inc({ provider: 'push', result }, outcome[result]);
      }
    }
    this.logger.info('user push applied', {
      tenant: body.tenant.id,
      source,
      total: body.users.length,
      created: outcome.created,
      updated: outcome.updated,
      unchanged: outcome.unchanged,
      failed: outcome.failed,
      durationMs: Date.now() - startedAt.getTime(),
    });
    return {
      success: true,
      message:
        outcome.failed === 0
          ? `Successfully synced ${successful} users`
          : `Synced ${successful} of ${body.users.length} users; ${outcome.failed} failed`,
      results,
      tenant: { id: body.tenant.id, name: body.tenant.name },
      metadata: {
        operation: body.operation,
        syncedAt: new Date().toISOString(),
        totalUsers: body.users.length,
        successful,
        failed: outcome.failed,
        created: outcome.created,
        updated: outcome.updated,
        unchanged: outcome.unchanged,
        syncRunId: outcome.syncRunId,
        organizationId: outcome.organizationId,
      },
    };
  }

  /** Valid users are accepted; invalid ones and repeats get a `failed` result here. */
  private validateUsers(users: unknown[], results: PushResult[]): Accepted[] {
    const accepted: Accepted[] = [];
    const firstByEmail = new Map<string, number>();
    const firstById = new Map<string, number>();
    const firstByKinde = new Map<string, number>();
    users.forEach((raw, index) => {
      const parsed = pushUser.safeParse(raw);
      const rawObj = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      const unstorable = findUnstorable(raw, '');
      if (!parsed.success || unstorable) {
        const details = unstorable ? [unstorable] : zodDetails(parsed.error!.issues);
        results[index] = {
          userId: typeof rawObj.id === 'string' ? storableText(rawObj.id) : null,
          email: typeof rawObj.email === 'string' ? storableText(rawObj.email) : null,
          status: 'failed',
          crmUserId: null,
          message: 'User rejected: invalid data',
          // Kept in the run's report (jsonb): a path may hold the offending key itself.
          error: storableText(details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ')),
        };
        return;
      }
      const user = parsed.data;
      const repeat =
        repeatOf(firstByEmail, user.email, index, 'email') ??
        (user.id ? repeatOf(firstById, user.id, index, 'id') : undefined) ??
        (user.kindeUserId ? repeatOf(firstByKinde, user.kindeUserId, index, 'kindeUserId') : undefined);
      if (repeat) {
        results[index] = {
          userId: user.id ?? null,
          email: user.email,
          status: 'failed',
          crmUserId: null,
          message: 'User rejected: repeated in this push',
          error: repeat,
        };
        return;
      }
      accepted.push({ index, user, doc: toDoc(user) });
    });
    // Sorted by email: every push touches rows in the same order.
    return accepted.sort((a, b) => (a.doc.email < b.doc.email ? -1 : a.doc.email > b.doc.email ? 1 : 0));
  }

  private async lockOrganization(repo: PushRepository, body: PushBody) {
    const base = slugify(body.tenant.subdomain ?? body.tenant.name);
    const slug = (await repo.slugTakenByOther(base, body.tenant.id)) ? `${base}-${sha256Hex(body.tenant.id).slice(0, 6)}` : base;
    return repo.lockOrganization({
      externalId: body.tenant.id,
      name: body.tenant.name,
      slug,
      subdomain: body.tenant.subdomain ?? null,
      metadata: body.tenant.kindeOrgId ? { kindeOrgId: body.tenant.kindeOrgId } : {},
    });
  }
}

const messages = {
  created: 'User created successfully',
  updated: 'User updated successfully',
  unchanged: 'User already up to date',
} as const;

function repeatOf(seen: Map<string, number>, key: string, index: number, field: string): string | undefined {
  const first = seen.get(key);
  if (first !== undefined) return `${field} ${key} already appears at users[${first}]; only the first is applied`;
  seen.set(key, index);
  return undefined;
}

/** Only keys present in the push are passed, so absent fields keep their stored values. */
function toDoc(u: PushUser): UserDoc {
  const doc: UserDoc = { email: u.email, name: u.name };
  if (u.avatar !== undefined) doc.avatarUrl = u.avatar;
  if (u.isActive !== undefined) doc.isActive = u.isActive;
  if (u.isAdmin !== undefined) doc.isAdmin = u.isAdmin;
  if (u.department !== undefined) doc.department = u.department;
  if (u.title !== undefined) doc.title = u.title;
  if (u.lastActiveAt !== undefined) doc.lastActiveAt = u.lastActiveAt;
  if (u.roles !== undefined) doc.roles = u.roles;
  if (u.permissions !== undefined) doc.permissions = u.permissions;
  return doc;
}

const KNOWN_FIELDS = new Set([
  'id',
  'kindeUserId',
  'email',
  'name',
  'avatar',
  'isActive',
  'isAdmin',
  'department',
  'title',
  'lastActiveAt',
  'roles',
  'permissions',
]);

function identityDocs(u: PushUser, userId: number, source: string): IdentityDoc[] {
  const docs: IdentityDoc[] = [];
  if (u.id) {
    // What the upstream system says beyond our columns (allowedApplications, subscriptionTier, ...).
    const extra = Object.fromEntries(Object.entries(u).filter(([k]) => !KNOWN_FIELDS.has(k)));
    docs.push({ userId, provider: source, externalId: u.id, data: Object.keys(extra).length ? extra : null });
  }
  if (u.kindeUserId) docs.push({ userId, provider: 'kinde', externalId: u.kindeUserId, data: null });
  return docs;
}
