#!/usr/bin/env node
/**
 * omni-phone-bridge CLI:
 *   serve   run the bridge (default)            engine  run the offline Omni engine
 *   call    place a simulated Twilio call        demo    the whole product, offline, in one go
 */
const [cmd = 'serve', ...rest] = process.argv.slice(2);

async function run(): Promise<number> {
  switch (cmd) {
    case 'serve':
      return (await import('./serve.js')).serveMain();
    case 'engine':
      return (await import('./sim/engine/cli.js')).runEngineCli(rest);
    case 'call':
      return (await import('./sim/twilio/cli.js')).runCallCli(rest);
    case 'demo':
      return (await import('./demo.js')).runDemo(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write('usage: omni-phone-bridge [serve|engine|call|demo] [options]\n');
      return 0;
    default:
      process.stderr.write(`unknown command "${cmd}"; try: serve, engine, call, demo\n`);
      return 2;
  }
}

run().then(
  (code) => {
    if (cmd !== 'serve' && cmd !== 'engine') process.exit(code);
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`omni-phone-bridge: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
