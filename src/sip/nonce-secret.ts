import { hkdfSync, randomBytes } from 'node:crypto';

/** HKDF label of the digest nonce key: no other key of the bridge is derived under it. */
const NONCE_INFO = Buffer.from('omni-phone-bridge sip digest nonce v1', 'utf8');

/**
 * The key of the trunks' digest nonces (docs/decisions.md, "SIP trunks"): derived from the
 * bridge's stream-token secret under its own label, so every replica verifies every nonce; a
 * random per-process key when the bridge has no secret (`derived: false`, the caller warns).
 */
export function sipNonceSecret(base: Buffer | undefined): { secret: Buffer; derived: boolean } {
  if (!base) return { secret: randomBytes(32), derived: false };
  return { secret: Buffer.from(hkdfSync('sha256', base, Buffer.alloc(0), NONCE_INFO, 32)), derived: true };
}
