import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (SECRETS_KEY): AES-256-GCM, a fresh 96-bit nonce per value, the key's id stored
 * beside it, and the value's place (table, column, row) as additional data, so a sealed value
 * copied into another row or column does not open. Stored as text:
 *
 *   v1.<key id: 16 hex>.<nonce: base64url>.<ciphertext and 16-byte tag: base64url>
 *
 * SECRETS_KEY_PREVIOUS opens values sealed under the key being replaced; new values are always
 * sealed under SECRETS_KEY. Nothing here ever puts a key or a clear value into a message.
 */

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class SecretError extends Error {
  override name = 'SecretError';
}

/** A key's public id: a hash of the key (it identifies, it reveals nothing). */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('omni-phone-bridge secrets key id\0').update(key).digest('hex').slice(0, 16);
}

/** The key id of a sealed value, or undefined when it is not one. */
export function sealedKeyId(sealed: string): string | undefined {
  const parts = sealed.split('.');
  return parts.length === 4 && parts[0] === VERSION && /^[0-9a-f]{16}$/.test(parts[1]!) ? parts[1] : undefined;
}

export class SecretBox {
  readonly keyId: string;
  private readonly keys = new Map<string, Buffer>();

  constructor(current: Buffer, previous?: Buffer) {
    if (current.length !== 32 || (previous && previous.length !== 32))
      throw new SecretError('a secrets key is 32 bytes');
    this.keyId = keyIdOf(current);
    this.keys.set(this.keyId, Buffer.from(current));
    if (previous) this.keys.set(keyIdOf(previous), Buffer.from(previous));
  }

  /** Whether a value sealed under `keyId` can be opened. */
  knows(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Seals `plain` under the current key; `place` is bound to it (it must be given again to open). */
  seal(plain: string, place: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.keyId)!, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(`${VERSION}.${this.keyId}.${place}`));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${this.keyId}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** Opens a sealed value; throws a SecretError when the key is unknown or the value was altered or moved. */
  open(sealed: string, place: string): string {
    const kid = sealedKeyId(sealed);
    if (!kid) throw new SecretError('not a sealed value');
    const key = this.keys.get(kid);
    if (!key) throw new SecretError(`sealed under key ${kid}, which is neither SECRETS_KEY nor SECRETS_KEY_PREVIOUS`);
    const [, , n, b] = sealed.split('.') as [string, string, string, string];
    const nonce = Buffer.from(n, 'base64url');
    const body = Buffer.from(b, 'base64url');
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new SecretError('not a sealed value');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(`${VERSION}.${kid}.${place}`));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new SecretError('a sealed value failed its authentication (altered, or not from this place)');
    }
  }

  /** Whether a value is sealed under an older key (for `secrets rotate`). */
  isStale(sealed: string): boolean {
    return sealedKeyId(sealed) !== this.keyId;
  }
}
