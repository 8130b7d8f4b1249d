import type { Db } from '../../db/prisma';
import type { PersonRecord } from '../integrations/connectors/connector';
import { eventRecorder } from '../webhooks/outbox';
import { UPSERT_IDENTITIES } from './identities.sql';

/**
 * How CRM people become users, shared by the pull sync (a page at a time) and inbound
 * webhooks (a batch of events): set-based statements, the ordering guard, and the outbound
 * events of every change, all in the caller's transaction.
 */

/** Provider names are [a-z0-9_], so "provider:id" is unambiguous. */
export const seenKey = (provider: string, externalId: string) => `${provider}:${externalId}`;

/** stale: the record is older than what we hold for it (by the source's updated time) and was not applied. */
export type PersonOutcome = 'created' | 'updated' | 'unchanged' | 'stale';

/**
 * Which existing user each record belongs to: its identity first, else a user with its email.
 * It also takes the organization's row lock (as the push does), so user writes of one
 * organization never race. `held` is the source's updated time of what we hold.
 */
const MATCH = `
  SELECT (d->>'ord')::int AS ord, COALESCE(ui.user_id, u.id) AS user_id, ui.data->>'sourceUpdatedAt' AS held
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
  SELECT (SELECT COALESCE(jsonb_agg(id), '[]'::jsonb) FROM soft) AS deleted_ids, (SELECT count(*) FROM unlinked)::int AS unlinked`;

export interface AppliedPeople {
  /** By record index. */
  outcomes: PersonOutcome[];
  /** The user each record belongs to (null only for stale records of unknown people). */
  userIds: (number | null)[];
}

/** Creates, updates and links the users of `records`; call inside a transaction. */
export async function applyPeople(tx: Db, organizationId: number, source: string, records: PersonRecord[]): Promise<AppliedPeople> {
  const outcomes: PersonOutcome[] = new Array(records.length).fill('unchanged');
  const userIds: (number | null)[] = new Array(records.length).fill(null);
  if (records.length === 0) return { outcomes, userIds };
  const all = records.map((r, ord) => ({ ...r, ord, updatedAt: r.updatedAt?.toISOString() ?? null }));
  const matched = await tx.$queryRawUnsafe<{ ord: number; user_id: number | null; held: string | null }[]>(
    MATCH,
    organizationId,
    JSON.stringify(all),
  );
  const userOf = new Map(matched.map((m) => [m.ord, m.user_id]));
  // Ordering: a record older than the one we hold (a late webhook, a page read before a
  // webhook landed) never overwrites newer data.
  const stale = new Set(
    matched
      .filter((m) => m.held && all[m.ord].updatedAt && Date.parse(all[m.ord].updatedAt as string) < Date.parse(m.held))
      .map((m) => m.ord),
  );
  const docs = all.filter((d) => !stale.has(d.ord));
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
    const rows = await tx.$queryRawUnsafe<{ ord: number; id: number }[]>(INSERT_NEW, organizationId, JSON.stringify(toInsert), source);
    for (const r of rows) {
      userOf.set(r.ord, r.id);
      created.add(r.ord);
    }
  }
  for (const f of followers) userOf.set(f.ord, userOf.get(f.leader) as number);
  const existing = docs.filter((d) => !created.has(d.ord)).map((d) => ({ ...d, userId: userOf.get(d.ord) }));
  const updatedUsers = new Set<number>();
  if (existing.length) {
    const rows = await tx.$queryRawUnsafe<{ id: number }[]>(UPDATE_OWNED, organizationId, JSON.stringify(existing), source);
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
      await tx.$queryRawUnsafe<{ provider: string; external_id: string }[]>(UPSERT_IDENTITIES, organizationId, JSON.stringify(identities))
    ).map((r) => seenKey(r.provider, r.external_id)),
  );
  const createdIds = new Set<number>();
  const updatedIds = new Set<number>();
  for (const d of all) {
    const id = userOf.get(d.ord) ?? null;
    userIds[d.ord] = id;
    if (stale.has(d.ord)) outcomes[d.ord] = 'stale';
    else if (created.has(d.ord)) {
      outcomes[d.ord] = 'created';
      createdIds.add(id as number);
    } else if (updatedUsers.has(id as number) || relinked.has(seenKey(d.provider, d.externalId))) {
      outcomes[d.ord] = 'updated';
      updatedIds.add(id as number);
    }
  }
  const events = eventRecorder(tx);
  await events.users(organizationId, 'user.created', createdIds);
  await events.users(
    organizationId,
    'user.updated',
    [...updatedIds].filter((id) => !createdIds.has(id)),
  );
  return { outcomes, userIds };
}

/**
 * `notIn`: removes the people of `providers` NOT among `keys` (reconciliation); otherwise
 * those among them. Call inside a transaction: the user.deleted events go with it.
 */
export async function removePeople(
  tx: Db,
  organizationId: number,
  source: string,
  providers: readonly string[],
  keys: string[],
  notIn: boolean,
): Promise<{ deleted: number; unlinked: number }> {
  const sql = REMOVE.replace('%MATCH%', notIn ? 'NOT' : '');
  const [row] = await tx.$queryRawUnsafe<{ deleted_ids: number[]; unlinked: number }[]>(
    sql,
    organizationId,
    source,
    JSON.stringify(providers),
    JSON.stringify(keys),
  );
  await eventRecorder(tx).users(organizationId, 'user.deleted', row.deleted_ids);
  return { deleted: row.deleted_ids.length, unlinked: row.unlinked };
}
