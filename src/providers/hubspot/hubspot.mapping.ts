import { parseIsoTime } from '../../lib/time';
import type { PersonRecord } from '../connector';

/** The identity provider of HubSpot contacts (the only people this connector syncs). */
export const HUBSPOT_PROVIDER = 'hubspot';

/** The contact properties we ask for (list, search, batch read) and map. */
export const CONTACT_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'jobtitle', 'company', 'lastmodifieddate', 'createdate'];

/** Properties whose change a person record shows: a propertyChange of any other is ignored. */
export const MAPPED_PROPERTIES = new Set(['email', 'firstname', 'lastname', 'phone', 'jobtitle', 'company']);

/**
 * A CRM object as list, search and batch read answer it: `id` a string of digits, every
 * property a string or null (dates ISO 8601, or epoch ms in some answers).
 */
export interface HubSpotObject {
  id: string;
  properties?: Record<string, unknown>;
  createdAt?: string;
  updatedAt?: string;
  archived?: boolean;
  archivedAt?: string;
}

const clean = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);

/** ISO 8601 or epoch milliseconds ("1579514400000"); anything else is null. */
export function parseHubSpotTime(value: unknown): Date | null {
  if (typeof value === 'number') return Number.isFinite(value) ? new Date(value) : null;
  const v = clean(value);
  if (v === null) return null;
  if (!/^\d+$/.test(v)) return parseIsoTime(v);
  const t = Number(v);
  return Number.isFinite(t) ? new Date(t) : null;
}

/** A HubSpot id as we keep it: digits only, else null (a record without one is skipped). */
export function hubspotId(value: unknown): string | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? String(value) : null;
  return typeof value === 'string' && /^\d{1,20}$/.test(value) ? value : null;
}

/** The objects of an answer's `results` that have an id; a malformed answer has none. */
export function objectsOf(data: unknown): HubSpotObject[] {
  const results = (data as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return [];
  const out: HubSpotObject[] = [];
  for (const r of results as unknown[]) {
    const id = hubspotId((r as { id?: unknown } | null)?.id);
    if (!id) continue;
    const o = r as Record<string, unknown>;
    out.push({
      id,
      properties: o.properties && typeof o.properties === 'object' ? (o.properties as Record<string, unknown>) : {},
      createdAt: typeof o.createdAt === 'string' ? o.createdAt : undefined,
      updatedAt: typeof o.updatedAt === 'string' ? o.updatedAt : undefined,
      archived: o.archived === true,
      archivedAt: typeof o.archivedAt === 'string' ? o.archivedAt : undefined,
    });
  }
  return out;
}

/** When the contact last changed: its lastmodifieddate, else the object's updatedAt. */
export function modifiedAt(c: HubSpotObject): Date | null {
  return parseHubSpotTime(c.properties?.lastmodifieddate) ?? parseHubSpotTime(c.updatedAt);
}

export function mapContact(c: HubSpotObject): PersonRecord {
  const p = c.properties ?? {};
  const first = clean(p.firstname);
  const last = clean(p.lastname);
  const email = clean(p.email)?.toLowerCase() ?? null;
  return {
    externalId: c.id,
    provider: HUBSPOT_PROVIDER,
    email,
    name: [first, last].filter(Boolean).join(' ') || email || `HubSpot contact ${c.id}`,
    firstName: first,
    lastName: last,
    phone: clean(p.phone),
    title: clean(p.jobtitle),
    // Archived contacts are never listed as people: every contact read is active.
    isActive: true,
    updatedAt: modifiedAt(c),
    data: { company: clean(p.company) },
  };
}
