import { randomInt } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import { bearer, FakeServer, type LoggedRequest } from '../shared/fake-server';
import { prng } from '../shared/prng';

/**
 * A Salesforce REST API of our own for Contacts (fake-crm/salesforce/README.md lists every fact
 * followed here, where it comes from, and what stays unconfirmed): bearer sessions answering
 * 401 INVALID_SESSION_ID, the daily API limit in Sforce-Limit-Info (403 REQUEST_LIMIT_EXCEEDED
 * past it), GET /services/data/vXX.X/query with a SOQL subset, query locators
 * (nextRecordsUrl, batchSize, idle expiry, bound to their session), and
 * GET .../sobjects/Contact/deleted/ with the delete log's window rules.
 */

// ---- types ----

export interface FakeSalesforceContact {
  /** 18 characters: a 15-character case-sensitive id and its checksum, prefix 003. */
  Id: string;
  FirstName: string | null;
  LastName: string;
  Email: string | null;
  Phone: string | null;
  Title: string | null;
  AccountId: string | null;
  CreatedDate: Date;
  /** Second precision, as Salesforce stores datetimes. */
  LastModifiedDate: Date;
}

export interface FakeSalesforceAccount {
  Id: string;
  Name: string;
}

export type ContactChanges = Partial<Pick<FakeSalesforceContact, 'FirstName' | 'LastName' | 'Email' | 'Phone' | 'Title' | 'AccountId'>>;

export interface RequestLogEntry extends LoggedRequest {
  token: string | null;
  /** The batchSize of a Sforce-Query-Options header, when sent. */
  batchSize: number | null;
}

export interface FakeSalesforceOptions {
  /** Contacts generated at start. */
  contacts?: number;
  seed?: number;
  /** The first valid access token; more with addToken(). */
  token?: string;
  /** Also accept these bearer tokens (those a fake OAuth server issued and still honours). */
  acceptToken?: (token: string) => boolean;
  /** The org's API calls per 24 hours (Sforce-Limit-Info's M). Default 100,000. */
  dailyLimit?: number;
  /** Calls already used today by the org's other tools. */
  apiUsed?: number;
  /** A query locator dies after this long unused (Salesforce: about 15 minutes). */
  locatorIdleMs?: number;
  /** A locator answers only the session (token) that opened it. Default true. */
  locatorsBoundToSession?: boolean;
  /** How far back the delete log reaches (Salesforce: 15 days, the recycle bin's life). */
  deletedRetentionMs?: number;
  /** LastModifiedDate of the first generated contact; each next one is stepMs later. Default: 20 days ago. */
  epoch?: Date;
  stepMs?: number;
  /** The newest API version the org answers (older ones down to v31.0 work too). */
  maxApiVersion?: number;
}

interface Locator {
  rows: Record<string, unknown>[];
  token: string;
  batchSize: number;
  lastUsed: number;
  version: string;
}

type Value = string | number | boolean | Date | null;

interface Tok {
  type: 'ident' | 'string' | 'number' | 'datetime' | 'date' | 'op' | 'punct' | 'eof';
  value: string;
  pos: number;
}

type Expr =
  | { kind: 'and'; parts: Expr[] }
  | { kind: 'or'; parts: Expr[] }
  | { kind: 'not'; expr: Expr }
  | { kind: 'cmp'; field: string; op: string; value: Literal; pos: number }
  | { kind: 'in'; field: string; negated: boolean; values: Literal[]; pos: number };

interface Literal {
  type: 'string' | 'number' | 'datetime' | 'date' | 'null' | 'boolean';
  value: string | number | boolean | null;
}

interface ParsedQuery {
  fields: { name: string; pos: number }[];
  entity: string;
  where: Expr | null;
  orderBy: { field: string; desc: boolean; nullsLast: boolean }[];
  limit: number | null;
}

// ---- constants ----

const SESSION_INVALID = { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' };
const TOTAL_REQUESTS = { message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' };
const NOT_FOUND = { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' };
const MAX_BATCH = 2000;
const MIN_BATCH = 200;
const KEYWORDS = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'ORDER',
  'BY',
  'ASC',
  'DESC',
  'NULLS',
  'FIRST',
  'LAST',
  'LIMIT',
]);
const CHECKSUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The fields each queryable entity has here, by their API names (case-insensitive in SOQL). */
const CONTACT_FIELDS: Record<string, 'id' | 'string' | 'datetime' | 'boolean'> = {
  Id: 'id',
  FirstName: 'string',
  LastName: 'string',
  Name: 'string',
  Email: 'string',
  Phone: 'string',
  Title: 'string',
  AccountId: 'id',
  'Account.Name': 'string',
  'Account.Id': 'id',
  CreatedDate: 'datetime',
  LastModifiedDate: 'datetime',
  SystemModstamp: 'datetime',
  IsDeleted: 'boolean',
};
const ORGANIZATION_FIELDS: Record<string, 'id' | 'string' | 'datetime' | 'boolean'> = {
  Id: 'id',
  Name: 'string',
  OrganizationType: 'string',
  IsSandbox: 'boolean',
  InstanceName: 'string',
};

const FIRST = ['Ada', 'Bram', 'Chloe', 'Dmitri', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Keiko', 'Luca', 'Maya', 'Noah'];
const LAST = ['Lovelace', 'Okafor', 'Nguyen', 'García', 'Müller', 'Rossi', 'Tanaka', 'Kowalski', 'Smith', 'Jones', 'Haddad', "O'Brien"];
const COMPANIES = ['Acme Corp', 'Globex', 'Initech', 'Umbrella Ltd', 'Stark Industries', 'Wayne Enterprises', 'Hooli'];
const TITLES = ['CEO', 'CFO', 'Engineer', 'Account Manager', 'Designer', 'Analyst'];

// ---- helpers (exported where tests use them) ----

/** The 3-character suffix that makes a 15-character id case-insensitively unique (Salesforce's algorithm). */
export function idChecksum(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let j = 0; j < 5; j++) {
      const ch = id15.charAt(chunk * 5 + j);
      if (ch >= 'A' && ch <= 'Z') flags |= 1 << j;
    }
    suffix += CHECKSUM.charAt(flags);
  }
  return id15 + suffix;
}

/** Salesforce's datetime form: `2024-01-31T10:00:00.000+0000`. */
export function salesforceTime(d: Date): string {
  return d.toISOString().replace('Z', '+0000');
}

const floorSecond = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
const floorMinute = (t: number) => Math.floor(t / 60_000) * 60_000;
const key15 = (id: string) => id.slice(0, 15);

function base62(n: number, width: number): string {
  let out = '';
  for (let v = n; v > 0; v = Math.floor(v / 62)) out = BASE62[v % 62] + out;
  return out.padStart(width, '0');
}

function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

class SoqlError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

/** Salesforce's parse error text: the query, a caret under the column, then the reason. */
function located(soql: string, pos: number, reason: string): string {
  return `\n${soql}\n${' '.repeat(Math.max(0, pos))}^\nERROR at Row:1:Column:${pos + 1}\n${reason}`;
}

// ---- SOQL: a subset (SELECT fields FROM entity [WHERE ...] [ORDER BY ...] [LIMIT n]) ----

function tokenize(soql: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < soql.length) {
    const rest = soql.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})/.exec(rest))) {
      out.push({ type: 'datetime', value: m[0], pos: i });
    } else if ((m = /^\d{4}-\d{2}-\d{2}(?![\d:T])/.exec(rest))) {
      out.push({ type: 'date', value: m[0], pos: i });
    } else if ((m = /^-?\d+(?:\.\d+)?/.exec(rest))) {
      out.push({ type: 'number', value: m[0], pos: i });
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(rest))) {
      out.push({ type: 'ident', value: m[0], pos: i });
    } else if ((m = /^(?:<=|>=|!=|<>|=|<|>)/.exec(rest))) {
      out.push({ type: 'op', value: m[0], pos: i });
    } else if ((m = /^[(),]/.exec(rest))) {
      out.push({ type: 'punct', value: m[0], pos: i });
    } else if (rest[0] === "'") {
      let j = 1;
      let text = '';
      for (; j < rest.length && rest[j] !== "'"; j++) {
        if (rest[j] === '\\' && j + 1 < rest.length) {
          j++;
          text += rest[j] === 'n' ? '\n' : rest[j];
        } else text += rest[j];
      }
      if (j >= rest.length) throw new SoqlError('MALFORMED_QUERY', located(soql, i, 'unterminated string literal'));
      out.push({ type: 'string', value: text, pos: i });
      i += j + 1;
      continue;
    } else {
      throw new SoqlError('MALFORMED_QUERY', located(soql, i, `unexpected token: '${rest[0]}'`));
    }
    i += m[0].length;
  }
  out.push({ type: 'eof', value: '', pos: soql.length });
  return out;
}

function parseSoql(soql: string): ParsedQuery {
  const toks = tokenize(soql);
  let k = 0;
  const peek = () => toks[k];
  const isKw = (t: Tok, word: string) => t.type === 'ident' && t.value.toUpperCase() === word;
  const unexpected = (t: Tok): never => {
    throw new SoqlError('MALFORMED_QUERY', located(soql, t.pos, `unexpected token: '${t.type === 'eof' ? '<EOF>' : t.value}'`));
  };
  const expectKw = (word: string) => {
    if (!isKw(peek(), word)) unexpected(peek());
    k++;
  };
  const field = (): { name: string; pos: number } => {
    const t = peek();
    if (t.type !== 'ident' || KEYWORDS.has(t.value.toUpperCase())) return unexpected(t);
    k++;
    return { name: t.value, pos: t.pos };
  };
  const literal = (): Literal => {
    const t = peek();
    k++;
    if (t.type === 'string') return { type: 'string', value: t.value };
    if (t.type === 'number') return { type: 'number', value: Number(t.value) };
    if (t.type === 'datetime') return { type: 'datetime', value: t.value };
    if (t.type === 'date') return { type: 'date', value: t.value };
    if (isKw(t, 'NULL')) return { type: 'null', value: null };
    if (isKw(t, 'TRUE') || isKw(t, 'FALSE')) return { type: 'boolean', value: t.value.toUpperCase() === 'TRUE' };
    k--;
    return unexpected(t);
  };
  const factor = (): Expr => {
    if (isKw(peek(), 'NOT')) {
      k++;
      return { kind: 'not', expr: factor() };
    }
    if (peek().type === 'punct' && peek().value === '(') {
      k++;
      const e = expr();
      if (!(peek().type === 'punct' && peek().value === ')')) unexpected(peek());
      k++;
      return e;
    }
    const f = field();
    let negated = false;
    if (isKw(peek(), 'NOT')) {
      negated = true;
      k++;
      if (!isKw(peek(), 'IN')) unexpected(peek());
    }
    if (isKw(peek(), 'IN')) {
      k++;
      if (!(peek().type === 'punct' && peek().value === '(')) unexpected(peek());
      k++;
      const values = [literal()];
      while (peek().type === 'punct' && peek().value === ',') {
        k++;
        values.push(literal());
      }
      if (!(peek().type === 'punct' && peek().value === ')')) unexpected(peek());
      k++;
      return { kind: 'in', field: f.name, negated, values, pos: f.pos };
    }
    const op = peek();
    if (op.type !== 'op') return unexpected(op);
    k++;
    return { kind: 'cmp', field: f.name, op: op.value, value: literal(), pos: f.pos };
  };
  // SOQL does not rank AND over OR: mixing them needs parentheses.
  const expr = (): Expr => {
    const parts = [factor()];
    let joiner: 'and' | 'or' | null = null;
    while (isKw(peek(), 'AND') || isKw(peek(), 'OR')) {
      const word = peek().value.toLowerCase() as 'and' | 'or';
      if (joiner && joiner !== word) unexpected(peek());
      joiner = word;
      k++;
      parts.push(factor());
    }
    if (joiner === 'and') return { kind: 'and', parts };
    return joiner === 'or' ? { kind: 'or', parts } : parts[0];
  };

  expectKw('SELECT');
  const fields = [field()];
  while (peek().type === 'punct' && peek().value === ',') {
    k++;
    fields.push(field());
  }
  expectKw('FROM');
  const entity = field().name;
  let where: Expr | null = null;
  if (isKw(peek(), 'WHERE')) {
    k++;
    where = expr();
  }
  const orderBy: ParsedQuery['orderBy'] = [];
  if (isKw(peek(), 'ORDER')) {
    k++;
    expectKw('BY');
    for (;;) {
      const f = field().name;
      let desc = false;
      if (isKw(peek(), 'ASC') || isKw(peek(), 'DESC')) desc = toks[k++].value.toUpperCase() === 'DESC';
      let nullsLast = desc;
      if (isKw(peek(), 'NULLS')) {
        k++;
        if (!isKw(peek(), 'FIRST') && !isKw(peek(), 'LAST')) unexpected(peek());
        nullsLast = toks[k++].value.toUpperCase() === 'LAST';
      }
      orderBy.push({ field: f, desc, nullsLast });
      if (!(peek().type === 'punct' && peek().value === ',')) break;
      k++;
    }
  }
  let limit: number | null = null;
  if (isKw(peek(), 'LIMIT')) {
    k++;
    const t = peek();
    if (t.type !== 'number' || !/^\d+$/.test(t.value)) unexpected(t);
    limit = Number(t.value);
    k++;
  }
  if (peek().type !== 'eof') unexpected(peek());
  return { fields, entity, where, orderBy, limit };
}

// ---- the fake ----

export class FakeSalesforce extends FakeServer<RequestLogEntry> {
  /** The first valid token (what a test configures as accessToken). */
  readonly token: string;
  readonly orgId: string;
  readonly orgName = 'Fake Industries';
  readonly contacts = new Map<string, FakeSalesforceContact>();
  readonly accounts = new Map<string, FakeSalesforceAccount>();
  /** The delete log: every Contact deleted, with when. */
  readonly deletedLog: { id: string; deletedDate: Date }[] = [];

  dailyLimit: number;
  apiUsed: number;
  /**
   * Put before every nextRecordsUrl (Salesforce gives paths): a test sets an absolute URL here,
   * its own or another host's, to see what a client follows.
   */
  nextRecordsUrlPrefix = '';
  locatorIdleMs: number;
  locatorsBoundToSession: boolean;
  deletedRetentionMs: number;
  /** The delete log's start when the recycle bin was emptied (purgeDeleted), else now minus the retention. */
  private purgedAt: number | null = null;

  private readonly tokens = new Set<string>();
  private readonly acceptToken?: (token: string) => boolean;
  private readonly locators = new Map<string, Locator>();
  private readonly random: () => number;
  private readonly maxApiVersion: number;
  private nextContact = 1;
  private nextAccount = 1;
  private clock: number;
  private readonly stepMs: number;

  constructor(opts: FakeSalesforceOptions = {}) {
    super({ name: 'Salesforce' });
    this.token = opts.token ?? '00DFAKE0000000001!AQ4AQFakeSessionToken';
    this.tokens.add(this.token);
    this.acceptToken = opts.acceptToken;
    this.orgId = idChecksum('00D5g000004Fake');
    this.dailyLimit = opts.dailyLimit ?? 100_000;
    this.apiUsed = opts.apiUsed ?? 0;
    this.locatorIdleMs = opts.locatorIdleMs ?? 15 * 60_000;
    this.locatorsBoundToSession = opts.locatorsBoundToSession ?? true;
    this.deletedRetentionMs = opts.deletedRetentionMs ?? 15 * 86_400_000;
    this.maxApiVersion = opts.maxApiVersion ?? 68;
    this.random = prng(opts.seed ?? 42);
    this.stepMs = opts.stepMs ?? 1000;
    this.clock = floorSecond(opts.epoch ?? new Date(Date.now() - 20 * 86_400_000)).getTime() - this.stepMs;
    for (const name of COMPANIES) {
      const id = idChecksum(`0015g${base62(this.nextAccount++, 10)}`);
      this.accounts.set(id, { Id: id, Name: name });
    }
    this.addContacts(opts.contacts ?? 0);
  }

  protected override requestDetails(req: Request): Omit<RequestLogEntry, keyof LoggedRequest> {
    const options = req.get('sforce-query-options');
    const m = options ? /batchSize=(\d+)/i.exec(options) : null;
    return { token: bearer(req), batchSize: m ? Number(m[1]) : null };
  }

  /** An injected failure in Salesforce's shape: a JSON array of {message, errorCode}. */
  protected failureBody(status: number): unknown {
    if (status === 503) return [{ message: 'Server unavailable, please try again later', errorCode: 'SERVER_UNAVAILABLE' }];
    if (status === 429) return [{ message: 'Too many requests', errorCode: 'REQUEST_LIMIT_EXCEEDED' }];
    return [
      {
        message: 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-89012 (-1)',
        errorCode: 'UNKNOWN_EXCEPTION',
      },
    ];
  }

  protected routes(app: Express): void {
    app.disable('x-powered-by');
    app.use('/services/data', (req, res, next) => this.authenticate(req, res, next));
    app.use('/services/data', (req, res, next) => this.meter(req, res, next));
    app.get('/services/data/:version/query', (req, res) => this.answer(res, () => this.runQuery(req)));
    app.get('/services/data/:version/query/:locator', (req, res) => this.answer(res, () => this.morePage(req)));
    app.get('/services/data/:version/sobjects/Contact/deleted', (req, res) => this.answer(res, () => this.deleted(req)));
    app.use((_req, res) => {
      res.status(404).json([NOT_FOUND]);
    });
  }

  // ---- auth and budget ----

  /** Another valid token (e.g. the access token an OAuth refresh hands out). */
  addToken(token: string): void {
    this.tokens.add(token);
  }

  /** The session ends: the token answers 401 INVALID_SESSION_ID from now on. */
  expireToken(token: string = this.token): void {
    this.tokens.delete(token);
  }

  /** Sets today's use of the org's daily API calls (the other tools' calls included). */
  setApiUsage(used: number): void {
    this.apiUsed = used;
  }

  // ---- data ----

  addContacts(n: number): FakeSalesforceContact[] {
    const added: FakeSalesforceContact[] = [];
    const r = this.random;
    const accounts = [...this.accounts.keys()];
    for (let i = 0; i < n; i++) {
      const first = FIRST[Math.floor(r() * FIRST.length)];
      const last = LAST[Math.floor(r() * LAST.length)];
      this.clock += this.stepMs;
      const at = floorSecond(new Date(this.clock));
      const seq = this.nextContact;
      const local = `${first}.${last}.${seq}`
        .toLowerCase()
        .normalize('NFKD')
        .replace(/[^a-z0-9.]/g, '');
      added.push(
        this.insert({
          // One in twenty has no email, and a few no first name: a sync must keep them.
          FirstName: r() < 0.03 ? null : first,
          LastName: last,
          Email: r() < 0.05 ? null : `${local}@example.com`,
          Phone: r() < 0.25 ? null : `(555) ${String(100 + (seq % 900)).padStart(3, '0')}-${String(seq % 10000).padStart(4, '0')}`,
          Title: r() < 0.3 ? null : TITLES[Math.floor(r() * TITLES.length)],
          AccountId: r() < 0.2 ? null : accounts[Math.floor(r() * accounts.length)],
          at,
        }),
      );
    }
    return added;
  }

  /** One Contact with these fields, modified `at` (default now). */
  addContact(fields: ContactChanges & { LastName: string }, at: Date = new Date()): FakeSalesforceContact {
    return this.insert({ FirstName: null, Email: null, Phone: null, Title: null, AccountId: null, ...fields, at: floorSecond(at) });
  }

  contact(id: string): FakeSalesforceContact {
    const c = this.findContact(id);
    if (!c) throw new Error(`no fake Salesforce Contact ${id}`);
    return c;
  }

  /** Changes fields and moves LastModifiedDate to `at` (default now), as an edit in Salesforce would. */
  updateContact(id: string, changes: ContactChanges, at: Date = new Date()): FakeSalesforceContact {
    const c = this.contact(id);
    if (changes.AccountId && !this.accounts.has(changes.AccountId)) throw new Error(`no fake Salesforce Account ${changes.AccountId}`);
    Object.assign(c, changes);
    c.LastModifiedDate = floorSecond(at);
    return c;
  }

  /** Deletes a Contact `at` (default now): it leaves queries and enters the delete log. */
  deleteContact(id: string, at: Date = new Date()): void {
    const c = this.contact(id);
    this.contacts.delete(c.Id);
    this.deletedLog.push({ id: c.Id, deletedDate: floorSecond(at) });
  }

  /** An administrator empties the recycle bin: the delete log starts `at` (default now). */
  purgeDeleted(at: Date = new Date()): void {
    this.purgedAt = floorMinute(at.getTime());
    for (let i = this.deletedLog.length - 1; i >= 0; i--)
      if (this.deletedLog[i].deletedDate.getTime() < this.purgedAt) this.deletedLog.splice(i, 1);
  }

  /** Every open query locator dies (INVALID_QUERY_LOCATOR from now on). */
  expireLocators(): void {
    this.locators.clear();
  }

  /** Query locators still open. */
  get openLocators(): number {
    return this.locators.size;
  }

  /** earliestDateAvailable of the delete log now. */
  earliestDeletedAvailable(): Date {
    const retained = floorMinute(Date.now() - this.deletedRetentionMs);
    return new Date(Math.max(retained, this.purgedAt ?? retained));
  }

  // ---- internals ----

  private insert(f: Omit<FakeSalesforceContact, 'Id' | 'CreatedDate' | 'LastModifiedDate'> & { at: Date }): FakeSalesforceContact {
    const Id = idChecksum(`0035g${base62(this.nextContact++, 10)}`);
    const { at, ...fields } = f;
    const contact: FakeSalesforceContact = { Id, ...fields, CreatedDate: at, LastModifiedDate: at };
    this.contacts.set(Id, contact);
    return contact;
  }

  private findContact(id: string): FakeSalesforceContact | undefined {
    if (id.length === 18) return this.contacts.get(id);
    for (const c of this.contacts.values()) if (key15(c.Id) === id) return c;
    return undefined;
  }

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const token = bearer(req);
    if (token && (this.tokens.has(token) || this.acceptToken?.(token))) return next();
    res.status(401).json([SESSION_INVALID]);
  }

  /** Every authenticated call counts against the day's limit; past it, 403 REQUEST_LIMIT_EXCEEDED. */
  private meter(_req: Request, res: Response, next: NextFunction): void {
    if (this.apiUsed >= this.dailyLimit) {
      res.setHeader('Sforce-Limit-Info', `api-usage=${this.apiUsed}/${this.dailyLimit}`);
      res.status(403).json([TOTAL_REQUESTS]);
      return;
    }
    this.apiUsed++;
    res.setHeader('Sforce-Limit-Info', `api-usage=${this.apiUsed}/${this.dailyLimit}`);
    next();
  }

  private answer(res: Response, fn: () => { status?: number; body: unknown }): void {
    try {
      const out = fn();
      res.status(out.status ?? 200).json(out.body);
    } catch (err) {
      if (err instanceof SoqlError) {
        const status = err.errorCode === 'INVALID_SESSION_ID' ? 401 : err.errorCode === 'NOT_FOUND' ? 404 : 400;
        res.status(status).json([{ message: err.message, errorCode: err.errorCode }]);
        return;
      }
      throw err;
    }
  }

  /** `v67.0`, within what the org answers, else the 404 of an unknown resource. */
  private version(req: Request): string {
    const v = String(req.params.version);
    const m = /^v(\d+)\.0$/.exec(v);
    if (!m || Number(m[1]) < 31 || Number(m[1]) > this.maxApiVersion) throw new SoqlError('NOT_FOUND', NOT_FOUND.message);
    return v;
  }

  private batchSize(req: Request): number | null {
    const options = req.get('sforce-query-options');
    const m = options ? /batchSize=(\d+)/i.exec(options) : null;
    return m ? Math.min(MAX_BATCH, Math.max(MIN_BATCH, Number(m[1]))) : null;
  }

  private runQuery(req: Request): { body: unknown } {
    const version = this.version(req);
    const q = req.query.q;
    if (typeof q !== 'string' || !q.trim()) throw new SoqlError('MALFORMED_QUERY', 'A query string has to be specified');
    const parsed = parseSoql(q);
    const rows = this.execute(q, parsed, version);
    const batch = this.batchSize(req) ?? MAX_BATCH;
    if (rows.length <= batch) return { body: { totalSize: rows.length, done: true, records: rows } };
    const id = `01g5g${randomBase62(13)}`;
    this.locators.set(id, { rows, token: bearer(req) ?? '', batchSize: batch, lastUsed: Date.now(), version });
    return {
      body: {
        totalSize: rows.length,
        done: false,
        nextRecordsUrl: `${this.nextRecordsUrlPrefix}/services/data/${version}/query/${id}-${batch}`,
        records: rows.slice(0, batch),
      },
    };
  }

  private morePage(req: Request): { body: unknown } {
    const version = this.version(req);
    const m = /^([A-Za-z0-9]+)-(\d+)$/.exec(String(req.params.locator));
    const locator = m ? this.locators.get(m[1]) : undefined;
    if (!m || !locator || Date.now() - locator.lastUsed > this.locatorIdleMs) {
      if (m) this.locators.delete(m[1]);
      throw new SoqlError('INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    // A locator belongs to the session that opened it.
    if (this.locatorsBoundToSession && locator.token !== (bearer(req) ?? ''))
      throw new SoqlError('INVALID_SESSION_ID', SESSION_INVALID.message);
    const offset = Number(m[2]);
    if (offset >= locator.rows.length) throw new SoqlError('INVALID_QUERY_LOCATOR', 'invalid query locator');
    const batch = this.batchSize(req) ?? locator.batchSize;
    locator.lastUsed = Date.now();
    const records = locator.rows.slice(offset, offset + batch);
    const done = offset + batch >= locator.rows.length;
    if (done) this.locators.delete(m[1]);
    return {
      body: {
        totalSize: locator.rows.length,
        done,
        ...(done ? {} : { nextRecordsUrl: `${this.nextRecordsUrlPrefix}/services/data/${version}/query/${m[1]}-${offset + batch}` }),
        records,
      },
    };
  }

  private deleted(req: Request): { body: unknown } {
    this.version(req);
    const parse = (name: string): number => {
      const raw = req.query[name];
      const ok = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})$/.test(raw);
      const t = ok ? Date.parse((raw as string).replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) : NaN;
      if (!Number.isFinite(t)) throw new SoqlError('INVALID_REPLICATION_DATE', `${name} is not a valid ISO 8601 dateTime`);
      // Seconds are ignored: 12:30:15 is 12:30:00.
      return floorMinute(t);
    };
    const start = parse('start');
    const end = parse('end');
    if (end - start <= 60_000)
      throw new SoqlError('INVALID_REPLICATION_DATE', 'startDate must be at least one minute greater than endDate');
    const earliest = this.earliestDeletedAvailable().getTime();
    if (start < earliest || start < Date.now() - 30 * 86_400_000) {
      throw new SoqlError('INVALID_REPLICATION_DATE', 'startDate before the earliest available date');
    }
    const covered = Math.min(end, floorMinute(Date.now()));
    const deletedRecords = this.deletedLog
      .filter((d) => d.deletedDate.getTime() >= start && d.deletedDate.getTime() < covered)
      .sort((x, y) => x.deletedDate.getTime() - y.deletedDate.getTime())
      .map((d) => ({ id: d.id, deletedDate: salesforceTime(d.deletedDate) }));
    return {
      body: {
        deletedRecords,
        earliestDateAvailable: salesforceTime(new Date(earliest)),
        latestDateCovered: salesforceTime(new Date(covered)),
      },
    };
  }

  /** The query's rows, rendered as Salesforce answers them (attributes first, then the fields asked for). */
  private execute(soql: string, q: ParsedQuery, version: string): Record<string, unknown>[] {
    const entity = q.entity.toLowerCase();
    const schema = entity === 'contact' ? CONTACT_FIELDS : entity === 'organization' ? ORGANIZATION_FIELDS : null;
    if (!schema) {
      throw new SoqlError(
        'INVALID_TYPE',
        located(
          soql,
          soql.search(/\bFROM\b/i) + 5,
          `sObject type '${q.entity}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
        ),
      );
    }
    const canonical = (name: string, pos: number): string => {
      const found = Object.keys(schema).find((f) => f.toLowerCase() === name.toLowerCase());
      if (!found) {
        throw new SoqlError(
          'INVALID_FIELD',
          located(
            soql,
            pos,
            `No such column '${name}' on entity '${entity === 'contact' ? 'Contact' : 'Organization'}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
          ),
        );
      }
      return found;
    };
    const fields = q.fields.map((f) => canonical(f.name, f.pos));
    const check = (e: Expr): void => {
      if (e.kind === 'and' || e.kind === 'or') return e.parts.forEach(check);
      if (e.kind === 'not') return check(e.expr);
      const name = canonical(e.field, e.pos);
      const type = schema[name];
      for (const v of e.kind === 'cmp' ? [e.value] : e.values) {
        if (type === 'datetime' && v.type !== 'datetime' && v.type !== 'null') {
          throw new SoqlError(
            'INVALID_FIELD',
            located(
              soql,
              e.pos,
              `value of filter criterion for field '${name}' must be of type dateTime and should not be enclosed in quotes`,
            ),
          );
        }
        if (type === 'id' && v.type === 'string' && !/^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(String(v.value))) {
          throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', located(soql, e.pos, `invalid ID field: ${String(v.value)}`));
        }
      }
    };
    if (q.where) check(q.where);
    const order = q.orderBy.map((o) => ({ ...o, field: canonical(o.field, 0) }));

    const sources: Record<string, Value>[] =
      entity === 'contact'
        ? [...this.contacts.values()].map((c) => this.contactValues(c))
        : [{ Id: this.orgId, Name: this.orgName, OrganizationType: 'Enterprise Edition', IsSandbox: false, InstanceName: 'NA224' }];
    let rows = q.where ? sources.filter((r) => matches(q.where as Expr, r, schema)) : sources;
    if (order.length > 0) rows = [...rows].sort((a, b) => compareRows(a, b, order, schema));
    if (q.limit !== null) rows = rows.slice(0, q.limit);
    return rows.map((r) => this.render(r, fields, entity === 'contact' ? 'Contact' : 'Organization', version));
  }

  private contactValues(c: FakeSalesforceContact): Record<string, Value> {
    const account = c.AccountId ? this.accounts.get(c.AccountId) : undefined;
    return {
      Id: c.Id,
      FirstName: c.FirstName,
      LastName: c.LastName,
      Name: [c.FirstName, c.LastName].filter(Boolean).join(' '),
      Email: c.Email,
      Phone: c.Phone,
      Title: c.Title,
      AccountId: c.AccountId,
      'Account.Name': account?.Name ?? null,
      'Account.Id': account?.Id ?? null,
      CreatedDate: c.CreatedDate,
      LastModifiedDate: c.LastModifiedDate,
      SystemModstamp: c.LastModifiedDate,
      IsDeleted: false,
    };
  }

  private render(values: Record<string, Value>, fields: string[], type: string, version: string): Record<string, unknown> {
    const out: Record<string, unknown> = { attributes: { type, url: `/services/data/${version}/sobjects/${type}/${String(values.Id)}` } };
    const show = (v: Value) => (v instanceof Date ? salesforceTime(v) : v);
    for (const f of fields) {
      const [rel, sub] = f.split('.');
      if (!sub) {
        out[f] = show(values[f]);
        continue;
      }
      // A lookup's fields come as one nested object, or null when the lookup is empty.
      const id = values[`${rel}Id`];
      if (!id) {
        out[rel] = null;
        continue;
      }
      const nested = (out[rel] as Record<string, unknown> | undefined) ?? {
        attributes: { type: rel, url: `/services/data/${version}/sobjects/${rel}/${String(id)}` },
      };
      nested[sub] = show(values[f]);
      out[rel] = nested;
    }
    return out;
  }
}

// ---- evaluation ----

function literalValue(v: Literal): Value {
  if (v.type === 'datetime' || v.type === 'date') return new Date(Date.parse(String(v.value)));
  return v.value;
}

function compareValues(a: Value, b: Value, type: string): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (a instanceof Date || b instanceof Date) return new Date(a as Date).getTime() - new Date(b as Date).getTime();
  if (type === 'id') {
    const x = key15(String(a));
    const y = key15(String(b));
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  // Text compares case-insensitively in SOQL.
  const x = String(a).toLowerCase();
  const y = String(b).toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function matches(e: Expr, row: Record<string, Value>, schema: Record<string, string>): boolean {
  if (e.kind === 'and') return e.parts.every((p) => matches(p, row, schema));
  if (e.kind === 'or') return e.parts.some((p) => matches(p, row, schema));
  if (e.kind === 'not') return !matches(e.expr, row, schema);
  const name = Object.keys(schema).find((f) => f.toLowerCase() === e.field.toLowerCase()) as string;
  const type = schema[name];
  const value = row[name];
  if (e.kind === 'in') {
    const hit = e.values.some((v) => value !== null && compareValues(value, literalValue(v), type) === 0);
    return e.negated ? !hit : hit;
  }
  const lit = literalValue(e.value);
  if (lit === null || value === null) {
    const same = lit === value;
    return e.op === '=' ? same : e.op === '!=' || e.op === '<>' ? !same : false;
  }
  const c = compareValues(value, lit, type);
  switch (e.op) {
    case '=':
      return c === 0;
    case '!=':
    case '<>':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}

function compareRows(
  a: Record<string, Value>,
  b: Record<string, Value>,
  order: { field: string; desc: boolean; nullsLast: boolean }[],
  schema: Record<string, string>,
): number {
  for (const o of order) {
    const x = a[o.field];
    const y = b[o.field];
    let c: number;
    if (x === null || y === null) c = x === y ? 0 : (x === null) === o.nullsLast ? 1 : -1;
    else c = compareValues(x, y, schema[o.field]) * (o.desc ? -1 : 1);
    if (c !== 0) return c;
  }
  return 0;
}
