/**
 * The per-call stream token: binds a Media Streams `start` to the signed webhook (or the bridge's
 * own REST update) that asked for the stream. Twilio signs the WebSocket upgrade over the stream
 * URL alone — the same for every call — so the upgrade signature proves nothing about which call
 * a socket belongs to. The TwiML therefore carries this token in a `<Parameter name="token">`,
 * and the media route refuses a `start` whose token does not verify for its CallSid.
 *
 * It is verified, never looked up: sealed with a key every replica derives from the same secret
 * (`STREAM_TOKEN_SECRET`, or one derived from `TWILIO_AUTH_TOKEN`), so a stream may land on any
 * replica. The agent, From and To travel inside the token, encrypted: the TwiML (and so the token)
 * is visible in Twilio's request logs and debugger, and must not show who called whom. The
 * stream's free parameters are never read.
 *
 * Wire format (v2), base64url without padding, at most 476 characters (Twilio's `<Parameter>`
 * value limit is 500):
 *
 *   version u8 = 2 | purpose u8 (0 call, 1 restart) | expiry u32 (Unix seconds) | id 12 random bytes
 *   | AES-256-GCM ciphertext of (agent, from, to: each u8 length + UTF-8; agent ≤ 64 bytes, from/to ≤ 128)
 *   | GCM tag 16 bytes
 *
 * The GCM key is HKDF-SHA256(secret, "stream-token/v2 aes-256-gcm"); the IV is the token's random
 * id (12 bytes: never reused under one key in practice, 2^48 tokens before a birthday collision);
 * the additional data is a label, the CallSid and the clear header, so that a token verifies only
 * for the call it was minted for and neither its purpose nor its expiry can be changed. The
 * CallSid is not in the token: the `start` names it. A From/To longer than 128 bytes is left out
 * (the session then has none) rather than cut into a different number.
 *
 * Single use: each token id is consumed by the first stream that presents it, in a bounded,
 * expiring set per process, and in a fleet also in the shared store (SET NX in Redis, see
 * registry.attachStream), so a token is good for one stream across all replicas.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

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
  /** the token's single-use id (24 hex characters) */
  id: string;
}

export type VerifyResult =
  | { ok: true; claims: StreamClaims }
  | { ok: false; reason: 'token_missing' | 'token_malformed' | 'token_bad_mac' | 'token_expired' };

const VERSION = 2;
const TAG_BYTES = 16;
const ID_BYTES = 12;
const HEADER_BYTES = 2 + 4 + ID_BYTES;
const MAX_AGENT = 64;
const MAX_NUMBER = 128;
/** base64url of the largest token: (18 + 3 + 64 + 128 + 128 + 16) bytes = 357 → 476 characters */
export const MAX_TOKEN_CHARS = 476;
const AAD_LABEL = Buffer.from('stream-token/v2', 'latin1');
const HKDF_INFO = 'omni-phone-bridge stream-token secret v1';
const KEY_INFO = 'stream-token/v2 aes-256-gcm';
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

/** The GCM key of a secret (its own HKDF label: the secret itself is never a cipher key). Cached per secret. */
const keys = new WeakMap<Buffer, Buffer>();
function sealKey(secret: Buffer): Buffer {
  let k = keys.get(secret);
  if (!k) {
    k = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), KEY_INFO, 32));
    keys.set(secret, k);
  }
  return k;
}

function utf8Capped(s: string | undefined, max: number): Buffer {
  if (!s) return Buffer.alloc(0);
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? b : Buffer.alloc(0);
}

/** What GCM authenticates besides the ciphertext: the call the token is for, and its clear header. */
function aad(callSid: string, header: Buffer): Buffer {
  const sid = Buffer.from(callSid, 'utf8');
  return Buffer.concat([AAD_LABEL, Buffer.of(Math.min(sid.length, 255)), sid, header]);
}

/** Mints a token for `callSid`. `ttlMs` may be negative (tests of expiry). */
export function mintStreamToken(
  secret: Buffer,
  callSid: string,
  c: { purpose?: StreamPurpose; agent?: string; from?: string; to?: string },
  ttlMs: number,
  nowMs = Date.now(),
): string {
  const fields = [utf8Capped(c.agent, MAX_AGENT), utf8Capped(c.from, MAX_NUMBER), utf8Capped(c.to, MAX_NUMBER)];
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = VERSION;
  header[1] = c.purpose === 'restart' ? 1 : 0;
  header.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor((nowMs + ttlMs) / 1000))), 2);
  const iv = randomBytes(ID_BYTES);
  iv.copy(header, 6);
  const plain = Buffer.concat(fields.flatMap((f) => [Buffer.of(f.length), f]));
  const cipher = createCipheriv('aes-256-gcm', sealKey(secret), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(callSid, header));
  const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([header, sealed, cipher.getAuthTag()]).toString('base64url');
}

/** The clear header of a token (purpose, expiry, id); the claims stay sealed. Undefined: not a v2 token. */
function parseHeader(raw: Buffer): { purpose: StreamPurpose; expiresAt: number; id: string } | undefined {
  if (raw.length < HEADER_BYTES + 3 + TAG_BYTES || raw[0] !== VERSION || raw[1]! > 1) return undefined;
  return {
    purpose: raw[1] === 1 ? 'restart' : 'call',
    expiresAt: raw.readUInt32BE(2) * 1000,
    id: raw.toString('hex', 6, 6 + ID_BYTES),
  };
}

function parseFields(plain: Buffer): string[] | undefined {
  const fields: string[] = [];
  let at = 0;
  for (let i = 0; i < 3; i++) {
    if (at >= plain.length) return undefined;
    const n = plain[at++]!;
    if (n > (i === 0 ? MAX_AGENT : MAX_NUMBER) || at + n > plain.length) return undefined;
    fields.push(plain.toString('utf8', at, at + n));
    at += n;
  }
  return at === plain.length ? fields : undefined;
}

/** Opens a token's seal for `callSid`: undefined if it was not minted for that call with this secret (or was changed). */
function unseal(secret: Buffer, callSid: string, raw: Buffer): string[] | undefined {
  const header = raw.subarray(0, HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', sealKey(secret), raw.subarray(6, 6 + ID_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(aad(callSid, header));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    const plain = Buffer.concat([
      decipher.update(raw.subarray(HEADER_BYTES, raw.length - TAG_BYTES)),
      decipher.final(),
    ]);
    return parseFields(plain);
  } catch {
    return undefined;
  }
}

/**
 * A token's claims without the expiry check, for tests and diagnostics. Without the secret and
 * CallSid only the clear header is readable (no agent, From or To: that is the point).
 */
export function readStreamToken(
  token: string,
  open?: { secret: Buffer; callSid: string },
): Partial<StreamClaims> | undefined {
  const raw = Buffer.from(token, 'base64url');
  const head = parseHeader(raw);
  if (!head || !open) return head;
  const fields = unseal(open.secret, open.callSid, raw);
  if (!fields) return undefined;
  return { ...head, ...claimFields(fields) };
}

function claimFields(fields: string[]): Pick<StreamClaims, 'agent' | 'from' | 'to'> {
  return { agent: fields[0]!, ...(fields[1] ? { from: fields[1] } : {}), ...(fields[2] ? { to: fields[2] } : {}) };
}

/** Checks a token for `callSid`: shape, seal (GCM tag), then expiry. Single use is the caller's (StreamTokens.consume). */
export function verifyStreamToken(secret: Buffer, callSid: string, token: unknown, nowMs = Date.now()): VerifyResult {
  if (typeof token !== 'string' || token.length === 0) return { ok: false, reason: 'token_missing' };
  if (token.length > MAX_TOKEN_CHARS || !B64URL.test(token)) return { ok: false, reason: 'token_malformed' };
  const raw = Buffer.from(token, 'base64url');
  const head = parseHeader(raw);
  if (!head) return { ok: false, reason: 'token_malformed' };
  const fields = unseal(secret, callSid, raw);
  if (!fields) return { ok: false, reason: 'token_bad_mac' };
  if (head.expiresAt < nowMs) return { ok: false, reason: 'token_expired' };
  return {
    ok: true,
    claims: { purpose: head.purpose, ...claimFields(fields), expiresAt: head.expiresAt, id: head.id },
  };
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

  /** `extraMs`: what Twilio plays before it opens the stream (`<Play digits>`), on top of the TTL. */
  mint(
    callSid: string,
    c: { purpose?: StreamPurpose; agent: string; from?: string; to?: string },
    extraMs = 0,
  ): string {
    return mintStreamToken(this.secret, callSid, c, this.ttlMs + extraMs);
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
