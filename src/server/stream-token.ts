/**
 * The per-call stream token: binds a Media Streams `start` to the signed webhook (or the bridge's
 * own REST update) that asked for the stream. Twilio signs the WebSocket upgrade over the stream
 * URL alone — the same for every call — so the upgrade signature proves nothing about which call
 * a socket belongs to. The TwiML therefore carries this token in a `<Parameter name="token">`,
 * and the media route refuses a `start` whose token does not verify for its CallSid.
 *
 * It is verified, never looked up: an HMAC-SHA256 keyed by a secret every replica holds
 * (`STREAM_TOKEN_SECRET`, or one derived from `TWILIO_AUTH_TOKEN`), so a stream may land on any
 * replica. The agent, From and To travel inside the token; the stream's free parameters are
 * never read.
 *
 * Wire format (v1), base64url without padding, at most 471 characters (Twilio's `<Parameter>`
 * value limit is 500):
 *
 *   version u8 = 1 | purpose u8 (0 call, 1 restart) | expiry u32 (Unix seconds) | id 8 random bytes
 *   | agent, from, to: each u8 length + UTF-8 (agent ≤ 64 bytes, from/to ≤ 128)
 *   | mac: first 16 bytes of HMAC-SHA256(secret, "stream-token/v1" ‖ u8 len ‖ CallSid ‖ everything above)
 *
 * The CallSid is under the MAC but not in the token: the `start` names it, and a token verifies
 * only for the call it was minted for. A From/To longer than 128 bytes is left out (the session
 * then has none) rather than cut into a different number.
 *
 * Single use: each token id is consumed by the first stream that presents it, in a bounded,
 * expiring set per process, and in a fleet also in the shared store (SET NX in Redis, see
 * registry.attachStream), so a token is good for one stream across all replicas.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export type StreamPurpose = 'call' | 'restart';

export interface StreamClaims {
  /** `call`: a call's first stream, refused while the call has a live one; `restart`: the bridge moved the call (transfer-return, `<Play digits>`) and this stream may replace the old one */
  purpose: StreamPurpose;
  /** agent id ('' = route by `to`) */
  agent: string;
  from?: string;
  to?: string;
  /** expiry, Unix ms (whole seconds) */
  expiresAt: number;
  /** the token's single-use id (16 hex characters) */
  id: string;
}

export type VerifyResult =
  | { ok: true; claims: StreamClaims }
  | { ok: false; reason: 'token_missing' | 'token_malformed' | 'token_bad_mac' | 'token_expired' };

const VERSION = 1;
const MAC_BYTES = 16;
const ID_BYTES = 8;
const HEADER_BYTES = 2 + 4 + ID_BYTES;
const MAX_AGENT = 64;
const MAX_NUMBER = 128;
/** base64url of the largest token: (14 + 3 + 64 + 128 + 128 + 16) bytes → 471 characters */
export const MAX_TOKEN_CHARS = 472;
const MAC_LABEL = Buffer.from('stream-token/v1', 'latin1');
const HKDF_INFO = 'omni-phone-bridge stream-token secret v1';
const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The bridge's token secret: `STREAM_TOKEN_SECRET` when set, else derived from the Twilio auth
 * token with HKDF-SHA256 under a fixed label (so it is never the auth token itself, and every
 * replica with the same auth token derives the same secret). Neither: undefined.
 */
export function streamTokenSecret(
  explicit: string | undefined,
  twilioAuthToken: string | undefined,
): Buffer | undefined {
  if (explicit) return Buffer.from(explicit, 'utf8');
  if (!twilioAuthToken) return undefined;
  return Buffer.from(hkdfSync('sha256', Buffer.from(twilioAuthToken, 'utf8'), Buffer.alloc(0), HKDF_INFO, 32));
}

function utf8Capped(s: string | undefined, max: number): Buffer {
  if (!s) return Buffer.alloc(0);
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? b : Buffer.alloc(0);
}

function mac(secret: Buffer, callSid: string, body: Buffer): Buffer {
  const sid = Buffer.from(callSid, 'utf8');
  const h = createHmac('sha256', secret);
  h.update(MAC_LABEL);
  h.update(Buffer.of(Math.min(sid.length, 255)));
  h.update(sid);
  h.update(body);
  return h.digest().subarray(0, MAC_BYTES);
}

/** Mints a token for `callSid`. `ttlMs` may be negative (tests of expiry). */
export function mintStreamToken(
  secret: Buffer,
  callSid: string,
  c: { purpose?: StreamPurpose; agent?: string; from?: string; to?: string },
  ttlMs: number,
  nowMs = Date.now(),
): string {
  const agent = utf8Capped(c.agent, MAX_AGENT);
  const from = utf8Capped(c.from, MAX_NUMBER);
  const to = utf8Capped(c.to, MAX_NUMBER);
  const body = Buffer.alloc(HEADER_BYTES + 3 + agent.length + from.length + to.length);
  body[0] = VERSION;
  body[1] = c.purpose === 'restart' ? 1 : 0;
  body.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor((nowMs + ttlMs) / 1000))), 2);
  randomBytes(ID_BYTES).copy(body, 6);
  let at = HEADER_BYTES;
  for (const f of [agent, from, to]) {
    body[at++] = f.length;
    f.copy(body, at);
    at += f.length;
  }
  return Buffer.concat([body, mac(secret, callSid, body)]).toString('base64url');
}

/** Reads a token's fields without checking anything: for tests and diagnostics only. */
export function readStreamToken(token: string): StreamClaims | undefined {
  const b = Buffer.from(token, 'base64url');
  return parseBody(b.subarray(0, Math.max(0, b.length - MAC_BYTES)));
}

function parseBody(body: Buffer): StreamClaims | undefined {
  if (body.length < HEADER_BYTES + 3 || body[0] !== VERSION || body[1]! > 1) return undefined;
  const fields: string[] = [];
  let at = HEADER_BYTES;
  for (let i = 0; i < 3; i++) {
    const n = body[at++]!;
    if (n > (i === 0 ? MAX_AGENT : MAX_NUMBER) || at + n > body.length) return undefined;
    fields.push(body.toString('utf8', at, at + n));
    at += n;
  }
  if (at !== body.length) return undefined;
  return {
    purpose: body[1] === 1 ? 'restart' : 'call',
    agent: fields[0]!,
    ...(fields[1] ? { from: fields[1] } : {}),
    ...(fields[2] ? { to: fields[2] } : {}),
    expiresAt: body.readUInt32BE(2) * 1000,
    id: body.toString('hex', 6, 6 + ID_BYTES),
  };
}

/** Checks a token for `callSid`: shape, MAC (constant time), then expiry. Single use is the caller's (StreamTokens.consume). */
export function verifyStreamToken(secret: Buffer, callSid: string, token: unknown, nowMs = Date.now()): VerifyResult {
  if (typeof token !== 'string' || token.length === 0) return { ok: false, reason: 'token_missing' };
  if (token.length > MAX_TOKEN_CHARS || !B64URL.test(token)) return { ok: false, reason: 'token_malformed' };
  const raw = Buffer.from(token, 'base64url');
  if (raw.length < HEADER_BYTES + 3 + MAC_BYTES) return { ok: false, reason: 'token_malformed' };
  const body = raw.subarray(0, raw.length - MAC_BYTES);
  const claims = parseBody(body);
  if (!claims) return { ok: false, reason: 'token_malformed' };
  if (!timingSafeEqual(raw.subarray(raw.length - MAC_BYTES), mac(secret, callSid, body)))
    return { ok: false, reason: 'token_bad_mac' };
  if (claims.expiresAt < nowMs) return { ok: false, reason: 'token_expired' };
  return { ok: true, claims };
}

/** The bridge's minter and verifier, with the per-process set of consumed token ids. */
export class StreamTokens {
  private readonly consumed = new Map<string, number>();

  constructor(
    private readonly secret: Buffer,
    /** how long a minted token is good for: the stream must start within it */
    readonly ttlMs: number,
    private readonly maxConsumed = 100_000,
  ) {}

  mint(
    callSid: string,
    c: { purpose?: StreamPurpose; agent: string; from?: string; to?: string },
    ttlMs = this.ttlMs,
  ): string {
    return mintStreamToken(this.secret, callSid, c, ttlMs);
  }

  verify(callSid: string, token: unknown, nowMs = Date.now()): VerifyResult {
    return verifyStreamToken(this.secret, callSid, token, nowMs);
  }

  /**
   * Marks a verified token as used; false if it already was. An id is kept until its token
   * expires (it could not verify after that anyway); past `maxConsumed` the oldest go first.
   */
  consume(claims: StreamClaims, nowMs = Date.now()): boolean {
    if (this.consumed.has(claims.id)) return false;
    if (this.consumed.size >= this.maxConsumed) this.sweep(nowMs);
    this.consumed.set(claims.id, claims.expiresAt);
    return true;
  }

  private sweep(nowMs: number): void {
    for (const [id, exp] of this.consumed) if (exp < nowMs) this.consumed.delete(id);
    // Insertion order is roughly expiry order: drop the oldest until a tenth is free.
    const target = Math.floor(this.maxConsumed * 0.9);
    for (const id of this.consumed.keys()) {
      if (this.consumed.size <= target) break;
      this.consumed.delete(id);
    }
  }
}
