import { createHash } from 'node:crypto';

/**
 * A token with the randomness the bridge requires of ADMIN_TOKEN and METRICS_TOKEN (64 hex
 * characters, like `openssl rand -hex 32`), fixed per label so that each test has its own.
 */
export function testToken(label: string): string {
  return createHash('sha256').update(`omni-phone-bridge test token: ${label}`).digest('hex');
}
