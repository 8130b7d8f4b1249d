import type { Db } from '../../db/prisma';
import type { PersonRecord } from '../../providers/connector';
import { eventRecorder } from '../outbox';

/**
 * Writing people: how CRM people become users, shared by the pull sync (a page at a time),
 * inbound webhooks (a batch of events) and the push (identity links): set-based statements,
 * the ordering guard, activities, and the outbound events of every change, all in the
 * caller's transaction (bind the repository to it).
 *
 * A deletion removes the record's identity and leaves a tombstone with the deletion's time:
 * a record not newer than it is stale, whatever order the two arrive in.
 */

/** Provider names are [a-z0-9_], so "provider:id" is unambiguous. */
export const seenKey = (provider: string, externalId: string) => `${provider}:${externalId}`;

/** The CRM people come from: its name (the source of the users it creates) and every identity provider its records use. */
export interface PeopleSource {
  source: string;
  providers: readonly string[];
}

/** stale: the record is older than what we hold for it, or than its deletion (by the source's time), and was not applied. */
export type PersonOutcome = 'created' | 'updated' | 'unchanged' | 'stale';

/**
 * Links users to their records in other systems, set-based: $1 organization id, $2 a jsonb
 * array of { userId, provider, externalId, data }, $3 the full pull pass reading them (or
 * null). Links already exactly as stored are filtered out first: ON CONFLICT DO UPDATE would
 * lock (and so write) every conflicting row even when its WHERE then skips the update.
 * Returns the links it wrote. The pass is written with the rows written anyway, so the pull's
 * marking of what it read (PullRepository.markSeen) has no second write to make for them.
 */
const UPSERT_IDENTITIES = `
  INSERT INTO user_identities AS ui (organization_id, user_id, provider, external_id, data, seen_pass)
  SELECT $1, (d->>'userId')::int, d->>'provider', d->>'externalId', NULLIF(d->'data', 'null'::jsonb), $3::int
  FROM jsonb_array_elements($2::jsonb) AS i(d)
  WHERE NOT EXISTS (
    SELECT 1 FROM user_identities x
    WHERE x.organization_id = $1 AND x.provider = d->>'provider' AND x.external_id = d->>'externalId'
      AND x.user_id = (d->>'userId')::int AND x.data IS NOT DISTINCT FROM NULLIF(d->'data', 'null'::jsonb))
  ORDER BY d->>'provider', d->>'externalId'
  ON CONFLICT (organization_id, provider, external_id) DO UPDATE
    SET user_id = EXCLUDED.user_id, data = EXCLUDED.data, seen_pass = COALESCE(EXCLUDED.seen_pass, ui.seen_pass),
        updated_at = now()
    WHERE (ui.user_id, ui.data) IS DISTINCT FROM (EXCLUDED.user_id, EXCLUDED.data)
  RETURNING ui.user_id, ui.provider, ui.external_id`;

/**
 * Which existing user each record belongs to: its identity, else the user of its tombstone (a
 * record that comes back), else a user with its email. It also takes the organization's row
 * lock (as the push does), so user writes of one organization never race. `held` is the
 * source's updated time of what we hold; `tomb_at` the time of its deletion.
 */
const MATCH = `
  SELECT (d->>'ord')::int AS ord, COALESCE(ui.user_id, tu.id, u.id) AS user_id, ui.data->>'sourceUpdatedAt' AS held,
         t.provider IS NOT NULL AS tomb, t.deleted_at AS tomb_at, ui.pushed_fields AS pushed
  FROM (SELECT id FROM organizations WHERE id = $1 FOR UPDATE) AS lock
  CROSS JOIN jsonb_array_elements($2::jsonb) AS i(d)
  LEFT JOIN user_identities ui
    ON ui.organization_id = $1 AND ui.provider = d->>'provider' AND ui.external_id = d->>'externalId'
  LEFT JOIN tombstones t
    ON t.organization_id = $1 AND t.provider = d->>'provider' AND t.external_id = d->>'externalId'
  LEFT JOIN users tu
    ON ui.user_id IS NULL AND tu.id = t.user_id AND tu.organization_id = $1
  LEFT JOIN users u
    ON ui.user_id IS NULL AND tu.id IS NULL AND u.organization_id = $1 AND u.email = d->>'email'`;

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
// email is taken unless another user of the organization has it. Records sharing a user
// (one email) would overwrite each other on every run, so one owns the profile: the lowest
// (provider, external id) of the CRM's records linked to it ("C" order, as ownerFirst). A
// deleted user is revived by whichever comes.
const UPDATE_OWNED = `
  WITH x AS (
    SELECT DISTINCT ON ((d->>'userId')::int) (d->>'userId')::int AS user_id, d
    FROM jsonb_array_elements($2::jsonb) AS i(d)
    ORDER BY (d->>'userId')::int, d->>'provider' COLLATE "C", d->>'externalId' COLLATE "C"
  ), m AS (
    SELECT u.id,
      CASE WHEN x.d->>'email' IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM users o WHERE o.organization_id = $1 AND o.email = x.d->>'email' AND o.id <> u.id)
           THEN x.d->>'email' ELSE u.email END AS email,
      x.d->>'name' AS name, x.d->>'firstName' AS first_name, x.d->>'lastName' AS last_name,
      x.d->>'phone' AS phone, x.d->>'title' AS title, (x.d->>'isActive')::boolean AS is_active
    FROM x JOIN users u ON u.id = x.user_id AND u.organization_id = $1 AND u.source = $3
    WHERE u.deleted_at IS NOT NULL OR NOT EXISTS (
      SELECT 1 FROM user_identities o
      WHERE o.user_id = u.id AND o.provider IN (SELECT jsonb_array_elements_text($4::jsonb))
        AND (o.provider COLLATE "C", o.external_id COLLATE "C") < (x.d->>'provider', x.d->>'externalId'))
  )
  UPDATE users u SET email = m.email, name = m.name, first_name = m.first_name, last_name = m.last_name,
    phone = m.phone, title = m.title, is_active = m.is_active, deleted_at = NULL,
    last_synced_at = now(), updated_at = now()
  FROM m
  WHERE u.id = m.id
    AND (u.email, u.name, u.first_name, u.last_name, u.phone, u.title, u.is_active, u.deleted_at IS NULL)
        IS DISTINCT FROM (m.email, m.name, m.first_name, m.last_name, m.phone, m.title, m.is_active, true)
  RETURNING u.id`;

/** A record applied after its deletion brings it back: the tombstone goes. */
const CLEAR_TOMBSTONES = `
  DELETE FROM tombstones t USING jsonb_array_elements($2::jsonb) AS i(d)
  WHERE t.organization_id = $1 AND t.provider = d->>'provider' AND t.external_id = d->>'externalId'`;

/**
 * Removes records the source no longer has: $4 is a jsonb array of { provider, externalId,
 * at } (at: the source's deletion time, or null when it gave none). Per record: its identity
 * goes and a tombstone keeps the deletion's time and the user (a record that comes back
 * revives it). A user this source created is soft-deleted once no record of the CRM ($3, its
 * identity providers) points to it any more; a user from elsewhere only loses the link. A
 * deletion older than the record we hold is stale and changes nothing.
 *
 * Without a time (a pull found it gone), the tombstone is dated just before the version we
 * held: an older event stays stale, while that same version, listed again by a full sync,
 * revives the user (the full sync stays the safety net).
 */
const REMOVE = `
  WITH input AS (
    SELECT DISTINCT ON (d->>'provider', d->>'externalId')
           d->>'provider' AS provider, d->>'externalId' AS external_id, (d->>'at')::timestamptz AS at
    FROM (SELECT id FROM organizations WHERE id = $1 FOR UPDATE) AS lock
    CROSS JOIN jsonb_array_elements($4::jsonb) AS i(d)
    ORDER BY d->>'provider', d->>'externalId', (d->>'at')::timestamptz DESC NULLS LAST
  ), hit AS (
    SELECT i.provider, i.external_id, i.at, ui.id AS identity_id, ui.user_id,
           COALESCE((ui.data->>'sourceUpdatedAt')::timestamptz > i.at, false) AS stale,
           (ui.data->>'sourceUpdatedAt')::timestamptz AS held
    FROM input i
    LEFT JOIN user_identities ui ON ui.organization_id = $1 AND ui.provider = i.provider AND ui.external_id = i.external_id
  ), gone AS (
    DELETE FROM user_identities ui USING hit
    WHERE ui.id = hit.identity_id AND NOT hit.stale
    RETURNING ui.id, ui.user_id
  ), tomb AS (
    INSERT INTO tombstones AS t (organization_id, provider, external_id, deleted_at, user_id)
    SELECT $1, provider, external_id, COALESCE(at, held - interval '1 millisecond'), user_id
    FROM hit WHERE NOT stale AND (at IS NOT NULL OR identity_id IS NOT NULL)
    ON CONFLICT (organization_id, provider, external_id) DO UPDATE
      SET deleted_at = GREATEST(t.deleted_at, EXCLUDED.deleted_at), user_id = COALESCE(EXCLUDED.user_id, t.user_id)
  ), soft AS (
    UPDATE users u SET deleted_at = now(), is_active = false, updated_at = now()
    WHERE u.id IN (SELECT user_id FROM gone) AND u.organization_id = $1 AND u.source = $2 AND u.deleted_at IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM user_identities o
        WHERE o.user_id = u.id AND o.provider IN (SELECT jsonb_array_elements_text($3::jsonb))
          AND o.id NOT IN (SELECT id FROM gone))
    RETURNING u.id
  )
  SELECT h.provider, h.external_id,
    CASE WHEN h.identity_id IS NULL THEN 'unknown' WHEN h.stale THEN 'stale'
         WHEN h.user_id IN (SELECT id FROM soft) THEN 'deleted' ELSE 'unlinked' END AS outcome,
    (SELECT COALESCE(jsonb_agg(id), '[]'::jsonb) FROM soft) AS deleted_ids
  FROM hit h`;

/**
 * An activity on the user a CRM record belongs to: through its identity, or the tombstone of a
 * deleted record (a deleted contact's activity still goes to the user it had). One row per
 * inbound event. No row when no user is linked yet.
 */
const ADD_ACTIVITY = `
  INSERT INTO user_activities (organization_id, user_id, integration_id, inbound_event_id, type, data, occurred_at)
  SELECT $1, p.user_id, $2, $3, $4, $5::jsonb, COALESCE($6::timestamptz, now())
  FROM (
    SELECT ui.user_id FROM user_identities ui WHERE ui.organization_id = $1 AND ui.provider = $7 AND ui.external_id = $8
    UNION ALL
    SELECT u.id FROM tombstones t JOIN users u ON u.id = t.user_id AND u.organization_id = $1
    WHERE t.organization_id = $1 AND t.provider = $7 AND t.external_id = $8
    LIMIT 1
  ) p
  ON CONFLICT (inbound_event_id) DO UPDATE SET data = EXCLUDED.data
  RETURNING id`;

/**
 * The people of the CRM's providers we hold on live users, and how many of them are among the
 * keys $3. Users already deleted are left out: there is nothing to delete there (and
 * identities from before tombstones stayed on them). A full pull's reconciliation counts
 * "held" the same way (src/modules/sync/pull.repository.ts, COUNT_UNSEEN).
 */
const HELD = `
  WITH keys AS (SELECT jsonb_array_elements_text($3::jsonb) AS k),
  held AS (
    SELECT ui.provider, ui.external_id
    FROM user_identities ui JOIN users u ON u.id = ui.user_id AND u.deleted_at IS NULL
    WHERE ui.organization_id = $1 AND ui.provider IN (SELECT jsonb_array_elements_text($2::jsonb))
  )
  SELECT (SELECT count(*) FROM held)::int AS held,
    (SELECT count(*) FROM held h WHERE EXISTS (SELECT 1 FROM keys WHERE keys.k = h.provider || ':' || h.external_id))::int AS among`;

export interface AppliedPeople {
  /** By record index. */
  outcomes: PersonOutcome[];
  /** The user each record belongs to (null only for stale records of unknown people). */
  userIds: (number | null)[];
}

/** The order in which records sharing a user take its profile; the same as UPDATE_OWNED's. */
const ownerFirst = (a: { provider: string; externalId: string }, b: { provider: string; externalId: string }) =>
  a.provider !== b.provider ? (a.provider < b.provider ? -1 : 1) : a.externalId < b.externalId ? -1 : a.externalId > b.externalId ? 1 : 0;

/** Our fields a push records as sent (src/modules/crm-push), compared with what a CRM reports back. */
export const ECHO_FIELDS = ['email', 'name', 'firstName', 'lastName', 'phone', 'title'] as const;

/** Whether `record` carries exactly the values we pushed (an empty string and null are the same). */
function isEcho(pushed: Record<string, unknown>, record: PersonRecord): boolean {
  const keys = ECHO_FIELDS.filter((k) => k in pushed);
  const norm = (v: unknown) => (v === '' || v === undefined ? null : v);
  return keys.length > 0 && keys.every((k) => norm(pushed[k]) === norm(record[k]));
}

// A source's time as the ordering guard keeps it: none when it is more than a few minutes past
// our clock. A record stamped 2099 would otherwise make every later version of it stale (and a
// deletion so stamped keep it from ever coming back); without a time it is ordered by arrival,
// as a record from a CRM that gives none. A CRM clock a few minutes ahead keeps its order.
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** A source's time the ordering guard trusts (epoch ms), or null (none given, or too far ahead). */
export function trustedSourceTime(d: Date | null | undefined): number | null {
  return d && d.getTime() <= Date.now() + FUTURE_TOLERANCE_MS ? d.getTime() : null;
}

function guardTime(d: Date | null | undefined): string | null {
  return trustedSourceTime(d) === null ? null : (d as Date).toISOString();
}

/** Creates, updates and links the users of `records`; call inside a transaction. */
async function applyPeople(
  tx: Db,
  organizationId: number,
  crm: PeopleSource,
  records: PersonRecord[],
  seenPass: number | null = null,
): Promise<AppliedPeople> {
  const outcomes: PersonOutcome[] = new Array(records.length).fill('unchanged');
  const userIds: (number | null)[] = new Array(records.length).fill(null);
  if (records.length === 0) return { outcomes, userIds };
  const all = records.map((r, ord) => ({ ...r, ord, updatedAt: guardTime(r.updatedAt) }));
  const matched = await tx.$queryRawUnsafe<
    {
      ord: number;
      user_id: number | null;
      held: string | null;
      tomb: boolean;
      tomb_at: Date | null;
      pushed: Record<string, unknown> | null;
    }[]
  >(MATCH, organizationId, JSON.stringify(all));
  const userOf = new Map(matched.map((m) => [m.ord, m.user_id]));
  // Echoes: a record showing exactly what we last pushed to it is our own change coming back
  // (late, perhaps after the user changed again): its identity is refreshed, the user is not.
  const echo = new Set(matched.filter((m) => m.pushed && isEcho(m.pushed, records[m.ord])).map((m) => m.ord));
  // Ordering: a record older than the one we hold (a late webhook, a page read before a
  // webhook landed) never overwrites newer data, and one not newer than its deletion never
  // brings it back (a deletion wins a tie: nothing changes a record after it is deleted).
  const stale = new Set(
    matched
      .filter((m) => {
        const at = all[m.ord].updatedAt ? Date.parse(all[m.ord].updatedAt as string) : null;
        return at !== null && ((m.held !== null && at < Date.parse(m.held)) || (m.tomb_at !== null && at <= m.tomb_at.getTime()));
      })
      .map((m) => m.ord),
  );
  const docs = all.filter((d) => !stale.has(d.ord));
  // New people; records of one batch sharing an email become one user, created from the
  // record that will own its profile.
  const leaders = new Map<string, (typeof docs)[number]>();
  for (const d of docs) {
    if (userOf.get(d.ord) !== null || !d.email) continue;
    const leader = leaders.get(d.email);
    if (!leader || ownerFirst(d, leader) < 0) leaders.set(d.email, d);
  }
  const toInsert: typeof docs = [];
  const followers: { ord: number; leader: number }[] = [];
  for (const d of docs) {
    if (userOf.get(d.ord) !== null) continue;
    const leader = d.email ? leaders.get(d.email) : undefined;
    if (leader && leader !== d) followers.push({ ord: d.ord, leader: leader.ord });
    else toInsert.push(d);
  }
  const created = new Set<number>();
  if (toInsert.length) {
    const rows = await tx.$queryRawUnsafe<{ ord: number; id: number }[]>(INSERT_NEW, organizationId, JSON.stringify(toInsert), crm.source);
    for (const r of rows) {
      userOf.set(r.ord, r.id);
      created.add(r.ord);
    }
  }
  for (const f of followers) userOf.set(f.ord, userOf.get(f.leader) as number);
  const existing = docs.filter((d) => !created.has(d.ord) && !echo.has(d.ord)).map((d) => ({ ...d, userId: userOf.get(d.ord) }));
  const updatedUsers = new Set<number>();
  if (existing.length) {
    const rows = await tx.$queryRawUnsafe<{ id: number }[]>(
      UPDATE_OWNED,
      organizationId,
      JSON.stringify(existing),
      crm.source,
      JSON.stringify(crm.providers),
    );
    for (const r of rows) updatedUsers.add(r.id);
  }
  const identities = docs.map((d) => ({
    provider: d.provider,
    externalId: d.externalId,
    userId: userOf.get(d.ord) as number,
    data: { ...d.data, sourceUpdatedAt: d.updatedAt },
  }));
  const relinked = new Set(
    (await upsertIdentities(tx, organizationId, identities, seenPass)).map((r) => seenKey(r.provider, r.externalId)),
  );
  const tombstoned = new Set(matched.filter((m) => m.tomb).map((m) => m.ord));
  const revived = docs.filter((d) => tombstoned.has(d.ord)).map((d) => ({ provider: d.provider, externalId: d.externalId }));
  if (revived.length) await tx.$executeRawUnsafe(CLEAR_TOMBSTONES, organizationId, JSON.stringify(revived));
  const createdIds = new Set<number>();
  const updatedIds = new Set<number>();
  for (const d of all) {
    const id = userOf.get(d.ord) ?? null;
    userIds[d.ord] = id;
    if (stale.has(d.ord)) outcomes[d.ord] = 'stale';
    else if (echo.has(d.ord)) outcomes[d.ord] = 'unchanged';
    else if (created.has(d.ord)) {
      outcomes[d.ord] = 'created';
      createdIds.add(id as number);
    } else if (updatedUsers.has(id as number) || relinked.has(seenKey(d.provider, d.externalId))) {
      outcomes[d.ord] = 'updated';
      updatedIds.add(id as number);
    }
  }
  const events = eventRecorder(tx);
  // Changes that came from this CRM are not pushed back to it.
  await events.users(organizationId, 'user.created', createdIds, crm.source);
  await events.users(
    organizationId,
    'user.updated',
    [...updatedIds].filter((id) => !createdIds.has(id)),
    crm.source,
  );
  return { outcomes, userIds };
}

/** A record the source deleted; `at`: when, if the source says. */
export interface Removal {
  provider: string;
  externalId: string;
  at: Date | null;
}

/**
 * deleted: its user was soft-deleted; unlinked: only its identity went (a user from
 * elsewhere, or one another record still points to); stale: we hold a newer version;
 * unknown: we held nothing (the tombstone is kept all the same).
 */
export type RemovalOutcome = 'deleted' | 'unlinked' | 'stale' | 'unknown';

/** Applies deletions at the source. Call inside a transaction: the user.deleted events go with it. */
async function removePeople(
  tx: Db,
  organizationId: number,
  crm: PeopleSource,
  removals: Removal[],
): Promise<{ deleted: number; unlinked: number; outcomes: Map<string, RemovalOutcome> }> {
  const outcomes = new Map<string, RemovalOutcome>();
  if (removals.length === 0) return { deleted: 0, unlinked: 0, outcomes };
  const rows = await tx.$queryRawUnsafe<{ provider: string; external_id: string; outcome: RemovalOutcome; deleted_ids: number[] }[]>(
    REMOVE,
    organizationId,
    crm.source,
    JSON.stringify(crm.providers),
    JSON.stringify(removals.map((r) => ({ provider: r.provider, externalId: r.externalId, at: guardTime(r.at) }))),
  );
  for (const r of rows) outcomes.set(seenKey(r.provider, r.external_id), r.outcome);
  const deletedIds = rows[0]?.deleted_ids ?? [];
  await eventRecorder(tx).users(organizationId, 'user.deleted', deletedIds, crm.source);
  return { deleted: deletedIds.length, unlinked: rows.filter((r) => r.outcome === 'unlinked').length, outcomes };
}

/** How many of the CRM's people we hold (on live users), and how many of them are among `keys`. */
async function heldPeople(
  db: Db,
  organizationId: number,
  providers: readonly string[],
  keys: Iterable<string>,
): Promise<{ held: number; among: number }> {
  const [row] = await db.$queryRawUnsafe<{ held: number; among: number }[]>(
    HELD,
    organizationId,
    JSON.stringify(providers),
    JSON.stringify([...keys]),
  );
  return row;
}

/** A link from a user to a record in another system; `data`: what that system says beyond our columns. */
export interface IdentityLink {
  userId: number;
  provider: string;
  externalId: string;
  data: Record<string, unknown> | null;
}

/** Links users to records; returns the links it wrote (those not already exactly as stored). */
async function upsertIdentities(
  db: Db,
  organizationId: number,
  links: IdentityLink[],
  seenPass: number | null = null,
): Promise<{ userId: number; provider: string; externalId: string }[]> {
  if (links.length === 0) return [];
  const rows = await db.$queryRawUnsafe<{ user_id: number; provider: string; external_id: string }[]>(
    UPSERT_IDENTITIES,
    organizationId,
    JSON.stringify(links),
    seenPass,
  );
  return rows.map((r) => ({ userId: r.user_id, provider: r.provider, externalId: r.external_id }));
}

/** Something a CRM reported about a person besides their profile (a message, ...). */
export interface Activity {
  organizationId: number;
  integrationId: number;
  inboundEventId: number;
  type: string;
  data: unknown;
  occurredAt: Date | null;
  /** The record it is about. */
  provider: string;
  externalId: string;
}

export interface PeopleRepository {
  /** Creates, updates and links the users of `records`; `seenPass`: the full pull pass reading them (see UPSERT_IDENTITIES). */
  apply(organizationId: number, crm: PeopleSource, records: PersonRecord[], seenPass?: number | null): Promise<AppliedPeople>;
  /** Deletions at the source; each leaves a tombstone. */
  remove(
    organizationId: number,
    crm: PeopleSource,
    removals: Removal[],
  ): Promise<{ deleted: number; unlinked: number; outcomes: Map<string, RemovalOutcome> }>;
  /** See HELD: how many of the CRM's people we hold, and how many of them are among `keys`. */
  held(organizationId: number, providers: readonly string[], keys: Iterable<string>): Promise<{ held: number; among: number }>;
  upsertIdentities(organizationId: number, links: IdentityLink[]): Promise<{ userId: number; provider: string; externalId: string }[]>;
  /** false: no user is linked to the record yet. */
  addActivity(a: Activity): Promise<boolean>;
}

/** Bound to `db`: the root client, or the transaction the caller's writes belong to. */
export function createPeopleRepository(db: Db): PeopleRepository {
  return {
    apply: (organizationId, crm, records, seenPass) => applyPeople(db, organizationId, crm, records, seenPass ?? null),
    remove: (organizationId, crm, removals) => removePeople(db, organizationId, crm, removals),
    held: (organizationId, providers, keys) => heldPeople(db, organizationId, providers, keys),
    upsertIdentities: (organizationId, links) => upsertIdentities(db, organizationId, links),
    async addActivity(a) {
      const rows = await db.$queryRawUnsafe<{ id: number }[]>(
        ADD_ACTIVITY,
        a.organizationId,
        a.integrationId,
        a.inboundEventId,
        a.type,
        JSON.stringify(a.data),
        a.occurredAt?.toISOString() ?? null,
        a.provider,
        a.externalId,
      );
      return rows.length > 0;
    },
  };
}
