import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook delivery signing. Header format (documented in docs/tools.md):
 *   X-Bridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 * The timestamp is inside the MAC so a receiver can refuse replays older than its tolerance.
 */

export const SIGNATURE_HEADER = 'X-Bridge-Signature';
export const DEFAULT_TOLERANCE_SEC = 300;

type Bytes = string | Uint8Array;

function mac(secret: string, t: number | string, rawBody: Bytes): Buffer {
  const h = createHmac('sha256', secret);
  h.update(`${t}.`);
  h.update(rawBody);
  return h.digest();
}

/**
 * Builds the header value for one delivery. During a rotation's grace period `also` holds the
 * replaced secret: its `v1=` follows the new one's in the same header, so a receiver still on the
 * old secret and one already on the new verify the same delivery (verifyBridgeSignature accepts
 * any matching `v1=`).
 */
export function signBridgePayload(
  secret: string,
  rawBody: Bytes,
  nowSec = Math.floor(Date.now() / 1000),
  also: readonly string[] = [],
): string {
  const sigs = [secret, ...also].map((s) => `v1=${mac(s, nowSec, rawBody).toString('hex')}`);
  return `t=${nowSec},${sigs.join(',')}`;
}

/**
 * Idempotency key for a tool call: stable for the same call (so a retried read carries the same
 * key) and a fixed-size hex string whatever characters the engine put into its call id.
 */
export function idempotencyKey(callSid: string, toolCallId: string): string {
  return createHash('sha256').update(`${callSid}\u0000${toolCallId}`).digest('hex').slice(0, 40);
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

export interface VerifyInput {
  /** The `X-Bridge-Signature` header value (string, array from node's headers, or undefined). */
  header: string | string[] | undefined | null;
  /** The request body exactly as received, before any JSON parsing. */
  rawBody: Bytes;
  secret: string;
  /** Maximum age (and clock skew into the future) accepted, in seconds. */
  toleranceSec?: number;
  nowSec?: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Verifies a delivery for a webhook receiver. Accepts several `v1=` entries (secret rotation on the
 * receiver side); compares in constant time; refuses timestamps outside the tolerance window.
 */
export function verifyBridgeSignature(input: VerifyInput): VerifyResult {
  const header = Array.isArray(input.header) ? input.header[0] : input.header;
  if (!header) return { ok: false, reason: 'missing' };
  if (header.length > 1024) return { ok: false, reason: 'malformed' };
  let t: string | undefined;
  const sigs: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed' };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1' && HEX64.test(value)) sigs.push(Buffer.from(value, 'hex'));
  }
  if (!t || !/^\d{1,12}$/.test(t) || sigs.length === 0) return { ok: false, reason: 'malformed' };
  const tolerance = input.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const now = input.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(t)) > tolerance) return { ok: false, reason: 'stale' };
  const expected = mac(input.secret, t, input.rawBody);
  let match = false;
  // Check every candidate (no early exit) so timing does not reveal which one matched.
  for (const s of sigs) match = timingSafeEqual(s, expected) || match;
  return match ? { ok: true } : { ok: false, reason: 'mismatch' };
}
