import type { AxiosInstance } from 'axios';
import { CrmUnavailableError } from '../connector';
import type { WebhookChannelKeeper } from '../provider';
import type { ZohoConfig } from './zoho.connector';
import { ZOHO_DEFAULT_VERSION } from './zoho.definition';
import { parseZohoTime, zohoHeaderTime } from './zoho.mapping';

/** The events our channel asks for: every change of a contact. */
export const ZOHO_WATCH_EVENTS = ['Contacts.all'];
/** Zoho keeps a channel at most a week (Enable Notifications: channel_expiry). */
export const ZOHO_WATCH_MAX_MS = 7 * 24 * 3_600_000;
/** Asked for a little less than the maximum, so clocks apart do not make it "past a week". */
const MARGIN_MS = 10 * 60_000;

type WatchEntry = { code?: unknown; status?: unknown; message?: unknown; details?: { events?: { channel_expiry?: unknown }[] } };
const entriesOf = (data: unknown): WatchEntry[] => {
  const watch = (data as { watch?: unknown } | null)?.watch;
  return Array.isArray(watch) ? (watch.filter((w) => w && typeof w === 'object') as WatchEntry[]) : [];
};

/**
 * Zoho's watch channel for one integration (Notification APIs, POST /crm/{version}/actions/watch):
 * the channel id is a number the service drew for the integration (Zoho's SDKs type it a long), its token the
 * integration's webhookToken (checked on every notification), its events every contact change.
 * A keep enables the channel again: Zoho's advice is to re-subscribe with Enable Notifications
 * before the expiry, and enabling an existing id replaces its expiry, token and URL, so a keep
 * needs no read of what Zoho holds and cannot race one.
 */
export class ZohoChannelKeeper implements WebhookChannelKeeper {
  private readonly url: string;

  constructor(
    private readonly http: AxiosInstance,
    private readonly config: ZohoConfig,
  ) {
    this.url = `/crm/${config.apiVersion ?? ZOHO_DEFAULT_VERSION}/actions/watch`;
  }

  async keep(channel: { id: string; notifyUrl: string; until: Date }): Promise<{ expiresAt: Date } | null> {
    const token = typeof this.config.webhookToken === 'string' ? this.config.webhookToken : '';
    if (!token) return null;
    // Past a week Zoho does not refuse: it grants its default hour instead.
    const until = new Date(Math.min(channel.until.getTime(), Date.now() + ZOHO_WATCH_MAX_MS - MARGIN_MS));
    const body = {
      watch: [
        {
          channel_id: channel.id,
          events: ZOHO_WATCH_EVENTS,
          token,
          notify_url: channel.notifyUrl,
          channel_expiry: zohoHeaderTime(until),
        },
      ],
    };
    const res = await this.http.post(this.url, body, { validateStatus: (s) => s < 300 || s === 400 });
    const [entry] = entriesOf(res.data);
    const outcome = entry ?? ((res.data ?? {}) as WatchEntry);
    if (res.status === 400 || outcome.status !== 'success' || outcome.code !== 'SUCCESS') {
      throw new CrmUnavailableError(
        `zoho refused to enable the watch channel (${res.status}): ${String(outcome.code ?? 'no code')}: ${String(outcome.message ?? '').slice(0, 300)}`,
        res.status,
      );
    }
    // What Zoho granted (it may keep less than asked); what we asked when it does not say.
    const granted = (entry?.details?.events ?? [])
      .map((e) => parseZohoTime(e?.channel_expiry))
      .filter((d): d is Date => d !== null)
      .sort((a, b) => a.getTime() - b.getTime())[0];
    return { expiresAt: granted ?? until };
  }

  /** Disable Notifications (DELETE with channel_ids); a channel Zoho no longer has (expired) answers 400, which is fine. */
  async release(channelId: string): Promise<void> {
    await this.http.delete(this.url, { params: { channel_ids: channelId }, validateStatus: (s) => s < 300 || s === 400 });
  }
}
