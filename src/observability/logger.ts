import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Keys whose values are secrets wherever they appear in a log object. pino's redaction runs on
 * the serialised object, so a secret that sneaks into a nested field is still masked.
 */
const REDACT_PATHS = [
  'apiKey', '*.apiKey', 'authToken', '*.authToken', 'auth_secret', '*.auth_secret',
  'signingSecret', '*.signingSecret', 'secret', '*.secret', 'password', '*.password',
  'headers.authorization', 'headers["x-twilio-signature"]', '*.kb_token', 'kb_token',
];

export interface LoggerSettings {
  level?: string;
  /** Extra literal strings (the configured secrets) that must never appear in any log line. */
  secrets?: string[];
  destination?: NodeJS.WritableStream;
  pretty?: boolean;
}

/**
 * Creates the process logger. Besides key-based redaction, every configured secret value is
 * scrubbed from the final line: a key can reach a message through an error string or a URL,
 * where no key name protects it.
 */
export function createLogger(settings: LoggerSettings = {}): Logger {
  // Every configured secret, whatever its length (a short one is refused at start in production,
  // docs/decisions.md), in its literal and its JSON-escaped form (a `"` or `\` in it is escaped in the line).
  const secrets = [...new Set((settings.secrets ?? []).filter((s) => s.length > 0).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))]
    .sort((x, y) => y.length - x.length);
  const opts: LoggerOptions = {
    level: settings.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { svc: 'omni-phone-bridge' },
  };
  const dest = settings.destination ?? process.stdout;
  if (secrets.length === 0) return pino(opts, dest as DestinationStream);
  const scrubbing: DestinationStream = {
    write(line: string) {
      let out = line;
      for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
      dest.write(out);
    },
  };
  return pino(opts, scrubbing);
}

/** A logger that discards everything: for tests and library use without configuration. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
