import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv, redactedDatabaseUrl } from '../../../src/config/loader.js';

const key = () => randomBytes(32).toString('base64');
const fail = (env: NodeJS.ProcessEnv): string => {
  try {
    loadEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadEnv accepted it');
};

describe('DATABASE_URL and SECRETS_KEY in the environment', () => {
  it('is off without DATABASE_URL', () => {
    expect(loadEnv({}).databaseUrl).toBeUndefined();
  });

  it('takes a postgres URL naming a database', () => {
    expect(loadEnv({ DATABASE_URL: 'postgres://u:p@db:5432/opb' }).databaseUrl).toBe('postgres://u:p@db:5432/opb');
  });

  it('refuses a URL without a database or of another scheme, never showing the password', () => {
    const m1 = fail({ DATABASE_URL: 'postgres://u:s3cr3t-pw@db:5432/' });
    expect(m1).toContain('DATABASE_URL names no database');
    expect(m1).not.toContain('s3cr3t-pw');
    const m2 = fail({ DATABASE_URL: 'mysql://u:s3cr3t-pw@db/x' });
    expect(m2).toContain('DATABASE_URL must start with postgres://');
    expect(m2).not.toContain('s3cr3t-pw');
    expect(fail({ DATABASE_URL: 'not a url s3cr3t' })).not.toContain('s3cr3t');
  });

  it('redacts the password and the query of a URL', () => {
    expect(redactedDatabaseUrl('postgres://u:pw@h:1/d?password=x')).toBe('postgres://u:***@h:1/d?…');
  });

  it('takes 32-byte base64 keys and refuses any other length, naming the variable', () => {
    const env = loadEnv({ SECRETS_KEY: key(), SECRETS_KEY_PREVIOUS: key() });
    expect(env.secretsKey?.length).toBe(32);
    expect(env.secretsKeyPrevious?.length).toBe(32);
    const short = randomBytes(16).toString('base64');
    const m = fail({ SECRETS_KEY: short });
    expect(m).toMatch(/^SECRETS_KEY must be 32 random bytes in base64.*decodes to 16 bytes/);
    expect(m).not.toContain(short);
    expect(fail({ SECRETS_KEY: key(), SECRETS_KEY_PREVIOUS: 'abc' })).toMatch(/^SECRETS_KEY_PREVIOUS must be 32/);
    expect(fail({ SECRETS_KEY_PREVIOUS: key() })).toContain('without SECRETS_KEY');
  });
});
