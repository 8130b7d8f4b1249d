import type { Express, Request, Response } from 'express';
import { formatWealthboxTime, parseWealthboxTime } from '../../src/providers/wealthbox/wealthbox.time';
import { FakeApiError, FakeServer, jsonRoute, loggedBody, type LoggedRequest } from '../shared/fake-server';
import { prng } from '../shared/prng';
import { applyEntries, invalid, objectBody, textFields, type FakeEntry } from './fake-wealthbox-writes';

/**
 * A Wealthbox API v1 of our own (crm-apis.md): ACCESS_TOKEN or Bearer auth, GET /me,
 * /users, /contacts with page/per_page (cap 100)/updated_since/updated_before/type/
 * deleted+deleted_since/email, /contacts/{id} (404 once deleted), the {"contacts", "meta"}
 * envelope and non-ISO timestamps; writes: POST /contacts, PUT and DELETE /contacts/{id}
 * (fake-wealthbox-writes.ts has the nested email/phone rules), logged in `received`.
 * fake-crm/wealthbox/README.md lists the facts and their sources.
 */
export interface FakeContact {
  id: number;
  type: 'Person' | 'Household' | 'Organization' | 'Trust';
  firstName: string | null;
  lastName: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  jobTitle: string | null;
  companyName: string | null;
  contactType: string;
  status: 'Active' | 'Inactive';
  tags: string[];
  /** Every email address (the principal one is `email`), once the contact has been written or read as JSON. */
  emails?: FakeEntry[];
  phones?: FakeEntry[];
  /** Other written text fields (prefix, middle_name, background_information...). */
  more?: Record<string, string | null>;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

const FIRST = ['Kevin', 'Maria', 'Ann', 'Dmitri', 'Farah', 'Gus', 'Hana', 'Ivan', 'Julia', 'Kofi', 'Lena', 'Mateo'];
const LAST = ['Anderson', 'Okafor', 'Nguyen', 'Garcia', 'Müller', 'Rossi', 'Tanaka', 'Kowalski', 'Smith', 'Jones'];
const TITLES = ['CEO', 'CFO', 'Engineer', 'Teacher', 'Physician', 'Retired', null];
const TYPES = ['Client', 'Prospect', 'Vendor'];

export interface FakeWealthboxOptions {
  contacts?: number;
  staff?: number;
  token?: string;
  seed?: number;
  /** Time of the first generated contact; each next one is a second later. Default: a week ago. */
  epoch?: Date;
  /** Also generate Household (5%) and Organization (5%) contacts; default: Person contacts only. */
  mixedTypes?: boolean;
}

export interface WealthboxRequest extends LoggedRequest {
  /** A write's JSON body (parsed), or undefined. */
  body: unknown;
}

const RECORD_TYPES = new Set(['Person', 'Household', 'Organization', 'Trust']);

export class FakeWealthbox extends FakeServer<WealthboxRequest> {
  readonly token: string;
  /** Every write call that passed auth, in order: what a test checks the mapped fields against. */
  readonly received: { method: string; path: string; body: unknown }[] = [];
  private nextEntryId = 1000;
  readonly contacts = new Map<number, FakeContact>();
  readonly staff: { id: number; name: string; email: string }[] = [];
  private nextId = 1;
  private random: () => number;
  private clock: number;
  private cache = new Map<string, FakeContact[]>();
  private readonly mixedTypes: boolean;

  constructor(opts: FakeWealthboxOptions = {}) {
    super({ name: 'Wealthbox', basePath: '/v1', textBodies: true });
    this.token = opts.token ?? 'fake-wealthbox-token';
    this.random = prng(opts.seed ?? 42);
    this.mixedTypes = opts.mixedTypes ?? false;
    this.clock = (opts.epoch ?? new Date(Date.now() - 7 * 86_400_000)).getTime();
    for (let i = 1; i <= (opts.staff ?? 3); i++) this.staff.push({ id: i, name: `Staff Member ${i}`, email: `staff${i}@advisors.example` });
    this.addContacts(opts.contacts ?? 0);
  }

  protected routes(app: Express): void {
    app.use((req, res, next) => {
      const token = req.get('access_token') ?? req.get('authorization')?.replace(/^Bearer /, '');
      if (token !== this.token) {
        res.status(401).json({ error: 'Unauthorized' });
        return;
      }
      next();
    });
    app.get('/v1/me', (_req, res) => {
      res.json({
        id: 1,
        name: 'Fake Owner',
        email: 'owner@advisors.example',
        current_user: { id: 1, name: 'Fake Owner', account: 1 },
        accounts: [{ id: 1, name: 'Fake Advisors LLC' }],
      });
    });
    app.get('/v1/users', (req, res) => {
      const { page, perPage } = paging(req);
      const slice = this.staff.slice((page - 1) * perPage, page * perPage);
      res.json({ users: slice, meta: { total_count: this.staff.length, total_pages: Math.ceil(this.staff.length / perPage) } });
    });
    app.get('/v1/contacts', (req, res) => this.listContacts(req, res));
    app.get('/v1/contacts/:id', (req, res) => {
      const c = this.contacts.get(Number(req.params.id));
      if (!c || c.deletedAt) {
        res.status(404).json({ error: 'Record not found' });
        return;
      }
      res.json(this.json(c));
    });
    app.post(
      '/v1/contacts',
      jsonRoute((req) => this.createContact(req)),
    );
    app.put(
      '/v1/contacts/:id',
      jsonRoute((req) => this.putContact(req)),
    );
    app.delete(
      '/v1/contacts/:id',
      jsonRoute((req) => this.removeContact(req)),
    );
  }

  protected override requestDetails(req: Request): Omit<WealthboxRequest, keyof LoggedRequest> {
    return { body: loggedBody(req) };
  }

  protected failureBody(status: number): unknown {
    return { error: status === 429 ? 'Rate limit exceeded' : 'Internal Server Error' };
  }

  // ---- data ----

  addContacts(n: number): FakeContact[] {
    const added: FakeContact[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.nextId++;
      const r = this.random;
      const first = FIRST[Math.floor(r() * FIRST.length)];
      const last = LAST[Math.floor(r() * LAST.length)];
      const kind = r();
      const type: FakeContact['type'] = !this.mixedTypes || kind < 0.9 ? 'Person' : kind < 0.95 ? 'Household' : 'Organization';
      const at = new Date(this.tick());
      const contact: FakeContact = {
        id,
        type,
        firstName: type === 'Person' ? first : null,
        lastName: type === 'Person' ? last : null,
        name: type === 'Person' ? null : type === 'Household' ? `The ${last} Household ${id}` : `${last} Holdings ${id}`,
        // One in ten has no email at all: such contacts are still kept.
        email:
          r() < 0.1
            ? null
            : `${first}.${last}.${id}`
                .toLowerCase()
                .normalize('NFKD')
                .replace(/[^a-z0-9.]/g, '') + '@clients.example',
        phone: r() < 0.3 ? null : `(555) ${String(100 + (id % 900)).padStart(3, '0')}-${String(id % 10000).padStart(4, '0')}`,
        jobTitle: TITLES[Math.floor(r() * TITLES.length)],
        companyName: r() < 0.5 ? `${LAST[Math.floor(r() * LAST.length)]} & Co.` : null,
        contactType: TYPES[Math.floor(r() * TYPES.length)],
        status: r() < 0.95 ? 'Active' : 'Inactive',
        tags: r() < 0.4 ? ['Clients'] : [],
        createdAt: at,
        updatedAt: at,
        deletedAt: null,
      };
      this.contacts.set(id, contact);
      added.push(contact);
    }
    this.cache.clear();
    return added;
  }

  /** Changes a contact now, moving its updated_at, as an edit in Wealthbox would. */
  updateContact(id: number, changes: Partial<Omit<FakeContact, 'id'>>): FakeContact {
    const c = this.must(id);
    Object.assign(c, changes, { updatedAt: this.changeTime() });
    this.cache.clear();
    return c;
  }

  deleteContact(id: number): void {
    const c = this.must(id);
    c.deletedAt = this.changeTime();
    this.cache.clear();
  }

  /** The time of the latest change the fake has made. */
  now(): Date {
    return new Date(this.clock);
  }

  // ---- faults (the rest come from FakeServer) ----

  /** The next `count` requests answer 429 with Retry-After: `seconds` (this fake always sends one, so it is required). */
  override rateLimitNext(count: number, seconds: number): void {
    super.rateLimitNext(count, seconds);
  }

  // ---- writes ----

  /** POST /contacts: a Person needs a first or last name, the other types a `name` (unconfirmed rules). */
  private createContact(req: Request): { body: unknown } {
    const body = objectBody(req.body);
    this.received.push({ method: 'POST', path: req.path, body });
    const type = body.type ?? 'Person';
    if (typeof type !== 'string' || !RECORD_TYPES.has(type)) throw invalid(`Type ${String(type)} is not included in the list`);
    const text = textFields(body);
    if (type === 'Person' && !text.first_name && !text.last_name) throw invalid("Name can't be blank");
    if (type !== 'Person' && !text.name) throw invalid("Name can't be blank");
    const at = this.changeTime();
    const c: FakeContact = {
      id: this.nextId++,
      type: type as FakeContact['type'],
      firstName: null,
      lastName: null,
      name: null,
      email: null,
      phone: null,
      jobTitle: null,
      companyName: null,
      contactType: 'Client',
      status: 'Active',
      tags: [],
      createdAt: at,
      updatedAt: at,
      deletedAt: null,
    };
    this.assign(c, body, text);
    this.contacts.set(c.id, c);
    this.cache.clear();
    return { body: this.json(c) };
  }

  /** PUT /contacts/{id}: the fields given change; null or "" empties a text field. */
  private putContact(req: Request): { body: unknown } {
    const body = objectBody(req.body);
    this.received.push({ method: 'PUT', path: req.path, body });
    const c = this.live(req);
    const text = textFields(body);
    if (c.type === 'Person' && 'last_name' in text && !text.last_name && !(text.first_name ?? c.firstName))
      throw invalid("Name can't be blank");
    this.assign(c, body, text);
    c.updatedAt = this.changeTime();
    this.cache.clear();
    return { body: this.json(c) };
  }

  /** DELETE /contacts/{id}: from then on 404, and listed with deleted=true. */
  private removeContact(req: Request): { body: unknown } {
    this.received.push({ method: 'DELETE', path: req.path, body: undefined });
    const c = this.live(req);
    c.deletedAt = this.changeTime();
    this.cache.clear();
    return { body: {} };
  }

  private live(req: Request): FakeContact {
    const c = this.contacts.get(Number(req.params.id));
    if (!c || c.deletedAt) throw new FakeApiError(404, { error: 'Record not found' });
    return c;
  }

  private assign(c: FakeContact, body: Record<string, unknown>, text: Record<string, string | null>): void {
    if (typeof body.type === 'string' && RECORD_TYPES.has(body.type)) c.type = body.type as FakeContact['type'];
    if (body.status === 'Active' || body.status === 'Inactive') c.status = body.status;
    if (typeof body.contact_type === 'string') c.contactType = body.contact_type;
    for (const [f, v] of Object.entries(text)) {
      if (f === 'first_name') c.firstName = v;
      else if (f === 'last_name') c.lastName = v;
      else if (f === 'name') c.name = v;
      else if (f === 'job_title') c.jobTitle = v;
      else if (f === 'company_name') c.companyName = v;
      else c.more = { ...c.more, [f]: v };
    }
    const nextId = () => this.nextEntryId++;
    c.emails = applyEntries(this.entries(c, 'email'), body.email_addresses, 'email', nextId);
    c.email = c.emails.find((e) => e.principal)?.address ?? null;
    c.phones = applyEntries(this.entries(c, 'phone'), body.phone_numbers, 'phone', nextId);
    c.phone = c.phones.find((e) => e.principal)?.address ?? null;
  }

  /**
   * A contact's entries, its principal one being `email` / `phone` as it is now (a test may
   * have changed that field directly): ids are handed out on first sight and then kept.
   */
  private entries(c: FakeContact, what: 'email' | 'phone'): FakeEntry[] {
    const address = what === 'email' ? c.email : c.phone;
    const others = ((what === 'email' ? c.emails : c.phones) ?? []).filter((e) => !e.principal || address === null);
    const old = ((what === 'email' ? c.emails : c.phones) ?? []).find((e) => e.principal);
    const list =
      address === null
        ? others.map((e) => ({ ...e, principal: false }))
        : [{ id: old?.id ?? this.nextEntryId++, address, kind: old?.kind ?? 'Work', principal: true }, ...others.map((e) => ({ ...e }))];
    if (what === 'email') c.emails = list;
    else c.phones = list;
    return list;
  }

  private json(c: FakeContact) {
    return toJson(c, this.entries(c, 'email'), this.entries(c, 'phone'));
  }

  // ---- internals ----

  /** Generated contacts are a second apart, in the past. */
  private tick(): number {
    this.clock += 1000;
    return this.clock;
  }

  /** Edits and deletions happen now (and never before an earlier change). */
  private changeTime(): Date {
    this.clock = Math.max(this.clock + 1, Date.now());
    return new Date(this.clock);
  }

  private must(id: number): FakeContact {
    const c = this.contacts.get(id);
    if (!c) throw new Error(`no fake contact ${id}`);
    return c;
  }

  private listContacts(req: Request, res: Response): void {
    const { page, perPage } = paging(req);
    const q = req.query as Record<string, string | undefined>;
    const key = JSON.stringify([q.deleted, q.deleted_since, q.updated_since, q.updated_before, q.type, q.order, q.email]);
    let list = this.cache.get(key);
    if (!list) {
      const deleted = q.deleted === 'true';
      const deletedSince = parseWealthboxTime(q.deleted_since);
      const updatedSince = parseWealthboxTime(q.updated_since);
      const updatedBefore = parseWealthboxTime(q.updated_before);
      list = [...this.contacts.values()].filter((c) => {
        if (deleted) return c.deletedAt !== null && (!deletedSince || c.deletedAt >= deletedSince);
        if (c.deletedAt) return false;
        if (updatedSince && c.updatedAt < updatedSince) return false;
        if (updatedBefore && c.updatedAt >= updatedBefore) return false;
        if (q.type && c.type !== q.type) return false;
        // email=: an exact match on any of the contact's addresses, ignoring case (unconfirmed).
        if (q.email && !this.entries(c, 'email').some((e) => e.address.toLowerCase() === q.email?.toLowerCase())) return false;
        return true;
      });
      if (q.order === 'updated' || q.order === 'recent') list.sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || a.id - b.id);
      this.cache.set(key, list);
    }
    const slice = list.slice((page - 1) * perPage, page * perPage);
    res.json({
      contacts: slice.map((c) => this.json(c)),
      meta: { total_count: list.length, total_pages: Math.ceil(list.length / perPage) },
    });
  }
}

function paging(req: Request): { page: number; perPage: number } {
  const page = Math.max(1, Number(req.query.page ?? 1) || 1);
  const perPage = Math.min(100, Math.max(1, Number(req.query.per_page ?? 25) || 25));
  return { page, perPage };
}

function toJson(c: FakeContact, emails: FakeEntry[], phones: FakeEntry[]) {
  return {
    id: c.id,
    created_at: formatWealthboxTime(c.createdAt),
    updated_at: formatWealthboxTime(c.updatedAt),
    prefix: null,
    first_name: c.firstName,
    middle_name: null,
    last_name: c.lastName,
    name: c.name ?? [c.firstName, c.lastName].filter(Boolean).join(' '),
    job_title: c.jobTitle,
    company_name: c.companyName,
    type: c.type,
    contact_type: c.contactType,
    status: c.status,
    assigned_to: 1,
    external_unique_id: null,
    household: c.type === 'Household' ? { name: c.name, title: 'Head', id: c.id, members: [] } : null,
    tags: c.tags.map((name, i) => ({ id: i + 1, name })),
    ...c.more,
    email_addresses: emails.map((e) => ({ id: e.id, address: e.address, principal: e.principal, kind: e.kind })),
    phone_numbers: phones.map((e) => ({ id: e.id, address: e.address, principal: e.principal, kind: e.kind })),
    street_addresses: [],
    custom_fields: [],
  };
}
