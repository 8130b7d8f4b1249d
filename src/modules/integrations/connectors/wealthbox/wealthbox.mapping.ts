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

function principal(entries: Entry[] | undefined): string | null {
  if (!entries?.length) return null;
  const chosen = entries.find((e) => e.principal) ?? entries[0];
  const value = chosen.address?.trim();
  return value ? value : null;
}

const clean = (v: string | null | undefined) => (v && v.trim() ? v.trim() : null);

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
    isActive: (c.status ?? 'Active').toLowerCase() === 'active',
    updatedAt: parseWealthboxTime(c.updated_at),
    data: {
      type: c.type ?? null,
      contactType: c.contact_type ?? null,
      companyName: clean(c.company_name),
      household: c.household ? { id: c.household.id ?? null, name: c.household.name ?? null, title: c.household.title ?? null } : null,
      tags: (c.tags ?? []).map((t) => t.name).filter(Boolean),
      externalUniqueId: c.external_unique_id ?? null,
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
