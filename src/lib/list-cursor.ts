import { createHash } from 'node:crypto';
import type { Response } from 'express';
import { z } from 'zod';
import { AppError } from './errors';
import { isStorableTime } from './input-guard';
import { DB_ID_MAX } from './http';

/** Where a keyset page resumes: the last row's sort value (null for a null one) and its id. */
export interface CursorPosition {
  value: string | number | null;
  id: number;
}

/** One page of a list. `totalExact` false: `total` is the count limit and there are more. */
export interface ListPage<T> {
  rows: T[];
  total: number;
  totalExact: boolean;
  /** The cursor of the page after this one; null on the last page. */
  nextCursor: string | null;
}

/** The OpenAPI answer of a list with capped totals and cursors. */
export const cursorList = (what: string) => ({
  200:
    `{ data: [${what}], pagination: { page, limit, total, totalPages, totalRelation, nextCursor } }. ` +
    'totalRelation "eq": total is exact; "gte": counting stopped at LIST_EXACT_COUNT_LIMIT (default 1,000) and there are more. ' +
    'nextCursor (null on the last page) is sent back as `cursor`, instead of `page`, for the next page; it is bound to the sort, ' +
    'filters and organization it was made for (400 otherwise). A page read by cursor answers page: null.',
});

/** `cursor` in a list query. `page` has no default here: a request naming both is refused. */
export const cursorQuery = {
  page: z.coerce
    .number()
    .int()
    .min(1, 'must be 1 or more')
    .max(1_000_000)
    .optional()
    .describe('Page number (1 when absent); not with cursor'),
  cursor: z
    .string()
    .min(1)
    .max(8000)
    .optional()
    .describe("The previous page's pagination.nextCursor: the next page, as fast at any depth; not with page"),
};

/**
 * The list a cursor belongs to: its kind, scope (the organization a key is limited to),
 * filters and sort, hashed. A cursor is only accepted by the same list.
 */
export function listFingerprint(kind: string, filter: object): string {
  const canonical = JSON.stringify([
    kind,
    Object.entries(filter)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/*
 * base64url JSON, not signed: a cursor holds only a position the holder has already seen,
 * and every page is read with the list's own filters and scope, so an edited cursor can only
 * move within that list, never into another organization's rows.
 */
export function encodeCursor(fingerprint: string, position: CursorPosition): string {
  return Buffer.from(JSON.stringify({ l: fingerprint, v: position.value, i: position.id })).toString('base64url');
}

// Ids are int4 and text cannot hold NUL: either would be a database error, not a 400.
const payload = z
  .object({
    l: z.string(),
    v: z.union([
      z
        .string()
        .max(5000)
        .refine((v) => !v.includes('\u0000')),
      z.number(),
      z.null(),
    ]),
    i: z.number().int().positive().max(DB_ID_MAX),
  })
  .strict();

/**
 * A time in a cursor: one toISOString made (2026-02-30 and 2026-13-01 are not) that PostgreSQL
 * stores (year 0000, 1 BC to JavaScript, it refuses): an edited cursor must not reach it.
 */
export function isCursorTime(v: string | number | null): boolean {
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v)) return false;
  // Month 13 is no date at all (toISOString would throw); February 30 becomes March 2.
  const t = Date.parse(v);
  return isStorableTime(t) && new Date(t).toISOString() === v;
}

/** The position in a cursor; 400 naming query.cursor when it is not one of this list's. */
export function decodeCursor(cursor: string, fingerprint: string, valueIsValid: (v: string | number | null) => boolean): CursorPosition {
  let decoded: unknown;
  try {
    decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
  } catch {
    decoded = undefined;
  }
  const parsed = payload.safeParse(decoded);
  if (!parsed.success || !valueIsValid(parsed.data.v)) {
    throw new AppError('invalid_data', 'invalid_cursor', 'The cursor is not one this API made', [
      { path: 'query.cursor', message: 'is not a cursor from a previous page of this list' },
    ]);
  }
  if (parsed.data.l !== fingerprint) {
    throw new AppError('invalid_data', 'cursor_mismatch', 'The cursor was made for another list', [
      { path: 'query.cursor', message: 'was made for another sort, filter or organization; start again without it' },
    ]);
  }
  return { value: parsed.data.v, id: parsed.data.i };
}

/** `page` and `cursor` are two ways to say where a list starts; one at a time. */
export function assertOnePosition(q: { page?: number; cursor?: string }): void {
  if (q.page !== undefined && q.cursor !== undefined) {
    throw new AppError('invalid_data', 'validation_failed', 'Request validation failed', [
      { path: 'query.cursor', message: 'cannot be combined with page; send one of them' },
    ]);
  }
}

/**
 * `{ data, pagination }` as every list answers, plus `totalRelation` ("eq": total is exact;
 * "gte": at least total, counting stopped there) and `nextCursor`. A page read by cursor has
 * no page number (`page: null`).
 */
export function sendListPage<T>(
  res: Response,
  result: ListPage<T>,
  q: { page?: number; cursor?: string; limit: number },
  /** Fields of the answer beside `data` and `pagination` (the push queue's counts). */
  extra: Record<string, unknown> = {},
): void {
  res.json({
    data: result.rows,
    ...extra,
    pagination: {
      page: q.cursor === undefined ? (q.page ?? 1) : null,
      limit: q.limit,
      total: result.total,
      totalPages: Math.ceil(result.total / q.limit),
      totalRelation: result.totalExact ? 'eq' : 'gte',
      nextCursor: result.nextCursor,
    },
  });
}

/** How a caller asks for one page of a list read newest first by id. */
export interface NewestFirstQuery {
  page?: number;
  cursor?: string;
  limit: number;
}

/** Reads for newestFirstPage: the rows matching `f` (ids below `below` when given), and a count that stops at `take`. */
export interface NewestFirstReads<F, T> {
  find(f: F, at: { below?: number; skip: number; take: number }): Promise<T[]>;
  count(f: F, take: number): Promise<number>;
}

/**
 * A page of a list read newest first by id (the operational lists: events, deliveries, runs,
 * queues), which grow without bound: the total is counted up to `countLimit` (past it the
 * answer says "gte"), and a cursor resumes below the page's last id, as fast at any depth.
 * The cursor is bound to `kind` and `filter` (which must include the caller's scope).
 */
export async function newestFirstPage<F extends object, T extends { id: number }>(
  kind: string,
  filter: F,
  q: NewestFirstQuery,
  countLimit: number,
  reads: NewestFirstReads<F, T>,
): Promise<ListPage<T>> {
  assertOnePosition(q);
  const fingerprint = listFingerprint(kind, filter);
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, fingerprint, (v) => v === null);
  // One row more than the page says whether another follows.
  const [found, counted] = await Promise.all([
    reads.find(filter, { below: after?.id, skip: after ? 0 : ((q.page ?? 1) - 1) * q.limit, take: q.limit + 1 }),
    reads.count(filter, countLimit + 1),
  ]);
  const rows = found.slice(0, q.limit);
  const exact = counted <= countLimit;
  const last = rows[rows.length - 1];
  return {
    rows,
    total: exact ? counted : countLimit,
    totalExact: exact,
    nextCursor: found.length > q.limit && last ? encodeCursor(fingerprint, { value: null, id: last.id }) : null,
  };
}
