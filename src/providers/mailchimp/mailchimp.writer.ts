import { createHash } from 'node:crypto';
import { mapLimit } from '../../lib/for-each-limit';
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { Logger } from 'winston';
import { CrmUnavailableError } from '../connector';
import type { CrmWriter, DeletePolicy, OutgoingPerson, OutgoingRemoval, PushResult } from '../writer';
import type { MailchimpConfig } from './mailchimp.definition';

/** Mailchimp's cap on one batch subscribe (`POST /lists/{id}`). */
export const MAILCHIMP_BATCH_MAX = 500;
/** Per-member calls (tags, removals) in flight at once: Mailchimp allows 10 connections per user. */
const PARALLEL = 4;

/** The member id Mailchimp uses: MD5 of the lower-cased email, hex. */
export function subscriberHash(email: string): string {
  return createHash('md5').update(email.trim().toLowerCase(), 'utf8').digest('hex');
}

const HASH = /^[0-9a-f]{32}$/;

/** 4xx answers (other than auth and 429) come back as responses: they are about one record or one request. */
const KEEP_4XX = {
  validateStatus: (s: number) => (s >= 200 && s < 300) || (s >= 400 && s < 500 && s !== 401 && s !== 403 && s !== 429),
};

interface BatchMember {
  email_address: string;
  status?: 'subscribed' | 'unsubscribed';
  status_if_new: 'subscribed' | 'unsubscribed' | 'pending';
  merge_fields?: Record<string, string>;
}

interface BatchAnswer {
  new_members?: { id?: string; email_address?: string }[];
  updated_members?: { id?: string; email_address?: string }[];
  errors?: { email_address?: string; error?: string; error_code?: string; field?: string; field_message?: string }[];
}

type Outcome = { ok: true; id: string; action: 'created' | 'updated' | 'unchanged' } | { ok: false; error: string };

/**
 * Pushes users to one audience with the synchronous batch subscribe (500 members a call,
 * `update_existing`), tags them, and archives or permanently deletes removed ones. A
 * member's id is the MD5 of its lower-cased email, so an upsert by email is idempotent: a
 * retried batch cannot duplicate anyone.
 */
export class MailchimpWriter implements CrmWriter {
  readonly identityProvider = 'mailchimp';
  readonly maxBatch = MAILCHIMP_BATCH_MAX;

  constructor(
    private readonly http: AxiosInstance,
    private readonly config: MailchimpConfig,
    private readonly logger: Logger,
  ) {}

  private get list(): string {
    return `/lists/${encodeURIComponent(this.config.audienceId)}`;
  }

  async upsert(people: OutgoingPerson[]): Promise<PushResult[]> {
    const out = new Map<number, PushResult>();
    const byEmail = new Map<string, OutgoingPerson[]>();
    for (const p of people) {
      const email = p.email?.trim().toLowerCase();
      if (!email) {
        out.set(p.userId, { userId: p.userId, ok: false, error: 'no email: Mailchimp members are keyed by their email' });
        continue;
      }
      byEmail.set(email, [...(byEmail.get(email) ?? []), p]);
    }
    await this.renameChanged(byEmail);

    // One member per email (two of our users may share one): the first one's values are sent.
    const members = [...byEmail.entries()].map(([email, ps]) => this.member(email, ps[0]));
    const outcomes = new Map<string, Outcome>();
    for (let i = 0; i < members.length; i += MAILCHIMP_BATCH_MAX) {
      await this.subscribe(members.slice(i, i + MAILCHIMP_BATCH_MAX), outcomes);
    }
    await this.tag([...outcomes.entries()].filter(([, o]) => o.ok).map(([email]) => email));

    for (const [email, ps] of byEmail) {
      const o = outcomes.get(email) ?? { ok: false as const, error: 'Mailchimp did not answer for this member' };
      for (const p of ps)
        out.set(
          p.userId,
          o.ok ? { userId: p.userId, ok: true, externalId: o.id, action: o.action } : { userId: p.userId, ok: false, error: o.error },
        );
    }
    return people.map((p) => out.get(p.userId) as PushResult);
  }

  async remove(people: OutgoingRemoval[], policy: Exclude<DeletePolicy, 'none'>): Promise<PushResult[]> {
    return mapLimit(people, PARALLEL, async (p): Promise<PushResult> => {
      const hash = HASH.test(p.externalId) ? p.externalId : p.email ? subscriberHash(p.email) : encodeURIComponent(p.externalId);
      const member = `${this.list}/members/${hash}`;
      // archive: Mailchimp's DELETE keeps the member's history and stops all mail; delete: gone for good.
      const res =
        policy === 'archive'
          ? await this.http.delete(member, KEEP_4XX)
          : await this.http.post(`${member}/actions/delete-permanent`, undefined, KEEP_4XX);
      const action = policy === 'archive' ? 'archived' : 'deleted';
      // 404: not there any more, which is what was asked.
      if (res.status < 300 || res.status === 404) return { userId: p.userId, ok: true, externalId: p.externalId, action };
      return { userId: p.userId, ok: false, error: `Mailchimp refused to ${policy} the member: ${problem(res)}` };
    });
  }

  /**
   * Null fields are left out, never sent empty: an upsert cannot tell a new member from an
   * existing one, and an empty merge field would wipe what Mailchimp holds.
   */
  private member(email: string, p: OutgoingPerson): BatchMember {
    const merge: Record<string, string> = {};
    for (const [tag, value] of Object.entries(p.fields)) if (value !== null && value !== undefined) merge[tag] = value;
    const status: Pick<BatchMember, 'status' | 'status_if_new'> = !p.isActive
      ? { status: 'unsubscribed', status_if_new: 'unsubscribed' }
      : this.config.doubleOptIn
        ? // No `status`: an existing member keeps theirs (never subscribed → pending); new ones confirm by email.
          { status_if_new: 'pending' }
        : { status: 'subscribed', status_if_new: 'subscribed' };
    return { email_address: email, ...status, ...(Object.keys(merge).length ? { merge_fields: merge } : {}) };
  }

  /**
   * A user whose email changed: the member under the old email gets the new one (its history
   * stays), before the batch updates it. When that fails (the old member is gone, or the new
   * email is already a member), the batch simply upserts the new email.
   */
  private async renameChanged(byEmail: Map<string, OutgoingPerson[]>): Promise<void> {
    const renames = [...byEmail.entries()].flatMap(([email, ps]) =>
      ps
        .filter((p) => p.externalId && HASH.test(p.externalId) && p.externalId !== subscriberHash(email))
        .map((p) => ({ email, old: p.externalId as string })),
    );
    await mapLimit(renames, PARALLEL, async ({ email, old }) => {
      const res = await this.http.patch(`${this.list}/members/${old}`, { email_address: email }, KEEP_4XX);
      if (res.status >= 300)
        this.logger.info('mailchimp: email change not carried to the old member; the new email is upserted', {
          status: res.status,
          detail: problem(res),
        });
    });
  }

  /** One batch subscribe; a 400 for the whole request is split until the member it is about stands alone. */
  private async subscribe(members: BatchMember[], outcomes: Map<string, Outcome>): Promise<void> {
    const res = await this.http.post<BatchAnswer>(this.list, { members, update_existing: true }, KEEP_4XX);
    if (res.status === 400) {
      if (members.length === 1) {
        outcomes.set(members[0].email_address, { ok: false, error: `Mailchimp refused the member: ${problem(res)}` });
        return;
      }
      const half = Math.ceil(members.length / 2);
      await this.subscribe(members.slice(0, half), outcomes);
      await this.subscribe(members.slice(half), outcomes);
      return;
    }
    if (res.status >= 300)
      throw new CrmUnavailableError(`mailchimp answered ${res.status} on POST ${this.list}: ${problem(res)}`, res.status);
    const data = res.data ?? {};
    const seen = (list: BatchAnswer['new_members'], action: 'created' | 'updated') => {
      for (const m of list ?? []) {
        const email = typeof m.email_address === 'string' ? m.email_address.toLowerCase() : null;
        if (email)
          outcomes.set(email, { ok: true, id: typeof m.id === 'string' && HASH.test(m.id) ? m.id : subscriberHash(email), action });
      }
    };
    seen(data.new_members, 'created');
    seen(data.updated_members, 'updated');
    for (const e of data.errors ?? []) {
      const email = typeof e.email_address === 'string' ? e.email_address.toLowerCase() : null;
      if (!email) continue;
      const field = e.field ? ` (${e.field}${e.field_message ? `: ${e.field_message}` : ''})` : '';
      outcomes.set(email, {
        ok: false,
        error: `Mailchimp: ${e.error ?? 'rejected'}${e.error_code ? ` [${e.error_code}]` : ''}${field}`.slice(0, 500),
      });
    }
    // Neither created, updated nor refused: Mailchimp had nothing to change.
    for (const m of members)
      if (!outcomes.has(m.email_address))
        outcomes.set(m.email_address, { ok: true, id: subscriberHash(m.email_address), action: 'unchanged' });
  }

  /**
   * The configured tags, added (never removed) member by member: the batch subscribe's
   * member schema documents no `tags`, so the tags endpoint carries them. Nothing is sent
   * without configured tags. A member the tags could not reach is still pushed (logged).
   */
  private async tag(emails: string[]): Promise<void> {
    const tags = (this.config.tags ?? []).map((name) => ({ name, status: 'active' }));
    if (!tags.length) return;
    await mapLimit(emails, PARALLEL, async (email) => {
      const res = await this.http.post(`${this.list}/members/${subscriberHash(email)}/tags`, { tags }, KEEP_4XX);
      if (res.status >= 300) this.logger.warn('mailchimp: tags not added to a member', { status: res.status, detail: problem(res) });
    });
  }
}

/** Mailchimp's problem document (`{type, title, status, detail, instance, errors?}`) as one line. */
function problem(res: AxiosResponse): string {
  const d = (res.data && typeof res.data === 'object' ? res.data : {}) as { title?: unknown; detail?: unknown; errors?: unknown };
  const fields = Array.isArray(d.errors)
    ? (d.errors as { field?: unknown; message?: unknown }[]).slice(0, 3).map((e) => `${String(e.field ?? '')}: ${String(e.message ?? '')}`)
    : [];
  const text = [d.title, d.detail].filter((x) => typeof x === 'string' && x).join(': ') || `HTTP ${res.status}`;
  return (fields.length ? `${text} (${fields.join('; ')})` : text).slice(0, 500);
}
