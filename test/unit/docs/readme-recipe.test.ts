/**
 * The README's three-terminal recipe works as written only if the simulated
 * caller gives the offline engine's demo script what it waits for: the sentence it expects, and
 * the account number its `collect` asks for. When either side changes alone, this fails.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = new URL('../../..', import.meta.url).pathname;
const readme = readFileSync(`${ROOT}README.md`, 'utf8');
const scenario = parse(readFileSync(`${ROOT}config/demo-scenario.yaml`, 'utf8')) as { steps: Record<string, any>[] };

/** The README's `npm run call` command, its continuation lines joined. */
function recipeCallCommand(): string {
  const joined = readme.replace(/\\\n\s*/g, ' ');
  const line = joined.split('\n').find((l) => l.includes('npm run call --'));
  expect(line, 'the README has an `npm run call` line').toBeDefined();
  return line!;
}

const option = (cmd: string, name: string) =>
  cmd
    .match(new RegExp(`--${name} (?:"([^"]*)"|(\\S+))`))
    ?.slice(1)
    .find((v) => v !== undefined);

describe("the README's three-terminal recipe", () => {
  it('the caller says what the demo script waits for, and keys the digits its collect asks for', () => {
    const cmd = recipeCallCommand();
    const waits = scenario.steps.find((s) => s.wait_for_caller);
    expect(option(cmd, 'say')).toBe(waits!.expect);
    const collect = scenario.steps.find((s) => s.verb === 'collect')!.args;
    const dtmf = option(cmd, 'dtmf');
    expect(dtmf).toBeDefined();
    expect(dtmf).toMatch(new RegExp(`^\\d{${collect.num_digits}}${collect.finish_on_key === '#' ? '#' : ''}$`));
  });

  it('records where the demo records, a folder git ignores', () => {
    expect(option(recipeCallCommand(), 'record')).toMatch(/^recordings\//);
    expect(readFileSync(`${ROOT}.gitignore`, 'utf8').split('\n')).toContain('recordings/');
  });

  it("the script's agent claims nothing about the digits it collected", () => {
    const i = scenario.steps.findIndex((s) => s.verb === 'collect');
    const after = scenario.steps
      .slice(i + 1)
      .filter((s) => s.say)
      .map((s) => String(s.say));
    for (const line of after) expect(line).not.toMatch(/verif|confirm|correct|valid/i);
  });
});
