import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVE } from '../../../src/cli-commands.js';
import { drainTimeoutMs } from '../../../src/serve.js';

const SRC = new URL('../../../src', import.meta.url).pathname;
/** read by other commands or by tests, not by `serve` */
const NOT_SERVE = new Set(['VITEST_POOL_ID']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'sim' ? [] : sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Every environment variable the server's code reads by name: `env.X`, `env['X']`, `f(env, 'X')`. */
function variablesRead(): Set<string> {
  const names = new Set<string>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(
      /\benv(?:\.([A-Z][A-Z0-9_]{2,})|\[['"]([A-Z][A-Z0-9_]{2,})['"]\]|, ['"]([A-Z][A-Z0-9_]{2,})['"])/g,
    ))
      names.add((m[1] ?? m[2] ?? m[3])!);
  }
  for (const n of NOT_SERVE) names.delete(n);
  return names;
}

describe('serve --help names every variable the server reads', () => {
  it('each variable read by src/ (outside the simulator) is in the help', () => {
    const documented = new Set((SERVE.env ?? []).flatMap(([names]) => names.split(/\s*\/\s*/)));
    const read = variablesRead();
    expect(read.size).toBeGreaterThan(15); // the scan finds the variables at all
    expect([...read].filter((n) => !documented.has(n)).sort()).toEqual([]);
  });
});

describe('DRAIN_TIMEOUT_MS', () => {
  it('unset or empty is 30 s, 0 is no wait, a whole number is taken as it is', () => {
    expect(drainTimeoutMs(undefined)).toBe(30_000);
    expect(drainTimeoutMs('')).toBe(30_000);
    expect(drainTimeoutMs('0')).toBe(0);
    expect(drainTimeoutMs(' 45000 ')).toBe(45_000);
  });

  it('anything else is refused, naming the variable and the value, never silently 30 s', () => {
    for (const v of ['soon', '-1', '1.5', '30s', '1e4', '86400001', 'Infinity'])
      expect(() => drainTimeoutMs(v)).toThrow(new RegExp(`DRAIN_TIMEOUT_MS .*got "${v}"`));
  });
});

describe('.env.example', () => {
  it('names every variable serve --help lists (the loader reads), each once, and no other', () => {
    const text = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    const named = [...text.matchAll(/^#? ?([A-Z][A-Z0-9_]{2,})=/gm)].map((m) => m[1]!);
    const documented = (SERVE.env ?? []).flatMap(([names]) => names.split(/\s*\/\s*/));
    expect([...named].sort()).toEqual([...documented].sort());
    expect(new Set(named).size).toBe(named.length);
  });
});
