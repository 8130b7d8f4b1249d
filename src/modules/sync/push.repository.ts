import type { Db, Prisma } from '../../db/prisma';
import { AppError } from '../../lib/errors';
import { eventRecorder, type EventRecorder } from '../outbox';
import { createPeopleRepository, type IdentityLink } from '../people';

/** A user as the SQL below reads it: only the keys present in the push are set. */
export interface UserDoc {
  email: string;
  name: string;
  avatarUrl?: string | null;
  isActive?: boolean;
  isAdmin?: boolean;
  department?: string | null;
  title?: string | null;
  lastActiveAt?: string | null;
  roles?: string[];
  permissions?: string[];
}

export type IdentityDoc = IdentityLink;

export interface TenantInput {
  externalId: string;
  name: string;
  slug: string;
  subdomain: string | null;
  metadata: Record<string, unknown>;
}

export interface SyncRunInput {
  organizationId: number | null;
  operation: string;
  trigger: string;
  source: string;
  status: string;
  total: number;
  successful: number;
  failed: number;
  created: number;
  updated: number;
  unchanged: number;
  details: Record<string, unknown>;
  error?: string;
  startedAt: Date;
}

/**
 * Set-based statements of a push: each call is one statement over a whole chunk of users,
 * never a round trip per user.
 */
export interface PushRepository {
  /** Locks the tenant's organization row (creating it if new); concurrent pushes for one tenant queue here. */
  lockOrganization(t: TenantInput): Promise<{ id: number; deleted: boolean }>;
  slugTakenByOther(slug: string, externalId: string): Promise<boolean>;
  /** Inserts the users that do not exist yet; returns email → id of those created. */
  insertNew(organizationId: number, source: string, docs: UserDoc[]): Promise<Map<string, number>>;
  /** Writes only users whose values differ; returns email → id of those updated. */
  updateChanged(organizationId: number, docs: UserDoc[]): Promise<Map<string, number>>;
  idsByEmail(organizationId: number, emails: string[]): Promise<Map<string, number>>;
  /** Returns the ids of users whose identity links changed. */
  upsertIdentities(organizationId: number, docs: IdentityDoc[]): Promise<Set<number>>;
  recordRun(run: SyncRunInput): Promise<number>;
  /** Outbound events, written in the push's transaction. */
  readonly events: EventRecorder;
}

// jsonb in, one statement out. `doc ? 'key'` tells "field left out" (keep the stored value)
// from "field sent as null" (clear it).
const INSERT_NEW = `
  INSERT INTO users AS u (organization_id, email, name, avatar_url, is_active, is_admin, department, title,
                          last_active_at, roles, permissions, source, last_synced_at)
  SELECT $1, d->>'email', d->>'name', d->>'avatarUrl',
         COALESCE((d->>'isActive')::boolean, true), COALESCE((d->>'isAdmin')::boolean, false),
         d->>'department', d->>'title', (d->>'lastActiveAt')::timestamptz(3),
         COALESCE(d->'roles', '[]'::jsonb), COALESCE(d->'permissions', '[]'::jsonb), $2, now()
  FROM jsonb_array_elements($3::jsonb) AS i(d)
  ORDER BY d->>'email'
  ON CONFLICT (organization_id, email) DO NOTHING
  RETURNING u.id, u.email`;

const UPDATE_CHANGED = `
  WITH merged AS (
    SELECT u.id,
      CASE WHEN d ? 'name' THEN d->>'name' ELSE u.name END AS name,
      CASE WHEN d ? 'avatarUrl' THEN d->>'avatarUrl' ELSE u.avatar_url END AS avatar_url,
      CASE WHEN d ? 'isActive' THEN (d->>'isActive')::boolean ELSE u.is_active END AS is_active,
      CASE WHEN d ? 'isAdmin' THEN (d->>'isAdmin')::boolean ELSE u.is_admin END AS is_admin,
      CASE WHEN d ? 'department' THEN d->>'department' ELSE u.department END AS department,
      CASE WHEN d ? 'title' THEN d->>'title' ELSE u.title END AS title,
      CASE WHEN d ? 'lastActiveAt' THEN (d->>'lastActiveAt')::timestamptz(3) ELSE u.last_active_at END AS last_active_at,
      CASE WHEN d ? 'roles' THEN d->'roles' ELSE u.roles END AS roles,
      CASE WHEN d ? 'permissions' THEN d->'permissions' ELSE u.permissions END AS permissions
    FROM jsonb_array_elements($2::jsonb) AS i(d)
    JOIN users u ON u.organization_id = $1 AND u.email = d->>'email'
    ORDER BY u.id
  )
  UPDATE users u SET
    name = m.name, avatar_url = m.avatar_url, is_active = m.is_active, is_admin = m.is_admin,
    department = m.department, title = m.title, last_active_at = m.last_active_at,
    roles = m.roles, permissions = m.permissions, deleted_at = NULL,
    last_synced_at = now(), updated_at = now()
  FROM merged m
  WHERE u.id = m.id
    AND (u.name, u.avatar_url, u.is_active, u.is_admin, u.department, u.title, u.last_active_at,
         u.roles, u.permissions, u.deleted_at IS NULL)
        IS DISTINCT FROM
        (m.name, m.avatar_url, m.is_active, m.is_admin, m.department, m.title, m.last_active_at,
         m.roles, m.permissions, true)
  RETURNING u.id, u.email`;

const IDS_BY_EMAIL = `
  SELECT u.id, u.email FROM users u
  WHERE u.organization_id = $1 AND u.email IN (SELECT jsonb_array_elements_text($2::jsonb))`;

export function createPushRepository(db: Db): PushRepository {
  const people = createPeopleRepository(db);
  return {
    events: eventRecorder(db),
    async lockOrganization(tn) {
      const lock = () =>
        db.$queryRawUnsafe<{ id: number; deleted: boolean }[]>(
          'SELECT id, deleted_at IS NOT NULL AS deleted FROM organizations WHERE external_id = $1 FOR UPDATE',
          tn.externalId,
        );
      let [row] = await lock();
      if (!row) {
        // No conflict target: a concurrent push for the same new tenant inserts the same slug
        // too, and a conflict on an index that is not the target (slug) would be an error
        // (seen: one 500 among three racing pushes). Whichever unique index it hits, the row
        // read next is the winner's.
        await db.$executeRawUnsafe(
          `INSERT INTO organizations (name, slug, external_id, subdomain, metadata)
           VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING`,
          tn.name,
          tn.slug,
          tn.externalId,
          tn.subdomain,
          JSON.stringify(tn.metadata),
        );
        [row] = await lock();
        // Not inserted and not there: another tenant took the slug between the check and the insert.
        if (!row) throw new AppError('conflict', 'organization_slug_taken', `The organization slug ${tn.slug} was just taken; push again`);
        return row;
      }
      if (!row.deleted) {
        await db.$executeRawUnsafe(
          `UPDATE organizations SET name = $2, subdomain = COALESCE($3, subdomain), metadata = metadata || $4::jsonb, updated_at = now()
           WHERE id = $1 AND (name, subdomain, metadata) IS DISTINCT FROM ($2, COALESCE($3, subdomain), metadata || $4::jsonb)`,
          row.id,
          tn.name,
          tn.subdomain,
          JSON.stringify(tn.metadata),
        );
      }
      return row;
    },
    async slugTakenByOther(slug, externalId) {
      const rows = await db.$queryRawUnsafe<unknown[]>(
        'SELECT 1 FROM organizations WHERE slug = $1 AND external_id IS DISTINCT FROM $2',
        slug,
        externalId,
      );
      return rows.length > 0;
    },
    async insertNew(organizationId, source, docs) {
      const rows = await db.$queryRawUnsafe<{ id: number; email: string }[]>(INSERT_NEW, organizationId, source, JSON.stringify(docs));
      return new Map(rows.map((r) => [r.email, r.id]));
    },
    async updateChanged(organizationId, docs) {
      if (docs.length === 0) return new Map();
      const rows = await db.$queryRawUnsafe<{ id: number; email: string }[]>(UPDATE_CHANGED, organizationId, JSON.stringify(docs));
      return new Map(rows.map((r) => [r.email, r.id]));
    },
    async idsByEmail(organizationId, emails) {
      if (emails.length === 0) return new Map();
      const rows = await db.$queryRawUnsafe<{ id: number; email: string }[]>(IDS_BY_EMAIL, organizationId, JSON.stringify(emails));
      return new Map(rows.map((r) => [r.email, r.id]));
    },
    async upsertIdentities(organizationId, docs) {
      return new Set((await people.upsertIdentities(organizationId, docs)).map((r) => r.userId));
    },
    async recordRun(run) {
      const row = await db.syncRun.create({
        data: { ...run, details: run.details as Prisma.InputJsonValue, finishedAt: new Date() },
        select: { id: true },
      });
      return row.id;
    },
  };
}
