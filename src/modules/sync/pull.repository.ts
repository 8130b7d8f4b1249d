import type { Db, Prisma } from '../../db/prisma';
import type { PersonRecord } from '../integrations/connectors/connector';
import { UPSERT_IDENTITIES } from './identities.sql';

/** Where a pull run stands; stored on the run after every page so another run can resume. */
export interface Checkpoint {
  /** Index into the connector's streams. */
  stream: number;
  /** The connector's cursor for the next page of that stream (null: its first page). */
  cursor: string | null;
  /** Incremental runs: the updated_since they read from (ISO). */
  updatedSince: string | null;
  /** The newest source updated_at seen so far (ISO): the next cursor. */
  maxUpdatedAt: string | null;
  /** When the run (or the run it resumes) started (ISO): the next deleted_since. */
  startedAt: string;
}

/** Another instance took this run's lease (it judged this process dead): stop, write nothing more. */
export class LeaseLostError extends Error {
  constructor(integrationId: number) {
    super(`lost the sync lease of integration ${integrationId} to another instance`);
    this.name = 'LeaseLostError';
  }
}

export interface PageCounts {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

export interface RunStart {
  organizationId: number;
  integrationId: number;
  operation: 'full' | 'incremental';
  trigger: string;
  source: string;
  checkpoint: Checkpoint;
  details: Record<string, unknown>;
}

export interface RunRow {
  id: number;
  operation: string;
  status: string;
  checkpoint: Prisma.JsonValue;
  startedAt: Date;
}

/** The set-based statements of a pull, and the run/lease bookkeeping around them. */
export interface PullRepository {
  /** Takes (or renews) the integration's lease; false when another holder's lease is live. */
  acquireLease(integrationId: number, owner: string, seconds: number): Promise<boolean>;
  releaseLease(integrationId: number, owner: string): Promise<void>;
  /** Runs left `running` by a process that is gone: marks them abandoned. */
  abandonStaleRuns(integrationId: number): Promise<void>;
  latestResumable(integrationId: number): Promise<RunRow | null>;
  createRun(start: RunStart): Promise<number>;
  /** Applies one page of people and records the run's progress, in one transaction. */
  applyPage(args: {
    organizationId: number;
    source: string;
    records: PersonRecord[];
    runId: number;
    integrationId: number;
    leaseOwner: string;
    leaseSeconds: number;
    checkpoint: Checkpoint;
    totalPages: number | null;
    failures: { externalId: string; reason: string }[];
  }): Promise<PageCounts>;
  /** Soft-deletes (or unlinks) the people of `providers` whose ids are not in `seen`. */
  reconcile(
    organizationId: number,
    source: string,
    providers: readonly string[],
    seen: Set<string>,
  ): Promise<{ deleted: number; unlinked: number }>;
  /** The same for explicit ids deleted at the source. */
  removeDeleted(
    organizationId: number,
    source: string,
    ids: { provider: string; externalId: string }[],
  ): Promise<{ deleted: number; unlinked: number }>;
  finishRun(
    runId: number,
    data: { status: string; deleted: number; error: string | null; details: Record<string, unknown> },
  ): Promise<void>;
  runCounts(
    runId: number,
  ): Promise<{ total: number; created: number; updated: number; unchanged: number; failed: number; deleted: number; pages: number }>;
  updateIntegrationAfterRun(integrationId: number, data: Prisma.IntegrationUncheckedUpdateInput): Promise<void>;
  /** Refreshes planner statistics of the tables a bulk load grew. */
  analyze(): Promise<void>;
}

/** Provider names are [a-z0-9_], so "provider:id" is unambiguous. */
export const seenKey = (provider: string, externalId: string) => `${provider}:${externalId}`;

/**
 * Which existing user each record belongs to: its identity first, else a user with its email.
 * It also takes the organization's row lock (as the push does), so user writes of one
 * organization never race.
 */
const MATCH = `
  SELECT (d->>'ord')::int AS ord, COALESCE(ui.user_id, u.id) AS user_id
  FROM (SELECT id FROM organizations WHERE id = $1 FOR UPDATE) AS lock
  CROSS JOIN jsonb_array_elements($2::jsonb) AS i(d)
  LEFT JOIN user_identities ui
    ON ui.organization_id = $1 AND ui.provider = d->>'provider' AND ui.external_id = d->>'externalId'
  LEFT JOIN users u
    ON ui.user_id IS NULL AND u.organization_id = $1 AND u.email = d->>'email'`;

// Ids come from the sequence first, so each new row's id is known per input record.
// (A CTE with a volatile function is evaluated once.)
const INSERT_NEW = `
  WITH ids AS (
    SELECT (d->>'ord')::int AS ord, d, nextval(pg_get_serial_sequence('users', 'id'))::int AS id
    FROM jsonb_array_elements($2::jsonb) AS i(d)
  ), ins AS (
    INSERT INTO users (id, organization_id, email, name, first_name, last_name, phone, title, is_active, source, last_synced_at)
    SELECT id, $1, d->>'email', d->>'name', d->>'firstName', d->>'lastName', d->>'phone', d->>'title',
           (d->>'isActive')::boolean, $3, now()
    FROM ids
    RETURNING id
  )
  SELECT ids.ord, ids.id FROM ids JOIN ins ON ins.id = ids.id`;

// Only users this source created are written (their profile is the CRM's); a changed
// email is taken unless another user of the organization has it.
const UPDATE_OWNED = `
  WITH x AS (
    SELECT DISTINCT ON ((d->>'userId')::int) (d->>'userId')::int AS user_id, d
    FROM jsonb_array_elements($2::jsonb) AS i(d)
    ORDER BY (d->>'userId')::int
  ), m AS (
    SELECT u.id,
      CASE WHEN x.d->>'email' IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM users o WHERE o.organization_id = $1 AND o.email = x.d->>'email' AND o.id <> u.id)
           THEN x.d->>'email' ELSE u.email END AS email,
      x.d->>'name' AS name, x.d->>'firstName' AS first_name, x.d->>'lastName' AS last_name,
      x.d->>'phone' AS phone, x.d->>'title' AS title, (x.d->>'isActive')::boolean AS is_active
    FROM x JOIN users u ON u.id = x.user_id AND u.organization_id = $1 AND u.source = $3
  )
  UPDATE users u SET email = m.email, name = m.name, first_name = m.first_name, last_name = m.last_name,
    phone = m.phone, title = m.title, is_active = m.is_active, deleted_at = NULL,
    last_synced_at = now(), updated_at = now()
  FROM m
  WHERE u.id = m.id
    AND (u.email, u.name, u.first_name, u.last_name, u.phone, u.title, u.is_active, u.deleted_at IS NULL)
        IS DISTINCT FROM (m.email, m.name, m.first_name, m.last_name, m.phone, m.title, m.is_active, true)
  RETURNING u.id`;

/**
 * Removes people the source no longer has: users this source created are soft-deleted
 * (their identity stays, so a contact that comes back revives its user); users from
 * elsewhere only lose the link.
 */
const REMOVE = `
  WITH keys AS (SELECT jsonb_array_elements_text($4::jsonb) AS k),
  gone AS (
    SELECT ui.id, ui.user_id, u.source = $2 AS owned
    FROM user_identities ui JOIN users u ON u.id = ui.user_id
    WHERE ui.organization_id = $1
      AND ui.provider IN (SELECT jsonb_array_elements_text($3::jsonb))
      AND %MATCH% EXISTS (SELECT 1 FROM keys WHERE keys.k = ui.provider || ':' || ui.external_id)
  ), soft AS (
    UPDATE users u SET deleted_at = now(), is_active = false, updated_at = now()
    FROM gone WHERE gone.owned AND u.id = gone.user_id AND u.deleted_at IS NULL
    RETURNING u.id
  ), unlinked AS (
    DELETE FROM user_identities ui USING gone WHERE NOT gone.owned AND ui.id = gone.id RETURNING ui.id
  )
  SELECT (SELECT count(*) FROM soft)::int AS deleted, (SELECT count(*) FROM unlinked)::int AS unlinked`;

export function createPullRepository(
  prisma: { $transaction: <T>(fn: (tx: Prisma.TransactionClient) => Promise<T>) => Promise<T> } & Db,
): PullRepository {
  const db: Db = prisma;
  /** `notIn`: remove the people NOT among `keys` (reconciliation); otherwise those among them. */
  const remove = async (organizationId: number, source: string, providers: readonly string[], keys: string[], notIn: boolean) => {
    const sql = REMOVE.replace('%MATCH%', notIn ? 'NOT' : '');
    const [row] = await db.$queryRawUnsafe<{ deleted: number; unlinked: number }[]>(
      sql,
      organizationId,
      source,
      JSON.stringify(providers),
      JSON.stringify(keys),
    );
    return row;
  };
  return {
    async acquireLease(integrationId, owner, seconds) {
      const rows = await db.$queryRawUnsafe<unknown[]>(
        `UPDATE integrations SET sync_lease_owner = $2, sync_lease_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND (sync_lease_until IS NULL OR sync_lease_until < now() OR sync_lease_owner = $2)
         RETURNING id`,
        integrationId,
        owner,
        seconds,
      );
      return rows.length === 1;
    },
    async releaseLease(integrationId, owner) {
      await db.$executeRawUnsafe(
        'UPDATE integrations SET sync_lease_owner = NULL, sync_lease_until = NULL WHERE id = $1 AND sync_lease_owner = $2',
        integrationId,
        owner,
      );
    },
    async abandonStaleRuns(integrationId) {
      // Called while holding the lease: any run still marked running has lost its process.
      await db.$executeRawUnsafe(
        `UPDATE sync_runs SET status = 'abandoned', finished_at = now(),
                error = COALESCE(error, 'abandoned: the process running it stopped without finishing')
         WHERE integration_id = $1 AND status = 'running'`,
        integrationId,
      );
    },
    async latestResumable(integrationId) {
      const last = await db.syncRun.findFirst({
        where: { integrationId },
        orderBy: { id: 'desc' },
        select: { id: true, operation: true, status: true, checkpoint: true, startedAt: true },
      });
      return last && ['abandoned', 'interrupted', 'failed'].includes(last.status) && last.checkpoint ? last : null;
    },
    async createRun(start) {
      const run = await db.syncRun.create({
        data: {
          organizationId: start.organizationId,
          integrationId: start.integrationId,
          operation: start.operation,
          trigger: start.trigger,
          source: start.source,
          status: 'running',
          checkpoint: start.checkpoint as unknown as Prisma.InputJsonValue,
          details: start.details as Prisma.InputJsonValue,
          heartbeatAt: new Date(),
        },
        select: { id: true },
      });
      return run.id;
    },
    async applyPage(a) {
      return prisma.$transaction(async (tx) => {
        const docs = a.records.map((r, ord) => ({ ...r, ord, updatedAt: r.updatedAt?.toISOString() ?? null }));
        const counts: PageCounts = { created: 0, updated: 0, unchanged: 0, failed: a.failures.length };
        if (docs.length > 0) {
          const matched = await tx.$queryRawUnsafe<{ ord: number; user_id: number | null }[]>(
            MATCH,
            a.organizationId,
            JSON.stringify(docs),
          );
          const userOf = new Map(matched.map((m) => [m.ord, m.user_id]));
          // New people; records of one batch sharing an email become one user.
          const newByEmail = new Map<string, number>();
          const toInsert: typeof docs = [];
          const followers: { ord: number; leader: number }[] = [];
          for (const d of docs) {
            if (userOf.get(d.ord) !== null) continue;
            const leader = d.email ? newByEmail.get(d.email) : undefined;
            if (leader !== undefined) followers.push({ ord: d.ord, leader });
            else {
              if (d.email) newByEmail.set(d.email, d.ord);
              toInsert.push(d);
            }
          }
          const created = new Set<number>();
          if (toInsert.length) {
            const rows = await tx.$queryRawUnsafe<{ ord: number; id: number }[]>(
              INSERT_NEW,
              a.organizationId,
              JSON.stringify(toInsert),
              a.source,
            );
            for (const r of rows) {
              userOf.set(r.ord, r.id);
              created.add(r.ord);
            }
          }
          for (const f of followers) userOf.set(f.ord, userOf.get(f.leader) as number);
          const existing = docs.filter((d) => !created.has(d.ord)).map((d) => ({ ...d, userId: userOf.get(d.ord) }));
          const updatedUsers = new Set<number>();
          if (existing.length) {
            const rows = await tx.$queryRawUnsafe<{ id: number }[]>(UPDATE_OWNED, a.organizationId, JSON.stringify(existing), a.source);
            for (const r of rows) updatedUsers.add(r.id);
          }
          const identities = docs.map((d) => ({
            provider: d.provider,
            externalId: d.externalId,
            userId: userOf.get(d.ord),
            data: { ...d.data, sourceUpdatedAt: d.updatedAt },
          }));
          const relinked = new Set(
            (
              await tx.$queryRawUnsafe<{ provider: string; external_id: string }[]>(
                UPSERT_IDENTITIES,
                a.organizationId,
                JSON.stringify(identities),
              )
            ).map((r) => seenKey(r.provider, r.external_id)),
          );
          for (const d of docs) {
            if (created.has(d.ord)) counts.created++;
            else if (updatedUsers.has(userOf.get(d.ord) as number) || relinked.has(seenKey(d.provider, d.externalId))) counts.updated++;
            else counts.unchanged++;
          }
        }
        // Progress and the lease renewal in one statement: a live run keeps its lease; if the
        // lease was taken, nothing is updated, this page rolls back and the run stops.
        const renewed = await tx.$executeRawUnsafe(
          `WITH lease AS (
             UPDATE integrations SET sync_lease_until = now() + make_interval(secs => $13)
             WHERE id = $11 AND sync_lease_owner = $12 RETURNING id)
           UPDATE sync_runs SET pages = pages + 1, total = total + $2, successful = successful + $3, failed = failed + $4,
             created = created + $5, updated = updated + $6, unchanged = unchanged + $7,
             checkpoint = $8::jsonb, total_pages = COALESCE($9, total_pages), heartbeat_at = now(),
             -- The first 100 failures, with their reasons: the discrepancy report.
             details = CASE WHEN jsonb_array_length($10::jsonb) = 0
                              OR jsonb_array_length(COALESCE(details->'failures', '[]'::jsonb)) >= 100 THEN details
                            ELSE jsonb_set(details, '{failures}', (COALESCE(details->'failures', '[]'::jsonb) || $10::jsonb)) END
           WHERE id = $1 AND EXISTS (SELECT 1 FROM lease)`,
          a.runId,
          docs.length + a.failures.length,
          docs.length,
          a.failures.length,
          counts.created,
          counts.updated,
          counts.unchanged,
          JSON.stringify(a.checkpoint),
          a.totalPages,
          JSON.stringify(a.failures),
          a.integrationId,
          a.leaseOwner,
          a.leaseSeconds,
        );
        if (renewed !== 1) throw new LeaseLostError(a.integrationId);
        return counts;
      });
    },
    reconcile: (organizationId, source, providers, seen) => remove(organizationId, source, providers, [...seen], true),
    removeDeleted: (organizationId, source, ids) =>
      remove(
        organizationId,
        source,
        [...new Set(ids.map((i) => i.provider))],
        ids.map((i) => seenKey(i.provider, i.externalId)),
        false,
      ),
    async finishRun(runId, data) {
      await db.$executeRawUnsafe(
        `UPDATE sync_runs SET status = $2, deleted = $3, error = $4, finished_at = now(), heartbeat_at = now(),
           details = details || $5::jsonb
         WHERE id = $1`,
        runId,
        data.status,
        data.deleted,
        data.error,
        JSON.stringify(data.details),
      );
    },
    async runCounts(runId) {
      const r = await db.syncRun.findUniqueOrThrow({
        where: { id: runId },
        select: { total: true, created: true, updated: true, unchanged: true, failed: true, deleted: true, pages: true },
      });
      return r;
    },
    async analyze() {
      await db.$executeRawUnsafe('ANALYZE users, user_identities');
    },
    async updateIntegrationAfterRun(integrationId, data) {
      await db.integration.update({ where: { id: integrationId }, data });
    },
  };
}
