import { parseIsoTime } from '../../lib/time';
import type { PersonRecord } from '../connector';

/** The identity provider of Zoho CRM contacts (the only people this connector syncs). */
export const ZOHO_PROVIDER = 'zoho';

/** The module we read; notifications name it the same way. */
export const CONTACTS_MODULE = 'Contacts';

/**
 * The fields we ask for and map (`fields` is mandatory on list calls from v5 on; at most 50).
 * `id` comes with every record whatever is asked.
 */
export const CONTACT_FIELDS = ['First_Name', 'Last_Name', 'Email', 'Phone', 'Account_Name', 'Title', 'Modified_Time'];

/**
 * A Contacts record as GET /crm/{v}/Contacts answers it: `id` a string of digits (19 in
 * practice, past JavaScript's safe integers, so never a number we trust), text fields string
 * or null, Account_Name a lookup `{name, id}` or null, times ISO 8601 with the org's offset
 * (`2024-01-31T10:00:00+05:30`).
 */
export interface ZohoContact {
  id: string;
  First_Name?: unknown;
  Last_Name?: unknown;
  Email?: unknown;
  Phone?: unknown;
  Title?: unknown;
  Account_Name?: unknown;
  Modified_Time?: unknown;
}

// Answers are read defensively: a field of another type than documented counts as absent,
// so one odd record (or a hostile server) cannot fail a whole page.
const clean = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);

/** A Zoho record id as we keep it: digits only (a safe integer is accepted too), else null. */
export function zohoId(value: unknown): string | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? String(value) : null;
  return typeof value === 'string' && /^\d{1,25}$/.test(value) ? value : null;
}

/** An ISO 8601 time with an offset, as Zoho writes them; anything else is null. */
export function parseZohoTime(value: unknown): Date | null {
  const v = clean(value);
  return v !== null && /^\d{4}-\d{2}-\d{2}T/.test(v) ? parseIsoTime(v) : null;
}

/**
 * A time as Zoho's If-Modified-Since header takes it: ISO 8601 to the second with an
 * explicit offset (`2019-07-25T15:26:49+05:30` in Zoho's docs); UTC here.
 */
export function zohoHeaderTime(at: Date): string {
  return `${at.toISOString().slice(0, 19)}+00:00`;
}

/** The records of an answer's `data` that have an id; a malformed answer (or a 204's empty body) has none. */
export function recordsOf(body: unknown): ZohoContact[] {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return [];
  const out: ZohoContact[] = [];
  for (const r of data as unknown[]) {
    if (!r || typeof r !== 'object') continue;
    const id = zohoId((r as { id?: unknown }).id);
    if (id) out.push({ ...(r as Record<string, unknown>), id });
  }
  return out;
}

/** Account_Name is a lookup (`{name, id}`); older answers and some layouts give the name alone. */
function account(value: unknown): { company: string | null; accountId: string | null } {
  if (value && typeof value === 'object') {
    const v = value as { name?: unknown; id?: unknown };
    return { company: clean(v.name), accountId: zohoId(v.id) };
  }
  return { company: clean(value), accountId: null };
}

/**
 * One mapping for the listing and for the reads a notification asks for, so both give the
 * same person and the pull finds a notified change unchanged. Contacts have no active or
 * inactive state: a contact read is active, a deleted one is not listed.
 */
export function mapContact(c: ZohoContact): PersonRecord {
  const first = clean(c.First_Name);
  const last = clean(c.Last_Name);
  const email = clean(c.Email)?.toLowerCase() ?? null;
  const phone = clean(c.Phone);
  return {
    externalId: c.id,
    provider: ZOHO_PROVIDER,
    email,
    name: [first, last].filter(Boolean).join(' ') || email || phone || `Zoho contact ${c.id}`,
    firstName: first,
    lastName: last,
    phone,
    title: clean(c.Title),
    isActive: true,
    updatedAt: parseZohoTime(c.Modified_Time),
    data: account(c.Account_Name),
  };
}
