import { z } from 'zod';
import { safeEqual } from '../../lib/crypto';
import { StaleWebhookError, type WebhookAdapter } from '../provider';
import { parseWebhookBody } from '../webhook-payload';
import { HUBSPOT_PROVIDER, MAPPED_PROPERTIES } from './hubspot.mapping';
import { hubspotSignatureV3 } from './hubspot.signature';

/** HubSpot refuses nothing older; neither do we accept it (or a clock more ahead than that). */
export const MAX_SIGNATURE_AGE_MS = 5 * 60_000;

/** Contact changes that leave a contact to read: HubSpot sends its id, never the record. */
const READ = new Set(['contact.creation', 'contact.propertyChange', 'contact.restore', 'contact.merge']);
const DELETE = new Set(['contact.deletion', 'contact.privacyDeletion']);

const id = z.int().positive();

/**
 * One element of HubSpot's body (developers.hubspot.com/docs/api/webhooks): the fields we
 * read are checked; the rest (subscriptionId, appId, attemptNumber, changeSource, changeFlag,
 * propertyValue...) is kept as sent. A contact event we act on needs its objectId.
 */
const event = z
  .looseObject({
    eventId: z.int().nonnegative(),
    portalId: id,
    occurredAt: z.int().nonnegative(),
    subscriptionType: z.string().min(1).max(100),
    objectId: id.optional(),
    propertyName: z.string().max(200).optional(),
    // contact.merge: the contact that stays (newObjectId when HubSpot made a new one).
    primaryObjectId: id.optional(),
    newObjectId: id.optional(),
  })
  .superRefine((e, ctx) => {
    if ((READ.has(e.subscriptionType) || DELETE.has(e.subscriptionType)) && e.objectId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['objectId'], message: `is required for ${e.subscriptionType}` });
    }
  });

/** HubSpot delivers up to 100 events a request; more is accepted, within the body size limit. */
const body = z.array(event).min(1).max(1000);

type HubSpotEvent = z.infer<typeof event>;

const header = (v: string | undefined) => (v === undefined ? undefined : v.trim());

/** The app's client secret, and any accepted besides it. */
const secretsOf = (config: Record<string, unknown>, extra: string[]) =>
  [config.appSecret, ...extra].filter((s): s is string => typeof s === 'string' && s.length > 0);

/**
 * POST /api/webhooks/hubspot: HubSpot's JSON array of events, from any number of portals (each
 * event's portalId routes it), signed with the app's client secret (v3).
 */
export const hubspotWebhook: WebhookAdapter = {
  signatureHeader: 'x-hubspot-signature-v3',
  identityProviders: [HUBSPOT_PROVIDER],
  configured: ({ config, extraSecrets }) => secretsOf(config, extraSecrets).length > 0,
  events(req) {
    return parseWebhookBody(body, req.json).map((e, i) => ({
      // HubSpot says eventId alone is "not guaranteed to be unique"; a retry repeats all three.
      eventId: `${e.eventId}:${e.objectId ?? ''}:${e.occurredAt}`,
      type: e.subscriptionType,
      occurredAt: new Date(e.occurredAt),
      routingKey: String(e.portalId),
      // The element exactly as sent (the parse above drops nothing, it only checks).
      payload: (req.json as unknown[])[i],
    }));
  },
  /**
   * X-HubSpot-Signature-v3 = base64(HMAC-SHA256(appSecret, method + URL + body + timestamp)),
   * compared in constant time under each secret; a good signature over a timestamp more than
   * five minutes off is a replay (StaleWebhookError). The legacy v1 signature, which signs no
   * timestamp, is never accepted.
   */
  verify(req, { config, extraSecrets }) {
    const secrets = secretsOf(config, extraSecrets);
    const signature = header(req.header('x-hubspot-signature-v3'));
    const timestamp = header(req.header('x-hubspot-request-timestamp'));
    if (secrets.length === 0 || !signature || !timestamp || !/^\d{1,15}$/.test(timestamp)) return false;
    let ok = false;
    for (const secret of secrets) {
      if (safeEqual(hubspotSignatureV3(secret, req.method, req.url, req.raw, timestamp), signature)) ok = true;
    }
    if (ok && Math.abs(Date.now() - Number(timestamp)) > MAX_SIGNATURE_AGE_MS) {
      throw new StaleWebhookError(
        `HubSpot signature timestamp ${new Date(Number(timestamp)).toISOString()} is outside the 5-minute window`,
      );
    }
    return ok;
  },
  change(payload) {
    const e: HubSpotEvent = parseWebhookBody(event, payload, 'body[]');
    const at = new Date(e.occurredAt);
    const type = e.subscriptionType;
    if (DELETE.has(type)) return { kind: 'delete', provider: HUBSPOT_PROVIDER, externalId: String(e.objectId), at };
    if (!READ.has(type)) return { kind: 'ignore', reason: `${type} events are not synced` };
    if (type === 'contact.propertyChange' && e.propertyName !== undefined && !MAPPED_PROPERTIES.has(e.propertyName)) {
      return { kind: 'ignore', reason: `contact property ${e.propertyName} is not synced` };
    }
    // A merge leaves one contact (the merged-away ids stop answering; a full sync removes them).
    const target = type === 'contact.merge' ? (e.newObjectId ?? e.primaryObjectId ?? e.objectId) : e.objectId;
    return { kind: 'fetch', provider: HUBSPOT_PROVIDER, externalId: String(target), at };
  },
};
