import type { AxiosInstance, AxiosResponse, Method } from 'axios';
import type { Logger } from 'winston';
import { CrmAuthError } from '../connector';
import {
  failedAlone,
  pushed,
  type CrmWriter,
  type DeletePolicy,
  type OutgoingPerson,
  type OutgoingRemoval,
  type PushResult,
} from '../writer';
import { SalesforceBudget } from './salesforce.budget';
import { errorOf, SalesforceApiError, soqlString, type SalesforceConfig } from './salesforce.connector';
import { idKey, recordsOf, SALESFORCE_PROVIDER, salesforceId } from './salesforce.mapping';
import { checkDailyQuota } from '../http-client';

/** sObject Collections take at most 200 records (or ids) a call. */
const COLLECTION_LIMIT = 200;
/** Characters of quoted values in one `IN (...)`: keeps the query's GET URL far below Salesforce's limit. */
const IN_LIST_CHARS = 4000;
/** Not a Contact field: the writer finds or creates the Account of that name and sets AccountId. */
const ACCOUNT_NAME = 'Account.Name';
/** A record Salesforce no longer has (recycle bin, purged): an update creates it again, a delete is done. */
const GONE = new Set(['ENTITY_IS_DELETED', 'NOT_FOUND', 'INVALID_ID_FIELD']);
/** Gone too when about the record's own Id (not about a lookup such as AccountId). */
const GONE_IF_ID = new Set(['INVALID_CROSS_REFERENCE_KEY', 'MALFORMED_ID']);

interface SaveError {
  statusCode?: unknown;
  message?: unknown;
  fields?: unknown;
}

/** A SaveResult or DeleteResult: `{id, success, errors}`, in the order of the request. */
interface SaveResult {
  id?: unknown;
  success?: unknown;
  errors?: unknown;
}

type Saved = { results: SaveResult[] } | { refused: string };
type AccountOutcome = { id: string } | { error: string };

const errorsOf = (r: SaveResult | undefined): SaveError[] => (Array.isArray(r?.errors) ? (r.errors as SaveError[]) : []);

function saveErrorText(errors: SaveError[]): string {
  if (errors.length === 0) return 'Salesforce gave no reason';
  return errors
    .slice(0, 3)
    .map((e) => `${typeof e?.statusCode === 'string' ? e.statusCode : 'ERROR'}: ${typeof e?.message === 'string' ? e.message : ''}`)
    .join('; ')
    .slice(0, 500);
}

function isGone(errors: SaveError[]): boolean {
  const e = errors[0];
  if (!e || typeof e.statusCode !== 'string') return false;
  if (GONE.has(e.statusCode)) return true;
  const fields = Array.isArray(e.fields) ? (e.fields as unknown[]) : [];
  return GONE_IF_ID.has(e.statusCode) && (fields.length === 0 || fields.includes('Id'));
}

/** Groups of items in which each key is once, in order (two users of one email: the second goes after the first). */
function rounds<T>(items: T[], key: (t: T) => string): T[][] {
  const out: T[][] = [];
  const seen: Set<string>[] = [];
  for (const item of items) {
    const k = key(item);
    let i = seen.findIndex((s) => !s.has(k));
    if (i < 0) i = seen.push(new Set()) - 1;
    seen[i].add(k);
    (out[i] ??= []).push(item);
  }
  return out;
}

const chunks = <T>(items: T[], size = COLLECTION_LIMIT): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** Value lists for `IN (...)` short enough for a GET. */
function inLists(values: string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let chars = 0;
  for (const v of values) {
    const quoted = soqlString(v);
    if (current.length && (chars + quoted.length + 2 > IN_LIST_CHARS || current.length >= COLLECTION_LIMIT)) {
      out.push(current);
      current = [];
      chars = 0;
    }
    current.push(quoted);
    chars += quoted.length + 2;
  }
  if (current.length) out.push(current);
  return out;
}

const accountKey = (name: string) => name.trim().toLowerCase();

/**
 * Writes our users as Salesforce Contacts with sObject Collections (fake-crm/salesforce/README.md
 * has the API facts), 200 records a call, `allOrNone: false` so a record fails alone.
 *
 * Linked people are updated by Id (PATCH); one Salesforce no longer has (ENTITY_IS_DELETED...) is
 * written like an unlinked one. Unlinked people are looked up by Email first (one SOQL query per
 * batch): found ones are updated, the rest created (POST), so a push retried after a lost answer
 * does not duplicate them. `Account.Name` (our company) becomes AccountId: the Account of that
 * name (the oldest, when several share it), created when there is none; one lookup and one
 * create per call.
 *
 * Null values: a linked Contact's field is cleared (Salesforce's REST API takes null for that),
 * except LastName (required) and the Account (a Contact is never detached from its Account here).
 * A Contact we never linked gets only the values we have. Salesforce requires LastName: a user
 * without one is sent with their name, else the local part of their email (with neither,
 * Salesforce's REQUIRED_FIELD_MISSING fails that record alone).
 *
 * Every answer's Sforce-Limit-Info feeds the integration's shared daily budget: at the
 * reserve the HTTP client stops the writer (CrmBudgetError) before calling again.
 */
export class SalesforceWriter implements CrmWriter {
  readonly identityProvider = SALESFORCE_PROVIDER;
  readonly maxBatch = COLLECTION_LIMIT;
  private readonly base: string;
  private readonly budget: SalesforceBudget;

  constructor(
    private readonly http: AxiosInstance,
    config: SalesforceConfig,
    private readonly logger: Logger,
    private readonly integrationId: number | null,
  ) {
    this.base = `/services/data/${config.apiVersion}`;
    this.budget = new SalesforceBudget(config.apiReservePercent, logger, integrationId);
  }

  /** Every answer passes here (index.ts). */
  observe(headers: Record<string, unknown> | undefined): void {
    this.budget.observe(headers);
  }

  /** The org's daily API use as the last answer told it. */
  get apiUsage(): { used: number; limit: number } | null {
    return this.budget.usage;
  }

  async upsert(people: OutgoingPerson[]): Promise<PushResult[]> {
    const out = new Map<number, PushResult>();
    const accounts = await this.accounts(people);
    const linked = people.filter((p) => p.externalId !== null && salesforceId(p.externalId) !== null);
    const gone: OutgoingPerson[] = [];
    for (const round of rounds(linked, (p) => idKey(p.externalId as string))) {
      for (const chunk of chunks(round)) await this.update(chunk, 'linked', accounts, out, gone);
    }
    if (gone.length) {
      this.logger.info('salesforce: linked Contacts no longer exist; writing them again', {
        integrationId: this.integrationId,
        externalIds: gone.map((p) => p.externalId).slice(0, 20),
      });
    }
    const fresh = [...people.filter((p) => !linked.includes(p)), ...gone];
    for (const round of rounds(fresh, (p) => p.email ?? `user ${p.userId}`)) await this.writeFresh(round, accounts, out);
    // A person without a result is left out: the push worker tries it again later.
    return people.map((p) => out.get(p.userId)).filter((r): r is PushResult => r !== undefined);
  }

  /**
   * delete: DELETE .../composite/sobjects?ids=…&allOrNone=false, 200 ids a call (Contacts go to
   * the recycle bin). A Contact Salesforce no longer has counts as deleted.
   */
  async remove(people: OutgoingRemoval[], policy: Exclude<DeletePolicy, 'none'>): Promise<PushResult[]> {
    if (policy !== 'delete') {
      return people.map((p) =>
        failedAlone(
          p,
          `Salesforce Contacts are deleted (to the recycle bin), not archived: set onUserDeleted to "delete" (policy "${policy}")`,
        ),
      );
    }
    const results: PushResult[] = [];
    const byKey = new Map<string, { id: string; people: OutgoingRemoval[] }>();
    for (const p of people) {
      const id = salesforceId(p.externalId);
      // Not a Salesforce id: no Contact of ours to delete.
      if (!id) results.push(pushed(p, p.externalId, 'deleted'));
      else byKey.set(idKey(id), { id, people: [...(byKey.get(idKey(id))?.people ?? []), p] });
    }
    for (const chunk of chunks([...byKey.values()])) {
      const res = await this.call('DELETE', `${this.base}/composite/sobjects`, {
        params: { ids: chunk.map((c) => c.id).join(','), allOrNone: 'false' },
      });
      const refused = res.status === 400 ? `Salesforce refused the call (400): ${this.describe(res.data)}` : null;
      const answers = Array.isArray(res.data) ? (res.data as SaveResult[]) : [];
      chunk.forEach((c, i) => {
        const r = answers[i];
        for (const p of c.people) {
          if (refused) results.push(failedAlone(p, refused));
          else if (!r) continue;
          else if (r.success === true || isGone(errorsOf(r))) results.push(pushed(p, c.id, 'deleted'));
          else results.push(failedAlone(p, saveErrorText(errorsOf(r))));
        }
      });
    }
    return results;
  }

  /** Unlinked people, each email once: found by Email are updated, the others created. */
  private async writeFresh(people: OutgoingPerson[], accounts: Map<string, AccountOutcome>, out: Map<number, PushResult>): Promise<void> {
    const existing = await this.contactsByEmail(people.map((p) => p.email).filter((e): e is string => e !== null));
    const found = people.filter((p) => p.email !== null && existing.has(p.email.toLowerCase()));
    const stillGone: OutgoingPerson[] = [];
    const asLinked = found.map((p) => ({ ...p, externalId: existing.get((p.email as string).toLowerCase()) as string }));
    for (const chunk of chunks(asLinked)) await this.update(chunk, 'found', accounts, out, stillGone);
    const toCreate = [...people.filter((p) => !found.includes(p)), ...stillGone];
    for (const chunk of chunks(toCreate)) await this.create(chunk, accounts, out);
  }

  /** PATCH .../composite/sobjects: a SaveResult per record, in order. */
  private async update(
    people: OutgoingPerson[],
    mode: 'linked' | 'found',
    accounts: Map<string, AccountOutcome>,
    out: Map<number, PushResult>,
    gone: OutgoingPerson[],
  ): Promise<void> {
    const ready: OutgoingPerson[] = [];
    const records: Record<string, unknown>[] = [];
    for (const p of people) {
      const r = this.record(p, mode === 'linked' ? 'clear' : 'keep', accounts);
      if ('error' in r) out.set(p.userId, failedAlone(p, r.error));
      else {
        ready.push(p);
        records.push({ ...r.record, id: p.externalId });
      }
    }
    if (records.length === 0) return;
    const saved = await this.save('PATCH', records);
    ready.forEach((p, i) => {
      if ('refused' in saved) return out.set(p.userId, failedAlone(p, saved.refused));
      const r = saved.results[i];
      if (!r) return;
      if (r.success === true) out.set(p.userId, pushed(p, salesforceId(r.id) ?? (p.externalId as string), 'updated'));
      else if (isGone(errorsOf(r))) gone.push(p);
      else out.set(p.userId, failedAlone(p, saveErrorText(errorsOf(r))));
    });
  }

  /** POST .../composite/sobjects: new Contacts, a SaveResult (with the new Id) per record. */
  private async create(people: OutgoingPerson[], accounts: Map<string, AccountOutcome>, out: Map<number, PushResult>): Promise<void> {
    const ready: OutgoingPerson[] = [];
    const records: Record<string, unknown>[] = [];
    for (const p of people) {
      const r = this.record(p, 'create', accounts);
      if ('error' in r) out.set(p.userId, failedAlone(p, r.error));
      else {
        ready.push(p);
        records.push(r.record);
      }
    }
    if (records.length === 0) return;
    // Sent once: a create retried after a 5xx or a timeout could make a second record, and the
    // next push looks the Contact up by email before creating.
    const saved = await this.save('POST', records, { once: true });
    ready.forEach((p, i) => {
      if ('refused' in saved) return out.set(p.userId, failedAlone(p, saved.refused));
      const r = saved.results[i];
      const id = salesforceId(r?.id);
      if (r?.success === true && id) out.set(p.userId, pushed(p, id, 'created'));
      else if (r) out.set(p.userId, failedAlone(p, saveErrorText(errorsOf(r))));
    });
  }

  /**
   * A Contact record from the mapped fields. `clear`: a linked Contact, null clears the field;
   * `keep`: one found by email, null is left out; `create`: null is left out and LastName filled in.
   */
  private record(
    p: OutgoingPerson,
    mode: 'clear' | 'keep' | 'create',
    accounts: Map<string, AccountOutcome>,
  ): { record: Record<string, unknown> } | { error: string } {
    const record: Record<string, unknown> = { attributes: { type: 'Contact' } };
    for (const [name, value] of Object.entries(p.fields)) {
      if (name === ACCOUNT_NAME) continue;
      if (value === null || value.trim() === '') {
        if (mode === 'clear' && name !== 'LastName') record[name] = null;
      } else record[name] = value;
    }
    const company = p.fields[ACCOUNT_NAME];
    if (company && company.trim()) {
      const account = accounts.get(accountKey(company));
      if (!account || 'error' in account)
        return { error: `the Account "${company.trim()}" is not available: ${account?.error ?? 'no answer'}` };
      record.AccountId = account.id;
    }
    if (mode === 'create' && !record.LastName && (p.name || p.email))
      record.LastName = (p.name || (p.email as string).split('@')[0]).slice(0, 80);
    return { record };
  }

  /** The Accounts the people's companies name: found by Name (the oldest of a name), else created. */
  private async accounts(people: OutgoingPerson[]): Promise<Map<string, AccountOutcome>> {
    const names = new Map<string, string>();
    for (const p of people) {
      const company = p.fields[ACCOUNT_NAME];
      // The first spelling of a name is the one a new Account gets.
      if (company && company.trim() && !names.has(accountKey(company))) names.set(accountKey(company), company.trim());
    }
    const outcomes = new Map<string, AccountOutcome>();
    if (names.size === 0) return outcomes;
    for (const list of inLists([...names.values()])) {
      const data = await this.query(`SELECT Id, Name FROM Account WHERE Name IN (${list.join(', ')}) ORDER BY CreatedDate, Id`);
      for (const r of recordsOf(data)) {
        const id = salesforceId(r.Id);
        const key = typeof r.Name === 'string' ? accountKey(r.Name) : null;
        if (id && key && !outcomes.has(key)) outcomes.set(key, { id });
      }
    }
    const missing = [...names].filter(([key]) => !outcomes.has(key));
    for (const chunk of chunks(missing)) {
      const saved = await this.save(
        'POST',
        chunk.map(([, name]) => ({ attributes: { type: 'Account' }, Name: name })),
        { once: true },
      );
      chunk.forEach(([key, name], i) => {
        const r = 'results' in saved ? saved.results[i] : undefined;
        const id = salesforceId(r?.id);
        if (r?.success === true && id) outcomes.set(key, { id });
        else {
          const error = 'refused' in saved ? saved.refused : saveErrorText(errorsOf(r));
          this.logger.warn('salesforce: an Account could not be created', { integrationId: this.integrationId, account: name, error });
          outcomes.set(key, { error });
        }
      });
    }
    return outcomes;
  }

  /** Contact Ids by lower-cased Email (the oldest Contact of an email). */
  private async contactsByEmail(emails: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const list of inLists([...new Set(emails.map((e) => e.toLowerCase()))])) {
      const data = await this.query(`SELECT Id, Email FROM Contact WHERE Email IN (${list.join(', ')}) ORDER BY CreatedDate, Id`);
      for (const r of recordsOf(data)) {
        const id = salesforceId(r.Id);
        const email = typeof r.Email === 'string' ? r.Email.toLowerCase() : null;
        if (id && email && !out.has(email)) out.set(email, id);
      }
    }
    return out;
  }

  private async query(soql: string): Promise<unknown> {
    const res = await this.call('GET', `${this.base}/query`, { params: { q: soql } });
    if (res.status === 400) {
      const { errorCode, message } = errorOf(res.data);
      throw new SalesforceApiError(`Salesforce answered 400 ${errorCode} on GET ${this.base}/query: ${message}`, 400, errorCode);
    }
    return res.data;
  }

  /** An sObject Collections write: its results, or the whole call's refusal (400: malformed, an unknown field). */
  private async save(method: 'POST' | 'PATCH', records: Record<string, unknown>[], o: { once?: boolean } = {}): Promise<Saved> {
    const res = await this.call(method, `${this.base}/composite/sobjects`, { data: { allOrNone: false, records }, once: o.once });
    if (res.status === 400) return { refused: `Salesforce refused the call (400): ${this.describe(res.data)}` };
    return { results: Array.isArray(res.data) ? (res.data as SaveResult[]) : [] };
  }

  private describe(data: unknown): string {
    const { errorCode, message } = errorOf(data);
    return `${errorCode}: ${message}`;
  }

  /**
   * One request (the HTTP client refuses it at the daily reserve). A 400 comes back to the caller (it is about the
   * request's records); 403 REQUEST_LIMIT_EXCEEDED is the budget, another 403 a permission a
   * person must grant, a 404 an API version or resource the org lacks.
   */
  private async call(
    method: Method,
    url: string,
    o: { params?: Record<string, string>; data?: unknown; once?: boolean },
  ): Promise<AxiosResponse> {
    await checkDailyQuota(this.http);
    const res = await this.http.request({
      method,
      url,
      params: o.params,
      data: o.data,
      validateStatus: (s) => (s >= 200 && s < 300) || s === 400 || s === 403 || s === 404,
      once: o.once,
    });
    if (res.status < 300 || res.status === 400) return res;
    const { errorCode, message } = errorOf(res.data);
    const where = `${method.toUpperCase()} ${url}`;
    if (res.status === 403 && errorCode === 'REQUEST_LIMIT_EXCEEDED') throw this.budget.exceeded(where, message);
    if (res.status === 403) throw new CrmAuthError(`Salesforce refused ${where} (403 ${errorCode}): ${message}`);
    throw new SalesforceApiError(`Salesforce answered ${res.status} ${errorCode} on ${where}: ${message}`, res.status, errorCode);
  }
}
