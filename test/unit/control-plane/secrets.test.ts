import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyIdOf, SecretBox, SecretError, sealedKeyId } from '../../../src/control-plane/secrets.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const PLACE = 'tools.auth_secret:0b0e6f1c-8d2a-4a47-9b1c-3f0d9e8a7c65';

describe('SecretBox (AES-256-GCM at rest)', () => {
  it('seals and opens, with the key id beside the value and no clear text in it', () => {
    const box = new SecretBox(k1);
    const sealed = box.seal('tok-very-secret', PLACE);
    expect(sealed).not.toContain('tok-very-secret');
    expect(Buffer.from(sealed.split('.')[3]!, 'base64url').toString('latin1')).not.toContain('very-secret');
    expect(sealedKeyId(sealed)).toBe(keyIdOf(k1));
    expect(box.open(sealed, PLACE)).toBe('tok-very-secret');
  });

  it('uses a fresh nonce per value: the same secret seals differently each time', () => {
    const box = new SecretBox(k1);
    const a = box.seal('same', PLACE);
    const b = box.seal('same', PLACE);
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  it('detects tampering with the ciphertext, the tag or the nonce', () => {
    const box = new SecretBox(k1);
    const sealed = box.seal('abcdefgh', PLACE);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    for (const i of [0, body.length - 1]) {
      const t = Buffer.from(body);
      t[i]! ^= 0x01;
      expect(() => box.open([parts[0], parts[1], parts[2], t.toString('base64url')].join('.'), PLACE)).toThrow(
        SecretError,
      );
    }
    const nonce = Buffer.from(parts[2]!, 'base64url');
    nonce[0]! ^= 0x80;
    expect(() => box.open([parts[0], parts[1], nonce.toString('base64url'), parts[3]].join('.'), PLACE)).toThrow(
      /failed its authentication/,
    );
  });

  it('refuses a value moved to another place (row or column)', () => {
    const box = new SecretBox(k1);
    const sealed = box.seal('abcdefgh', PLACE);
    expect(() => box.open(sealed, 'tools.auth_secret:another-row')).toThrow(SecretError);
  });

  it('opens values under SECRETS_KEY_PREVIOUS, seals only under SECRETS_KEY', () => {
    const old = new SecretBox(k2);
    const sealedOld = old.seal('rotated', PLACE);
    const box = new SecretBox(k1, k2);
    expect(box.open(sealedOld, PLACE)).toBe('rotated');
    expect(box.isStale(sealedOld)).toBe(true);
    const fresh = box.seal('rotated', PLACE);
    expect(sealedKeyId(fresh)).toBe(keyIdOf(k1));
    expect(box.isStale(fresh)).toBe(false);
  });

  it('says which key is missing without showing any key', () => {
    const sealed = new SecretBox(k2).seal('x', PLACE);
    const err = (() => {
      try {
        new SecretBox(k1).open(sealed, PLACE);
      } catch (e) {
        return e as Error;
      }
      throw new Error('opened');
    })();
    expect(err.message).toContain(keyIdOf(k2));
    expect(err.message).not.toContain(k1.toString('base64'));
    expect(err.message).not.toContain(k2.toString('base64'));
  });
});
