import { z } from 'zod';
import { safeEqual } from '../../lib/crypto';
import type { InboundChange } from '../connector';
import type { WebhookAdapter } from '../provider';
import { parseWebhookBody } from '../webhook-payload';
import { CONTACTS_MODULE, ZOHO_PROVIDER } from './zoho.mapping';

/**
 * Zoho signs nothing and sets no header of its own: a notification proves itself with the
 * `token` its watch channel was given, echoed in the body, which `verify` checks.
 */
const id = z.union([z.string().regex(/^\d{1,25}$/), z.int().positive()]).transform(String);

/**
 * The body Zoho posts to a watch channel's notify_url (Zoho's "Enable Notifications" page):
 * `{"server_time":1718117126473,"query_params":{},"module":"Leads","resource_uri":"…",
 * "ids":["5725767000003000064"],"affected_fields":[],"operation":"insert",
 * "channel_id":"1000000068001","token":"…"}`; with return_affected_field_values also
 * `affected_values`. One notification may name several records.
 */
const body = z.looseObject({
  server_time: z.int().nonnegative().optional(),
  module: z.string().min(1).max(100),
  ids: z.array(id).min(1).max(1000),
  operation: z.string().min(1).max(50),
  channel_id: z.union([z.string().max(40), z.int()]).optional(),
  token: z.string().max(200).optional(),
});

/**
 * What is stored per record and later handed to `change`: the body's facts about it, never
 * the token (a secret, and the inbox keeps payloads in clear) nor field values.
 */
const stored = z.object({
  module: z.string().min(1).max(100),
  operation: z.string().min(1).max(50),
  id: z.string().regex(/^\d{1,25}$/),
  serverTime: z.int().nonnegative().nullable(),
  channelId: z.string().max(40).nullable(),
});
type Stored = z.infer<typeof stored>;

const tokensOf = (config: Record<string, unknown>, extra: string[]) =>
  [config.webhookToken, ...extra].filter((s): s is string => typeof s === 'string' && s.length > 0);

function toChange(payload: unknown): InboundChange {
  const e: Stored = parseWebhookBody(stored, payload, 'payload');
  if (e.module.toLowerCase() !== CONTACTS_MODULE.toLowerCase()) {
    return { kind: 'ignore', reason: `Zoho ${e.module} notifications are not synced` };
  }
  const at = e.serverTime === null ? null : new Date(e.serverTime);
  if (e.operation === 'delete') return { kind: 'delete', provider: ZOHO_PROVIDER, externalId: e.id, at };
  // insert, update, and whatever else Zoho reports about a contact (a restore): read it as
  // Zoho has it now; one it no longer has becomes a deletion.
  return { kind: 'fetch', provider: ZOHO_PROVIDER, externalId: e.id, at };
}

/**
 * Zoho CRM notifications (a watch channel's notify_url), at POST /api/webhooks/zoho/:integrationId:
 * the path names the integration, the body's `token` must equal its `webhookToken`. One event
 * per record id; a retried notification (same channel, server_time, record and operation)
 * is stored once.
 */
export const zohoWebhook: WebhookAdapter = {
  signatureHeader: null,
  identityProviders: [ZOHO_PROVIDER],
  configured: ({ config, extraSecrets }) => tokensOf(config, extraSecrets).length > 0,
  events(req) {
    const n = parseWebhookBody(body, req.json);
    const channelId = n.channel_id === undefined ? null : String(n.channel_id);
    const serverTime = n.server_time ?? null;
    return [...new Set(n.ids)].map((recordId) => ({
      eventId: serverTime === null ? null : `${channelId ?? ''}:${serverTime}:${recordId}:${n.operation}`,
      type: `${n.module}.${n.operation}`,
      occurredAt: serverTime === null ? null : new Date(serverTime),
      routingKey: null,
      payload: { module: n.module, operation: n.operation, id: recordId, serverTime, channelId } satisfies Stored,
    }));
  },
  /**
   * The body's token against the integration's webhookToken, in constant time (safeEqual
   * compares SHA-256 digests, so a token of another length neither fails early nor tells its
   * length). No token, or nothing configured, is a refusal.
   */
  verify(req, { config, extraSecrets }) {
    const given = (req.json as { token?: unknown } | null)?.token;
    const expected = tokensOf(config, extraSecrets);
    if (typeof given !== 'string' || given === '' || expected.length === 0) return false;
    let ok = false;
    for (const token of expected) if (safeEqual(given, token)) ok = true;
    return ok;
  },
  change(payload) {
    return toChange(payload);
  },
};
