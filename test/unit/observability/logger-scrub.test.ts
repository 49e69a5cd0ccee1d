import { describe, expect, it } from 'vitest';
import { collectSecrets, loadConfig } from '../../../src/config/loader.js';
import { createLogger } from '../../../src/observability/logger.js';
import { LogCapture } from '../../helpers/harness.js';

describe('log scrubbing of configured secrets', () => {
  it('scrubs a 3-character secret that is configured (development, loopback PUBLIC_URL) from every line', () => {
    const env = { PUBLIC_URL: 'http://127.0.0.1:8080', STREAM_TOKEN_SECRET: 'q7z', TWILIO_AUTH_TOKEN: 'dev-token' };
    const cfg = loadConfig(env);
    const logs = new LogCapture();
    const logger = createLogger({ level: 'info', destination: logs, secrets: collectSecrets(cfg, env) });
    logger.warn({ err: 'upstream answered 401 for token q7z' }, 'admin call q7z failed');
    logger.info({ url: 'http://x/?t=dev-token' }, 'fetched');
    expect(logs.lines).toHaveLength(2);
    expect(logs.text()).not.toContain('q7z');
    expect(logs.text()).not.toContain('dev-token');
    expect(logs.find('admin call [redacted] failed')[0]).toMatchObject({
      err: 'upstream answered 401 for token [redacted]',
    });
  });

  it('scrubs a secret with quotes or backslashes in the form JSON escapes it to', () => {
    const secret = 'a"b\\c-secret';
    const logs = new LogCapture();
    createLogger({ destination: logs, secrets: [secret] }).error({ detail: `got ${secret}` }, 'oops');
    expect(logs.text()).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(logs.find('oops')[0]).toMatchObject({ detail: 'got [redacted]' });
  });
});
