import type { AxiosInstance } from 'axios';
import { CrmUnavailableError } from '../connector';
import type { CrmWriter, DeletePolicy, OutgoingPerson, OutgoingRemoval, PushResult } from '../writer';
import { CONTACT_PROVIDER, type WealthboxContact } from './wealthbox.mapping';

/** Wealthbox has no batch write: people are written one after the other, this many per upsert. */
export const WEALTHBOX_PUSH_BATCH = 10;

/** The mapping's names for the contact's principal email address and phone number (lists in Wealthbox). */
const EMAIL_FIELD = 'email';
const PHONE_FIELD = 'phone';
/** Text fields an update may empty (Wealthbox takes "" for that); names are never emptied. */
const CLEARABLE = new Set([
  'job_title',
  'company_name',
  'prefix',
  'middle_name',
  'suffix',
  'nickname',
  'background_information',
  'important_information',
  'personal_interests',
]);

interface Entry {
  id?: number;
  address?: string;
  principal?: boolean;
  kind?: string;
}

const refused = (err: unknown): err is CrmUnavailableError =>
  err instanceof CrmUnavailableError && (err.status === 400 || err.status === 422);
const notFound = (err: unknown) => err instanceof CrmUnavailableError && err.status === 404;
const clean = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/**
 * Writes our users to Wealthbox as Person contacts (fake-crm/wealthbox/README.md, "Writes").
 * No batch endpoint: each person in turn. A linked person's contact is read first
 * (GET /contacts/{id}): Wealthbox adds an email address or phone number sent without the id
 * of the entry it replaces, so an update names the principal entry's id; and a contact that
 * already says what we would send is left alone. An unlinked person (or one whose contact is
 * gone, 404) is looked up by email (GET /contacts?email=&type=Person) before a create, so a
 * retried create finds the contact it made instead of making a second one.
 */
export class WealthboxWriter implements CrmWriter {
  readonly identityProvider = CONTACT_PROVIDER;
  readonly maxBatch = WEALTHBOX_PUSH_BATCH;

  constructor(private readonly http: AxiosInstance) {}

  async upsert(people: OutgoingPerson[]): Promise<PushResult[]> {
    const results: PushResult[] = [];
    for (const p of people) {
      try {
        results.push(await this.upsertOne(p));
      } catch (err) {
        if (!refused(err)) throw err;
        results.push({ userId: p.userId, ok: false, error: err.message });
      }
    }
    return results;
  }

  private async upsertOne(p: OutgoingPerson): Promise<PushResult> {
    const linked = p.externalId && /^\d+$/.test(p.externalId) ? await this.read(p.externalId) : null;
    const email = clean(p.fields[EMAIL_FIELD]) ?? p.email;
    const existing = linked ?? (email ? await this.findByEmail(email) : null);
    if (existing) {
      const body = updateBody(existing, p.fields);
      const id = String(existing.id);
      if (Object.keys(body).length === 0) return { userId: p.userId, ok: true, externalId: id, action: 'unchanged' };
      try {
        await this.http.put(`/contacts/${encodeURIComponent(id)}`, body);
        return { userId: p.userId, ok: true, externalId: id, action: 'updated' };
      } catch (err) {
        // Deleted between the read and the write: created below.
        if (!notFound(err)) throw err;
      }
    }
    // Sent once: Wealthbox has no idempotency key, so a create retried after a lost answer could
    // make a second contact; the next push finds the first by email (above).
    const { data } = await this.http.post<WealthboxContact>('/contacts', createBody(p), { once: true });
    if (typeof data?.id !== 'number' && typeof data?.id !== 'string')
      throw new CrmUnavailableError('wealthbox answered the create without a contact id');
    return { userId: p.userId, ok: true, externalId: String(data.id), action: 'created' };
  }

  /** The contact, or null when Wealthbox no longer has it (404). */
  private async read(id: string): Promise<WealthboxContact | null> {
    try {
      const { data } = await this.http.get<WealthboxContact>(`/contacts/${encodeURIComponent(id)}`);
      return data && typeof data === 'object' && data.id !== undefined ? data : null;
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  private async findByEmail(email: string): Promise<WealthboxContact | null> {
    const { data } = await this.http.get<{ contacts?: WealthboxContact[] }>('/contacts', {
      params: { email, type: 'Person', per_page: 10 },
    });
    const found = (Array.isArray(data?.contacts) ? data.contacts : []).filter((c) => c && c.id !== undefined);
    // The filter's matching is unconfirmed: the one whose address is this email, if any, else the first.
    return (
      found.find((c) => (c.email_addresses ?? []).some((e) => clean(e?.address)?.toLowerCase() === email.toLowerCase())) ?? found[0] ?? null
    );
  }

  /** DELETE /contacts/{id} each; a contact Wealthbox no longer has (404) is already removed. */
  async remove(people: OutgoingRemoval[], policy: Exclude<DeletePolicy, 'none'>): Promise<PushResult[]> {
    const results: PushResult[] = [];
    for (const p of people) {
      if (policy !== 'delete') {
        results.push({ userId: p.userId, ok: false, error: 'Wealthbox contacts can be deleted, not archived' });
        continue;
      }
      try {
        if (/^\d+$/.test(p.externalId)) await this.http.delete(`/contacts/${encodeURIComponent(p.externalId)}`);
        results.push({ userId: p.userId, ok: true, externalId: p.externalId, action: 'deleted' });
      } catch (err) {
        if (notFound(err)) results.push({ userId: p.userId, ok: true, externalId: p.externalId, action: 'deleted' });
        else if (refused(err)) results.push({ userId: p.userId, ok: false, error: err.message });
        else throw err;
      }
    }
    return results;
  }
}

/**
 * A new Person contact: the mapped text fields (nulls left out), the email and phone as
 * principal Work entries. Wealthbox people need a name: a missing last name is the user's
 * display name, else the email's local part.
 */
function createBody(p: OutgoingPerson): Record<string, unknown> {
  const body: Record<string, unknown> = { type: 'Person' };
  for (const [field, raw] of Object.entries(p.fields)) {
    const value = clean(raw);
    if (value === null || field === 'type') continue;
    if (field === EMAIL_FIELD) body.email_addresses = [{ address: value, principal: true, kind: 'Work' }];
    else if (field === PHONE_FIELD) body.phone_numbers = [{ address: value, principal: true, kind: 'Work' }];
    else body[field] = value;
  }
  if (typeof body.last_name !== 'string') {
    const name = p.name?.trim();
    const local = p.email?.split('@')[0];
    body.last_name = name || local || (typeof body.first_name === 'string' ? body.first_name : 'Unknown');
  }
  return body;
}

/**
 * What differs from the contact as Wealthbox has it: changed text fields; a null empties the
 * fields in CLEARABLE (names stay); a new email or phone replaces the principal entry by its
 * id, or marks an existing entry with that address principal, or is added. A null email or
 * phone leaves the contact's entries as they are.
 */
function updateBody(existing: WealthboxContact, fields: Record<string, string | null>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const current = existing as unknown as Record<string, unknown>;
  for (const [field, raw] of Object.entries(fields)) {
    const value = clean(raw);
    if (field === EMAIL_FIELD || field === PHONE_FIELD) {
      const entries = entryChange(
        (field === EMAIL_FIELD ? existing.email_addresses : existing.phone_numbers) ?? [],
        value,
        field === EMAIL_FIELD,
      );
      if (entries) body[field === EMAIL_FIELD ? 'email_addresses' : 'phone_numbers'] = entries;
      continue;
    }
    if (field === 'type') continue;
    const was = clean(current[field]);
    if (value === null) {
      if (was !== null && CLEARABLE.has(field)) body[field] = '';
    } else if (value !== was) body[field] = value;
  }
  return body;
}

function entryChange(entries: Entry[], value: string | null, isEmail: boolean): Entry[] | null {
  if (value === null) return null;
  const same = (a: string | undefined) => {
    if (!a) return false;
    return isEmail ? a.trim().toLowerCase() === value.toLowerCase() : a.replace(/\D/g, '') === value.replace(/\D/g, '') && /\d/.test(value);
  };
  const principal = entries.find((e) => e?.principal === true) ?? entries[0];
  if (principal && same(principal.address))
    return principal.principal === true || typeof principal.id !== 'number' ? null : [{ id: principal.id, principal: true }];
  const other = entries.find((e) => same(e?.address));
  if (other && typeof other.id === 'number') return [{ id: other.id, principal: true }];
  if (principal && typeof principal.id === 'number') return [{ id: principal.id, address: value, principal: true }];
  return [{ address: value, principal: true, kind: 'Work' }];
}
