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

/** Close codes a metric names as themselves: the protocol's (§8) and the standard ones of RFC 6455 §7.4.1. */
const LABELLED_CODES = new Set([
  1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 4401, 4403, 4429,
]);

/**
 * The `code` label of an engine close: any other code (the engine may send 3000–4999 of its own
 * choosing) is `other`, so an engine cannot grow the number of series.
 */
export function closeCodeLabel(code: number): string {
  return LABELLED_CODES.has(code) ? String(code) : 'other';
}
