/** What a close code of the Omni socket means for the bridge (§8 of the protocol). */

export type CloseClass = 'normal' | 'fatal' | 'retryable';

/** Policy, bad key, missing scope: retrying with the same credentials cannot help. */
const FATAL = new Set([1008, 4401, 4403]);

/**
 * 1000 → normal; 1008/4401/4403 → fatal (fall back, never retry); everything else — 4429 rate
 * limit, 1011 server error, 1006 dropped, and any code we do not know — is retryable, because an
 * unexplained end of the engine side should not end the phone call.
 */
export function classifyClose(code: number): CloseClass {
  if (code === 1000) return 'normal';
  if (FATAL.has(code)) return 'fatal';
  return 'retryable';
}
