import type { z } from 'zod';
import { zodDetails } from '../lib/errors';
import { WebhookPayloadError, type PersonRecord } from './connector';
import { isEmail } from '../lib/email';

/** Parses (part of) a webhook body with `schema`; every problem is named, under `where`. */
export function parseWebhookBody<S extends z.ZodType>(schema: S, body: unknown, where = 'body'): z.infer<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw new WebhookPayloadError(zodDetails(result.error.issues, where));
  return result.data;
}

/** The pull's rule, at the door: a person with a malformed email is refused, not stored. */
export function checkPerson(person: PersonRecord, path: string): PersonRecord {
  if (person.email !== null && !isEmail(person.email)) {
    throw new WebhookPayloadError([{ path, message: `"${person.email}" is not an email address` }]);
  }
  return person;
}
