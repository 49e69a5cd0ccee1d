import { describe, expect, it } from 'vitest';
import { commandHelp, parseOrExit, programHelp, type CliOut } from '../../../src/cli-args.js';
import { CALL, COMMANDS, DEMO, ENGINE, SERVE } from '../../../src/cli-commands.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliOut = { out: (s) => out.push(s), err: (s) => err.push(s) };
  return { out, err, value };
}

describe('the argument parser of every command', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    '%s: an unknown option or a stray argument is exit 2, named, nothing printed to stdout',
    (_name, spec) => {
      // a command that takes positionals (validate FILE, new-tool NAME) gets one more than it takes
      const stray = spec.positionals ? [...Array<string>(spec.positionals.max).fill('one'), 'stray'] : ['stray'];
      for (const args of [['--bogus'], stray, ['-z']]) {
        const o = io();
        expect(parseOrExit(spec, args, o.value)).toEqual({ exit: 2 });
        expect(o.out).toEqual([]);
        expect(o.err.join('')).toMatch(
          new RegExp(
            `^omni-phone-bridge ${spec.name}: (unknown option '${args[0]}'|unexpected argument '${args[0]}'|too many arguments .*: stray)[^]*See 'omni-phone-bridge ${spec.name} --help'`,
          ),
        );
      }
    },
  );

  it('a misspelt option names the one it was probably meant to be; a far-off one gets no guess', () => {
    const near = io();
    expect(parseOrExit(CALL, ['--brige', 'http://127.0.0.1:1'], near.value)).toEqual({ exit: 2 });
    expect(near.err.join('')).toMatch(/unknown option '--brige'; did you mean --bridge\?/);
    const far = io();
    expect(parseOrExit(SERVE, ['--zzzzzz'], far.value)).toEqual({ exit: 2 });
    expect(far.err.join('')).not.toContain('did you mean');
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    '%s: --help and -h print the help, --version the version, exit 0',
    (_name, spec) => {
      for (const args of [['--help'], ['-h']]) {
        const o = io();
        expect(parseOrExit(spec, args, o.value)).toEqual({ exit: 0 });
        expect(o.out.join('')).toBe(commandHelp(spec));
      }
      const v = io();
      expect(parseOrExit(spec, ['--version'], v.value)).toEqual({ exit: 0 });
      expect(v.out.join('')).toMatch(/^omni-phone-bridge \d+\.\d+\.\d+\n$/);
    },
  );

  it('a string option needs its value, a boolean takes none', () => {
    const a = io();
    expect(parseOrExit(DEMO, ['--out'], a.value)).toEqual({ exit: 2 });
    expect(a.err.join('')).toContain("demo: Option '--out <value>' argument missing");
    const b = io();
    expect(parseOrExit(DEMO, ['--json=yes'], b.value)).toEqual({ exit: 2 });
    expect(b.err.join('')).toContain("'--json' does not take an argument");
  });

  it('choices are enforced (demo --human, call --human, engine --mode) and the rest passes through with defaults', () => {
    for (const [spec, args] of [
      [DEMO, ['--human', 'maybe']],
      [CALL, ['--human', 'later']],
      [ENGINE, ['--mode', 'chatty']],
    ] as const) {
      const o = io();
      expect(parseOrExit(spec, args, o.value)).toEqual({ exit: 2 });
      expect(o.err.join('')).toMatch(new RegExp(`--${args[0].slice(2)} must be one of`));
    }
    expect(parseOrExit(DEMO, ['--human', 'busy', '--json', '--out', 'x.wav'], io().value)).toEqual({
      values: { human: 'busy', json: true, out: 'x.wav', sip: false },
      positionals: [],
    });
    expect(parseOrExit(DEMO, [], io().value)).toEqual({
      values: { human: 'answer', json: false, sip: false },
      positionals: [],
    });
    expect(parseOrExit(SERVE, [], io().value)).toEqual({ values: {}, positionals: [] });
  });

  it('the top-level help names every option of every command and every variable', () => {
    const text = programHelp(COMMANDS);
    for (const c of COMMANDS) {
      for (const name of Object.keys(c.options)) expect(text, `${c.name} --${name}`).toContain(`--${name}`);
      for (const [v] of c.env ?? []) expect(text).toContain(v);
    }
  });
});
