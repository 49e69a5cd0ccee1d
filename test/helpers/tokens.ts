import { createHash } from 'node:crypto';

/**
 * A token with the randomness the bridge requires of ADMIN_TOKEN and METRICS_TOKEN (64 hex
 * characters, like `openssl rand -hex 32`), fixed per label so that each test has its own.
 */
export function testToken(label: string): string {
  return createHash('sha256').update(`omni-phone-bridge test token: ${label}`).digest('hex');
}

/** The METRICS_TOKEN every harness bridge has (test/helpers/harness.ts) unless a test sets its own. */
export const TEST_METRICS_TOKEN = testToken('metrics');

/** Authorization for /metrics and /readyz details on a harness bridge. */
export const METRICS_AUTH = { authorization: `Bearer ${TEST_METRICS_TOKEN}` };
