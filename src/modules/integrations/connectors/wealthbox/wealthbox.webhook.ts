import { z } from 'zod';
import { verifyHmacHex } from '../../../../lib/crypto';
import type { WebhookAdapter } from '../connector';
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

export const wealthboxWebhook: WebhookAdapter = {
  signatureHeader: 'x-wealthbox-signature',
  identityProviders: [CONTACT_PROVIDER, STAFF_PROVIDER],
  verify: verifyHmacHex,
  parse(raw) {
    const b = parseWebhookBody(body, raw);
    const eventId = b.id === undefined ? null : String(b.id);
    const externalId = String(b.contact.id);
    if (b.event === 'contact.deleted') {
      const at = parseWealthboxTime(b.occurred_at) ?? parseWealthboxTime(b.contact.updated_at);
      return { eventId, type: b.event, change: { kind: 'delete', provider: CONTACT_PROVIDER, externalId, at } };
    }
    // The pull syncs Person contacts only; the same rule holds here.
    if (b.contact.type !== undefined && b.contact.type !== 'Person') {
      return { eventId, type: b.event, change: { kind: 'ignore', reason: `${b.contact.type} contacts are not synced` } };
    }
    const person = checkPerson(mapContact({ ...b.contact, id: Number(externalId) } as WealthboxContact), 'body.contact.email_addresses');
    return { eventId, type: b.event, change: { kind: 'upsert', person } };
  },
};
