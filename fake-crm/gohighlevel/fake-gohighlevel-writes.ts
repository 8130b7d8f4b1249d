import { FakeApiError } from '../shared/fake-server';

/**
 * The contact bodies HighLevel's write endpoints take (fake-crm/gohighlevel/README.md,
 * "Writes"): which properties each accepts (it refuses any other with a 422, NestJS's
 * whitelist), their types, and how a body changes a contact. The routes are in
 * fake-gohighlevel.ts.
 */

/** The contact as these helpers change it (FakeGhlContact's writable part). */
export interface WritableContact {
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  companyName: string | null;
  source: string | null;
  tags: string[];
  dnd: boolean;
  country: string | null;
  timezone: string | null;
  address1: string | null;
  city: string | null;
  state: string | null;
  postalCode: string | null;
  website: string | null;
  dateOfBirth: string | null;
  assignedTo: string | null;
  customFields: { id: string; value: string | number | string[] }[];
}

const TEXT = ['firstName', 'lastName', 'name', 'email', 'phone', 'address1', 'city', 'state', 'postalCode', 'website', 'timezone'];
const MORE_TEXT = ['source', 'country', 'assignedTo', 'dateOfBirth', 'companyName'];
const OBJECTS = ['dndSettings', 'inboundDndSettings'];

/** UpsertContactDto's properties (apps/contacts.json). */
export const UPSERT_PROPERTIES = new Set([
  ...TEXT,
  ...MORE_TEXT,
  ...OBJECTS,
  'locationId',
  'gender',
  'dnd',
  'tags',
  'customFields',
  'createNewIfDuplicateAllowed',
]);
/**
 * UpdateContactDto's, plus companyName, which PUT accepts though the DTO omits it; locationId
 * and gender are refused (GoHighLevel/highlevel-api-docs issues #313 and #314).
 */
export const UPDATE_PROPERTIES = new Set([...TEXT, ...MORE_TEXT, ...OBJECTS, 'dnd', 'tags', 'customFields']);

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const unprocessable = (messages: string[]) => new FakeApiError(422, { statusCode: 422, message: messages, error: 'Unprocessable Entity' });

/** class-validator's messages for the body, all at once, as NestJS answers them (422). */
export function checkContactBody(body: Record<string, unknown>, allowed: ReadonlySet<string>): void {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (!allowed.has(key)) problems.push(`property ${key} should not exist`);
    else if ((TEXT.includes(key) || MORE_TEXT.includes(key)) && value !== null && typeof value !== 'string')
      problems.push(`${key} must be a string`);
    else if (key === 'email' && typeof value === 'string' && !EMAIL.test(value)) problems.push('email must be an email');
    else if (key === 'tags' && (!Array.isArray(value) || value.some((t) => typeof t !== 'string')))
      problems.push('tags must be an array of strings');
    else if (key === 'dnd' && typeof value !== 'boolean') problems.push('dnd must be a boolean value');
  }
  if (problems.length) throw unprocessable(problems);
}

/**
 * Sets the body's fields on a contact. `name` alone (no firstName/lastName) is split at the
 * first space (unconfirmed: how HighLevel divides it); gender is accepted and dropped, as
 * HighLevel drops it (issue #313).
 */
export function applyContactBody(c: WritableContact, body: Record<string, unknown>): void {
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  for (const key of [
    'firstName',
    'lastName',
    'email',
    'phone',
    'companyName',
    'source',
    'country',
    'timezone',
    'address1',
    'city',
    'state',
    'postalCode',
    'website',
    'dateOfBirth',
    'assignedTo',
  ] as const) {
    if (key in body) c[key] = text(body[key]);
  }
  if (typeof body.name === 'string' && !('firstName' in body) && !('lastName' in body)) {
    const [first, ...rest] = body.name.trim().split(/\s+/);
    c.firstName = first || null;
    c.lastName = rest.join(' ') || null;
  }
  if (Array.isArray(body.tags)) c.tags = [...(body.tags as string[])];
  if (typeof body.dnd === 'boolean') c.dnd = body.dnd;
  if (Array.isArray(body.customFields)) c.customFields = body.customFields as WritableContact['customFields'];
}

/** Phone numbers compared by their digits (HighLevel stores E.164; "+1 555-0100" is the same number). */
export const samePhone = (a: string | null, b: string | null) => !!a && !!b && a.replace(/\D/g, '') === b.replace(/\D/g, '');
export const sameEmail = (a: string | null, b: string | null) => !!a && !!b && a.toLowerCase() === b.toLowerCase();
