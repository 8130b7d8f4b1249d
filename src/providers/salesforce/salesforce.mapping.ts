import { parseIsoTime } from '../../lib/time';
import type { PersonRecord } from '../connector';

/** The identity provider of Salesforce Contacts (the only people this connector syncs). */
export const SALESFORCE_PROVIDER = 'salesforce';

/** The Contact fields every query selects, in this order (Account.Name through the lookup). */
export const CONTACT_FIELDS = ['Id', 'FirstName', 'LastName', 'Email', 'Phone', 'Title', 'AccountId', 'Account.Name', 'LastModifiedDate'];

/** A 15-character (case-sensitive) or 18-character (with its checksum) record id. */
const ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;

export function salesforceId(value: unknown): string | null {
  return typeof value === 'string' && ID.test(value) ? value : null;
}

/** The same record whichever form (15 or 18 characters) names it. */
export const idKey = (id: string) => id.slice(0, 15);

const clean = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);

const DATETIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Salesforce writes datetimes as `2024-01-31T10:00:00.000+0000` (an offset without a colon,
 * which Date.parse does not promise to read); ISO 8601 with `Z` or `+hh:mm` is read too.
 */
export function parseSalesforceTime(value: unknown): Date | null {
  const m = typeof value === 'string' ? DATETIME.exec(value.trim()) : null;
  if (!m) return null;
  return parseIsoTime(`${m[1]}${m[2] ?? ''}${m[3]}`);
}

/** A Contact as a query answers it: `attributes`, the selected fields, `Account` an object or null. */
export type SalesforceRecord = Record<string, unknown>;

/** The records of a query answer; a malformed answer has none. */
export function recordsOf(data: unknown): SalesforceRecord[] {
  const records = (data as { records?: unknown } | null)?.records;
  return Array.isArray(records) ? records.filter((r): r is SalesforceRecord => !!r && typeof r === 'object') : [];
}

/** A Contact in our terms, or null when it has no usable Id. */
export function mapContact(c: SalesforceRecord): PersonRecord | null {
  const id = salesforceId(c.Id);
  if (!id) return null;
  const first = clean(c.FirstName);
  const last = clean(c.LastName);
  const email = clean(c.Email)?.toLowerCase() ?? null;
  const account = c.Account && typeof c.Account === 'object' ? (c.Account as Record<string, unknown>) : null;
  return {
    externalId: id,
    provider: SALESFORCE_PROVIDER,
    email,
    name: [first, last].filter(Boolean).join(' ') || email || `Salesforce contact ${id}`,
    firstName: first,
    lastName: last,
    phone: clean(c.Phone),
    title: clean(c.Title),
    // A query never returns deleted (recycle-bin) Contacts; every one read is active.
    isActive: true,
    updatedAt: parseSalesforceTime(c.LastModifiedDate),
    data: { company: clean(account?.Name), accountId: salesforceId(c.AccountId) },
  };
}
