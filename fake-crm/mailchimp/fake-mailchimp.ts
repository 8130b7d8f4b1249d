import { createHash, randomUUID } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { FakeApiError, FakeServer, loggedBody, type LoggedRequest } from '../shared/fake-server';

/**
 * A Mailchimp Marketing API 3.0 of our own for pushing members to one audience
 * (fake-crm/mailchimp/README.md lists the facts followed, their sources, and what stays
 * unconfirmed): HTTP Basic auth with the key as the password, problem+json errors, GET /ping,
 * GET /lists/{id}, the synchronous batch subscribe POST /lists/{id} (≤ 500 members,
 * update_existing, per-member errors), members PUT/PATCH/DELETE (archive),
 * actions/delete-permanent and tags. Data lives in memory; every request is logged.
 */

export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional' | 'archived';

export interface FakeMailchimpMember {
  /** MD5 of the lower-cased email: the subscriber hash. */
  id: string;
  email_address: string;
  status: MemberStatus;
  merge_fields: Record<string, string>;
  tags: string[];
  createdAt: Date;
  lastChanged: Date;
}

export interface MailchimpRequestLogEntry extends LoggedRequest {
  body: unknown;
  /** The password of the Basic header (the API key), or null. */
  apiKey: string | null;
}

/** One member as a write call carried it, for assertions on what was sent. */
export interface ReceivedMember {
  via: 'batch' | 'put' | 'patch';
  member: Record<string, unknown>;
}

export interface FakeMailchimpOptions {
  /** The valid key; its suffix is the data centre. */
  apiKey?: string;
  audienceId?: string;
  audienceName?: string;
  /** The audience's merge tags; others sent are ignored. */
  mergeFields?: string[];
  /** Members one batch subscribe takes (Mailchimp: 500). */
  batchMax?: number;
  /**
   * Makes the whole batch (or PUT) a 400 Invalid Resource when it returns a message for a
   * member: stands for Mailchimp's schema checks of the request, which refuse all of it.
   */
  invalidResource?: (member: Record<string, unknown>) => string | null;
}

const ERRORS_DOC = 'https://mailchimp.com/developer/marketing/docs/errors/';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const STATUSES = new Set(['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional']);

export function subscriberHash(email: string): string {
  return createHash('md5').update(email.toLowerCase(), 'utf8').digest('hex');
}

function problem(status: number, title: string, detail: string, extra: Record<string, unknown> = {}): FakeApiError {
  return new FakeApiError(status, { type: ERRORS_DOC, title, status, detail, instance: randomUUID(), ...extra });
}

const notFound = () => problem(404, 'Resource Not Found', 'The requested resource could not be found.');

function parseJson(req: Request): Record<string, unknown> {
  const raw = typeof req.body === 'string' ? req.body : '';
  if (raw === '') return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw problem(400, 'JSON Parse Error', 'We encountered an unspecified JSON parsing error.');
}

type MemberError = {
  email_address: string;
  error: string;
  error_code: 'ERROR_CONTACT_EXISTS' | 'ERROR_GENERIC';
  field?: string;
  field_message?: string;
};

export class FakeMailchimp extends FakeServer<MailchimpRequestLogEntry> {
  readonly apiKey: string;
  readonly audienceId: string;
  readonly audienceName: string;
  readonly members = new Map<string, FakeMailchimpMember>();
  /** What write calls carried, member by member. */
  readonly received: ReceivedMember[] = [];
  /** Hashes deleted permanently: Mailchimp refuses to re-import them. */
  readonly forgotten = new Set<string>();
  mergeFields: Set<string>;
  batchMax: number;
  invalidResource?: (member: Record<string, unknown>) => string | null;

  private webId = 100_000;

  constructor(opts: FakeMailchimpOptions = {}) {
    super({ name: 'Mailchimp', basePath: '/3.0', textBodies: true });
    this.apiKey = opts.apiKey ?? '0123456789abcdef0123456789abcdef-us21';
    this.audienceId = opts.audienceId ?? 'a1b2c3d4e5';
    this.audienceName = opts.audienceName ?? 'Fake Audience';
    this.mergeFields = new Set(opts.mergeFields ?? ['FNAME', 'LNAME', 'ADDRESS', 'PHONE', 'BIRTHDAY']);
    this.batchMax = opts.batchMax ?? 500;
    this.invalidResource = opts.invalidResource;
  }

  protected override requestDetails(req: Request): Omit<MailchimpRequestLogEntry, keyof LoggedRequest> {
    return { body: loggedBody(req), apiKey: basicPassword(req) };
  }

  protected failureBody(status: number, _req: Request, res: Response): unknown {
    res.type('application/problem+json');
    const title = status === 429 ? 'Too Many Requests' : status >= 500 ? 'Internal Server Error' : 'Bad Request';
    const detail =
      status === 429
        ? 'You have exceeded the limit of 10 simultaneous connections.'
        : 'An unexpected internal error has occurred. Please contact Support for more information.';
    return { type: ERRORS_DOC, title, status, detail, instance: randomUUID() };
  }

  protected routes(app: Express): void {
    app.disable('x-powered-by');
    app.use((req, res, next) => this.authenticate(req, res, next));
    const route = (fn: (req: Request) => { status?: number; body?: unknown }) => (req: Request, res: Response) => {
      try {
        const out = fn(req);
        if (out.body === undefined) res.status(out.status ?? 204).end();
        else res.status(out.status ?? 200).json(out.body);
      } catch (err) {
        if (!(err instanceof FakeApiError)) throw err;
        res.status(err.status).type('application/problem+json').json(err.body);
      }
    };
    app.get(
      '/3.0/ping',
      route(() => ({ body: { health_status: "Everything's Chimpy!" } })),
    );
    app.get(
      '/3.0/lists/:listId',
      route((req) => ({ body: this.listBody(this.list(req)) })),
    );
    app.post(
      '/3.0/lists/:listId',
      route((req) => this.batchSubscribe(req)),
    );
    app.get(
      '/3.0/lists/:listId/members/:hash',
      route((req) => ({ body: this.memberBody(this.existing(req)) })),
    );
    app.put(
      '/3.0/lists/:listId/members/:hash',
      route((req) => this.put(req)),
    );
    app.patch(
      '/3.0/lists/:listId/members/:hash',
      route((req) => this.patch(req)),
    );
    app.delete(
      '/3.0/lists/:listId/members/:hash',
      route((req) => {
        const m = this.existing(req);
        if (m.status !== 'archived') this.touch(m, { status: 'archived' });
        return { status: 204 };
      }),
    );
    app.post(
      '/3.0/lists/:listId/members/:hash/actions/delete-permanent',
      route((req) => {
        const m = this.existing(req);
        this.members.delete(m.id);
        this.forgotten.add(m.id);
        return { status: 204 };
      }),
    );
    app.post(
      '/3.0/lists/:listId/members/:hash/tags',
      route((req) => this.tags(req)),
    );
    app.use(
      route(() => {
        throw notFound();
      }),
    );
  }

  // ---- auth ----

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const key = basicPassword(req);
    if (key === this.apiKey) return next();
    const body =
      key === null
        ? { title: 'API Key Missing', detail: 'Your request did not include an API key.' }
        : { title: 'API Key Invalid', detail: "Your API key may be invalid, or you've attempted to access the wrong datacenter." };
    res
      .status(401)
      .type('application/problem+json')
      .json({ type: ERRORS_DOC, ...body, status: 401, instance: randomUUID() });
  }

  // ---- control ----

  /** Puts a member in the audience directly (as if it signed up). */
  addMember(
    email: string,
    status: MemberStatus = 'subscribed',
    mergeFields: Record<string, string> = {},
    tags: string[] = [],
  ): FakeMailchimpMember {
    const now = new Date();
    const m: FakeMailchimpMember = {
      id: subscriberHash(email),
      email_address: email.toLowerCase(),
      status,
      merge_fields: { ...mergeFields },
      tags: [...tags],
      createdAt: now,
      lastChanged: now,
    };
    this.members.set(m.id, m);
    return m;
  }

  member(email: string): FakeMailchimpMember | undefined {
    return this.members.get(subscriberHash(email));
  }

  // ---- routes ----

  private list(req: Request): string {
    if (req.params.listId !== this.audienceId) throw notFound();
    return this.audienceId;
  }

  private existing(req: Request): FakeMailchimpMember {
    this.list(req);
    const key = String(req.params.hash).toLowerCase();
    // The path takes the hash, or (Mailchimp also accepts it) the email itself.
    const m = this.members.get(EMAIL.test(key) ? subscriberHash(key) : key);
    if (!m) throw notFound();
    return m;
  }

  private batchSubscribe(req: Request): { body: unknown } {
    this.list(req);
    const body = parseJson(req);
    const members = body.members;
    if (!Array.isArray(members) || members.some((m) => !m || typeof m !== 'object' || Array.isArray(m))) {
      throw invalidResource([{ field: 'members', message: 'Schema describes array of objects' }]);
    }
    if (members.length > this.batchMax) {
      throw invalidResource([{ field: 'members', message: `Schema describes array, maximum ${this.batchMax} items` }]);
    }
    this.checkResource(members as Record<string, unknown>[]);
    const updateExisting = body.update_existing === true;
    const skipDuplicates = req.query.skip_duplicate_check === 'true';
    const created: FakeMailchimpMember[] = [];
    const updated: FakeMailchimpMember[] = [];
    const errors: MemberError[] = [];
    const seen = new Set<string>();
    for (const raw of members as Record<string, unknown>[]) {
      this.received.push({ via: 'batch', member: raw });
      const email = typeof raw.email_address === 'string' ? raw.email_address.trim() : '';
      if (seen.has(email.toLowerCase())) {
        if (!skipDuplicates)
          errors.push({ email_address: email, error: `${email} is a duplicate in this batch request.`, error_code: 'ERROR_GENERIC' });
        continue;
      }
      seen.add(email.toLowerCase());
      const problemText = this.memberProblem(raw, email);
      if (problemText) {
        errors.push({ email_address: email, error_code: 'ERROR_GENERIC', ...problemText });
        continue;
      }
      const current = this.members.get(subscriberHash(email));
      if (current && current.status !== 'archived') {
        if (!updateExisting) {
          errors.push({
            email_address: email,
            error: `${email} is already a list member, do you want to update? please provide update_existing:true in the request body`,
            error_code: 'ERROR_CONTACT_EXISTS',
          });
          continue;
        }
        this.apply(current, raw, false);
        updated.push(current);
        continue;
      }
      const status = (raw.status ?? raw.status_if_new) as string | undefined;
      if (!status) {
        errors.push({
          email_address: email,
          error: 'A status is required for a new member.',
          error_code: 'ERROR_GENERIC',
          field: 'status',
        });
        continue;
      }
      // An archived member comes back as a new one (its history kept).
      const m = current ?? this.addMember(email, status as MemberStatus);
      this.apply(m, raw, true);
      created.push(m);
    }
    return {
      body: {
        new_members: created.map((m) => this.memberBody(m)),
        updated_members: updated.map((m) => this.memberBody(m)),
        errors,
        total_created: created.length,
        total_updated: updated.length,
        error_count: errors.length,
        _links: [],
      },
    };
  }

  private put(req: Request): { body: unknown } {
    this.list(req);
    const raw = parseJson(req);
    this.received.push({ via: 'put', member: raw });
    this.checkResource([raw]);
    const email = typeof raw.email_address === 'string' ? raw.email_address.trim() : '';
    const key = String(req.params.hash).toLowerCase();
    if (key !== subscriberHash(email) && key !== email.toLowerCase()) {
      throw problem(400, 'Invalid Resource', 'The subscriber hash does not match the email address.');
    }
    const p = this.memberProblem(raw, email);
    if (p) throw problem(400, 'Invalid Resource', p.error);
    const current = this.members.get(subscriberHash(email));
    if (current && current.status !== 'archived') {
      this.apply(current, raw, false);
      return { body: this.memberBody(current) };
    }
    const status = (raw.status ?? raw.status_if_new) as string | undefined;
    if (!status)
      throw problem(400, 'Invalid Resource', 'The resource submitted could not be validated: status_if_new is required for a new member.');
    const m = current ?? this.addMember(email, status as MemberStatus);
    this.apply(m, raw, true);
    return { body: this.memberBody(m) };
  }

  private patch(req: Request): { body: unknown } {
    const m = this.existing(req);
    const raw = parseJson(req);
    this.received.push({ via: 'patch', member: raw });
    if (typeof raw.email_address === 'string' && raw.email_address.toLowerCase() !== m.email_address) {
      const email = raw.email_address.trim().toLowerCase();
      if (!EMAIL.test(email)) throw problem(400, 'Invalid Resource', `${email} looks fake or invalid, please enter a real email address.`);
      if (this.members.has(subscriberHash(email))) {
        throw problem(400, 'Member Exists', `${email} is already a list member. Use PUT to insert or update list members.`);
      }
      this.members.delete(m.id);
      m.id = subscriberHash(email);
      m.email_address = email;
      this.members.set(m.id, m);
    }
    this.apply(m, raw, false);
    return { body: this.memberBody(m) };
  }

  private tags(req: Request): { status: number } {
    const m = this.existing(req);
    const body = parseJson(req);
    if (!Array.isArray(body.tags)) throw invalidResource([{ field: 'tags', message: 'Required property tags not found' }]);
    for (const t of body.tags as { name?: unknown; status?: unknown }[]) {
      if (typeof t?.name !== 'string' || !t.name) throw invalidResource([{ field: 'tags.name', message: 'Schema describes string' }]);
      if (t.status === 'inactive') m.tags = m.tags.filter((x) => x !== t.name);
      else if (!m.tags.includes(t.name)) m.tags.push(t.name);
    }
    m.lastChanged = new Date();
    return { status: 204 };
  }

  // ---- helpers ----

  private checkResource(members: Record<string, unknown>[]): void {
    const errs = members.flatMap((m, i) => {
      const msg = this.invalidResource?.(m);
      return msg ? [{ field: `members.${i}`, message: msg }] : [];
    });
    if (errs.length) throw invalidResource(errs);
  }

  /** What Mailchimp says of one member it will not take (per-member errors of the batch). */
  private memberProblem(raw: Record<string, unknown>, email: string): Omit<MemberError, 'email_address' | 'error_code'> | null {
    if (!EMAIL.test(email))
      return { error: `${email || 'An empty address'} looks fake or invalid, please enter a real email address.`, field: 'email_address' };
    if (this.forgotten.has(subscriberHash(email))) {
      return {
        error: `${email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`,
      };
    }
    for (const k of ['status', 'status_if_new'] as const) {
      if (raw[k] !== undefined && !STATUSES.has(String(raw[k]))) return { error: `Invalid ${k}: ${String(raw[k])}`, field: k };
    }
    const merge = raw.merge_fields;
    if (merge !== undefined && (typeof merge !== 'object' || merge === null || Array.isArray(merge))) {
      return { error: 'Your merge fields were invalid.', field: 'merge_fields' };
    }
    const birthday = (merge as Record<string, unknown> | undefined)?.BIRTHDAY;
    if (birthday !== undefined && this.mergeFields.has('BIRTHDAY') && !/^(0[1-9]|1[0-2])\/(0[1-9]|[12]\d|3[01])$/.test(String(birthday))) {
      return {
        error: 'Your merge fields were invalid.',
        field: 'BIRTHDAY',
        field_message: 'Please enter a month (01-12) and a day (01-31) separated by a forward slash (mm/dd)',
      };
    }
    return null;
  }

  /** Applies a write: status (`status_if_new` only for a new member), known merge fields, tags. */
  private apply(m: FakeMailchimpMember, raw: Record<string, unknown>, isNew: boolean): void {
    const status = (raw.status ?? (isNew ? raw.status_if_new : undefined)) as MemberStatus | undefined;
    const merge: Record<string, string> = { ...m.merge_fields };
    for (const [k, v] of Object.entries((raw.merge_fields ?? {}) as Record<string, unknown>)) {
      if (this.mergeFields.has(k)) merge[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    const tags = Array.isArray(raw.tags) ? [...new Set([...m.tags, ...(raw.tags as unknown[]).map(String)])] : m.tags;
    this.touch(m, { ...(status ? { status } : {}), merge_fields: merge, tags });
  }

  private touch(m: FakeMailchimpMember, changes: Partial<FakeMailchimpMember>): void {
    Object.assign(m, changes);
    m.lastChanged = new Date();
  }

  private listBody(id: string): Record<string, unknown> {
    const active = [...this.members.values()];
    return {
      id,
      web_id: 12345,
      name: this.audienceName,
      contact: { company: 'Fake Company', address1: '1 Fake Street', city: 'Atlanta', state: 'GA', zip: '30308', country: 'US' },
      permission_reminder: 'You signed up in our app.',
      double_optin: false,
      stats: {
        member_count: active.filter((m) => m.status === 'subscribed').length,
        unsubscribe_count: active.filter((m) => m.status === 'unsubscribed').length,
        cleaned_count: active.filter((m) => m.status === 'cleaned').length,
      },
      _links: [],
    };
  }

  private memberBody(m: FakeMailchimpMember): Record<string, unknown> {
    return {
      id: m.id,
      email_address: m.email_address,
      unique_email_id: m.id.slice(0, 10),
      contact_id: m.id.slice(0, 16),
      full_name: [m.merge_fields.FNAME, m.merge_fields.LNAME].filter(Boolean).join(' '),
      web_id: ++this.webId,
      email_type: 'html',
      status: m.status,
      merge_fields: m.merge_fields,
      timestamp_signup: '',
      timestamp_opt: m.createdAt.toISOString().replace(/\.\d{3}Z$/, '+00:00'),
      last_changed: m.lastChanged.toISOString().replace(/\.\d{3}Z$/, '+00:00'),
      source: 'API - Generic',
      tags_count: m.tags.length,
      tags: m.tags.map((name, i) => ({ id: i + 1, name })),
      list_id: this.audienceId,
      _links: [],
    };
  }
}

function invalidResource(errors: { field: string; message: string }[]): FakeApiError {
  return problem(
    400,
    'Invalid Resource',
    "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
    { errors },
  );
}

/** The password of an `Authorization: Basic` header (Mailchimp ignores the user name). */
function basicPassword(req: Request): string | null {
  const m = /^Basic\s+(.+)$/i.exec(req.get('authorization')?.trim() ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : null;
}
