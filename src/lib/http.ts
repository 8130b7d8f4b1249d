import express, { type Request, type RequestHandler, type Response } from 'express';
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { AppError } from './errors';
import { isStorableTime } from './input-guard';

/**
 * express.json that refuses a body which is not UTF-8: decoded as it is, each bad byte would be
 * stored as U+FFFD, and the caller would never learn the text was changed.
 */
export function jsonBody(limit: string | number): RequestHandler {
  return express.json({
    limit,
    verify: (_req, _res, buf) => {
      if (!isUtf8(buf)) throw Object.assign(new Error('The request body is not valid UTF-8'), { status: 400, type: 'encoding.invalid_utf8' });
    },
  });
}

/** Parses one part of a request; failures name every failing field under `where`. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params' | 'headers'): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw AppError.validation(result.error.issues, where);
  return result.data;
}

/** Our ids are PostgreSQL int4: anything past its range is a 400, not a database error. */
export const DB_ID_MAX = 2_147_483_647;
const tooBig = `must be at most ${DB_ID_MAX}`;
/** An id in a JSON body. */
export const dbId = z.number().int('must be an integer').positive('must be a positive integer').max(DB_ID_MAX, tooBig);
/** An id in a path or query string (text). */
export const dbIdText = z.coerce.number().int('must be an integer').positive('must be a positive integer').max(DB_ID_MAX, tooBig);

export const idParams = z.object({ id: dbIdText }).strict();

/** Query strings arrive as text; "true"/"false" only, anything else is an error. */
export const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

export const paginationQuery = {
  page: z.coerce.number().int().min(1, 'must be 1 or more').max(1_000_000).default(1),
  limit: z.coerce.number().int().min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').default(10),
};

export interface Pagination {
  page: number;
  limit: number;
  total: number;
  totalPages: number;
}

export function paginated<T>(res: Response, data: T[], page: number, limit: number, total: number): void {
  const pagination: Pagination = { page, limit, total, totalPages: Math.ceil(total / limit) };
  res.json({ data, pagination });
}

/** Prisma's `contains` passes LIKE wildcards through; a search for "%" must match a literal %. */
export function escapeLike(term: string): string {
  return term.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The service's address as callers reach it: PUBLIC_BASE_URL when set (behind a proxy), else
 * this request's scheme and Host.
 */
export function publicOrigin(req: Request, publicBaseUrl: string | undefined): string {
  return publicBaseUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/**
 * An ISO 8601 time with an offset, within the years 1 to 9999 once in UTC (one PostgreSQL
 * stores: "0001-01-01T00:00:00+01:00" is year 0 there, a 500 before this check). A text that
 * is no time at all is the format check's to name, once.
 */
export const isoTime = (error = 'must be an ISO 8601 time such as 2026-11-22T10:00:00Z') =>
  z.iso
    .datetime({ offset: true, error })
    .refine((v) => Number.isNaN(Date.parse(v)) || isStorableTime(Date.parse(v)), 'must be a time within the years 1 to 9999 (UTC)');
