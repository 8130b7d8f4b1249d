import type { AxiosInstance } from 'axios';
import { CrmUnavailableError } from '../connector';
import type { CrmWriter, DeletePolicy, OutgoingPerson, OutgoingRemoval, PushResult } from '../writer';
import type { GoHighLevelConfig } from './gohighlevel.connector';
import { CONTACT_PROVIDER, contactGone as notFound } from './gohighlevel.mapping';
import { checkDailyQuota } from '../http-client';

/** HighLevel has no batch write: records are written one call each, in this many per upsert. */
export const GOHIGHLEVEL_PUSH_BATCH = 10;

/**
 * Fields PUT /contacts/{id} may set to null to empty them (`nullable` in UpdateContactDto).
 * email and phone are left as they are: they are what HighLevel recognises a contact by.
 */
const CLEARABLE = new Set([
  'firstName',
  'lastName',
  'name',
  'companyName',
  'address1',
  'city',
  'state',
  'website',
  'timezone',
  'source',
  'dateOfBirth',
]);

/** A refusal of this one record (validation, a duplicate HighLevel will not allow), not of the call. */
const refused = (err: unknown): err is CrmUnavailableError =>
  err instanceof CrmUnavailableError && (err.status === 400 || err.status === 422);
interface ContactAnswer {
  contact?: { id?: unknown };
  new?: unknown;
}

/**
 * Writes our users to one HighLevel location's contacts (fake-crm/gohighlevel/README.md,
 * "Writes"). HighLevel has no batch endpoint, so each person is one call, in turn:
 * PUT /contacts/{id} for a linked person; POST /contacts/upsert for the others (matched by
 * email or phone, as the location's duplicate setting orders them, so a retried call finds
 * the contact it created) and for a linked person whose contact HighLevel no longer has.
 * PUT takes no `locationId` (HighLevel refuses unknown properties with a 422).
 */
export class GoHighLevelWriter implements CrmWriter {
  readonly identityProvider = CONTACT_PROVIDER;
  readonly maxBatch = GOHIGHLEVEL_PUSH_BATCH;

  constructor(
    private readonly http: AxiosInstance,
    private readonly config: GoHighLevelConfig,
  ) {
    if (typeof config.locationId !== 'string' || config.locationId === '') throw new Error('gohighlevel: config.locationId is required');
  }

  async upsert(people: OutgoingPerson[]): Promise<PushResult[]> {
    const results: PushResult[] = [];
    // One call per person: the daily reserve is checked before each.
    for (const p of people) {
      await checkDailyQuota(this.http);
      results.push(await this.upsertOne(p));
    }
    return results;
  }

  private async upsertOne(p: OutgoingPerson): Promise<PushResult> {
    if (p.externalId) {
      try {
        const { data } = await this.http.put<ContactAnswer>(`/contacts/${encodeURIComponent(p.externalId)}`, contactBody(p, 'update'));
        return { userId: p.userId, ok: true, externalId: idOf(data) ?? p.externalId, action: 'updated' };
      } catch (err) {
        // Deleted in HighLevel: written again through the upsert below.
        if (!notFound(err)) {
          if (refused(err)) return { userId: p.userId, ok: false, error: err.message };
          throw err;
        }
      }
    }
    const body = contactBody(p, 'create');
    // Without either there is nothing to match on: each retry would create another contact.
    if (body.email === undefined && body.phone === undefined) {
      return { userId: p.userId, ok: false, error: 'HighLevel matches contacts by email or phone, and this user has neither' };
    }
    try {
      const { data } = await this.http.post<ContactAnswer>('/contacts/upsert', { ...body, locationId: this.config.locationId });
      const id = idOf(data);
      if (!id) throw new CrmUnavailableError('gohighlevel answered the upsert without a contact id');
      return { userId: p.userId, ok: true, externalId: id, action: data.new === true ? 'created' : 'updated' };
    } catch (err) {
      if (refused(err)) return { userId: p.userId, ok: false, error: err.message };
      throw err;
    }
  }

  /** DELETE /contacts/{id} each; a contact HighLevel no longer has (404) is already removed. */
  async remove(people: OutgoingRemoval[], policy: Exclude<DeletePolicy, 'none'>): Promise<PushResult[]> {
    const results: PushResult[] = [];
    for (const p of people) {
      await checkDailyQuota(this.http);
      if (policy !== 'delete') {
        results.push({ userId: p.userId, ok: false, error: 'HighLevel contacts can be deleted, not archived' });
        continue;
      }
      try {
        await this.http.delete(`/contacts/${encodeURIComponent(p.externalId)}`);
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

const idOf = (data: ContactAnswer | undefined): string | null => {
  const id = data?.contact?.id;
  return typeof id === 'string' && id !== '' ? id : null;
};

/**
 * A person as a HighLevel contact body. Values are text except `tags` (a comma-separated list
 * becomes the contact's whole tag list, as HighLevel replaces tags) and `dnd` (true/false).
 * Nulls: left out of an upsert (it may update a contact we never linked); an update sends
 * null for the fields HighLevel documents as nullable, and leaves the others.
 */
function contactBody(p: OutgoingPerson, mode: 'create' | 'update'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, raw] of Object.entries(p.fields)) {
    if (field === 'locationId' || field === 'id') continue;
    const value = typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : null;
    if (value === null) {
      if (mode === 'update' && CLEARABLE.has(field)) out[field] = null;
      continue;
    }
    if (field === 'tags')
      out.tags = value
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    else if (field === 'dnd') out.dnd = /^(true|1|yes)$/i.test(value);
    else out[field] = value;
  }
  return out;
}
