import { randomUUID } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { bearer, FakeApiError, FakeServer, jsonRoute, loggedBody, type LoggedRequest } from '../shared/fake-server';

/**
 * A Twilio SendGrid Marketing Campaigns v3 of our own for contacts on one list
 * (fake-crm/sendgrid/README.md lists the facts followed, their sources, and what stays
 * unconfirmed): bearer auth with SendGrid's `{errors: [{field, message}]}` bodies, the
 * asynchronous upsert `PUT /v3/marketing/contacts` (202 `{job_id}`, applied when its job
 * finishes, after `pollsToComplete` status reads), the import status, search by emails,
 * batch reads, contact deletion (a job too), removal from a list, and X-RateLimit-* headers.
 */

export interface FakeSendGridContact {
  id: string;
  email: string;
  /** Reserved fields (first_name, city, alternate_emails, ...). */
  fields: Record<string, unknown>;
  custom_fields: Record<string, string>;
  list_ids: string[];
  createdAt: Date;
  updatedAt: Date;
  /** Searches before this count do not find it yet (SendGrid's search lags its imports). */
  searchableFrom: number;
}

export interface FakeSendGridJob {
  id: string;
  job_type: 'upsert' | 'delete';
  status: 'pending' | 'completed' | 'errored' | 'failed';
  polls: number;
  pollsToComplete: number;
  results: Record<string, unknown>;
  startedAt: Date;
  finishedAt: Date | null;
  run: () => { created?: number; updated?: number; deleted?: number; errored: number; requested: number };
}

export interface SendGridRequestLogEntry extends LoggedRequest {
  body: unknown;
  token: string | null;
}

export interface FakeSendGridOptions {
  apiKey?: string;
  listId?: string;
  listName?: string;
  /** The account's custom field ids; a contact naming another is an error of its import job. */
  customFields?: string[];
  /** Status reads of a job before it is done (1: the first read finds it finished). */
  pollsToComplete?: number;
  /** Searches that still miss a just-imported contact (0: found at once). */
  searchLag?: number;
  /** Contacts one upsert takes (SendGrid: 30,000) and its byte cap (6 MB). */
  maxContacts?: number;
  maxBodyBytes?: number;
  /** A request budget per window with X-RateLimit-* headers on every answer; null: none. */
  rateLimit?: { limit: number; windowMs: number } | null;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Reserved fields and their maximum lengths (ContactRequest in SendGrid's spec). */
const RESERVED: Record<string, number> = {
  first_name: 50,
  last_name: 50,
  address_line_1: 100,
  address_line_2: 100,
  city: 60,
  state_province_region: 50,
  country: 50,
  postal_code: 60,
  phone_number: 60,
  whatsapp: 60,
  line: 60,
  facebook: 60,
  unique_name: 60,
};
const IDENTIFIERS = ['email', 'phone_number_id', 'external_id', 'anonymous_id'];

const sgError = (status: number, message: string, field: string | null = null) =>
  new FakeApiError(status, { errors: [{ field, message }] });

function parseJson(req: Request): Record<string, unknown> {
  const raw = typeof req.body === 'string' ? req.body : '';
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw sgError(400, 'invalid JSON in request body');
}

export class FakeSendGrid extends FakeServer<SendGridRequestLogEntry> {
  readonly apiKey: string;
  readonly listId: string;
  readonly listName: string;
  readonly lists = new Map<string, string>();
  readonly contacts = new Map<string, FakeSendGridContact>();
  readonly jobs = new Map<string, FakeSendGridJob>();
  /** Every contact an upsert carried, as sent. */
  readonly received: Record<string, unknown>[] = [];
  customFields: Set<string>;
  pollsToComplete: number;
  searchLag: number;
  maxContacts: number;
  maxBodyBytes: number;
  rateLimit: { limit: number; windowMs: number } | null;

  private searches = 0;
  private window = { start: 0, count: 0 };

  constructor(opts: FakeSendGridOptions = {}) {
    super({ name: 'SendGrid', textBodies: true });
    this.apiKey = opts.apiKey ?? 'SG.fake-key-id.fake-key-secret';
    this.listId = opts.listId ?? 'ca7a3796-e8a8-4029-9ccb-df8937940562';
    this.listName = opts.listName ?? 'App users';
    this.lists.set(this.listId, this.listName);
    this.customFields = new Set(opts.customFields ?? ['e1_T', 'e2_N']);
    this.pollsToComplete = opts.pollsToComplete ?? 1;
    this.searchLag = opts.searchLag ?? 0;
    this.maxContacts = opts.maxContacts ?? 30_000;
    this.maxBodyBytes = opts.maxBodyBytes ?? 6 * 1024 * 1024;
    this.rateLimit = opts.rateLimit ?? null;
  }

  protected override requestDetails(req: Request): Omit<SendGridRequestLogEntry, keyof LoggedRequest> {
    return { body: loggedBody(req), token: bearer(req) };
  }

  protected failureBody(status: number, _req: Request, res: Response): unknown {
    if (status === 429) {
      this.limitHeaders(res, 0);
      return { errors: [{ field: null, message: 'too many requests' }] };
    }
    return { errors: [{ field: null, message: 'internal server error' }] };
  }

  protected routes(app: Express): void {
    app.disable('x-powered-by');
    app.use((req, res, next) => this.authenticate(req, res, next));
    app.use((req, res, next) => this.budget(req, res, next));
    app.get(
      '/v3/marketing/lists/:id',
      jsonRoute((req) => ({ body: this.listBody(this.list(String(req.params.id))) })),
    );
    app.delete(
      '/v3/marketing/lists/:id/contacts',
      jsonRoute((req) => this.removeFromList(req)),
    );
    app.put(
      '/v3/marketing/contacts',
      jsonRoute((req) => this.upsert(req)),
    );
    app.delete(
      '/v3/marketing/contacts',
      jsonRoute((req) => this.deleteContacts(req)),
    );
    app.get(
      '/v3/marketing/contacts/imports/:id',
      jsonRoute((req) => this.jobStatus(String(req.params.id))),
    );
    app.post(
      '/v3/marketing/contacts/search/emails',
      jsonRoute((req) => this.searchEmails(req)),
    );
    app.post(
      '/v3/marketing/contacts/batch',
      jsonRoute((req) => this.batchRead(req)),
    );
    app.use((req, res) => {
      res.status(404).json({ errors: [{ field: null, message: `not found: ${req.method} ${req.path}` }] });
    });
  }

  // ---- auth and budget ----

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const token = bearer(req);
    if (token === this.apiKey) return next();
    const message = token === null ? 'authorization required' : 'The provided authorization grant is invalid, expired, or revoked';
    res.status(401).json({ errors: [{ field: null, message }] });
  }

  private budget(_req: Request, res: Response, next: NextFunction): void {
    const rl = this.rateLimit;
    if (!rl) return next();
    const now = Date.now();
    if (now - this.window.start >= rl.windowMs) this.window = { start: now, count: 0 };
    this.window.count++;
    const remaining = Math.max(0, rl.limit - this.window.count);
    this.limitHeaders(res, remaining);
    if (this.window.count > rl.limit) {
      res.status(429).json({ errors: [{ field: null, message: 'too many requests' }] });
      return;
    }
    next();
  }

  private limitHeaders(res: Response, remaining: number): void {
    const rl = this.rateLimit ?? { limit: 600, windowMs: 60_000 };
    const start = this.window.start || Date.now();
    res.setHeader('X-RateLimit-Limit', String(rl.limit));
    res.setHeader('X-RateLimit-Remaining', String(remaining));
    res.setHeader('X-RateLimit-Reset', String(Math.ceil((start + rl.windowMs) / 1000)));
  }

  // ---- control ----

  addContact(email: string, fields: Record<string, unknown> = {}, listIds: string[] = [this.listId]): FakeSendGridContact {
    const now = new Date();
    const c: FakeSendGridContact = {
      id: randomUUID(),
      email: email.toLowerCase(),
      fields: { ...fields },
      custom_fields: {},
      list_ids: [...listIds],
      createdAt: now,
      updatedAt: now,
      searchableFrom: 0,
    };
    this.contacts.set(c.id, c);
    return c;
  }

  contact(email: string): FakeSendGridContact | undefined {
    const e = email.toLowerCase();
    return [...this.contacts.values()].find((c) => c.email === e);
  }

  /** Contacts on a list (the configured one by default). */
  onList(listId: string = this.listId): FakeSendGridContact[] {
    return [...this.contacts.values()].filter((c) => c.list_ids.includes(listId));
  }

  // ---- routes ----

  private list(id: string): string {
    if (!this.lists.has(id)) throw sgError(404, 'list ID does not exist', 'id');
    return id;
  }

  private upsert(req: Request): { status: number; body: unknown } {
    const raw = typeof req.body === 'string' ? req.body : '';
    if (Buffer.byteLength(raw) > this.maxBodyBytes) throw sgError(413, 'request body is larger than 6 MB');
    const body = parseJson(req);
    const contacts = body.contacts;
    if (!Array.isArray(contacts) || contacts.length === 0) throw sgError(400, 'at least one contact is required', 'contacts');
    if (contacts.length > this.maxContacts) throw sgError(400, `contacts may have at most ${this.maxContacts} items`, 'contacts');
    const listIds = body.list_ids === undefined ? [] : body.list_ids;
    if (!Array.isArray(listIds)) throw sgError(400, 'list_ids must be an array', 'list_ids');
    for (const id of listIds) this.list(String(id));
    // Request-level validation: every problem found is listed, and nothing is queued.
    const problems: { field: string; message: string }[] = [];
    (contacts as Record<string, unknown>[]).forEach((c, i) => {
      if (!c || typeof c !== 'object') return problems.push({ field: `contacts[${i}]`, message: 'must be an object' });
      if (!IDENTIFIERS.some((k) => typeof c[k] === 'string' && c[k]))
        problems.push({ field: `contacts[${i}]`, message: 'at least one identifier is required' });
      if (typeof c.email === 'string' && !EMAIL.test(c.email))
        problems.push({ field: `contacts[${i}].email`, message: 'email is invalid' });
      for (const [k, max] of Object.entries(RESERVED)) {
        if (c[k] !== undefined && (typeof c[k] !== 'string' || (c[k] as string).length > max)) {
          problems.push({ field: `contacts[${i}].${k}`, message: `must be a string of at most ${max} characters` });
        }
      }
      return undefined;
    });
    if (problems.length) throw new FakeApiError(400, { errors: problems });
    for (const c of contacts as Record<string, unknown>[]) this.received.push(c);
    const job = this.newJob('upsert', () => this.applyUpsert(contacts as Record<string, unknown>[], listIds.map(String)));
    return { status: 202, body: { job_id: job.id } };
  }

  private applyUpsert(contacts: Record<string, unknown>[], listIds: string[]) {
    let created = 0;
    let updated = 0;
    let errored = 0;
    for (const c of contacts) {
      const custom = (c.custom_fields ?? {}) as Record<string, unknown>;
      if (Object.keys(custom).some((k) => !this.customFields.has(k))) {
        errored++; // "custom field ID does not exist": in the job's errors file
        continue;
      }
      const email = String(c.email).toLowerCase();
      const { email: _e, custom_fields: _c, ...fields } = c;
      let target = this.contact(email);
      if (target) updated++;
      else {
        target = this.addContact(email, {}, []);
        target.searchableFrom = this.searches + this.searchLag;
        created++;
      }
      Object.assign(target.fields, fields);
      for (const [k, v] of Object.entries(custom)) target.custom_fields[k] = String(v);
      target.list_ids = [...new Set([...target.list_ids, ...listIds])];
      target.updatedAt = new Date();
    }
    return { created, updated, errored, requested: contacts.length };
  }

  private deleteContacts(req: Request): { status: number; body: unknown } {
    const all = req.query.delete_all_contacts === 'true';
    const ids = typeof req.query.ids === 'string' ? req.query.ids.split(',').filter(Boolean) : [];
    if (!all && !ids.length) throw sgError(400, 'either ids or delete_all_contacts must be set', 'ids');
    const job = this.newJob('delete', () => {
      const targets = all ? [...this.contacts.keys()] : ids;
      let deleted = 0;
      for (const id of targets) if (this.contacts.delete(id)) deleted++;
      return { deleted, errored: targets.length - deleted, requested: targets.length };
    });
    return { status: 202, body: { job_id: job.id } };
  }

  private removeFromList(req: Request): { status: number; body: unknown } {
    const listId = this.list(String(req.params.id));
    const ids = typeof req.query.contact_ids === 'string' ? req.query.contact_ids.split(',').filter(Boolean) : [];
    if (!ids.length) throw sgError(400, 'contact_ids is required', 'contact_ids');
    // "The specified list ID does not exist or one or more contact IDs do not exist" (sendgrid-oai,
    // tsg_mc_lists_v3.json): one unknown id refuses the whole call.
    if (ids.some((id) => !this.contacts.has(id))) throw sgError(404, 'one or more contact IDs do not exist', 'contact_ids');
    for (const id of ids) {
      const c = this.contacts.get(id);
      if (c) c.list_ids = c.list_ids.filter((l) => l !== listId);
    }
    return { status: 202, body: { job_id: randomUUID() } };
  }

  private newJob(kind: FakeSendGridJob['job_type'], run: FakeSendGridJob['run']): FakeSendGridJob {
    const job: FakeSendGridJob = {
      id: randomUUID(),
      job_type: kind,
      status: 'pending',
      polls: 0,
      pollsToComplete: this.pollsToComplete,
      results: {},
      startedAt: new Date(),
      finishedAt: null,
      run,
    };
    this.jobs.set(job.id, job);
    return job;
  }

  private jobStatus(id: string): { body: unknown } {
    const job = this.jobs.get(id);
    if (!job) throw sgError(404, 'job not found', 'id');
    if (job.status === 'pending' && ++job.polls >= job.pollsToComplete) {
      const r = job.run();
      job.finishedAt = new Date();
      job.status = r.errored === 0 ? 'completed' : r.errored >= r.requested ? 'failed' : 'errored';
      job.results = {
        requested_count: r.requested,
        ...(job.job_type === 'upsert'
          ? { created_count: r.created ?? 0, updated_count: r.updated ?? 0 }
          : { deleted_count: r.deleted ?? 0 }),
        errored_count: r.errored,
        ...(r.errored ? { errors_url: `${this.url}/errors/${job.id}.csv` } : {}),
      };
    }
    return {
      body: {
        id: job.id,
        status: job.status,
        job_type: job.job_type,
        results: job.results,
        started_at: job.startedAt.toISOString(),
        ...(job.finishedAt ? { finished_at: job.finishedAt.toISOString() } : {}),
      },
    };
  }

  private searchEmails(req: Request): { body: unknown } {
    const body = parseJson(req);
    const emails = body.emails;
    if (!Array.isArray(emails) || !emails.length) throw sgError(400, 'emails is required', 'emails');
    if (emails.length > 100) throw sgError(400, 'emails may have at most 100 items', 'emails');
    const bad = emails.find((e) => typeof e !== 'string' || !EMAIL.test(e));
    if (bad !== undefined) throw sgError(400, `invalid email: ${String(bad)}`, 'emails');
    const search = this.searches++;
    const result: Record<string, unknown> = {};
    let hits = 0;
    for (const e of emails as string[]) {
      const lower = e.toLowerCase();
      const c = [...this.contacts.values()].find(
        (x) =>
          x.searchableFrom <= search && (x.email === lower || ((x.fields.alternate_emails as string[] | undefined) ?? []).includes(lower)),
      );
      if (c) hits++;
      result[lower] = c ? { contact: this.contactBody(c) } : { error: 'contact not found' };
    }
    if (!hits) throw sgError(404, 'No contacts found');
    return { body: { result } };
  }

  private batchRead(req: Request): { body: unknown } {
    const body = parseJson(req);
    const ids = body.ids;
    if (!Array.isArray(ids) || !ids.length) throw sgError(400, 'ids is required', 'ids');
    if (ids.length > 100) throw sgError(400, 'ids may have at most 100 items', 'ids');
    const found = ids.map((id) => this.contacts.get(String(id))).filter((c): c is FakeSendGridContact => !!c);
    if (!found.length) throw sgError(404, 'No contacts found');
    return { body: { result: found.map((c) => this.contactBody(c)) } };
  }

  // ---- shapes ----

  private listBody(id: string): Record<string, unknown> {
    return {
      id,
      name: this.lists.get(id),
      contact_count: this.onList(id).length,
      _metadata: { self: `${this.url}/v3/marketing/lists/${id}` },
    };
  }

  private contactBody(c: FakeSendGridContact): Record<string, unknown> {
    const blank = Object.fromEntries(Object.keys(RESERVED).map((k) => [k, '']));
    return {
      ...blank,
      alternate_emails: [],
      ...c.fields,
      id: c.id,
      email: c.email,
      list_ids: c.list_ids,
      segment_ids: [],
      custom_fields: c.custom_fields,
      created_at: c.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      updated_at: c.updatedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      _metadata: { self: `${this.url}/v3/marketing/contacts/${c.id}` },
    };
  }
}
