// @omni-phone-bridge/tool-sdk: no dependencies, plain ESM JavaScript (types in index.d.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the bridge's signature of a webhook tool call. */
export const SIGNATURE_HEADER = 'X-Bridge-Signature';
/** Deliveries older (or further in the future) than this many seconds are refused by default. */
export const DEFAULT_TOLERANCE_SEC = 300;

const HEX64 = /^[0-9a-f]{64}$/;

function mac(secret, t, rawBody) {
  return createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
}

/**
 * The header value the bridge sends: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * For tests of a receiver.
 */
export function signBridgePayload(secret, rawBody, nowSec = Math.floor(Date.now() / 1000)) {
  return `t=${nowSec},v1=${mac(secret, nowSec, rawBody).toString('hex')}`;
}

/**
 * Checks one delivery: `{ ok: true }`, or `{ ok: false, reason }` with reason missing, malformed,
 * stale or mismatch. Several v1= entries are accepted (rotation); every one is compared in
 * constant time.
 */
export function verifyBridgeSignature({ header, rawBody, secret, toleranceSec, nowSec }) {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return { ok: false, reason: 'missing' };
  if (typeof value !== 'string' || value.length > 1024) return { ok: false, reason: 'malformed' };
  if (typeof secret !== 'string' || secret === '') throw new TypeError('verifyBridgeSignature: secret is required');
  let t;
  const sigs = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed' };
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (key === 't') t = v;
    else if (key === 'v1' && HEX64.test(v)) sigs.push(Buffer.from(v, 'hex'));
  }
  if (!t || !/^\d{1,12}$/.test(t) || sigs.length === 0) return { ok: false, reason: 'malformed' };
  const now = nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(t)) > (toleranceSec ?? DEFAULT_TOLERANCE_SEC)) return { ok: false, reason: 'stale' };
  const expected = mac(secret, t, rawBody);
  let match = false;
  for (const s of sigs) match = timingSafeEqual(s, expected) || match;
  return match ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/**
 * Declares a tool module's handler: returns it unchanged, typed (the arguments and the context).
 * `export default defineTool(async (args, context) => ({ ... }))`.
 */
export function defineTool(handler) {
  if (typeof handler !== 'function') throw new TypeError('defineTool: a handler function is required');
  return handler;
}
