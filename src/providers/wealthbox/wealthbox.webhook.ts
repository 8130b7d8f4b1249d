import { z } from 'zod';
import { verifyHmacHex } from '../../lib/crypto';
import type { InboundChange } from '../connector';
import type { WebhookAdapter } from '../provider';
import { checkPerson, parseWebhookBody } from '../webhook-payload';
import { CONTACT_PROVIDER, STAFF_PROVIDER, mapContact, type WealthboxContact } from './wealthbox.mapping';
import { parseWealthboxTime } from './wealthbox.time';

/**
 * Wealthbox has no webhooks of its own; seed 000's endpoint takes events relayed by the
 * customer's middleware, in this shape:
 *   { "id": "evt-1", "event": "contact.updated", "occurred_at": "...", "contact": { ...as GET /contacts returns... } }
 * `id` is optional (without it the body's hash deduplicates); a deletion needs only contact.id.
 */
const text = z.string().max(10_000).nullish();
const entries = z
  .array(z.looseObject({ address: text, principal: z.boolean().nullish(), kind: text }))
  .max(100)
  .optional();

const body = z.object({
  id: z.union([z.string().min(1).max(200), z.number().int()]).optional(),
  event: z.enum(['contact.created', 'contact.updated', 'contact.deleted']),
  occurred_at: z.string().max(100).optional(),
  contact: z.looseObject({
    id: z.union([z.number().int().positive(), z.string().regex(/^\d+$/, 'must be a Wealthbox id')]),
    type: z.string().max(50).optional(),
    updated_at: text,
    created_at: text,
    // Every field the mapping reads, with its type: a relayed body is not a Wealthbox answer.
    prefix: text,
    first_name: text,
    middle_name: text,
    last_name: text,
    name: text,
    job_title: text,
    company_name: text,
    contact_type: text,
    status: text,
    external_unique_id: text,
    household: z.looseObject({ id: z.number().optional(), name: text, title: text }).nullish(),
    tags: z
      .array(z.looseObject({ id: z.number().optional(), name: text }))
      .max(1000)
      .optional(),
    email_addresses: entries,
    phone_numbers: entries,
  }),
});

/** hex HMAC-SHA256 of the raw body with the integration's webhookSecret (seed 000). */
export const wealthboxWebhook: WebhookAdapter = {
  signatureHeader: 'x-wealthbox-signature',
  identityProviders: [CONTACT_PROVIDER, STAFF_PROVIDER],
  events(req) {
    const b = parseWebhookBody(body, req.json);
    // The change is checked at the door too (a malformed email is the sender's 400).
    changeOf(b);
    const occurredAt = parseWealthboxTime(b.occurred_at) ?? parseWealthboxTime(b.contact.updated_at);
    // One event a request; the path (or seed 000's default route) names the integration.
    return [{ eventId: b.id === undefined ? null : String(b.id), type: b.event, occurredAt, routingKey: null, payload: req.json }];
  },
  configured: ({ config, extraSecrets }) => typeof config.webhookSecret === 'string' || extraSecrets.length > 0,
  verify(req, { config, extraSecrets }) {
    const secrets = [config.webhookSecret, ...extraSecrets].filter((s): s is string => typeof s === 'string' && s.length > 0);
    const signature = req.header('x-wealthbox-signature');
    return signature !== undefined && verifyHmacHex(req.raw, signature, secrets);
  },
  change: (payload) => changeOf(parseWebhookBody(body, payload)),
};

function changeOf(b: z.infer<typeof body>): InboundChange {
  const externalId = String(b.contact.id);
  if (b.event === 'contact.deleted') {
    const at = parseWealthboxTime(b.occurred_at) ?? parseWealthboxTime(b.contact.updated_at);
    return { kind: 'delete', provider: CONTACT_PROVIDER, externalId, at };
  }
  // The pull syncs Person contacts only; the same rule holds here.
  if (b.contact.type !== undefined && b.contact.type !== 'Person') {
    return { kind: 'ignore', reason: `${b.contact.type} contacts are not synced` };
  }
  const person = checkPerson(mapContact({ ...b.contact, id: Number(externalId) } as WealthboxContact), 'body.contact.email_addresses');
  return { kind: 'upsert', person };
}
