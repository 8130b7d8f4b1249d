import type { AxiosInstance } from 'axios';
import { CrmUnavailableError, type CrmConnector, type ConnectionInfo, type PersonPage } from '../connector';
import { mapContact, mapUser, CONTACT_PROVIDER, STAFF_PROVIDER, type WealthboxContact, type WealthboxUser } from './wealthbox.mapping';
import { forEachLimit } from '../../lib/for-each-limit';

export interface WealthboxConfig {
  apiKey: string;
  authType?: 'access_token' | 'oauth';
  baseUrl?: string;
  requestsPerSecond?: number;
  includeUsers?: boolean;
}

export const WEALTHBOX_DEFAULT_URL = 'https://api.crmworkspace.com/v1';

/** Single-contact lookups in flight at once (the client's requestsPerSecond still applies). */
const LOOKUP_CONCURRENCY = 4;

/** Personal tokens go in ACCESS_TOKEN (no prefix); OAuth tokens as a bearer. */
export function wealthboxHeaders(config: WealthboxConfig): Record<string, string> {
  return config.authType === 'oauth' ? { Authorization: `Bearer ${config.apiKey}` } : { ACCESS_TOKEN: config.apiKey };
}

/** `{"contacts":[...],"meta":{"total_count":57,"total_pages":3}}`, or `users` for /users. */
interface ListResponse {
  contacts?: WealthboxContact[];
  users?: WealthboxUser[];
  meta?: { total_count?: number; total_pages?: number };
}

/** Wealthbox CRM API v1 (crm-apis.md). Paging is by page number; the cursor is that number. */
export class WealthboxConnector implements CrmConnector {
  readonly provider = CONTACT_PROVIDER;
  readonly streams: readonly string[];
  readonly identityProviders: readonly string[];

  constructor(
    private readonly http: AxiosInstance,
    private readonly config: WealthboxConfig,
    private readonly pageSize: number,
  ) {
    this.streams = config.includeUsers === false ? ['contacts'] : ['contacts', 'users'];
    this.identityProviders = config.includeUsers === false ? [CONTACT_PROVIDER] : [CONTACT_PROVIDER, STAFF_PROVIDER];
  }

  async testConnection(): Promise<ConnectionInfo> {
    const { data } = await this.http.get('/me');
    const me = data as { id?: number; name?: string; email?: string; current_user?: { name?: string }; accounts?: { name?: string }[] };
    return {
      account: me.accounts?.[0]?.name ?? null,
      user: me.current_user?.name ?? me.name ?? null,
      details: { id: me.id ?? null, email: me.email ?? null },
    };
  }

  async listPeople(stream: string, opts: { cursor: string | null; updatedSince: Date | null }): Promise<PersonPage> {
    const page = opts.cursor ? Number(opts.cursor) : 1;
    if (stream === 'users') {
      // Staff have no updated_at filter; the list is short and read whole each time.
      const { data } = await this.http.get<ListResponse>('/users', { params: { page, per_page: this.pageSize } });
      return this.page((data.users ?? []).map(mapUser), page, data);
    }
    // Only people become users; Household, Organization and Trust contacts are not people.
    const params: Record<string, string | number> = { page, per_page: this.pageSize, order: 'created', type: 'Person' };
    if (opts.updatedSince) params.updated_since = opts.updatedSince.toISOString();
    const { data } = await this.http.get<ListResponse>('/contacts', { params });
    return this.page((data.contacts ?? []).map(mapContact), page, data);
  }

  async listDeletedSince(since: Date): Promise<{ provider: string; externalId: string }[]> {
    const out: { provider: string; externalId: string }[] = [];
    for (let page = 1; ; page++) {
      const { data } = await this.http.get<ListResponse>('/contacts', {
        params: { deleted: 'true', deleted_since: since.toISOString(), type: 'Person', page, per_page: this.pageSize },
      });
      const contacts = data.contacts ?? [];
      out.push(...contacts.map((c) => ({ provider: CONTACT_PROVIDER, externalId: String(c.id) })));
      const totalPages = data.meta?.total_pages;
      if (contacts.length === 0 || (totalPages !== undefined && page >= totalPages)) return out;
    }
  }

  /**
   * Contacts one by one (GET /contacts/{id}: the contact, or 404 once deleted) rather than
   * through the deleted listing: a lookup is exact whatever the deletion's age, where the
   * listing needs a deleted_since older than every record asked about and may not keep old
   * deletions. A full sync asks about few records (those deleted since the last one and the
   * few a page shift hid), and its deletion bound stops it before it asks about many.
   */
  async stillExisting(people: { provider: string; externalId: string }[]): Promise<{ provider: string; externalId: string }[]> {
    const found = new Set<{ provider: string; externalId: string }>();
    const contacts = people.filter((p) => p.provider === CONTACT_PROVIDER);
    await forEachLimit(contacts, LOOKUP_CONCURRENCY, async (p) => {
      if (await this.contactExists(p.externalId)) found.add(p);
    });
    if (people.some((p) => p.provider === STAFF_PROVIDER)) {
      // No single-user endpoint is documented; the staff list is short, so it is read again.
      const staff = new Set<string>();
      let cursor: string | null = null;
      do {
        const page: PersonPage = await this.listPeople('users', { cursor, updatedSince: null });
        for (const r of page.records) staff.add(r.externalId);
        cursor = page.nextCursor;
      } while (cursor);
      for (const p of people) if (p.provider === STAFF_PROVIDER && staff.has(p.externalId)) found.add(p);
    }
    return people.filter((p) => found.has(p) || (p.provider !== CONTACT_PROVIDER && p.provider !== STAFF_PROVIDER));
  }

  private async contactExists(id: string): Promise<boolean> {
    try {
      const { data } = await this.http.get<WealthboxContact>(`/contacts/${encodeURIComponent(id)}`);
      // Only Person contacts are synced: one that is now a Household is gone for us.
      return (data.type ?? 'Person') === 'Person';
    } catch (err) {
      if (err instanceof CrmUnavailableError && err.status === 404) return false;
      throw err;
    }
  }

  /** total_pages when given; otherwise an empty or short page ends the list. */
  private page(records: PersonPage['records'], page: number, data: ListResponse): PersonPage {
    const totalPages = data.meta?.total_pages ?? null;
    const last = totalPages !== null ? page >= totalPages : records.length < this.pageSize;
    return { records, nextCursor: last || records.length === 0 ? null : String(page + 1), totalPages };
  }
}
