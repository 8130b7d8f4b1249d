import { FakeApiError } from '../shared/fake-server';

/**
 * What Wealthbox's contact writes take (fake-crm/wealthbox/README.md, "Writes"): plain fields,
 * and the nested email_addresses / phone_numbers lists, where an entry without `id` is added,
 * one with `id` changes that entry, and `{id, destroy: true}` removes it. The routes are in
 * fake-wealthbox.ts.
 */

/** One email address or phone number of a contact. */
export interface FakeEntry {
  id: number;
  address: string;
  kind: string;
  principal: boolean;
}

/** Plain text fields a write may set; the first five are kept on FakeContact itself, the rest in `more`. */
export const TEXT_FIELDS = [
  'first_name',
  'last_name',
  'name',
  'job_title',
  'company_name',
  'prefix',
  'middle_name',
  'suffix',
  'nickname',
  'background_information',
  'important_information',
  'personal_interests',
  'contact_source',
  'external_unique_id',
] as const;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Wealthbox's 422 (the body's shape is unconfirmed: `{"error": ...}` as its other errors). */
export const invalid = (message: string) => new FakeApiError(422, { error: message });

/** A JSON object body, or Wealthbox's 400 (unconfirmed body). */
export function objectBody(raw: unknown): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' && raw !== '' ? raw : '{}');
  } catch {
    throw new FakeApiError(400, { error: 'Invalid JSON' });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new FakeApiError(400, { error: 'Invalid JSON' });
  return parsed as Record<string, unknown>;
}

/** The text fields of a body, checked: a string, or null / "" to empty one. */
export function textFields(body: Record<string, unknown>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of TEXT_FIELDS) {
    if (!(f in body)) continue;
    const v = body[f];
    if (v !== null && typeof v !== 'string') throw invalid(`${f} must be a string`);
    out[f] = v === null || v === '' ? null : v;
  }
  return out;
}

/**
 * The entries after a write's list: `{address, principal, kind}` adds, `{id, …}` changes,
 * `{id, destroy: true}` removes; an unknown id is a 422 (unconfirmed). One principal at most
 * (the last one marked wins); with none marked, the first entry is.
 */
export function applyEntries(current: FakeEntry[], given: unknown, what: 'email' | 'phone', nextId: () => number): FakeEntry[] {
  if (given === undefined) return current;
  if (!Array.isArray(given)) throw invalid(`${what === 'email' ? 'email_addresses' : 'phone_numbers'} must be an array`);
  const list = current.map((e) => ({ ...e }));
  let principal: FakeEntry | undefined;
  for (const raw of given as unknown[]) {
    const e = (raw && typeof raw === 'object' ? raw : {}) as {
      id?: unknown;
      address?: unknown;
      kind?: unknown;
      principal?: unknown;
      destroy?: unknown;
    };
    if (e.address !== undefined && typeof e.address !== 'string') throw invalid(`${what} address must be a string`);
    if (typeof e.address === 'string' && what === 'email' && !EMAIL.test(e.address)) throw invalid(`Email address ${e.address} is invalid`);
    let entry: FakeEntry | undefined;
    if (e.id !== undefined) {
      const at = list.findIndex((x) => x.id === e.id);
      if (at < 0) throw invalid(`No ${what} with id ${String(e.id)}`);
      if (e.destroy === true) {
        list.splice(at, 1);
        continue;
      }
      entry = list[at];
      if (typeof e.address === 'string') entry.address = e.address;
    } else {
      if (typeof e.address !== 'string' || e.address === '') throw invalid(`${what} address can't be blank`);
      entry = { id: nextId(), address: e.address, kind: 'Work', principal: false };
      list.push(entry);
    }
    if (typeof e.kind === 'string') entry.kind = e.kind;
    if (e.principal === true) principal = entry;
    else if (e.principal === false) entry.principal = false;
  }
  if (principal) for (const x of list) x.principal = x === principal;
  if (list.length > 0 && !list.some((x) => x.principal)) list[0].principal = true;
  return list;
}
