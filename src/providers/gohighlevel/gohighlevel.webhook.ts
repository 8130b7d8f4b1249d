import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { InboundChange } from '../connector';
import { StaleWebhookError, type WebhookAdapter } from '../provider';
import { checkPerson, parseWebhookBody } from '../webhook-payload';
import { CONTACT_PROVIDER, mapContact, parseGhlTime, type GhlContact } from './gohighlevel.mapping';

/**
 * HighLevel's Ed25519 public key for `x-ghl-signature`, as its Webhook Integration Guide
 * (https://marketplace.gohighlevel.com/docs/webhook/WebhookIntegrationGuide) publishes it
 * (see fake-crm/gohighlevel/README.md). An integration's `webhookPublicKey` replaces it.
 */
export const HIGHLEVEL_WEBHOOK_PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
`;

export const SIGNATURE_HEADER = 'x-ghl-signature';
/** HighLevel's advice: refuse a `timestamp` older than 5 minutes (the future gets the same window, for clock skew). */
export const MAX_WEBHOOK_AGE_MS = 5 * 60_000;

const CONTACT_EVENTS = new Set(['ContactCreate', 'ContactUpdate', 'ContactDelete']);

const text = z.string().max(10_000).nullish();
/** A time HighLevel writes (ISO 8601); unparseable is a shape error, not "no time". */
const time = z
  .string()
  .max(100)
  .refine((v) => parseGhlTime(v) !== null, 'must be an ISO 8601 time')
  .nullish();

/** What every HighLevel webhook has: `type` (required), the location (routing key), webhookId and timestamp. */
const envelope = z.looseObject({
  type: z.string().min(1).max(100),
  locationId: z.string().min(1).max(200).optional(),
  webhookId: z.string().min(1).max(200).nullish(),
  timestamp: time,
});

/**
 * ContactCreate / ContactUpdate / ContactDelete: flat JSON with the contact's fields
 * (docs-repo `docs/webhook events/Contact*.md`), every field we read typed. Fields without a
 * value are absent; null is accepted too.
 */
const contactEvent = envelope.extend({
  locationId: z.string().min(1).max(200),
  id: z.string().min(1).max(200),
  appId: text,
  versionId: text,
  firstName: text,
  lastName: text,
  name: text,
  email: text,
  phone: text,
  companyName: text,
  source: text,
  type: z.string().min(1).max(100),
  address1: text,
  city: text,
  state: text,
  country: text,
  postalCode: text,
  website: text,
  dateOfBirth: text,
  assignedTo: text,
  dnd: z.boolean().nullish(),
  tags: z.array(z.string().max(1000)).max(1000).nullish(),
  customFields: z
    .array(z.looseObject({ id: z.string().max(200) }))
    .max(1000)
    .nullish(),
  attachments: z.array(z.unknown()).max(1000).nullish(),
  dateAdded: time,
  dateUpdated: time,
});

function parse(body: unknown) {
  const base = parseWebhookBody(envelope, body);
  return CONTACT_EVENTS.has(base.type) ? { base, contact: parseWebhookBody(contactEvent, body) } : { base, contact: null };
}

/** A body in our terms: upsert (Create/Update), delete (Delete), ignore (any other type). */
function toChange(body: unknown): InboundChange {
  const { base, contact } = parse(body);
  if (!contact) return { kind: 'ignore', reason: `HighLevel event type ${base.type} is not handled` };
  const at = parseGhlTime(contact.timestamp) ?? parseGhlTime(contact.dateUpdated);
  if (contact.type === 'ContactDelete') return { kind: 'delete', provider: CONTACT_PROVIDER, externalId: contact.id, at };
  // `type` is the event's name here, not the contact's kind; mapContact does not read it.
  const person = mapContact(contact as GhlContact, at ?? parseGhlTime(contact.dateAdded));
  return { kind: 'upsert', person: checkPerson(person, 'body.email') };
}

// Parsed public keys by their text (few distinct ones: HighLevel's, and tests' own).
const keys = new Map<string, KeyObject | null>();

/** An Ed25519 public key from PEM (or the one-line base64 SPKI HighLevel prints), or null. */
function ed25519Key(text: string): KeyObject | null {
  if (keys.has(text)) return keys.get(text) ?? null;
  let key: KeyObject | null = null;
  try {
    const trimmed = text.trim();
    key = trimmed.startsWith('-----BEGIN')
      ? createPublicKey(trimmed)
      : createPublicKey({ key: Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') key = null;
  } catch {
    key = null;
  }
  if (keys.size >= 100) keys.clear();
  keys.set(text, key);
  return key;
}

/**
 * HighLevel's native contact webhooks (a marketplace app's webhook URL), at
 * POST /api/webhooks/gohighlevel: routed by `locationId`, deduplicated by `webhookId`, signed
 * by HighLevel with Ed25519 over the raw body in `x-ghl-signature` (no shared secret). The
 * legacy RSA `x-wh-signature` is not accepted: HighLevel stopped sending it on July 1, 2026.
 */
export const goHighLevelWebhook: WebhookAdapter = {
  signatureHeader: SIGNATURE_HEADER,
  identityProviders: [CONTACT_PROVIDER],
  events(req) {
    const { base, contact } = parse(req.json);
    // Checked whole at the door (emails included), so the inbox worker never meets a bad body.
    if (contact) toChange(req.json);
    return [
      {
        eventId: base.webhookId ?? null,
        type: base.type,
        occurredAt: parseGhlTime(base.timestamp) ?? parseGhlTime(contact?.dateUpdated),
        routingKey: base.locationId ?? null,
        payload: req.json,
      },
    ];
  },
  verify(req, { config }) {
    const signature = req.header(SIGNATURE_HEADER)?.trim();
    if (!signature || signature === 'N/A') return false;
    const configured =
      typeof config.webhookPublicKey === 'string' && config.webhookPublicKey.trim() !== '' ? config.webhookPublicKey : null;
    const key = ed25519Key(configured ?? HIGHLEVEL_WEBHOOK_PUBLIC_KEY_PEM);
    if (!key) return false;
    const sig = Buffer.from(signature, 'base64');
    // Ed25519 signatures are 64 bytes; anything else is not one (and base64 decoding is lenient).
    if (sig.length !== 64) return false;
    let ok = false;
    try {
      ok = verifySignature(null, req.raw, key, sig);
    } catch {
      ok = false;
    }
    if (!ok) return false;
    // Only a signed timestamp is worth checking: the signature covers the body, timestamp included.
    const ts = (req.json as { timestamp?: unknown } | null)?.timestamp;
    const at = parseGhlTime(ts);
    if (at === null) throw new StaleWebhookError('HighLevel webhook has no timestamp: it could be replayed at any time');
    const skew = Date.now() - at.getTime();
    if (Math.abs(skew) > MAX_WEBHOOK_AGE_MS) {
      throw new StaleWebhookError(
        `HighLevel webhook timestamp ${at.toISOString()} is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? 'old' : 'in the future'}; at most ${MAX_WEBHOOK_AGE_MS / 1000} s allowed`,
      );
    }
    return true;
  },
  change(payload) {
    return toChange(payload);
  },
};
