import { parseIsoTime } from '../../lib/time';
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { Logger } from 'winston';
import { CrmUnavailableError } from '../connector';
import type { CrmWriter, DeletePolicy, OutgoingPerson, OutgoingRemoval, PushResult } from '../writer';
import { DEFAULT_JOB_TIMEOUT_SECONDS, SENDGRID_CUSTOM_FIELD, type SendGridConfig } from './sendgrid.definition';

/** Contacts per upsert: SendGrid takes 30,000 or 6 MB a request; 1,000 keeps each import job short. */
export const SENDGRID_BATCH_MAX = 1000;
/** Under the documented 6 MB per request, with room for the envelope. */
const MAX_BODY_BYTES = 5_500_000;
/** Search by emails and batch reads take at most 100; ids in a query string stay short at 100. */
const PER_LOOKUP = 100;
const FIRST_POLL_DELAY_MS = 250;
const MAX_POLL_DELAY_MS = 5000;

const CUSTOM = new RegExp(SENDGRID_CUSTOM_FIELD);

/** 4xx answers (other than auth and 429) come back as responses: they are about these records. */
const KEEP_4XX = {
  validateStatus: (s: number) => (s >= 200 && s < 300) || (s >= 400 && s < 500 && s !== 401 && s !== 403 && s !== 429),
};

type Contact = { email: string; custom_fields?: Record<string, string> } & Record<string, unknown>;
interface Found {
  id: string;
  listIds: string[];
  createdAt: number | null;
}
interface Job {
  id?: string;
  status?: string;
  results?: { requested_count?: number; created_count?: number; updated_count?: number; errored_count?: number; errors_url?: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pushes users to one contact list through SendGrid's asynchronous upsert: `PUT
 * /v3/marketing/contacts` (1,000 contacts a call) answers a job id, the job is followed until
 * it finishes (within `jobTimeoutSeconds`), and the contacts' ids are read back by email.
 * Contacts are keyed by email, so a retried upsert cannot duplicate anyone.
 */
export class SendGridWriter implements CrmWriter {
  readonly identityProvider = 'sendgrid';
  readonly maxBatch = SENDGRID_BATCH_MAX;

  constructor(
    private readonly http: AxiosInstance,
    private readonly config: SendGridConfig,
    private readonly logger: Logger,
  ) {}

  private get timeoutMs(): number {
    return (this.config.jobTimeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS) * 1000;
  }

  async upsert(people: OutgoingPerson[]): Promise<PushResult[]> {
    const started = Date.now();
    const deadline = started + this.timeoutMs;
    const out = new Map<number, PushResult>();
    const active = new Map<string, OutgoingPerson[]>();
    const inactive = new Map<string, OutgoingPerson[]>();
    for (const p of people) {
      const email = p.email?.trim().toLowerCase();
      if (!email) out.set(p.userId, { userId: p.userId, ok: false, error: 'no email: SendGrid contacts are keyed by their email' });
      else (p.isActive ? active : inactive).set(email, [...((p.isActive ? active : inactive).get(email) ?? []), p]);
    }
    // The same email active for one user and inactive for another: it stays on the list.
    for (const email of active.keys()) {
      for (const p of inactive.get(email) ?? []) active.get(email)?.push(p);
      inactive.delete(email);
    }

    const refused = new Map<string, string>();
    const jobs: string[] = [];
    for (const chunk of bySize([...active.entries()].map(([email, ps]) => contactOf(email, ps[0])))) {
      await this.put(chunk, jobs, refused);
    }
    const finished = await Promise.all(jobs.map((id) => this.follow(id, deadline, 'upsert')));
    const erroredCount = finished.reduce((n, j) => n + (j.status === 'completed' ? 0 : (j.results?.errored_count ?? 0)), 0);
    if (erroredCount) this.logger.warn('sendgrid: an import job reported errors', { errored: erroredCount, jobs: jobs.length });

    const imported = [...active.keys()].filter((e) => !refused.has(e));
    const found = await this.search([...imported, ...inactive.keys()]);
    // A contact just imported may take a moment to be searchable; the ones the jobs' errors account for are not waited for.
    const unexplained = () => imported.filter((e) => !found.has(e)).length > erroredCount;
    for (let attempt = 0; unexplained() && attempt < 3; attempt++) {
      const wait = Math.min(500 * 2 ** attempt, deadline - Date.now());
      if (wait <= 0) break;
      await sleep(wait);
      for (const [e, c] of await this.search(imported.filter((x) => !found.has(x)))) found.set(e, c);
    }
    const missing = imported.filter((e) => !found.has(e));
    if (missing.length && erroredCount === 0) {
      throw new CrmUnavailableError(`sendgrid: ${missing.length} imported contact(s) not searchable yet; the batch is retried later`);
    }

    for (const [email, ps] of active) {
      const c = found.get(email);
      for (const p of ps) {
        if (refused.has(email)) out.set(p.userId, { userId: p.userId, ok: false, error: refused.get(email) as string });
        else if (!c)
          out.set(p.userId, {
            userId: p.userId,
            ok: false,
            error: `SendGrid did not import this contact (its import job reported ${erroredCount} error(s); the job's errors_url has the details)`,
          });
        else out.set(p.userId, { userId: p.userId, ok: true, externalId: c.id, action: actionOf(p, c, started) });
      }
    }
    // A changed email is a new contact at SendGrid (contacts are keyed by email): the old one leaves the list.
    const replaced = [...active.entries()].flatMap(([email, ps]) => {
      const id = found.get(email)?.id;
      return ps.filter((p) => id && p.externalId && p.externalId !== id).map((p) => p.externalId as string);
    });
    if (replaced.length) {
      await this.removeFromList(replaced).catch((err: unknown) => {
        if (!(err instanceof CrmUnavailableError)) throw err;
        this.logger.warn('sendgrid: a replaced contact (changed email) could not be taken off the list', { error: err.message });
      });
    }

    // SendGrid lists have no unsubscribed state: an inactive user's contact leaves the list (and is kept).
    const onList = [...inactive.keys()].filter((e) => found.get(e)?.listIds.includes(this.config.listId));
    if (onList.length) await this.removeFromList(onList.map((e) => (found.get(e) as Found).id));
    for (const [email, ps] of inactive) {
      const c = found.get(email);
      for (const p of ps)
        out.set(
          p.userId,
          c
            ? { userId: p.userId, ok: true, externalId: c.id, action: onList.includes(email) ? 'updated' : 'unchanged' }
            : { userId: p.userId, ok: false, error: 'inactive and not in SendGrid: not added (SendGrid lists have no unsubscribed state)' },
        );
    }
    return people.map((p) => out.get(p.userId) as PushResult);
  }

  async remove(people: OutgoingRemoval[], policy: Exclude<DeletePolicy, 'none'>): Promise<PushResult[]> {
    const ids = [...new Set(people.map((p) => p.externalId))];
    const kept = new Map<string, string>();
    if (policy === 'archive') {
      await this.removeFromList(ids);
    } else {
      for (let i = 0; i < ids.length; i += PER_LOOKUP) await this.deleteContacts(ids.slice(i, i + PER_LOOKUP), kept);
    }
    const action = policy === 'archive' ? 'archived' : 'deleted';
    return people.map((p) => {
      const why = kept.get(p.externalId);
      return why ? { userId: p.userId, ok: false, error: why } : { userId: p.userId, ok: true, externalId: p.externalId, action };
    });
  }

  // ---- calls ----

  /** One upsert; a 400 for the request is split until the contact it is about stands alone. */
  private async put(contacts: Contact[], jobs: string[], refused: Map<string, string>): Promise<void> {
    const res = await this.http.put<{ job_id?: unknown }>('/v3/marketing/contacts', { list_ids: [this.config.listId], contacts }, KEEP_4XX);
    if (res.status < 300) {
      if (res.data?.job_id === undefined || res.data.job_id === null)
        throw new CrmUnavailableError('sendgrid accepted the upsert without a job_id');
      jobs.push(String(res.data.job_id));
      return;
    }
    if (res.status === 400 || res.status === 413) {
      if (contacts.length === 1) {
        refused.set(contacts[0].email, `SendGrid refused the contact: ${errorsOf(res)}`);
        return;
      }
      const half = Math.ceil(contacts.length / 2);
      await this.put(contacts.slice(0, half), jobs, refused);
      await this.put(contacts.slice(half), jobs, refused);
      return;
    }
    throw new CrmUnavailableError(`sendgrid answered ${res.status} on PUT /v3/marketing/contacts: ${errorsOf(res)}`, res.status);
  }

  /**
   * Follows an import (or deletion) job until it is done. `failed` with nothing counted as
   * errored is a job SendGrid could not process at all: the whole call is retried later.
   */
  private async follow(id: string, deadline: number, kind: 'upsert' | 'delete'): Promise<Job> {
    for (let delay = FIRST_POLL_DELAY_MS; ; delay = Math.min(delay * 2, MAX_POLL_DELAY_MS)) {
      const res = await this.http.get<Job>(`/v3/marketing/contacts/imports/${encodeURIComponent(id)}`, KEEP_4XX);
      // A 404 right after the 202: the job is not registered yet.
      if (res.status >= 300 && res.status !== 404) {
        throw new CrmUnavailableError(`sendgrid answered ${res.status} on its ${kind} job: ${errorsOf(res)}`, res.status);
      }
      const job = res.status < 300 ? (res.data ?? {}) : {};
      if (job.status === 'completed' || job.status === 'errored') return job;
      if (job.status === 'failed') {
        if (kind === 'delete' || (job.results?.errored_count ?? 0) > 0) return job;
        throw new CrmUnavailableError(`sendgrid: its ${kind} job failed without processing the contacts`);
      }
      if (Date.now() + delay > deadline) {
        throw new CrmUnavailableError(`sendgrid: the ${kind} job was not finished within ${this.timeoutMs / 1000} s; retried later`);
      }
      await sleep(delay);
    }
  }

  /** Contacts by email (primary or alternate), 100 a call; a 400 (an address SendGrid finds invalid) is split. */
  private async search(emails: string[]): Promise<Map<string, Found>> {
    const found = new Map<string, Found>();
    const ask = async (batch: string[]): Promise<void> => {
      if (!batch.length) return;
      const res = await this.http.post<{ result?: Record<string, { contact?: Record<string, unknown> }> }>(
        '/v3/marketing/contacts/search/emails',
        { emails: batch },
        KEEP_4XX,
      );
      if (res.status === 404) return; // none of them
      if (res.status === 400) {
        if (batch.length === 1) return;
        const half = Math.ceil(batch.length / 2);
        await ask(batch.slice(0, half));
        await ask(batch.slice(half));
        return;
      }
      if (res.status >= 300)
        throw new CrmUnavailableError(`sendgrid answered ${res.status} on a contact search: ${errorsOf(res)}`, res.status);
      for (const [email, entry] of Object.entries(res.data?.result ?? {})) {
        const c = entry?.contact;
        if (!c || typeof c.id !== 'string') continue;
        const createdAt = parseIsoTime(c.created_at)?.getTime() ?? NaN;
        found.set(email.toLowerCase(), {
          id: c.id,
          listIds: Array.isArray(c.list_ids) ? c.list_ids.map(String) : [],
          createdAt: Number.isFinite(createdAt) ? createdAt : null,
        });
      }
    };
    for (let i = 0; i < emails.length; i += PER_LOOKUP) await ask(emails.slice(i, i + PER_LOOKUP));
    return found;
  }

  /**
   * Takes contacts off the list (they stay in the account); SendGrid answers 202 and does it
   * shortly. It answers 404 when the list or any one of the contacts does not exist: the
   * contacts it still has are asked again, since a deleted contact is off every list already.
   */
  private async removeFromList(ids: string[]): Promise<void> {
    const list = `/v3/marketing/lists/${encodeURIComponent(this.config.listId)}/contacts`;
    for (let i = 0; i < ids.length; i += PER_LOOKUP) {
      let batch = ids.slice(i, i + PER_LOOKUP);
      for (let asked = 0; batch.length; asked++) {
        const res = await this.http.delete(list, { params: { contact_ids: batch.join(',') }, ...KEEP_4XX });
        if (res.status < 300) break;
        const existing = res.status === 404 && asked === 0 ? await this.existing(batch) : batch;
        if (existing.length === batch.length)
          throw new CrmUnavailableError(`sendgrid answered ${res.status} on a list removal: ${errorsOf(res)}`, res.status);
        batch = existing;
      }
    }
  }

  /** Which of these contact ids SendGrid still has (at most PER_LOOKUP). */
  private async existing(ids: string[]): Promise<string[]> {
    const res = await this.http.post<{ result?: { id?: unknown }[] }>('/v3/marketing/contacts/batch', { ids }, KEEP_4XX);
    if (res.status === 404) return [];
    if (res.status >= 300) throw new CrmUnavailableError(`sendgrid answered ${res.status} on a contact read: ${errorsOf(res)}`, res.status);
    const found = new Set((res.data?.result ?? []).map((c) => c?.id).filter((id): id is string => typeof id === 'string'));
    return ids.filter((id) => found.has(id));
  }

  /** Deletes contacts, follows the job, then checks they are gone (a contact already gone counts as deleted). */
  private async deleteContacts(ids: string[], kept: Map<string, string>): Promise<void> {
    const res = await this.http.delete<{ job_id?: unknown }>('/v3/marketing/contacts', { params: { ids: ids.join(',') }, ...KEEP_4XX });
    if (res.status === 400) {
      if (ids.length === 1) {
        kept.set(ids[0], `SendGrid refused to delete the contact: ${errorsOf(res)}`);
        return;
      }
      const half = Math.ceil(ids.length / 2);
      await this.deleteContacts(ids.slice(0, half), kept);
      await this.deleteContacts(ids.slice(half), kept);
      return;
    }
    if (res.status >= 300 && res.status !== 404)
      throw new CrmUnavailableError(`sendgrid answered ${res.status} on a contact deletion: ${errorsOf(res)}`, res.status);
    if (res.status < 300 && res.data?.job_id !== undefined)
      await this.follow(String(res.data.job_id), Date.now() + this.timeoutMs, 'delete');
    for (const id of await this.existing(ids)) kept.set(id, 'SendGrid still has the contact after its deletion job');
  }
}

/**
 * A contact as SendGrid takes it: reserved fields at the top, custom field ids under
 * `custom_fields`. Null fields are left out: "any fields omitted from the request will remain
 * as they were", and SendGrid documents no way to clear one.
 */
function contactOf(email: string, p: OutgoingPerson): Contact {
  const contact: Contact = { email };
  const custom: Record<string, string> = {};
  for (const [field, value] of Object.entries(p.fields)) {
    if (value === null || value === undefined || field === 'email') continue;
    if (CUSTOM.test(field)) custom[field] = value;
    else if (field === 'alternate_emails')
      contact.alternate_emails = value
        .split(/[\s,;]+/)
        .filter(Boolean)
        .slice(0, 5);
    else contact[field] = value;
  }
  if (Object.keys(custom).length) contact.custom_fields = custom;
  return contact;
}

/** Chunks of at most SENDGRID_BATCH_MAX contacts and MAX_BODY_BYTES of JSON. */
function bySize(contacts: Contact[]): Contact[][] {
  const chunks: Contact[][] = [];
  let chunk: Contact[] = [];
  let bytes = 0;
  for (const c of contacts) {
    const size = Buffer.byteLength(JSON.stringify(c)) + 1;
    if (chunk.length && (chunk.length >= SENDGRID_BATCH_MAX || bytes + size > MAX_BODY_BYTES)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(c);
    bytes += size;
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}

/** created when SendGrid made the contact during this push (its clock may differ from ours by up to a minute). */
function actionOf(p: OutgoingPerson, c: Found, started: number): 'created' | 'updated' {
  if (p.externalId === c.id) return 'updated';
  return c.createdAt !== null && c.createdAt >= started - 60_000 ? 'created' : 'updated';
}

/** SendGrid's `{errors: [{field, message}]}` as one line. */
function errorsOf(res: AxiosResponse): string {
  const errors = (res.data as { errors?: unknown } | undefined)?.errors;
  const list = Array.isArray(errors) ? errors : errors && typeof errors === 'object' ? [errors] : [];
  const text = (list as { field?: unknown; message?: unknown }[])
    .slice(0, 3)
    .map((e) => (e.field ? `${String(e.field)}: ${String(e.message ?? '')}` : String(e.message ?? '')))
    .join('; ');
  return (text || `HTTP ${res.status}`).slice(0, 500);
}
