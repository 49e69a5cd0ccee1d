/**
 * The layer rule (scripts/check-layers.ts) must keep working: it finds a call-core file that
 * imports a leg or the server (value, type-only, re-export, the twilio package) in a planted tree,
 * leaves the legs and the server free to import the core, and passes on the real src/ — so CI
 * cannot go green because the checker stopped seeing imports.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { layerViolations, packageSpecifiers } from '../../../scripts/check-layers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('call-core layer check', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function tree(files: Record<string, string>): string {
    dir = mkdtempSync(join(tmpdir(), 'layers-'));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return dir;
  }

  it('finds value, type-only, re-export and package imports of a leg or the server from the core', () => {
    const d = tree({
      'call/session.ts': "import { buildMark } from '../twilio/messages.js';\nexport const x = buildMark;\n",
      'call/types.ts':
        "import type {\n  StreamTokens,\n} from '../server/stream-token.js';\nexport type T = StreamTokens;\n",
      'control/controller.ts': "export { dialTwiml } from '../twilio/twiml.js';\nimport twilio from 'twilio';\n",
      'control/ok.ts': "import { leg } from '../call/leg.js';\nimport { z } from 'zod';\nexport const y = [leg, z];\n",
      'call/leg.ts': 'export const leg = 1;\n',
      'twilio/messages.ts': "import { leg } from '../call/leg.js';\nexport const buildMark = leg;\n",
      'twilio/twiml.ts': 'export const dialTwiml = 1;\n',
      'server/stream-token.ts': "import { x } from '../call/session.js';\nexport type StreamTokens = typeof x;\n",
    });
    expect(layerViolations(d).map((v) => `${v.file} -> ${v.imports}`)).toEqual([
      'call/session.ts -> twilio/messages.ts',
      'call/types.ts -> server/stream-token.ts',
      'control/controller.ts -> twilio',
      'control/controller.ts -> twilio/twiml.ts',
    ]);
  });

  it('finds the server importing the console, and a leaf importing the call core', () => {
    const d = tree({
      'server/app.ts': "import { registerConsole } from '../console/routes.js';\nexport const a = registerConsole;\n",
      'console/routes.ts':
        "import type { Ctx } from '../server/context.js';\nexport const registerConsole = (c: Ctx) => c;\n",
      'server/context.ts': 'export type Ctx = number;\n',
      'observability/redact.ts': "import type { CallRecord } from '../call/record.js';\nexport type R = CallRecord;\n",
      'call/record.ts': "import { x } from '../audio/x.js';\nexport type CallRecord = typeof x;\n",
      'audio/x.ts': 'export const x = 1;\n',
    });
    expect(layerViolations(d).map((v) => `${v.file} -> ${v.imports}`)).toEqual([
      'observability/redact.ts -> call/record.ts',
      'server/app.ts -> console/routes.ts',
    ]);
  });

  it('reads package specifiers of import, export and bare import statements only', () => {
    expect(
      packageSpecifiers(
        [
          "import twilio from 'twilio';",
          "import type { X } from '@fastify/websocket';",
          "import 'side-effect';",
          "export { y } from 'pkg/sub';",
          "import { z } from './relative.js';",
          " * import { no } from 'in-a-comment';",
          'const s = "import { no } from \'in-string\'";',
        ].join('\n'),
      ),
    ).toEqual(['twilio', '@fastify/websocket', 'side-effect', 'pkg/sub']);
  });

  it('passes on the real src/, and the CLI exits 1 on a planted violation, 0 on src', () => {
    expect(layerViolations(join(root, 'src'))).toEqual([]);
    const d = tree({
      'call/a.ts': "import { b } from '../server/b.js';\nexport const a = b;\n",
      'server/b.ts': 'export const b = 1;\n',
    });
    const run = (target?: string) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', join(root, 'scripts/check-layers.ts'), ...(target ? [target] : [])],
        {
          cwd: root,
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
    const bad = run(d);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('call/a.ts -> server/b.ts');
    expect(run().status).toBe(0);
  });
});
