import type { AxiosInstance } from 'axios';
import type { Logger } from 'winston';
import {
  failedAlone,
  pushed,
  type CrmWriter,
  type DeletePolicy,
  type OutgoingPerson,
  type OutgoingRemoval,
  type PushResult,
} from '../writer';
import { HUBSPOT_PROVIDER, hubspotId } from './hubspot.mapping';
import { checkDailyQuota } from '../http-client';

/** Every batch endpoint takes at most 100 inputs. */
const BATCH_LIMIT = 100;

type Op = 'update' | 'upsert' | 'create';

const PATHS: Record<Op | 'archive', string> = {
  update: '/crm/v3/objects/contacts/batch/update',
  upsert: '/crm/v3/objects/contacts/batch/upsert',
  create: '/crm/v3/objects/contacts/batch/create',
  archive: '/crm/v3/objects/contacts/batch/archive',
};

/** Answers read here rather than thrown: a refusal of the whole call is about its records. */
const ANSWERED = new Set([200, 201, 204, 207, 400, 404, 409]);

interface BatchError {
  status?: unknown;
  category?: unknown;
  message?: unknown;
  context?: Record<string, unknown>;
}

interface BatchResult {
  id?: unknown;
  new?: unknown;
  objectWriteTraceId?: unknown;
  properties?: Record<string, unknown>;
}

/** HubSpot refused a whole call (400/404/409): what it said, and which records it named. */
interface Refusal {
  status: number;
  category: string | null;
  message: string;
  ids: string[];
  traces: string[];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Our user id as the input's objectWriteTraceId: it turns on per-record (207) answers and names the record in errors. */
const trace = (p: OutgoingPerson) => String(p.userId);

function errorText(e: BatchError | Record<string, unknown> | null | undefined): string {
  const category = typeof e?.category === 'string' ? e.category : 'ERROR';
  const message = typeof e?.message === 'string' && e.message ? e.message : 'no details';
  return `${category}: ${message}`.slice(0, 500);
}

function refusalOf(status: number, data: unknown): Refusal {
  const d = (data && typeof data === 'object' ? data : {}) as BatchError;
  return {
    status,
    category: typeof d.category === 'string' ? d.category : null,
    message: `HubSpot refused the call (${status}) ${errorText(d)}`.slice(0, 500),
    ids: strings(d.context?.ids),
    traces: strings(d.context?.objectWriteTraceId),
  };
}

/** Splits `items` into calls of at most `size`, each key at most once a call (HubSpot refuses duplicate ids in a batch). */
function calls<T>(items: T[], key: (t: T) => string, size = BATCH_LIMIT): T[][] {
  const rounds: T[][] = [];
  const seen: Set<string>[] = [];
  for (const item of items) {
    const k = key(item);
    let i = seen.findIndex((s) => !s.has(k));
    if (i < 0) i = seen.push(new Set()) - 1;
    seen[i].add(k);
    (rounds[i] ??= []).push(item);
  }
  return rounds.flatMap((r) => Array.from({ length: Math.ceil(r.length / size) }, (_, j) => r.slice(j * size, (j + 1) * size)));
}

/**
 * Writes our users as HubSpot contacts (fake-crm/hubspot/README.md has the API facts).
 *
 * A linked person (externalId) is updated by id (batch/update); one HubSpot no longer has is
 * written like an unlinked one. An unlinked person with an email is upserted by email
 * (batch/upsert, idProperty email), so a retried call finds the contact the first one made;
 * without an email, batch/create. Every input carries an objectWriteTraceId, so HubSpot
 * answers 207 with the records that failed alone; a call HubSpot refuses whole (400/409
 * without record names) is halved until the refused record is alone.
 *
 * Null values: HubSpot documents that an empty string clears a property, so a linked
 * contact's property is cleared when our user has no value; a new or unlinked contact gets
 * only the values we have (nothing of a contact we never linked is wiped).
 */
export class HubSpotWriter implements CrmWriter {
  readonly identityProvider = HUBSPOT_PROVIDER;
  readonly maxBatch = BATCH_LIMIT;

  constructor(
    private readonly http: AxiosInstance,
    private readonly logger: Logger,
    private readonly integrationId: number | null,
  ) {}

  async upsert(people: OutgoingPerson[]): Promise<PushResult[]> {
    const out = new Map<number, PushResult>();
    const gone: OutgoingPerson[] = [];
    const linked = people.filter((p) => p.externalId !== null && hubspotId(p.externalId) !== null);
    const unlinked = people.filter((p) => !linked.includes(p));
    for (const chunk of calls(linked, (p) => p.externalId as string)) await this.send('update', chunk, out, gone);
    if (gone.length) {
      this.logger.info('hubspot: linked contacts no longer exist; writing them again', {
        integrationId: this.integrationId,
        externalIds: gone.map((p) => p.externalId).slice(0, 20),
      });
    }
    const fresh = [...unlinked, ...gone];
    const withEmail = fresh.filter((p) => p.email);
    for (const chunk of calls(withEmail, (p) => (p.email as string).toLowerCase())) await this.send('upsert', chunk, out, gone);
    for (const chunk of calls(
      fresh.filter((p) => !p.email),
      trace,
    ))
      await this.send('create', chunk, out, gone);
    // A person without a result is left out: the push worker tries it again later.
    return people.map((p) => out.get(p.userId)).filter((r): r is PushResult => r !== undefined);
  }

  /**
   * archive: POST .../batch/archive, 100 ids a call (204). A contact HubSpot no longer has
   * counts as archived. HubSpot's API has no other deletion for a batch (see hubspotPush).
   */
  async remove(people: OutgoingRemoval[], policy: Exclude<DeletePolicy, 'none'>): Promise<PushResult[]> {
    if (policy !== 'archive') {
      return people.map((p) =>
        failedAlone(p, `HubSpot contacts are archived, not deleted, through this API: set onUserDeleted to "archive" (policy "${policy}")`),
      );
    }
    const results: PushResult[] = [];
    const byId = new Map<string, OutgoingRemoval[]>();
    for (const p of people) {
      const id = hubspotId(p.externalId);
      // Not a HubSpot id: no contact of ours to archive.
      if (!id) results.push(pushed(p, p.externalId, 'archived'));
      else byId.set(id, [...(byId.get(id) ?? []), p]);
    }
    const ids = [...byId.keys()];
    for (let i = 0; i < ids.length; i += BATCH_LIMIT) {
      const chunk = ids.slice(i, i + BATCH_LIMIT);
      await checkDailyQuota(this.http);
      const res = await this.http.post<{ errors?: unknown }>(
        PATHS.archive,
        { inputs: chunk.map((id) => ({ id })) },
        { validateStatus: (s) => ANSWERED.has(s) },
      );
      const refused = res.status >= 300 ? refusalOf(res.status, res.data) : null;
      const failures = new Map<string, string>();
      for (const e of (Array.isArray(res.data?.errors) ? res.data.errors : []) as BatchError[]) {
        if (e?.category === 'OBJECT_NOT_FOUND') continue;
        for (const id of strings(e?.context?.ids)) failures.set(id, errorText(e));
      }
      for (const id of chunk) {
        const error = refused?.message ?? failures.get(id);
        for (const p of byId.get(id) ?? []) results.push(error ? failedAlone(p, error) : pushed(p, id, 'archived'));
      }
    }
    return results;
  }

  /** One call's records, to the end: answered, failed alone, or (updates) gone from HubSpot. */
  private async send(op: Op, people: OutgoingPerson[], out: Map<number, PushResult>, gone: OutgoingPerson[]): Promise<void> {
    await checkDailyQuota(this.http);
    const refusal = await this.attempt(op, people, out, gone);
    if (refusal) await this.settle(op, people, refusal, out, gone);
  }

  /** A 2xx answer is collected; a refusal of the whole call comes back. */
  private async attempt(op: Op, people: OutgoingPerson[], out: Map<number, PushResult>, gone: OutgoingPerson[]): Promise<Refusal | null> {
    const res = await this.http.post(
      PATHS[op],
      { inputs: people.map((p) => this.input(op, p)) },
      // A create sent twice makes a second contact; the push worker sends a failed batch again later.
      { validateStatus: (s) => ANSWERED.has(s), once: op === 'create' },
    );
    if (res.status < 300) {
      this.collect(op, people, res.data, out, gone);
      return null;
    }
    return refusalOf(res.status, res.data);
  }

  /**
   * A whole call refused. The records it names fail (or, not found, are gone) and the rest go
   * again; a refusal naming none is halved until the record is alone. The same refusal of both
   * halves is about the call itself (a property HubSpot does not have): every record fails
   * with it, in three calls rather than two hundred.
   */
  private async settle(
    op: Op,
    people: OutgoingPerson[],
    refusal: Refusal,
    out: Map<number, PushResult>,
    gone: OutgoingPerson[],
  ): Promise<void> {
    const notFound = op === 'update' && refusal.category === 'OBJECT_NOT_FOUND';
    const drop = (p: OutgoingPerson, message: string) => (notFound ? gone.push(p) : out.set(p.userId, failedAlone(p, message)));
    if (people.length === 1) {
      drop(people[0], refusal.message);
      return;
    }
    const named = people.filter(
      (p) => refusal.traces.includes(trace(p)) || (op === 'update' && refusal.ids.includes(p.externalId as string)),
    );
    if (named.length > 0) {
      for (const p of named) drop(p, refusal.message);
      const rest = people.filter((p) => !named.includes(p));
      if (rest.length) await this.send(op, rest, out, gone);
      return;
    }
    this.logger.warn('hubspot: a batch was refused whole; halving it to find the record', {
      integrationId: this.integrationId,
      operation: op,
      records: people.length,
      status: refusal.status,
      category: refusal.category,
    });
    const half = Math.ceil(people.length / 2);
    const parts = [people.slice(0, half), people.slice(half)];
    const answers = [await this.attempt(op, parts[0], out, gone), await this.attempt(op, parts[1], out, gone)];
    if (answers[0] && answers[1] && answers[0].message === answers[1].message) {
      for (const p of people) drop(p, answers[0].message);
      return;
    }
    for (let i = 0; i < 2; i++) {
      const answer = answers[i];
      if (answer) await this.settle(op, parts[i], answer, out, gone);
    }
  }

  /** Results and per-record errors of a 200/201/207, matched to our people. */
  private collect(op: Op, people: OutgoingPerson[], data: unknown, out: Map<number, PushResult>, gone: OutgoingPerson[]): void {
    const d = (data && typeof data === 'object' ? data : {}) as { results?: unknown; errors?: unknown };
    const byTrace = new Map(people.map((p) => [trace(p), p]));
    const pending = new Set(people);
    const leftovers: { id: string; result: BatchResult }[] = [];
    const take = (p: OutgoingPerson | undefined): p is OutgoingPerson => p !== undefined && pending.delete(p);
    for (const result of (Array.isArray(d.results) ? d.results : []) as BatchResult[]) {
      const id = hubspotId(result?.id);
      if (!id) continue;
      const email = typeof result.properties?.email === 'string' ? result.properties.email.toLowerCase() : null;
      const p =
        (typeof result.objectWriteTraceId === 'string' ? byTrace.get(result.objectWriteTraceId) : undefined) ??
        [...pending].find((x) => (op === 'update' && x.externalId === id) || (op === 'upsert' && email !== null && x.email === email));
      if (take(p)) out.set(p.userId, pushed(p, id, this.action(op, result)));
      else leftovers.push({ id, result });
    }
    const unattributed: BatchError[] = [];
    for (const e of (Array.isArray(d.errors) ? d.errors : []) as BatchError[]) {
      const traces = strings(e?.context?.objectWriteTraceId);
      const ids = strings(e?.context?.ids).map((s) => s.toLowerCase());
      const named = [...pending].filter(
        (p) =>
          traces.includes(trace(p)) ||
          (op === 'update' && ids.includes(p.externalId as string)) ||
          (op === 'upsert' && p.email !== null && ids.includes(p.email)),
      );
      if (named.length === 0) unattributed.push(e);
      for (const p of named) {
        pending.delete(p);
        if (op === 'update' && e.category === 'OBJECT_NOT_FOUND') gone.push(p);
        else out.set(p.userId, failedAlone(p, errorText(e)));
      }
    }
    const rest = [...pending];
    // Results HubSpot did not tie to an input: paired in order where that cannot mislead (a
    // batch create answers in input order as far as public captures show; unconfirmed).
    if (rest.length > 0 && leftovers.length === rest.length && unattributed.length === 0 && (op === 'create' || rest.length === 1)) {
      rest.forEach((p, i) => out.set(p.userId, pushed(p, leftovers[i].id, this.action(op, leftovers[i].result))));
      return;
    }
    const notFound = unattributed.some((e) => e?.category === 'OBJECT_NOT_FOUND');
    for (const p of rest) {
      if (op === 'update' && notFound) gone.push(p);
      else if (rest.length === 1 && unattributed.length === 1) out.set(p.userId, failedAlone(p, errorText(unattributed[0])));
    }
    if (rest.length > 0 && !(op === 'update' && notFound) && !(rest.length === 1 && unattributed.length === 1)) {
      this.logger.warn('hubspot: records without a result in a batch answer; they will be sent again', {
        integrationId: this.integrationId,
        operation: op,
        records: rest.length,
        errors: unattributed.slice(0, 3).map((e) => errorText(e)),
      });
    }
  }

  private action(op: Op, result: BatchResult): 'created' | 'updated' {
    if (op === 'create') return 'created';
    return op === 'upsert' && result.new === true ? 'created' : 'updated';
  }

  private input(op: Op, p: OutgoingPerson): Record<string, unknown> {
    const properties: Record<string, string> = {};
    for (const [name, value] of Object.entries(p.fields)) {
      if (value !== null) properties[name] = String(value);
      else if (op === 'update') properties[name] = '';
    }
    if (op === 'update') return { id: p.externalId, objectWriteTraceId: trace(p), properties };
    if (op === 'upsert') {
      if (!('email' in p.fields)) properties.email = p.email as string;
      return { id: p.email, idProperty: 'email', objectWriteTraceId: trace(p), properties };
    }
    return { objectWriteTraceId: trace(p), properties, associations: [] };
  }
}
