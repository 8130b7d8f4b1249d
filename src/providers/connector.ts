/**
 * What every CRM connector implements (see provider.ts for the rest of a provider): nothing
 * else in the service knows a CRM's API.
 */

/** A person as a CRM has them, already mapped to our fields. */
export interface PersonRecord {
  /** The CRM's id, unique within `provider`. */
  externalId: string;
  /** Identity provider name: a connector may have several kinds of people (contacts, staff). */
  provider: string;
  email: string | null;
  name: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  title: string | null;
  isActive: boolean;
  /** The CRM's own last-modified time, when it has one. */
  updatedAt: Date | null;
  /** CRM-specific fields we keep on the identity (company, household, tags, ...). */
  data: Record<string, unknown>;
}

export interface PersonPage {
  records: PersonRecord[];
  /** Opaque; pass it back to get the next page. null: this was the last page. */
  nextCursor: string | null;
  /** When the CRM tells. */
  totalPages: number | null;
}

export interface ConnectionInfo {
  account: string | null;
  user: string | null;
  details: Record<string, unknown>;
}

export interface CrmConnector {
  readonly provider: string;
  /** The kinds of people this CRM has, synced in this order (e.g. contacts, staff). */
  readonly streams: readonly string[];
  /** Every identity provider name its records use: the people a full sync reconciles. */
  readonly identityProviders: readonly string[];
  /** One cheap authenticated call. */
  testConnection(): Promise<ConnectionInfo>;
  listPeople(stream: string, opts: { cursor: string | null; updatedSince: Date | null }): Promise<PersonPage>;
  /** External ids (with their identity provider) deleted at the source since `since`. */
  listDeletedSince(since: Date): Promise<{ provider: string; externalId: string }[]>;
  /**
   * After listDeletedSince: what it could not cover (Salesforce keeps deletions about 15
   * days), for the run's details; null when it covered the whole window.
   */
  readonly lastDeletedWindowNote?: string | null;
  /**
   * Those of `people` the source still has (as people it syncs): a full sync asks before it
   * deletes what its pages did not show, since paging may skip records that still exist.
   * A record it cannot check counts as existing.
   */
  stillExisting(people: { provider: string; externalId: string }[]): Promise<{ provider: string; externalId: string }[]>;
  /**
   * Reads the named records now (CRMs whose webhooks carry ids, not records: HubSpot). Ids
   * it no longer has come back in `missing`.
   */
  fetchPeople?(provider: string, externalIds: string[]): Promise<{ found: PersonRecord[]; missing: string[] }>;
}

/** The CRM refused our credentials: the integration needs a person, not a retry. */
export class CrmAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CrmAuthError';
  }
}

/** The CRM failed in a way retries did not fix (5xx, timeouts, 429 past the retries). */
export class CrmUnavailableError extends Error {
  constructor(
    message: string,
    public readonly status?: number,
  ) {
    super(message);
    this.name = 'CrmUnavailableError';
  }
}

/**
 * The CRM account's API budget (Salesforce's calls per 24 hours, HighLevel's daily limit) is
 * down to the reserve we keep for the organization's other tools: the run stops cleanly
 * (status partial, its checkpoint kept) and the next run resumes from there.
 */
export class CrmBudgetError extends Error {
  constructor(
    message: string,
    /** What the CRM reported: calls used and the limit, when it said. */
    public readonly used: number | null = null,
    public readonly limit: number | null = null,
    /** When a call may look again (the shared quota's recheck); null: the next scheduled run. */
    public readonly resumeAfter: Date | null = null,
  ) {
    super(message);
    this.name = 'CrmBudgetError';
  }
}

/** What one inbound webhook asks of us, already in our terms. */
export type InboundChange =
  | { kind: 'upsert'; person: PersonRecord }
  /** `at`: when the source deleted it, if it says. */
  | { kind: 'delete'; provider: string; externalId: string; at: Date | null }
  /** The CRM says the record changed but not how: read it (in batches) and upsert it. */
  | { kind: 'fetch'; provider: string; externalId: string; at: Date | null }
  | {
      kind: 'activity';
      provider: string;
      /** The person it is about. */
      externalId: string;
      activityType: string;
      data: Record<string, unknown>;
      occurredAt: Date | null;
    }
  /** Signed and well-formed, but nothing for us (another contact type, an unknown event type). */
  | { kind: 'ignore'; reason: string };

/** A well-signed body that does not have the shape the sender documents: a 400, never retried. */
export class WebhookPayloadError extends Error {
  constructor(public readonly problems: { path: string; message: string }[]) {
    super(`webhook payload rejected: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.name = 'WebhookPayloadError';
  }
}
