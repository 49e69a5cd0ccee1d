import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseDigestParams } from './auth-params.js';

/**
 * Digest authentication of a trunk's INVITEs (RFC 2617, RFC 7616, RFC 8760 for SIP).
 *
 * Stateless nonces: `expiry.random.mac`, the MAC an HMAC-SHA-256 over the expiry, the random part,
 * the realm and the Call-ID. Any replica holding the secret can verify one without a store; a nonce
 * works only for the call it was issued in and only until it expires, so a captured answer cannot
 * open another call, nor the same one later. Within its lifetime a nonce may be reused (an INVITE
 * retransmission carries the same answer); nonce-count tracking would need state, and the Call-ID
 * binding already limits a replay to the dialog under way.
 */

export type DigestAlgorithm = 'MD5' | 'SHA-256';
/** Offered in this order: RFC 8760 §2.4 — older UACs take the first they know, MD5. */
export const ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'SHA-256'];

export interface DigestPolicy {
  realm: string;
  /** HMAC key for nonces; the same on every replica */
  secret: Buffer;
  /** nonce lifetime; default 30 s */
  ttlMs?: number;
  now?: () => number;
}

export interface Credentials {
  username: string;
  password: string;
}

export type DigestVerdict =
  | { ok: true; algorithm: DigestAlgorithm; username: string }
  /** `challenge`: answer 407 with fresh challenges (stale=true when `stale`) */
  | { ok: false; outcome: 'challenge'; stale: boolean; reason: 'missing' | 'stale' | 'bad_nonce' }
  /** `forbidden`: answer 403 */
  | { ok: false; outcome: 'forbidden'; reason: 'wrong_credentials' | 'unsupported' | 'malformed' };

const hashName = (a: DigestAlgorithm) => (a === 'MD5' ? 'md5' : 'sha256');
const H = (a: DigestAlgorithm, s: string) => createHash(hashName(a)).update(s, 'utf8').digest('hex');

export interface DigestInput {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  /** with qop=auth; without them the RFC 2069 form is computed */
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}

/** The `response` value a UAC computes (RFC 7616 §3.4.1, qop=auth or none). */
export function digestResponse(d: DigestInput): string {
  const ha1 = H(d.algorithm, `${d.username}:${d.realm}:${d.password}`);
  const ha2 = H(d.algorithm, `${d.method}:${d.uri}`);
  return d.qop
    ? H(d.algorithm, `${ha1}:${d.nonce}:${d.nc ?? ''}:${d.cnonce ?? ''}:${d.qop}:${ha2}`)
    : H(d.algorithm, `${ha1}:${d.nonce}:${ha2}`);
}

function mac(p: DigestPolicy, body: string, callId: string): string {
  return createHmac('sha256', p.secret).update(`${body}|${p.realm}|${callId}`).digest('base64url');
}

export function makeNonce(p: DigestPolicy, callId: string): string {
  const now = (p.now ?? Date.now)();
  const body = `${(now + (p.ttlMs ?? 30_000)).toString(36)}.${randomBytes(9).toString('base64url')}`;
  return `${body}.${mac(p, body, callId)}`;
}

/** 'ok', 'stale' (genuine but expired) or 'bad' (forged, or issued for another call). */
export function checkNonce(p: DigestPolicy, nonce: string, callId: string): 'ok' | 'stale' | 'bad' {
  const parts = nonce.split('.');
  if (parts.length !== 3) return 'bad';
  const body = `${parts[0]}.${parts[1]}`;
  const want = Buffer.from(mac(p, body, callId));
  const got = Buffer.from(parts[2]!);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return 'bad';
  const expiry = parseInt(parts[0]!, 36);
  return (p.now ?? Date.now)() > expiry ? 'stale' : 'ok';
}

/** One `Proxy-Authenticate` value per algorithm, MD5 first, sharing one nonce. */
export function challenges(p: DigestPolicy, callId: string, stale = false): string[] {
  const nonce = makeNonce(p, callId);
  return ALGORITHMS.map(
    (a) => `Digest realm="${p.realm}", nonce="${nonce}", algorithm=${a}, qop="auth"${stale ? ', stale=true' : ''}`,
  );
}

function equalHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase());
  const y = Buffer.from(b.toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks the `Proxy-Authorization` values of a request against the trunk's credentials. The value
 * for this realm is used; an answer for either offered algorithm is accepted.
 */
export function verify(
  p: DigestPolicy,
  req: { method: string; callId: string; authorizations: readonly string[] },
  creds: Credentials,
): DigestVerdict {
  const mine = req.authorizations.map(parseDigestParams).filter((x) => x?.realm === p.realm);
  const a = mine[0];
  if (!a) return { ok: false, outcome: 'challenge', stale: false, reason: 'missing' };
  const algorithm = (a.algorithm ?? 'MD5').toUpperCase();
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256') return { ok: false, outcome: 'forbidden', reason: 'unsupported' };
  const { username, uri, nonce, response } = a;
  if (!username || !uri || !nonce || !response) return { ok: false, outcome: 'forbidden', reason: 'malformed' };
  const qop = a.qop;
  if (qop !== undefined && (qop !== 'auth' || !a.nc || !a.cnonce)) {
    return { ok: false, outcome: 'forbidden', reason: qop === 'auth' ? 'malformed' : 'unsupported' };
  }
  const n = checkNonce(p, nonce, req.callId);
  if (n === 'bad') return { ok: false, outcome: 'challenge', stale: false, reason: 'bad_nonce' };
  const expected = digestResponse({
    algorithm,
    username: creds.username,
    realm: p.realm,
    password: creds.password,
    method: req.method,
    uri,
    nonce,
    ...(qop ? { qop, nc: a.nc!, cnonce: a.cnonce! } : {}),
  });
  // the username is compared inside the digest too; comparing it apart says nothing more
  if (username !== creds.username || !equalHex(expected, response)) {
    return { ok: false, outcome: 'forbidden', reason: 'wrong_credentials' };
  }
  // right credentials on an expired nonce: a fresh challenge, flagged stale so no prompt is needed
  if (n === 'stale') return { ok: false, outcome: 'challenge', stale: true, reason: 'stale' };
  return { ok: true, algorithm, username };
}
