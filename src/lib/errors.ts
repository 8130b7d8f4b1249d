import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from 'winston';

/** What went wrong, in domain terms; one function maps it to an HTTP status. */
export type ErrorKind =
  | 'invalid_data'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

const statusByKind: Record<ErrorKind, number> = {
  invalid_data: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export interface ErrorDetail {
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    public readonly kind: ErrorKind,
    public readonly code: string,
    message: string,
    public readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): number {
    return statusByKind[this.kind];
  }

  static notFound(what: string, id?: string | number): AppError {
    return new AppError(
      'not_found',
      `${what.toLowerCase().replace(/\s+/g, '_')}_not_found`,
      id === undefined ? `${what} not found` : `${what} ${id} not found`,
    );
  }

  static validation(issues: z.core.$ZodIssue[], where?: string): AppError {
    return new AppError('invalid_data', 'validation_failed', 'Request validation failed', zodDetails(issues, where));
  }
}

export function zodDetails(issues: z.core.$ZodIssue[], where?: string): ErrorDetail[] {
  return issues.map((i) => ({
    path: [where, ...i.path.map(String)].filter((p) => p !== undefined && p !== '').join('.') || (where ?? ''),
    message: i.message,
  }));
}

/**
 * Errors from Express's router and body-parser carry a 4xx `status` (a path that is not
 * valid percent-encoding, a body that does not inflate, an unknown encoding or charset):
 * they are the client's mistake and leave as a 4xx naming it, never as a 500.
 */
function fromHttpError(err: unknown): AppError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as {
    type?: string;
    limit?: number;
    status?: unknown;
    statusCode?: unknown;
    code?: string;
    message?: string;
    name?: string;
  };
  switch (e.type) {
    case 'entity.parse.failed':
      return new AppError('invalid_data', 'malformed_json', 'Request body is not valid JSON');
    case 'entity.too.large':
      return new AppError('payload_too_large', 'payload_too_large', `Request body exceeds the limit of ${e.limit} bytes`);
    case 'encoding.unsupported':
      return new AppError(
        'unsupported_media_type',
        'unsupported_encoding',
        `${e.message}; send the body uncompressed, or as gzip, deflate or br`,
      );
    case 'encoding.invalid_utf8':
      return new AppError('invalid_data', 'malformed_body', 'The request body is not valid UTF-8; send JSON as UTF-8');
    case 'charset.unsupported':
      return new AppError('unsupported_media_type', 'unsupported_charset', `${e.message}; send JSON as UTF-8`);
    default:
      break;
  }
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  if (e.name === 'URIError') return new AppError('invalid_data', 'malformed_path', 'The request path is not valid percent-encoding');
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
    return new AppError(
      'invalid_data',
      'malformed_body',
      'The request body does not match its Content-Encoding (it could not be decompressed)',
    );
  }
  if (status === 413) return new AppError('payload_too_large', 'payload_too_large', 'Request body is too large');
  if (status === 415) return new AppError('unsupported_media_type', 'unsupported_media_type', e.message ?? 'Unsupported media type');
  return new AppError('invalid_data', 'bad_request', e.message ?? 'Bad request');
}

/** The unique index a write ran into (Prisma's P2002, or PostgreSQL's 23505), if it is one. */
export function uniqueIndexOf(err: unknown): string | undefined {
  const e = err as {
    code?: unknown;
    meta?: { target?: unknown; driverAdapterError?: { cause?: { constraint?: { index?: unknown } } } };
    constraint?: unknown;
  } | null;
  if (e?.code === '23505') return typeof e.constraint === 'string' ? e.constraint : undefined;
  if (e?.code !== 'P2002') return undefined;
  const index = e.meta?.driverAdapterError?.cause?.constraint?.index ?? e.meta?.target;
  return typeof index === 'string' ? index : Array.isArray(index) ? index.join(',') : '';
}

/** A foreign key refused the write (Prisma's P2003, or PostgreSQL's 23503 through raw SQL). */
export function isForeignKeyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'P2003' || code === '23503';
}

/**
 * Prisma's known errors carry a code. A unique violation that slipped past a check is a
 * conflict; so is a foreign key's refusal: what the change refers to was deleted meanwhile (a
 * sync started as its integration was deleted), or what it deletes gained a reference.
 */
function fromPrisma(err: unknown): AppError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'P2002') return new AppError('conflict', 'conflict', 'A record with the same unique value already exists');
  if (code === 'P2025') return new AppError('not_found', 'not_found', 'Record not found');
  if (isForeignKeyError(err))
    return new AppError(
      'conflict',
      'reference_changed',
      'A record this change refers to was deleted meanwhile, or one it removes is still referred to; nothing was written',
    );
  return undefined;
}

export function errorBody(err: AppError, requestId: string, hideMessage: boolean) {
  return {
    success: false as const,
    error: hideMessage && err.kind === 'internal' ? 'Internal server error' : err.message,
    code: err.code,
    ...(err.details ? { details: err.details } : {}),
    requestId,
    timestamp: new Date().toISOString(),
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', 'route_not_found', `No route for ${req.method} ${req.path}`));
};

/** The one error handler: every failure leaves as the same JSON shape. */
export function errorHandler(logger: Logger, hideInternalMessages: boolean): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const appError =
      err instanceof AppError
        ? err
        : (fromHttpError(err) ??
          fromPrisma(err) ??
          new AppError('internal', 'internal_error', err instanceof Error ? err.message : String(err)));
    const requestId = String(res.locals.requestId ?? '');
    if (appError.status >= 500) {
      logger.error('request failed', {
        requestId,
        method: req.method,
        path: req.path,
        err: err instanceof Error ? err.stack : String(err),
      });
    } else {
      logger.info('request rejected', { requestId, code: appError.code, status: appError.status });
    }
    if (res.headersSent) return;
    res.status(appError.status).json(errorBody(appError, requestId, hideInternalMessages));
  };
}
