/** Redis for tests: 127.0.0.1:6379, shared by concurrent runs, so each test owns a random key prefix. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

declare module 'vitest' {
  export interface ProvidedContext {
    /** whether REDIS_URL answered PING before any test (test/global-setup.ts) */
    redisUp: boolean;
  }
}

/**
 * Whether the tests that need Redis are skipped: when it did not answer before the run, as the global
 * setup said in one line, except under CI=true, where they run and fail (never a silent pass there).
 */
export const NO_REDIS = !inject('redisUp') && !process.env.CI;

export function randomPrefix(): string {
  return `test-opb-${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export async function keysUnder(prefix: string): Promise<string[]> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
    return out;
  } finally {
    r.disconnect();
  }
}
