import type { AxiosInstance } from 'axios';
import type { Logger } from 'winston';
import { CrmUnavailableError } from '../connector';
import { checkDailyQuota } from '../http-client';
import type { CrmWriter, DeletePolicy, OutgoingPerson, OutgoingRemoval, PushResult } from '../writer';
import type { ZohoConfig } from './zoho.connector';
import { ZOHO_DEFAULT_VERSION } from './zoho.definition';
import { CONTACTS_MODULE, ZOHO_PROVIDER, zohoId } from './zoho.mapping';

/** Records one upsert, update or delete call takes (Zoho's limit for each). */
export const ZOHO_WRITE_BATCH = 100;

/** One entry of a write answer's `data`: the record's success (with `details.id`) or its own error. */
interface Outcome {
  code?: unknown;
  status?: unknown;
  message?: unknown;
  action?: unknown;
  details?: { id?: unknown; api_name?: unknown } & Record<string, unknown>;
}

const succeeded = (o: Outcome) => o.status === 'success' && o.code === 'SUCCESS';
/** PUT's answer for an id Zoho does not have (deleted there, or never its own): INVALID_DATA about `id`. */
const unknownId = (o: Outcome) => o.code === 'INVALID_DATA' && o.details?.api_name === 'id';
const text = (v: unknown, max = 200) => (typeof v === 'string' ? v.slice(0, max) : '');

/** Zoho's own words for a record it refused: code, message and the field it names. */
function describe(o: Outcome): string {
  const field = text(o.details?.api_name, 100);
  return [text(o.code, 60) || 'error', text(o.message), field && `(${field})`].filter(Boolean).join(': ');
}

/**
 * Writes our users to Zoho CRM Contacts (fake-crm/zoho/README.md, "Writes").
 *
 * People we know the id of are updated with PUT /crm/{v}/Contacts (100 a call); those we do
 * not, and those whose id Zoho no longer has, go through POST /crm/{v}/Contacts/upsert with
 * `duplicate_check_fields: ["Email"]`: a retried call finds the contact it created by its
 * email instead of creating a second one (a person without an email has nothing to match
 * and is inserted). Zoho answers each record on its own, in request order: a refused record
 * fails alone. Nulls: an update sends null, which Zoho stores as an empty field (Last_Name,
 * which Contacts require, is never cleared); a create leaves them out.
 */
export class ZohoWriter implements CrmWriter {
  readonly identityProvider = ZOHO_PROVIDER;
  readonly maxBatch = ZOHO_WRITE_BATCH;
  private readonly base: string;

  constructor(
    private readonly http: AxiosInstance,
    config: Pick<ZohoConfig, 'apiVersion'>,
    private readonly logger: Logger,
  ) {
    this.base = `/crm/${config.apiVersion ?? ZOHO_DEFAULT_VERSION}/${CONTACTS_MODULE}`;
  }

  async upsert(people: OutgoingPerson[]): Promise<PushResult[]> {
    const results = new Map<OutgoingPerson, PushResult>();
    for (let i = 0; i < people.length; i += this.maxBatch) await this.upsertBatch(people.slice(i, i + this.maxBatch), results);
    return people.map((p) => results.get(p) as PushResult);
  }

  private async upsertBatch(people: OutgoingPerson[], results: Map<OutgoingPerson, PushResult>): Promise<void> {
    const linked = people.filter((p) => p.externalId !== null && zohoId(p.externalId) === p.externalId);
    const unlinked = people.filter((p) => !linked.includes(p));
    if (linked.length > 0) {
      const outcomes = await this.write('PUT', this.base, { data: linked.map((p) => ({ ...record(p, 'update'), id: p.externalId })) });
      const gone: OutgoingPerson[] = [];
      linked.forEach((p, i) => {
        const o = outcomes[i];
        if (succeeded(o))
          results.set(p, { userId: p.userId, ok: true, externalId: zohoId(o.details?.id) ?? (p.externalId as string), action: 'updated' });
        else if (unknownId(o)) gone.push(p);
        else results.set(p, { userId: p.userId, ok: false, error: `Zoho CRM refused the update: ${describe(o)}` });
      });
      if (gone.length > 0) {
        this.logger.info('zoho: linked contacts no longer exist there; they are upserted by email', { count: gone.length });
        unlinked.push(...gone);
      }
    }
    if (unlinked.length > 0) {
      const outcomes = await this.write('POST', `${this.base}/upsert`, {
        data: unlinked.map((p) => record(p, 'create')),
        duplicate_check_fields: ['Email'],
      });
      unlinked.forEach((p, i) => {
        const o = outcomes[i];
        const id = zohoId(o.details?.id);
        if (succeeded(o) && id)
          results.set(p, { userId: p.userId, ok: true, externalId: id, action: o.action === 'update' ? 'updated' : 'created' });
        else results.set(p, { userId: p.userId, ok: false, error: `Zoho CRM refused the record: ${describe(o)}` });
      });
    }
  }

  /**
   * DELETE /crm/{v}/Contacts?ids= (100 a call): to Zoho's recycle bin. An id Zoho answers
   * "record not deleted" (INVALID_DATA) for is one it does not have: already gone, done.
   */
  async remove(people: OutgoingRemoval[], policy: Exclude<DeletePolicy, 'none'>): Promise<PushResult[]> {
    if (policy !== 'delete')
      return people.map((p) => ({ userId: p.userId, ok: false, error: 'Zoho CRM contacts can be deleted, not archived' }));
    // An id that is no Zoho id names nothing there: nothing to delete.
    const ids = [...new Set(people.map((p) => p.externalId).filter((id) => zohoId(id) === id))];
    const byId = new Map<string, Outcome>();
    for (let i = 0; i < ids.length; i += this.maxBatch) {
      const chunk = ids.slice(i, i + this.maxBatch);
      const outcomes = await this.write('DELETE', this.base, undefined, { ids: chunk.join(',') }, chunk.length);
      chunk.forEach((id, k) => byId.set(zohoId(outcomes[k].details?.id) ?? id, outcomes[k]));
    }
    return people.map((p): PushResult => {
      const o = byId.get(p.externalId);
      if (!o || succeeded(o) || o.code === 'INVALID_DATA')
        return { userId: p.userId, ok: true, externalId: p.externalId, action: 'deleted' };
      return { userId: p.userId, ok: false, error: `Zoho CRM refused the deletion: ${describe(o)}` };
    });
  }

  /**
   * One write call. Zoho answers 200 (all done), 207 (some refused) or 400 (none done) with a
   * `data` entry per record; a 400 without them is about the whole request and is thrown.
   */
  private async write(
    method: 'PUT' | 'POST' | 'DELETE',
    url: string,
    data?: unknown,
    params?: Record<string, string>,
    expected?: number,
  ): Promise<Outcome[]> {
    await checkDailyQuota(this.http);
    const count = expected ?? (data as { data: unknown[] }).data.length;
    const res = await this.http.request<{ data?: unknown; code?: unknown; message?: unknown }>({
      method,
      url,
      data,
      params,
      validateStatus: (s) => (s >= 200 && s < 300) || s === 400,
    });
    const outcomes = res.data?.data;
    if (Array.isArray(outcomes) && outcomes.length === count)
      return outcomes.map((o) => (o && typeof o === 'object' ? (o as Outcome) : {}));
    throw new CrmUnavailableError(
      `zoho answered ${res.status} on ${method} ${url} without a result per record: ${text(res.data?.code, 60) || 'no code'}: ${text(res.data?.message) || 'no details'}`,
      res.status,
    );
  }
}

/**
 * A person as a Contacts record. Account_Name is a lookup: set by name (`{"name": ...}`),
 * which Zoho resolves to the account of that name. Last_Name is mandatory on a create: the
 * user's display name stands in for a missing one, then the email's local part, then the
 * first name.
 */
function record(p: OutgoingPerson, mode: 'create' | 'update'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, raw] of Object.entries(p.fields)) {
    if (field === 'id') continue;
    const value = typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : null;
    if (value === null) {
      if (mode === 'update' && field !== 'Last_Name') out[field] = null;
      continue;
    }
    out[field] = field === 'Account_Name' ? { name: value } : value;
  }
  if (mode === 'create' && typeof out.Last_Name !== 'string') {
    const name = p.name?.trim();
    const local = p.email?.split('@')[0]?.trim();
    out.Last_Name = (name || local || (typeof out.First_Name === 'string' ? out.First_Name : '') || 'Unknown').slice(0, 80);
  }
  return out;
}
