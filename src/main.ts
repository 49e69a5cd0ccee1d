#!/usr/bin/env node
/**
 * omni-phone-bridge CLI:
 *   serve   run the bridge (default)            engine  run the offline Omni engine
 *   call    place a simulated Twilio call        demo    the whole product, offline, in one go
 * Every command takes --help and --version; `omni-phone-bridge --help` lists every command's
 * options and environment (src/cli-commands.ts). A usage error exits with 2, a failed start with 1.
 */
import { PROGRAM, USAGE_EXIT, UsageError, programHelp, version } from './cli-args.js';
import { COMMANDS } from './cli-commands.js';
import { closest } from './config/suggest.js';

const argv = process.argv.slice(2);
const first = argv[0];
const cmd =
  first === undefined || (first.startsWith('-') && !['-h', '--help', '-V', '--version'].includes(first))
    ? 'serve'
    : first;
const rest = cmd === first ? argv.slice(1) : argv;

async function run(): Promise<number> {
  switch (cmd) {
    case 'serve':
      return (await import('./serve.js')).serveMain(rest);
    case 'engine':
      return (await import('./sim/engine/cli.js')).runEngineCli(rest);
    case 'call':
      return (await import('./sim/twilio/cli.js')).runCallCli(rest);
    case 'demo':
      return (await import('./demo.js')).runDemo(rest);
    case 'validate':
      return (await import('./validate.js')).runValidate(rest);
    case 'doctor':
      return (await import('./doctor.js')).runDoctor(rest);
    case 'new-tool':
      return (await import('./new-tool.js')).runNewTool(rest);
    case 'config':
      return (await import('./control-plane/cli.js')).runConfigCli(rest);
    case 'secrets':
      return (await import('./control-plane/cli.js')).runSecretsCli(rest);
    case 'help':
    case '--help':
    case '-h':
      if (rest.length)
        throw new UsageError(
          `${PROGRAM}: ${cmd} takes no arguments; for one command's help: ${PROGRAM} <command> --help`,
        );
      process.stdout.write(programHelp(COMMANDS));
      return 0;
    case '--version':
    case '-V':
      if (rest.length) throw new UsageError(`${PROGRAM}: ${cmd} takes no arguments`);
      process.stdout.write(`${PROGRAM} ${version()}\n`);
      return 0;
    default: {
      const near = closest(
        cmd,
        COMMANDS.map((c) => c.name),
      );
      throw new UsageError(
        `${PROGRAM}: unknown command "${cmd}"${near ? `; did you mean ${near}?` : ''}; commands: ${COMMANDS.map((c) => c.name).join(', ')}`,
      );
    }
  }
}

run().then(
  (code) => {
    // A command that ran to its end exits with its code at once, whatever is still open: a failed
    // start must never leave a process that neither listens nor exits. Only `serve` and `engine`
    // that stopped normally (code 0, after draining) leave the exit to the event loop, so that the
    // last log lines are written.
    if (code !== 0 || (cmd !== 'serve' && cmd !== 'engine')) process.exit(code);
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(
        `${err.message}\nSee '${PROGRAM}${COMMANDS.some((c) => c.name === cmd) ? ` ${cmd}` : ''} --help'.\n`,
      );
      process.exit(USAGE_EXIT);
    }
    process.stderr.write(`${PROGRAM}: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
