/**
 * The import-cycle rule (scripts/check-cycles.ts) must keep working: it finds cycles planted in
 * a temporary tree (value, type-only, re-export, multi-line and index imports), ignores what only
 * looks like an import, and passes on the real src/ — so CI cannot go green because the checker
 * silently stopped seeing imports.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ALLOWED_CYCLES, findCycles, forbiddenCycles, importSpecifiers } from '../../../scripts/check-cycles.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('import-cycle check', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function tree(files: Record<string, string>): string {
    dir = mkdtempSync(join(tmpdir(), 'cycles-'));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return dir;
  }

  it('finds a planted cycle through a type-only import, a re-export and a directory index, with a path through it', () => {
    const d = tree({
      'a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'b.ts': "export { c as b } from './sub/index.js';\n",
      'sub/index.ts': "import type {\n  A,\n} from '../a.js';\nexport const c = 1;\nexport type X = A;\n",
      'leaf.ts': "import { a } from './a.js';\nexport const leaf = a;\n",
      'self.ts': "import './self.js';\n",
    });
    const cycles = findCycles(d);
    expect(cycles.map((c) => c.files)).toEqual([['a.ts', 'b.ts', 'sub/index.ts'], ['self.ts']]);
    expect(cycles[0]!.path).toEqual(['a.ts', 'b.ts', 'sub/index.ts', 'a.ts']);
    expect(cycles[1]!.path).toEqual(['self.ts', 'self.ts']);
    // an allow-list entry (any order) silences exactly that component
    expect(forbiddenCycles(d, [['sub/index.ts', 'a.ts', 'b.ts']]).map((c) => c.files)).toEqual([['self.ts']]);
  });

  it('does not count imports in comments or strings, packages, or dynamic import()', () => {
    expect(
      importSpecifiers(
        [
          '/**',
          " * import { x } from './example.js';",
          ' */',
          'const s = "import { y } from \'./in-string.js\'";',
          "import { z } from 'zod';",
          "const m = await import('./dynamic.js');",
          "import { ok } from './real.js';",
        ].join('\n'),
      ),
    ).toEqual(['./real.js']);
  });

  it('passes on the real src/ (no cycle, nothing allowed), and the CLI exits 1 on a planted cycle, 0 on src', () => {
    expect(forbiddenCycles(join(root, 'src'))).toEqual([]);
    expect(ALLOWED_CYCLES).toEqual([]);
    const d = tree({
      'x.ts': "import { y } from './y.js';\nexport const x = y;\n",
      'y.ts': "import { x } from './x.js';\nexport const y = x;\n",
    });
    const run = (target: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/check-cycles.ts'), target], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const bad = run(d);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('x.ts -> y.ts -> x.ts');
    const good = run(join(root, 'src'));
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
  }, 150_000);
});
