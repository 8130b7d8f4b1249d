import type { z } from 'zod';

/**
 * A listing cursor a connector handed out earlier (JSON, checked by its schema). A cursor
 * that does not parse is a bug or a tampered checkpoint: it fails loudly, never restarts
 * the listing quietly.
 */
export function decodeCursor<T>(schema: z.ZodType<T>, raw: string, what: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new Error(`not a ${what} listing cursor: ${raw.slice(0, 100)}`);
  return result.data;
}
