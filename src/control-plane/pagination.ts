import { z } from 'zod';

/**
 * Lists answer `{items, next_cursor}` and take `?limit=1..500&cursor=`. A cursor is opaque to
 * the client: the sort key of the last item given, base64url JSON; next_cursor is null at the end.
 */

export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 100;

export const pageQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
    cursor: z.string().max(512).optional(),
  })
  .loose();

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

/** The key of a cursor, or undefined when it is not one of ours. */
export function decodeCursor(cursor: string): string | number | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown };
    return typeof v.k === 'string' || typeof v.k === 'number' ? v.k : undefined;
  } catch {
    return undefined;
  }
}

/** From `limit + 1` rows: the page and its next cursor. */
export function pageOf<R, T>(rows: R[], limit: number, view: (r: R) => T, keyOf: (r: R) => string | number): Page<T> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown[shown.length - 1];
  return { items: shown.map(view), next_cursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
