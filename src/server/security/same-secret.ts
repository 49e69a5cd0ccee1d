import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares two strings in constant time for their length (hashed first: lengths do not leak either). */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
