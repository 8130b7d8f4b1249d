import { FakeApiError } from '../shared/fake-server';

/**
 * Zoho's watch channels (Notification APIs: POST, PATCH, GET and DELETE
 * /crm/{v}/actions/watch), as fake-crm/zoho/README.md ("Watch channels") lists them: a
 * channel lasts one hour when no expiry is given or the expiry asked is past a week (Zoho
 * grants its default rather than refusing), enabling an existing channel id again replaces
 * it (Zoho's advice for renewing), and an expired channel is not listed. The routes live in
 * fake-zoho.ts.
 */

export interface FakeZohoChannel {
  channel_id: string;
  events: string[];
  token: string | null;
  notify_url: string;
  channel_expiry: Date;
}

interface Answer {
  status: number;
  body?: unknown;
}

const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;
/** Objects one request takes (the OpenAPI spec's maxItems). */
const MAX_ENTRIES = 50;
const MODULES = new Set(['Contacts', 'Leads', 'Accounts', 'Deals']);
const OPERATIONS = new Set(['all', 'create', 'edit', 'delete']);
const RESOURCE_IDS: Record<string, string> = {
  Contacts: '5725767000000002179',
  Leads: '5725767000000002175',
  Accounts: '5725767000000002177',
  Deals: '5725767000000002181',
};

type EntryError = { code: string; details: Record<string, unknown>; message: string; status: 'error' };
const entryError = (code: string, message: string, apiName: string, i: number): EntryError => ({
  code,
  details: { api_name: apiName, json_path: `$.watch[${i}].${apiName}` },
  message,
  status: 'error',
});

/** ISO 8601 with seconds and an offset (Zoho's date-time), or null. */
function parseTime(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/.test(value)) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

export class FakeZohoWatch {
  /** Every channel enabled and not disabled, expired ones included (listed only while active). */
  readonly channels = new Map<string, FakeZohoChannel>();

  constructor(private readonly time: (at: Date) => string) {}

  /** The channel if Zoho would still notify on it. */
  active(channelId: string): FakeZohoChannel | undefined {
    const c = this.channels.get(channelId);
    return c && c.channel_expiry.getTime() > Date.now() ? c : undefined;
  }

  /** The channel's expiry passes (a week went by unrenewed). */
  expire(channelId: string): void {
    const c = this.channels.get(channelId);
    if (!c) throw new Error(`fake Zoho has no watch channel ${channelId}`);
    c.channel_expiry = new Date(Date.now() - 1000);
  }

  handle(method: string, query: Record<string, unknown>, body: unknown): Answer {
    if (method === 'GET') return this.list(query);
    if (method === 'DELETE') return this.disable(query);
    if (method !== 'POST' && method !== 'PATCH') {
      throw new FakeApiError(400, {
        code: 'INVALID_REQUEST_METHOD',
        details: {},
        message: 'The http request method type is not a valid one',
        status: 'error',
      });
    }
    const entries = (body as { watch?: unknown } | null)?.watch;
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new FakeApiError(400, {
        code: 'MANDATORY_NOT_FOUND',
        details: { api_name: 'watch', json_path: '$.watch' },
        message: 'required field not found',
        status: 'error',
      });
    }
    if (entries.length > MAX_ENTRIES) {
      throw new FakeApiError(400, { code: 'LIMIT_EXCEEDED', details: { limit: MAX_ENTRIES }, message: 'limit exceeded', status: 'error' });
    }
    const outcomes = entries.map((e, i) => (method === 'POST' ? this.enable(e, i) : this.update(e, i)));
    const ok = outcomes.filter((o) => o.status === 'success').length;
    const status = ok === outcomes.length ? (method === 'POST' ? 201 : 200) : ok === 0 ? 400 : 207;
    return { status, body: { watch: outcomes } };
  }

  private enable(raw: unknown, i: number): Record<string, unknown> {
    const e = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const id = this.channelId(e.channel_id);
    if (id === undefined) return entryError('MANDATORY_NOT_FOUND', 'required field not found', 'channel_id', i);
    if (id === null) return entryError('INVALID_DATA', 'invalid data', 'channel_id', i);
    if (e.notify_url === undefined) return entryError('MANDATORY_NOT_FOUND', 'required field not found', 'notify_url', i);
    const url = this.url(e.notify_url);
    if (!url) return entryError('INVALID_DATA', 'invalid data', 'notify_url', i);
    if (e.events === undefined) return entryError('MANDATORY_NOT_FOUND', 'required field not found', 'events', i);
    const events = this.events(e.events);
    if (!events) return entryError('INVALID_DATA', 'invalid data', 'events', i);
    const token = this.token(e.token);
    if (token === undefined) return entryError('INVALID_DATA', 'invalid data', 'token', i);
    const expiry = this.expiry(e.channel_expiry);
    if (expiry === null) return entryError('INVALID_DATA', 'invalid data', 'channel_expiry', i);
    const channel: FakeZohoChannel = { channel_id: id, events, token, notify_url: url, channel_expiry: new Date(expiry) };
    this.channels.set(id, channel);
    return this.success(channel, 'Successfully subscribed for actions-watch of the given module');
  }

  /** PATCH: the given fields of an active channel change; the rest stay. */
  private update(raw: unknown, i: number): Record<string, unknown> {
    const e = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const id = this.channelId(e.channel_id);
    if (id === undefined) return entryError('MANDATORY_NOT_FOUND', 'required field not found', 'channel_id', i);
    const channel = id === null ? undefined : this.active(id);
    if (!channel) return entryError('INVALID_DATA', 'the channel is not subscribed', 'channel_id', i);
    const next = { ...channel };
    if (e.notify_url !== undefined) {
      const url = this.url(e.notify_url);
      if (!url) return entryError('INVALID_DATA', 'invalid data', 'notify_url', i);
      next.notify_url = url;
    }
    if (e.events !== undefined) {
      const events = this.events(e.events);
      if (!events) return entryError('INVALID_DATA', 'invalid data', 'events', i);
      next.events = events;
    }
    if (e.token !== undefined) {
      const token = this.token(e.token);
      if (token === undefined) return entryError('INVALID_DATA', 'invalid data', 'token', i);
      next.token = token;
    }
    if (e.channel_expiry !== undefined) {
      const expiry = this.expiry(e.channel_expiry);
      if (expiry === null) return entryError('INVALID_DATA', 'invalid data', 'channel_expiry', i);
      next.channel_expiry = new Date(expiry);
    }
    this.channels.set(next.channel_id, next);
    return this.success(next, 'Successfully updated the subscribe details');
  }

  private list(query: Record<string, unknown>): Answer {
    const id = typeof query.channel_id === 'string' ? query.channel_id : undefined;
    const module = typeof query.module === 'string' ? query.module : undefined;
    const listed = [...this.channels.values()].filter(
      (c) =>
        c.channel_expiry.getTime() > Date.now() &&
        (id === undefined || c.channel_id === id) &&
        (module === undefined || c.events.some((ev) => ev.startsWith(`${module}.`))),
    );
    if (listed.length === 0) return { status: 204 };
    return {
      status: 200,
      body: {
        watch: listed.map((c) => ({
          notify_on_related_action: false,
          channel_expiry: this.time(c.channel_expiry),
          return_affected_field_values: false,
          resource_uri: `https://www.zohoapis.com/crm/v8/${c.events[0].split('.')[0]}`,
          resource_id: RESOURCE_IDS[c.events[0].split('.')[0]],
          notify_url: c.notify_url,
          resource_name: c.events[0].split('.')[0],
          fields: null,
          notification_condition: null,
          channel_id: c.channel_id,
          events: c.events,
          token: c.token,
        })),
        info: { per_page: 200, count: listed.length, page: 1, more_records: false },
      },
    };
  }

  private disable(query: Record<string, unknown>): Answer {
    const ids = typeof query.channel_ids === 'string' ? query.channel_ids.split(',').filter(Boolean) : [];
    if (ids.length === 0) {
      throw new FakeApiError(400, {
        code: 'REQUIRED_PARAM_MISSING',
        details: { param: 'channel_ids' },
        message: 'One of the expected parameter is missing',
        status: 'error',
      });
    }
    const outcomes = ids.map((id) => {
      const c = this.channels.get(id);
      if (!c) return { code: 'INVALID_DATA', details: { channel_id: id }, message: 'the channel is not subscribed', status: 'error' };
      this.channels.delete(id);
      const module = c.events[0].split('.')[0];
      return {
        code: 'SUCCESS',
        details: { resource_uri: `https://www.zohoapis.com/crm/v8/${module}`, resource_id: RESOURCE_IDS[module], channel_id: id },
        message: 'Successfully un-subscribed from actions-watch',
        status: 'success',
      };
    });
    const ok = outcomes.filter((o) => o.status === 'success').length;
    return { status: ok === outcomes.length ? 200 : ok === 0 ? 400 : 207, body: { watch: outcomes } };
  }

  private success(c: FakeZohoChannel, message: string): Record<string, unknown> {
    const modules = [...new Set(c.events.map((ev) => ev.split('.')[0]))];
    return {
      code: 'SUCCESS',
      details: {
        events: modules.map((m) => ({
          channel_expiry: this.time(c.channel_expiry),
          resource_uri: `https://www.zohoapis.com/crm/v8/${m}`,
          resource_id: RESOURCE_IDS[m],
          resource_name: m,
          channel_id: c.channel_id,
        })),
      },
      message,
      status: 'success',
    };
  }

  /** A channel id: digits (Zoho's SDKs send a long; the spec says a string of at most 64). */
  private channelId(value: unknown): string | null | undefined {
    if (value === undefined || value === null) return undefined;
    const s = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
    return typeof s === 'string' && /^\d{1,19}$/.test(s) ? s : null;
  }

  private url(value: unknown): string | null {
    if (typeof value !== 'string' || value.length > 255) return null;
    try {
      const u = new URL(value);
      return u.protocol === 'https:' || u.protocol === 'http:' ? value : null;
    } catch {
      return null;
    }
  }

  private events(value: unknown): string[] | null {
    if (!Array.isArray(value) || value.length === 0 || value.length > 50) return null;
    for (const ev of value) {
      if (typeof ev !== 'string') return null;
      const [module, op, ...rest] = ev.split('.');
      if (rest.length > 0 || !MODULES.has(module) || !OPERATIONS.has(op)) return null;
    }
    return [...(value as string[])];
  }

  /** At most 50 characters (the docs); undefined: not a valid token. */
  private token(value: unknown): string | null | undefined {
    if (value === undefined || value === null) return null;
    return typeof value === 'string' && value.length <= 50 ? value : undefined;
  }

  /** The expiry granted: the one asked within a week, else Zoho's default hour; null: not a time or past. */
  private expiry(value: unknown): number | null {
    const now = Date.now();
    if (value === undefined || value === null) return now + HOUR;
    const t = parseTime(value);
    if (t === null || t <= now) return null;
    return t > now + WEEK ? now + HOUR : Math.floor(t / 1000) * 1000;
  }
}
