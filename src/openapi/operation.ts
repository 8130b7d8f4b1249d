import type { z } from 'zod';
import { idParams } from '../lib/http';

export type Auth = 'apiKey' | 'admin' | 'internal' | 'signature' | 'metrics' | 'none';

/**
 * One operation, described with the same zod schemas its handler parses with. Each router
 * exports its operations beside its handlers, with paths as the router declares them; the
 * composition root prefixes them with where it mounts the router (mountedAt).
 */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Express style: /:id, or /api/users/:id once mounted. */
  path: string;
  tag: string;
  summary: string;
  auth: Auth;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** Status → what it means; the error statuses share the Error schema. */
  responses: Record<number, string>;
  /** The body is raw bytes signed by the sender (inbound webhooks): how, and the headers carrying it. */
  signed?: { how: string; headers: { name: string; required: boolean; description: string }[] };
}

export const ok = (what: string) => ({ 200: what });
export const created = (what: string) => ({ 201: what });
export const noContent = { 204: 'Done; no body' };
export const list = (what: string) => ({ 200: `{ data: [${what}], pagination }` });
export const byId = { params: idParams };

/** A router's operations with the path it is mounted at in front. */
export function mountedAt(prefix: string, operations: readonly Operation[]): Operation[] {
  return operations.map((op) => ({ ...op, path: op.path === '/' ? prefix : `${prefix}${op.path}` }));
}
