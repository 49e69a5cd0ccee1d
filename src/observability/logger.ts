import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Keys whose values are secrets wherever they appear in a log object. pino's redaction runs on
 * the serialised object, so a secret that sneaks into a nested field is still masked.
 */
const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'authToken',
  '*.authToken',
  'auth_secret',
  '*.auth_secret',
  'signingSecret',
  '*.signingSecret',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'headers.authorization',
  'headers["x-twilio-signature"]',
  '*.kb_token',
  'kb_token',
];

export interface LoggerSettings {
  level?: string;
  /** Extra literal strings (the configured secrets) that must never appear in any log line. */
  secrets?: string[];
  destination?: NodeJS.WritableStream;
  /**
   * Readable lines (pino-pretty) instead of JSON. Unset: LOG_FORMAT decides (`pretty` or `json`),
   * and without it, readable lines when the destination is a terminal, JSON otherwise.
   */
  pretty?: boolean;
}

/** pino's levels: LOG_LEVEL must be one of them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;

/** A logging setting from the environment that is not one of its values: the message names the variable. */
export class LogSettingError extends Error {
  override name = 'LogSettingError';
}

function oneOf(variable: string, value: string, allowed: readonly string[]): string {
  const v = value.trim().toLowerCase();
  if (allowed.includes(v)) return v;
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  throw new LogSettingError(`${variable} must be one of ${allowed.join(', ')} (got "${shown}")`);
}

/** The level to log at: `level`, else LOG_LEVEL, else info. @throws LogSettingError naming LOG_LEVEL */
export function logLevel(level: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const v = level || env.LOG_LEVEL;
  return v ? oneOf('LOG_LEVEL', v, LOG_LEVELS) : 'info';
}

/**
 * Whether lines are for a human: LOG_FORMAT=pretty or json decides; unset, a terminal gets
 * readable lines and anything else (a pipe, a file, a container's log driver) JSON.
 * @throws LogSettingError naming LOG_FORMAT
 */
export function prettyLogs(env: NodeJS.ProcessEnv = process.env, destination: unknown = process.stdout): boolean {
  const format = env.LOG_FORMAT ? oneOf('LOG_FORMAT', env.LOG_FORMAT, LOG_FORMATS) : undefined;
  if (format) return format === 'pretty';
  return (destination as { isTTY?: boolean }).isTTY === true;
}

type Prettify = (line: string) => string;

/**
 * pino-pretty's formatter (an optional dependency), or undefined when it is not installed. Its
 * line formatter runs in this thread, after the secrets are scrubbed from the JSON line: no
 * worker thread, nothing that could print a line the scrubber has not seen.
 */
function loadPrettifier(colorize: boolean): Prettify | undefined {
  try {
    const mod = createRequire(import.meta.url)('pino-pretty') as { prettyFactory: (o: object) => Prettify };
    return mod.prettyFactory({
      colorize,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,svc',
      singleLine: false,
    });
  } catch {
    return undefined;
  }
}

/**
 * The scrubber of every line the bridge writes out of itself (the log, CALL_RECORDS_FILE): each
 * configured secret, whatever its length (a short one is refused at start in production,
 * docs/decisions.md), in its literal and its JSON-escaped form (a `"` or `\` in it is escaped in
 * a JSON line), becomes `[redacted]`. Undefined when there is no secret to scrub.
 */
export function secretScrubber(configured: readonly string[]): ((line: string) => string) | undefined {
  const secrets = [
    ...new Set(configured.filter((s) => s.length > 0).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])),
  ].sort((x, y) => y.length - x.length);
  if (secrets.length === 0) return undefined;
  return (line) => {
    let out = line;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
    return out;
  };
}

/**
 * Creates the process logger. Besides key-based redaction, every configured secret value is
 * scrubbed from the final line: a key can reach a message through an error string or a URL,
 * where no key name protects it.
 */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const scrub = secretScrubber(settings.secrets ?? []);
  const opts: LoggerOptions = {
    level: logLevel(settings.level),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { svc: 'omni-phone-bridge' },
  };
  const dest = settings.destination ?? process.stdout;
  let prettify: Prettify | undefined;
  if (settings.pretty ?? prettyLogs(process.env, dest)) {
    prettify = loadPrettifier((dest as { isTTY?: boolean }).isTTY === true);
    if (!prettify && process.env.LOG_FORMAT)
      throw new LogSettingError(
        'LOG_FORMAT=pretty needs pino-pretty, an optional dependency that is not installed (npm install pino-pretty), or LOG_FORMAT=json',
      );
  }
  if (!scrub && !prettify) return pino(opts, dest as DestinationStream);
  const scrubbing: DestinationStream = {
    write(line: string) {
      const out = scrub ? scrub(line) : line;
      dest.write(prettify ? prettify(out) : out);
    },
  };
  return pino(opts, scrubbing);
}

/** A logger that discards everything: for tests and library use without configuration. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
