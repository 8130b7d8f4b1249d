import { FakeApiError } from '../shared/fake-server';

/**
 * The write half of the fake Zoho CRM (fake-crm/zoho/README.md, "Writes"): what a record in a
 * write body may hold and how Zoho answers each record. The routes live in fake-zoho.ts.
 */

/** Records one insert, update, upsert or delete call takes (the docs' limit). */
export const MAX_WRITE_RECORDS = 100;

/**
 * Writable standard Contacts fields the fake stores, with their maximum length (unconfirmed:
 * Zoho's layouts say "single line" 255 unless noted; Description is multi-line). Names not
 * here and not declared custom are ignored, as Zoho ignores keys it has no field for
 * (unconfirmed).
 */
export const WRITABLE: Readonly<Record<string, number>> = {
  First_Name: 40,
  Last_Name: 80,
  Email: 100,
  Secondary_Email: 100,
  Phone: 30,
  Mobile: 30,
  Home_Phone: 30,
  Other_Phone: 30,
  Fax: 30,
  Asst_Phone: 30,
  Assistant: 40,
  Title: 100,
  Department: 100,
  Description: 32_000,
  Lead_Source: 120,
  Mailing_Street: 250,
  Mailing_City: 100,
  Mailing_State: 100,
  Mailing_Zip: 30,
  Mailing_Country: 100,
  Other_Street: 250,
  Other_City: 100,
  Other_State: 100,
  Other_Zip: 30,
  Other_Country: 100,
  Skype_ID: 50,
  Twitter: 50,
};
const EMAIL_FIELDS = new Set(['Email', 'Secondary_Email']);
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CUSTOM_TEXT_MAX = 255;

export type ZohoOutcome = Record<string, unknown>;

/** One record's error, as Zoho puts it in `data`. */
export const recordError = (code: string, message: string, details: Record<string, unknown>): ZohoOutcome => ({
  code,
  details,
  message,
  status: 'error',
});

/** A whole-request error (not per record): `{code, details, message, status}` at the top. */
export const requestError = (status: number, code: string, message: string, details: Record<string, unknown> = {}) =>
  new FakeApiError(status, { code, details, message, status: 'error' });

/** 200 when every record succeeded, 400 when none did, 207 (Multi-Status) for a mix. */
export function batchStatus(outcomes: ZohoOutcome[]): number {
  const ok = outcomes.filter((o) => o.status === 'success').length;
  return ok === outcomes.length ? 200 : ok === 0 ? 400 : 207;
}

/** A write body's `data`: an array of 1 to 100 objects; anything else is the whole request's 400. */
export function recordsOf(body: unknown): Record<string, unknown>[] {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length === 0) {
    throw requestError(400, 'MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'data', json_path: '$.data' });
  }
  // Unconfirmed body for more than 100 records.
  if (data.length > MAX_WRITE_RECORDS) {
    throw requestError(400, 'LIMIT_EXCEEDED', 'the record limit has been exceeded', { limit: MAX_WRITE_RECORDS, api_name: 'data' });
  }
  return data.map((r) => (r && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : {}));
}

/** A JSON body as the fake received it (text), or Zoho's 400 for one that is not JSON (unconfirmed body). */
export function parseBody(raw: unknown): unknown {
  const text = typeof raw === 'string' ? raw : '';
  try {
    return JSON.parse(text);
  } catch {
    throw requestError(400, 'INVALID_DATA', 'body', {});
  }
}

/**
 * The fields of record `i` the fake keeps (text or null; Account_Name left for the caller),
 * or the record's INVALID_DATA outcome: a wrong type, an email that is none, too long.
 */
export function checkFields(
  record: Record<string, unknown>,
  i: number,
  custom: ReadonlySet<string>,
): { fields: Record<string, unknown> } | { error: ZohoOutcome } {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(record)) {
    if (name === 'id' || name === 'Account_Name') continue;
    const max = WRITABLE[name] ?? (custom.has(name) ? CUSTOM_TEXT_MAX : undefined);
    if (max === undefined) continue;
    const path = `$.data[${i}].${name}`;
    if (value === null) {
      out[name] = null;
      continue;
    }
    const invalid = (details: Record<string, unknown>) => ({
      error: recordError('INVALID_DATA', 'invalid data', { ...details, api_name: name, json_path: path }),
    });
    if (typeof value !== 'string') return invalid({ expected_data_type: 'text' });
    if (EMAIL_FIELDS.has(name) && !EMAIL.test(value)) return invalid({ expected_data_type: 'email' });
    if (value.length > max) return invalid({ maximum_length: max });
    out[name] = value;
  }
  return { fields: out };
}
