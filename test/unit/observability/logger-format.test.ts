import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, LogSettingError, logLevel, prettyLogs } from '../../../src/observability/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe('log format (LOG_FORMAT, pino-pretty)', () => {
  it('JSON unless LOG_FORMAT=pretty or a terminal; LOG_FORMAT=json wins over a terminal', () => {
    expect(prettyLogs({}, { isTTY: false })).toBe(false);
    expect(prettyLogs({}, {})).toBe(false);
    expect(prettyLogs({}, { isTTY: true })).toBe(true);
    expect(prettyLogs({ LOG_FORMAT: 'pretty' }, {})).toBe(true);
    expect(prettyLogs({ LOG_FORMAT: 'JSON' }, { isTTY: true })).toBe(false);
  });

  it('refuses any other LOG_FORMAT, naming the variable and its values', () => {
    expect(() => prettyLogs({ LOG_FORMAT: 'fancy' }, {})).toThrow(LogSettingError);
    expect(() => prettyLogs({ LOG_FORMAT: 'fancy' }, {})).toThrow(
      'LOG_FORMAT must be one of json, pretty (got "fancy")',
    );
  });

  it('pretty: readable lines through pino-pretty, with every secret still scrubbed', () => {
    const secret = 'tok-3f9a1c77e2b54d0e';
    const { lines, destination } = capture();
    const log = createLogger({ destination, pretty: true, secrets: [secret], level: 'info' });
    log.info(
      { callSid: 'CA1', url: `https://x.example/?token=${secret}`, nested: { apiKey: 'k-123456789' } },
      `engine said ${secret}`,
    );
    const text = lines.join('');
    expect(() => JSON.parse(lines[0]!)).toThrow(); // not a JSON line
    expect(text).toMatch(/INFO.*engine said \[redacted\]/);
    expect(text).toContain('callSid: "CA1"');
    expect(text).not.toContain(secret);
    expect(text).not.toContain('k-123456789');
  });

  it('JSON by default for a destination that is not a terminal', () => {
    const { lines, destination } = capture();
    createLogger({ destination, level: 'info' }).info({ a: 1 }, 'hello');
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'hello', a: 1, level: 30 });
  });
});

describe('log level (LOG_LEVEL)', () => {
  it("refuses an unknown level naming LOG_LEVEL and the allowed values, not with pino's own message", () => {
    const msg = 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")';
    expect(() => logLevel(undefined, { LOG_LEVEL: 'loud' })).toThrow(msg);
    expect(() => createLogger({ level: 'loud', destination: capture().destination })).toThrow(msg);
    expect(logLevel(undefined, { LOG_LEVEL: 'Debug' })).toBe('debug');
    expect(logLevel(undefined, {})).toBe('info');
  });
});
