import type { RequestHandler } from 'express';
import { AppError, type ErrorDetail } from './errors';

/**
 * Deeper than this, a JSON value is refused. Nothing we store needs more, and unbounded
 * depth overflows the stack of every recursive walker after us (zod, Ajv, PostgreSQL's
 * jsonb parser: 5,000 levels were enough to answer 500).
 */
export const MAX_JSON_DEPTH = 32;

export interface WalkOptions {
  maxDepth?: number;
  /** Paths whose text the caller checks itself (their depth still counts). */
  skipText?: (path: string) => boolean;
  /**
   * Refuse a `__proto__` key: a request's JSON may hold one, but any object rebuilt from it
   * (zod's records) assigns it as the prototype, so the key and its value would vanish.
   */
  refuseProtoKeys?: boolean;
}

// Times we store and send: years 1 to 9999 in UTC. JavaScript writes year 0 as "0000" and
// later years as "+010000", which PostgreSQL refuses (and an invalid Date has no time at all).
const FIRST_TIME = Date.parse('0001-01-01T00:00:00.000Z');
const LAST_TIME = Date.parse('9999-12-31T23:59:59.999Z');
export const TIME_RANGE_MESSAGE = 'is a time outside the years 1 to 9999 (UTC), which cannot be stored';

/** A time (epoch milliseconds) PostgreSQL stores and JSON writes as four-digit years. */
export function isStorableTime(ms: number): boolean {
  return ms >= FIRST_TIME && ms <= LAST_TIME;
}

/**
 * The first thing in a parsed JSON value (keys included) that PostgreSQL cannot store or
 * that we refuse to walk: nesting past MAX_JSON_DEPTH, a NUL character (text and jsonb
 * reject it), an unpaired UTF-16 surrogate (jsonb rejects it; text columns would
 * silently get U+FFFD), or a Date outside the years 1 to 9999 (a CRM's record parsed into one).
 * `where` prefixes the path, as zod's details do ("body.metadata.x").
 */
export function findUnstorable(value: unknown, where: string, opts: WalkOptions = {}): ErrorDetail | undefined {
  return walk(value, where, 0, opts.maxDepth ?? MAX_JSON_DEPTH, opts.skipText, opts.refuseProtoKeys);
}

function walk(
  value: unknown,
  path: string,
  depth: number,
  maxDepth: number,
  skip?: (path: string) => boolean,
  refuseProto?: boolean,
): ErrorDetail | undefined {
  if (typeof value === 'string') return skip?.(path) ? undefined : textProblem(value, path);
  if (value instanceof Date) return isStorableTime(value.getTime()) ? undefined : { path, message: TIME_RANGE_MESSAGE };
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth >= maxDepth) return { path, message: `is nested deeper than ${maxDepth} levels` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = walk(value[i], join(path, String(i)), depth + 1, maxDepth, skip, refuseProto);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, v] of Object.entries(value)) {
    const at = join(path, key);
    if (refuseProto && key === '__proto__') return { path: at, message: 'is a key (__proto__) that cannot be kept' };
    const keyProblem = skip?.(at) ? undefined : textProblem(key, at);
    if (keyProblem) return { path: at, message: `has a key that ${keyProblem.message}` };
    const found = walk(v, at, depth + 1, maxDepth, skip, refuseProto);
    if (found) return found;
  }
  return undefined;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function textProblem(s: string, path: string): ErrorDetail | undefined {
  if (s.includes('\u0000')) return { path, message: 'contains a NUL character (\\u0000), which cannot be stored' };
  if (!s.isWellFormed()) return { path, message: 'contains an unpaired UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode' };
  return undefined;
}

/** Throws a 400 naming the first unstorable field of `value`. */
export function assertStorable(value: unknown, where: string, opts: WalkOptions = {}): void {
  const problem = findUnstorable(value, where, opts);
  if (problem) throw new AppError('invalid_data', 'unstorable_input', 'Request rejected: a value cannot be stored', [problem]);
}

/**
 * For JSON APIs, after the body parser: the query string and the body. `skipBodyText` is for
 * a route that checks the text of parts of the body itself (the push fails a bad user alone).
 */
export function rejectUnstorableInput(opts: { skipBodyText?: (path: string) => boolean } = {}): RequestHandler {
  return (req, _res, next) => {
    assertStorable(req.query, 'query');
    assertStorable(req.body, 'body', { skipText: opts.skipBodyText, refuseProtoKeys: true });
    next();
  };
}

/** Text echoed back from rejected input (and kept in run reports): made storable. */
export function storableText(s: string): string {
  return s.replace(/\0/g, '\uFFFD').toWellFormed();
}
