/**
 * The one argument parser of every command (`serve`, `engine`, `call`, `demo`): Node's
 * `util.parseArgs` with each command's options declared once, from which the parser, the
 * validation of fixed choices and the `--help` text all come. Every command takes `--help`/`-h`
 * and `--version`/`-V`; an unknown option, a stray argument, a missing value or a value outside
 * its choices is a usage error (exit code 2) that names the option and points at `--help`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { closest } from './config/suggest.js';

export const PROGRAM = 'omni-phone-bridge';

/** Exit code of a usage error (unknown option, bad value), as in most command-line tools. */
export const USAGE_EXIT = 2;

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string | boolean;
  /** the value's placeholder in the help text, e.g. PORT */
  value?: string;
  /** the only values accepted (strings): anything else is a usage error */
  choices?: readonly string[];
  help: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** environment variables the command reads: [name, meaning] */
  env?: readonly (readonly [string, string])[];
  /** text after the options (examples, notes) */
  notes?: string;
  /** positional arguments the command takes, e.g. `[FILE]`: at most `max`, named `usage` in the help */
  positionals?: { usage: string; max: number };
}

/** A command-line mistake: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The package version (package.json at the repository root). */
export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const BUILT_IN: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', help: 'print this help and exit' },
  version: { type: 'boolean', short: 'V', help: 'print the version and exit' },
};

type Values = Record<string, string | boolean | string[] | undefined>;

export type Parsed =
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  | { kind: 'run'; values: Values; positionals: string[] };

/**
 * Parses `argv` for `spec`. Returns help or version text to print (exit 0), or the values.
 * @throws UsageError for anything the command does not accept.
 */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): Parsed {
  const all = { ...spec.options, ...BUILT_IN };
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }
  > = {};
  for (const [name, o] of Object.entries(all)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
    };
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: options as never,
      strict: true,
      allowPositionals: !!spec.positionals,
    }));
  } catch (err) {
    const msg = (err as Error).message;
    // A misspelt option gets the one it was probably meant to be (`--brige` → `--bridge`).
    const unknown = /^Unknown option '-{1,2}([^']+)'/.exec(msg)?.[1];
    const near = unknown ? closest(unknown, Object.keys(all)) : undefined;
    const hint = near ? `; did you mean --${near}?` : '';
    throw new UsageError(`${PROGRAM} ${spec.name}: ${cleanMessage(msg)}${hint}`);
  }
  if (values.help) return { kind: 'help', text: commandHelp(spec) };
  if (values.version) return { kind: 'version', text: `${PROGRAM} ${version()}\n` };
  if (spec.positionals && positionals.length > spec.positionals.max)
    throw new UsageError(
      `${PROGRAM} ${spec.name}: too many arguments (takes ${spec.positionals.usage}): ${positionals.slice(spec.positionals.max).join(' ')}`,
    );
  for (const [name, o] of Object.entries(spec.options)) {
    const v = values[name];
    if (!o.choices || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      if (typeof one === 'string' && !o.choices.includes(one)) {
        throw new UsageError(
          `${PROGRAM} ${spec.name}: --${name} must be one of ${o.choices.join(', ')} (got "${one}")`,
        );
      }
    }
  }
  return { kind: 'run', values, positionals };
}

/** parseArgs's messages, shortened to the point (they end with advice about `--`). */
function cleanMessage(msg: string): string {
  return msg
    .replace(/\. To specify a positional argument starting with a '-'.*$/s, '')
    .replace(/^Unknown option/, 'unknown option')
    .replace(/^Unexpected argument/, 'unexpected argument');
}

/** `  --name, -n VALUE   help (default: x)` lines, aligned. */
function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `--${name}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const extra = [
      o.choices ? `one of ${o.choices.join('|')}` : '',
      o.default !== undefined && o.default !== false ? `default ${String(o.default)}` : '',
      o.multiple ? 'repeatable' : '',
    ]
      .filter(Boolean)
      .join('; ');
    return [flag, extra ? `${o.help} (${extra})` : o.help] as const;
  });
  const width = Math.min(28, Math.max(...rows.map(([f]) => f.length)));
  return rows.map(([f, h]) =>
    f.length > width ? `  ${f}\n  ${' '.repeat(width)}  ${h}` : `  ${f.padEnd(width)}  ${h}`,
  );
}

function envLines(env: readonly (readonly [string, string])[]): string[] {
  const width = Math.min(28, Math.max(...env.map(([n]) => n.length)));
  return env.map(([n, h]) => `  ${n.padEnd(width)}  ${h}`);
}

/** The `--help` text of one command. */
export function commandHelp(spec: CommandSpec): string {
  const parts = [
    `usage: ${PROGRAM} ${spec.name} [options]${spec.positionals ? ` ${spec.positionals.usage}` : ''}`,
    '',
    spec.summary,
    '',
    'options:',
    ...optionLines({ ...spec.options, ...BUILT_IN }),
  ];
  if (spec.env?.length) parts.push('', 'environment:', ...envLines(spec.env));
  if (spec.notes) parts.push('', spec.notes);
  return `${parts.join('\n')}\n`;
}

/** The top-level help: every command with its options, and the environment of each. */
export function programHelp(commands: readonly CommandSpec[]): string {
  const parts = [
    `${PROGRAM} ${version()} — puts Twilio phone calls on PyAI Omni voice agents`,
    '',
    `usage: ${PROGRAM} [command] [options]      (no command: serve)`,
    `       ${PROGRAM} <command> --help          one command's help`,
    `       ${PROGRAM} --version`,
  ];
  for (const c of commands) {
    parts.push('', `${c.name} — ${c.summary}`);
    if (Object.keys(c.options).length) parts.push(...optionLines(c.options));
    if (c.env?.length) parts.push('  environment:', ...envLines(c.env).map((l) => `  ${l}`));
  }
  parts.push('', 'Every command also takes --help (-h) and --version (-V). A usage error exits with code 2.');
  return `${parts.join('\n')}\n`;
}

export interface CliOut {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const STDIO: CliOut = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** A command's output and the environment it checks (validate, doctor): the process's own by default. */
export type CliEnvIo = CliOut & { env: NodeJS.ProcessEnv };
export const processEnvIo = (): CliEnvIo => ({ ...STDIO, env: process.env });

/**
 * parseCommand for a command's entry: prints help or the version (exit 0) or the usage error
 * (exit 2) and returns `{ exit }`, or returns the values to run with.
 */
export function parseOrExit(
  spec: CommandSpec,
  argv: readonly string[],
  io: CliOut = STDIO,
): { values: Values; positionals: string[]; exit?: undefined } | { exit: number } {
  let parsed: Parsed;
  try {
    parsed = parseCommand(spec, argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`${err.message}\nSee '${PROGRAM} ${spec.name} --help'.\n`);
    return { exit: USAGE_EXIT };
  }
  if (parsed.kind === 'run') return { values: parsed.values, positionals: parsed.positionals };
  io.out(parsed.text);
  return { exit: 0 };
}

/** A usage error for a value the parser took but the command refuses (a number that is not one). */
export function usageError(spec: CommandSpec, message: string, io: CliOut = STDIO): number {
  io.err(`${PROGRAM} ${spec.name}: ${message}\nSee '${PROGRAM} ${spec.name} --help'.\n`);
  return USAGE_EXIT;
}
