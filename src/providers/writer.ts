/**
 * The write direction of a provider (issue 13): how our users reach a CRM or a marketing
 * list, and how files reach cloud storage. A provider folder exports these beside its
 * connector; the push worker and the export service (src/modules) do the rest.
 */

/** Our side of a mapping: the fields of a user (company is the user's organization's name). */
export const PUSH_SOURCE_FIELDS = ['email', 'firstName', 'lastName', 'name', 'phone', 'title', 'department', 'company'] as const;
export type PushSourceField = (typeof PUSH_SOURCE_FIELDS)[number];

/** What a deletion of one of our users does at the CRM (config `onUserDeleted`); `none` is the default. */
export type DeletePolicy = 'none' | 'delete' | 'archive';

/** A provider's write facts: data, like the rest of its definition. */
export interface PushFacts {
  /** Our field → the CRM's field: seed 003's mapping. A config's `pushMapping` overrides it field by field. */
  defaultMapping: Readonly<Partial<Record<PushSourceField, string>>>;
  /** The CRM fields a mapping may name (validated when an integration is created or updated). */
  knownFields: readonly string[];
  /** Custom fields beyond knownFields, as a JSON Schema pattern (Salesforce's `^[A-Za-z][A-Za-z0-9_]*__c$`). */
  customFieldPattern?: string;
  /** The deletion policies it can carry out besides `none`. */
  deletePolicies: readonly Exclude<DeletePolicy, 'none'>[];
  /** `push` only (marketing lists, nothing to pull), or any of pull, push, both (CRMs, default pull). */
  directions: readonly ('pull' | 'push' | 'both')[];
  defaultDirection: 'pull' | 'push' | 'both';
}

/** One of our users as a push sends it, the integration's mapping already applied. */
export interface OutgoingPerson {
  /** Our user id: results are matched to inputs by it. */
  userId: number;
  /** The CRM's id for this person when we know it (an earlier push, or a pull linked it): update it. */
  externalId: string | null;
  /** Lower-cased, or null. */
  email: string | null;
  /** The user's display name: for a field the CRM requires and the mapping left empty (Salesforce's LastName). */
  name?: string | null;
  /** CRM field → value, from the mapping. null: the user has no value (send nothing, or clear, as the CRM does best). */
  fields: Record<string, string | null>;
  /** An active user (marketing lists: subscribed rather than unsubscribed). */
  isActive: boolean;
}

/** A person to remove at the CRM (a deleted user we had pushed or pulled). */
export interface OutgoingRemoval {
  userId: number;
  externalId: string;
  email: string | null;
}

/**
 * Per record: done (with the CRM's id, to store on the user's identity), or failed alone (a
 * validation error for this record: it is parked with `error`, the others go on).
 */
export type PushResult =
  | { userId: number; ok: true; externalId: string; action: 'created' | 'updated' | 'deleted' | 'archived' | 'unchanged' }
  | { userId: number; ok: false; error: string };

/** A record the CRM took, with its id there. */
export const pushed = (p: { userId: number }, externalId: string, action: 'created' | 'updated' | 'deleted' | 'archived'): PushResult => ({
  userId: p.userId,
  ok: true,
  externalId,
  action,
});

/** A record the CRM refused alone (parked with `error`). */
export const failedAlone = (p: { userId: number }, error: string): PushResult => ({ userId: p.userId, ok: false, error });

/**
 * Writes people to one CRM account. Errors of the whole call are thrown as the connector's
 * are (CrmAuthError, CrmUnavailableError after the HTTP client's retries, CrmBudgetError):
 * the push worker keeps the records queued and tries again later. A result per input, in
 * any order; a record it cannot find at the CRM any more (deleted there) is created again
 * by upsert, and counts as removed by remove.
 */
export interface CrmWriter {
  /** The identity provider pushed records are linked under: the one the pull uses for the same records. */
  readonly identityProvider: string;
  /** The most records one upsert or remove call takes (the provider's batch size; 1 without batch calls). */
  readonly maxBatch: number;
  upsert(people: OutgoingPerson[]): Promise<PushResult[]>;
  remove(people: OutgoingRemoval[], policy: Exclude<DeletePolicy, 'none'>): Promise<PushResult[]>;
}

/** One file being written to cloud storage: chunks in order, then finish. */
export interface FileUpload {
  /** Appends bytes; the sink may buffer them until it has a chunk the storage takes. */
  append(chunk: Buffer): Promise<void>;
  /** Writes what is left and closes the file: the storage's id for it, and its path when it has paths. */
  finish(): Promise<{ id: string; path: string | null; bytes: number }>;
  /** Gives up (best effort: a resumable session or upload session is left to expire). */
  abort(): Promise<void>;
}

/** A storage account files are exported to (Google Drive, Dropbox). */
export interface FileSink {
  /** Starts a file named `name` in the configured folder. */
  begin(name: string, mimeType: string): Promise<FileUpload>;
}

/**
 * The config fields every pushing provider has, added to its config schema by the registry,
 * so the mapping is validated like the rest of the config (Ajv names the field that is wrong):
 * `direction`, `pushMapping` (our field → CRM field, null to leave one out) and `onUserDeleted`.
 */
export function pushConfigProperties(facts: PushFacts): Record<string, unknown> {
  const crmField = facts.customFieldPattern
    ? { anyOf: [{ type: 'string', enum: [...facts.knownFields] }, { type: 'string', pattern: facts.customFieldPattern }, { type: 'null' }] }
    : { anyOf: [{ type: 'string', enum: [...facts.knownFields] }, { type: 'null' }] };
  return {
    direction: {
      type: 'string',
      title: 'Direction',
      description: 'pull: people come from it; push: our users go to it; both',
      enum: [...facts.directions],
      default: facts.defaultDirection,
    },
    pushMapping: {
      type: 'object',
      title: 'Field mapping (push)',
      description: `Overrides of the default mapping, our field → its field (null: not sent). Default: ${JSON.stringify(facts.defaultMapping)}`,
      propertyNames: { enum: [...PUSH_SOURCE_FIELDS] },
      additionalProperties: crmField,
    },
    onUserDeleted: {
      type: 'string',
      title: 'When one of our users is deleted',
      description:
        'none: leave the record; ' +
        facts.deletePolicies.map((p) => (p === 'delete' ? 'delete: delete it there' : 'archive: archive or unsubscribe it')).join('; '),
      enum: ['none', ...facts.deletePolicies],
      default: 'none',
    },
  };
}

/** The mapping an integration pushes with: the provider's defaults, overridden field by field. */
export function effectiveMapping(facts: PushFacts, overrides: unknown): Partial<Record<PushSourceField, string>> {
  const out: Partial<Record<PushSourceField, string>> = { ...facts.defaultMapping };
  if (overrides && typeof overrides === 'object') {
    for (const [k, v] of Object.entries(overrides as Record<string, unknown>)) {
      if (!(PUSH_SOURCE_FIELDS as readonly string[]).includes(k)) continue;
      if (v === null) delete out[k as PushSourceField];
      else if (typeof v === 'string') out[k as PushSourceField] = v;
    }
  }
  return out;
}

/**
 * The config field scheduling exports: 5 cron fields (minute hour day month weekday), no
 * seconds; the job reads them in SYNC_TIMEZONE and checks them again with node-cron.
 */
export const exportScheduleField = {
  type: 'string',
  title: 'Export schedule',
  description:
    'A 5-field cron expression (minute hour day-of-month month day-of-week), e.g. `0 6 * * 1` for Mondays at 06:00 in SYNC_TIMEZONE; unset: exports run only when asked',
  pattern: '^\\s*[0-9A-Za-z*?,/-]+(\\s+[0-9A-Za-z*?,/-]+){4}\\s*$',
  maxLength: 100,
} as const;
