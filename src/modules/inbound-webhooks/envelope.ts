import { parseIsoTime } from '../../lib/time';
import { z } from 'zod';
import { verifyHmacHex } from '../../lib/crypto';
import type { InboundChange } from '../../providers/connector';
import type { WebhookAdapter } from '../../providers/provider';
import { checkPerson, parseWebhookBody } from '../../providers/webhook-payload';

/**
 * Seed 002's generic router: POST /api/webhook with { id?, type, source, payload }, signed in
 * `x-webhook-signature` (hex HMAC-SHA256 of the raw body with the integration's
 * webhookSecret). The integration is the one whose config has payload.locationId.
 */
export const envelopeBody = z.object({
  id: z.union([z.string().min(1).max(200), z.number().int()]).optional(),
  type: z.string().min(1).max(100),
  source: z.string().max(100).optional(),
  payload: z.looseObject({ locationId: z.string({ error: 'is required: it names the integration' }).min(1).max(200) }),
});

const text = z.string().max(10_000).nullish();
const time = z.string().max(100).nullish();

const contact = z.looseObject({
  id: z.union([z.string().min(1).max(200), z.number()]),
  name: text,
  firstName: text,
  lastName: text,
  email: text,
  phone: text,
  company: text,
  companyName: text,
  source: text,
  tags: z.array(z.string()).nullish(),
  createdAt: time,
  updatedAt: time,
  dateAdded: time,
  dateUpdated: time,
});

const message = z.looseObject({
  contactId: z.union([z.string().min(1).max(200), z.number()]),
  messageType: z.string().max(50),
  body: text,
  subject: text,
  from: text,
  to: text,
  direction: z.string().max(20).nullish(),
  status: text,
  timestamp: time,
});

const clean = (v: string | null | undefined) => (v && v.trim() ? v.trim() : null);
const when = (...values: (string | null | undefined)[]) => {
  for (const v of values) {
    const t = parseIsoTime(v);
    if (t) return t;
  }
  return null;
};

function change(type: string, payload: unknown, provider: string): InboundChange {
  switch (type) {
    case 'contact.created':
    case 'contact.updated': {
      const c = parseWebhookBody(contact, payload, 'body.payload');
      const first = clean(c.firstName);
      const last = clean(c.lastName);
      const email = clean(c.email)?.toLowerCase() ?? null;
      const person = {
        externalId: String(c.id),
        provider,
        email,
        name: clean(c.name) || [first, last].filter(Boolean).join(' ') || email || `${provider} contact ${c.id}`,
        firstName: first,
        lastName: last,
        phone: clean(c.phone),
        title: null,
        isActive: true,
        updatedAt: when(c.updatedAt, c.dateUpdated, c.createdAt, c.dateAdded),
        data: { companyName: clean(c.companyName ?? c.company), tags: c.tags ?? [], source: clean(c.source) },
      };
      return { kind: 'upsert', person: checkPerson(person, 'body.payload.email') };
    }
    case 'contact.deleted': {
      const c = parseWebhookBody(contact.pick({ id: true, updatedAt: true, dateUpdated: true }), payload, 'body.payload');
      return { kind: 'delete', provider, externalId: String(c.id), at: when(c.updatedAt, c.dateUpdated) };
    }
    case 'outbound.message': {
      const m = parseWebhookBody(message, payload, 'body.payload');
      const { contactId, locationId: _l, ...data } = m as typeof m & { locationId?: string };
      return { kind: 'activity', provider, externalId: String(contactId), activityType: type, data, occurredAt: when(m.timestamp) };
    }
    default:
      return { kind: 'ignore', reason: `event type ${type} is not handled` };
  }
}

export const envelopeWebhook: WebhookAdapter = {
  signatureHeader: 'x-webhook-signature',
  configured: ({ config }) => typeof config.webhookSecret === 'string' && config.webhookSecret.length > 0,
  events(req) {
    const b = parseWebhookBody(envelopeBody, req.json);
    // The shape of the change is checked at the door too: a bad payload is the sender's 400.
    change(b.type, b.payload, 'envelope');
    const p = b.payload as { updatedAt?: string; dateUpdated?: string; timestamp?: string };
    return [
      {
        eventId: b.id === undefined ? null : String(b.id),
        type: b.type,
        occurredAt: when(p.updatedAt, p.dateUpdated, p.timestamp),
        routingKey: b.payload.locationId,
        payload: req.json,
      },
    ];
  },
  verify(req, { config }) {
    const signature = req.header('x-webhook-signature');
    return signature !== undefined && typeof config.webhookSecret === 'string' && verifyHmacHex(req.raw, signature, [config.webhookSecret]);
  },
  change(payload, _type, provider) {
    const b = parseWebhookBody(envelopeBody, payload);
    return change(b.type, b.payload, provider);
  },
};
