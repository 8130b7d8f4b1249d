import type { PersonRecord } from '../connector';
import { parseWealthboxTime } from './wealthbox.time';

export const CONTACT_PROVIDER = 'wealthbox';
/** The firm's own Wealthbox users (staff): a separate id space from contacts. */
export const STAFF_PROVIDER = 'wealthbox_user';

interface Entry {
  address?: string;
  principal?: boolean;
  kind?: string;
}

export interface WealthboxContact {
  id: number;
  created_at?: string;
  updated_at?: string;
  prefix?: string | null;
  first_name?: string | null;
  middle_name?: string | null;
  last_name?: string | null;
  name?: string | null;
  job_title?: string | null;
  company_name?: string | null;
  type?: string;
  contact_type?: string | null;
  status?: string | null;
  household?: { name?: string; title?: string; id?: number } | null;
  tags?: { id?: number; name?: string }[];
  email_addresses?: Entry[];
  phone_numbers?: Entry[];
  external_unique_id?: string | null;
}

export interface WealthboxUser {
  id: number;
  name?: string | null;
  email?: string | null;
}

// Answers are read defensively: a field of another type than documented counts as absent,
// so one odd record (or a hostile server) cannot fail a whole page.
function principal(entries: Entry[] | undefined): string | null {
  if (!Array.isArray(entries) || entries.length === 0) return null;
  const chosen = entries.find((e) => e?.principal === true) ?? entries[0];
  return clean(chosen?.address);
}

const clean = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);

/** The connector asks for Person contacts; others map too (they carry `name` instead of first/last). */
export function mapContact(c: WealthboxContact): PersonRecord {
  const first = clean(c.first_name);
  const last = clean(c.last_name);
  const personName = [first, last].filter(Boolean).join(' ');
  const email = principal(c.email_addresses);
  return {
    externalId: String(c.id),
    provider: CONTACT_PROVIDER,
    email: email ? email.toLowerCase() : null,
    name: personName || clean(c.name) || email || `Wealthbox contact ${c.id}`,
    firstName: first,
    lastName: last,
    phone: principal(c.phone_numbers),
    title: clean(c.job_title),
    isActive: (clean(c.status) ?? 'Active').toLowerCase() === 'active',
    updatedAt: parseWealthboxTime(c.updated_at),
    data: {
      type: clean(c.type),
      contactType: clean(c.contact_type),
      companyName: clean(c.company_name),
      household:
        c.household && typeof c.household === 'object'
          ? {
              id: typeof c.household.id === 'number' ? c.household.id : null,
              name: clean(c.household.name),
              title: clean(c.household.title),
            }
          : null,
      tags: Array.isArray(c.tags) ? c.tags.map((t) => clean(t?.name)).filter(Boolean) : [],
      externalUniqueId: clean(c.external_unique_id),
    },
  };
}

export function mapUser(u: WealthboxUser): PersonRecord {
  const email = clean(u.email);
  return {
    externalId: String(u.id),
    provider: STAFF_PROVIDER,
    email: email ? email.toLowerCase() : null,
    name: clean(u.name) || email || `Wealthbox user ${u.id}`,
    firstName: null,
    lastName: null,
    phone: null,
    title: null,
    isActive: true,
    updatedAt: null,
    data: { kind: 'staff' },
  };
}
