import { CrmUnavailableError, type PersonRecord } from '../connector';
import { parseIsoTime } from '../../lib/time';

/** Identity provider of HighLevel contacts (the only kind of people it syncs). */
export const CONTACT_PROVIDER = 'gohighlevel';

/**
 * The fields we read of a HighLevel contact, as `POST /contacts/search` results, `GET
 * /contacts/{id}` and ContactCreate/ContactUpdate webhook bodies carry them. Search results
 * have no `name` (and give absent values as explicit nulls); webhook bodies have no
 * `dateUpdated`. See fake-crm/gohighlevel/README.md for the sources.
 */
export interface GhlContact {
  id: string;
  locationId?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  /** Search results carry these; HighLevel's search guide shows them alone ("first name without lowercase is not yet available"). */
  firstNameLowerCase?: string | null;
  lastNameLowerCase?: string | null;
  email?: string | null;
  phone?: string | null;
  companyName?: string | null;
  source?: string | null;
  tags?: (string | null)[] | null;
  dateAdded?: string | null;
  dateUpdated?: string | null;
}

// Answers are read defensively: a field of another type than documented counts as absent,
// so one odd record (or a hostile server) cannot fail a whole page.
const clean = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);

/** An ISO time (HighLevel writes `2025-01-28T14:35:00.000Z`), or null. */
export function parseGhlTime(v: unknown): Date | null {
  return parseIsoTime(v);
}

/**
 * One mapping for every source (search page, single read, webhook), so a webhook and the next
 * pull of the same version agree and the pull finds it unchanged. The name comes from
 * firstName/lastName only: search results carry no `name`, and reading a webhook's `name`
 * would make the two sources disagree. `updatedAt`: dateUpdated, else `fallbackUpdatedAt`
 * (a webhook's timestamp: its bodies have no dateUpdated). The contact's kind (search's
 * `type`: lead/customer) is not kept: webhook bodies use `type` for the event's name and do
 * not carry the kind, so each webhook and the next pull would disagree about it.
 */
export function mapContact(c: GhlContact, fallbackUpdatedAt: Date | null = null): PersonRecord {
  // The lower-cased names only when the others are missing: a name in lower case is better
  // than none (which would put the email in its place).
  const first = clean(c.firstName) ?? clean(c.firstNameLowerCase);
  const last = clean(c.lastName) ?? clean(c.lastNameLowerCase);
  const email = clean(c.email)?.toLowerCase() ?? null;
  const phone = clean(c.phone);
  return {
    externalId: String(c.id),
    provider: CONTACT_PROVIDER,
    email,
    name: [first, last].filter(Boolean).join(' ') || email || phone || `HighLevel contact ${c.id}`,
    firstName: first,
    lastName: last,
    phone,
    title: null,
    // HighLevel contacts have no active/inactive state (dnd is about messaging, not existence).
    isActive: true,
    updatedAt: parseGhlTime(c.dateUpdated) ?? fallbackUpdatedAt,
    data: {
      companyName: clean(c.companyName),
      tags: Array.isArray(c.tags) ? c.tags.map(clean).filter((t): t is string => t !== null) : [],
      source: clean(c.source),
    },
  };
}

/**
 * HighLevel no longer has the contact: 404, or the 400 "Contact with id … not found" public
 * code quotes (which of the two a deleted contact gets is unconfirmed; the spec lists only 400).
 */
export const contactGone = (err: unknown): boolean =>
  err instanceof CrmUnavailableError && (err.status === 404 || (err.status === 400 && /contact with id .* not found/i.test(err.message)));
