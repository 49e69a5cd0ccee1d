/**
 * A reload after a tool module's file changed loads the new code (the registry imports the file
 * under its content hash) and says so, in the real process: before, the reload answered "no change"
 * and Node's module cache kept serving the old code until a restart.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bridgeTestConfig } from '../helpers/bridge-stack.js';
import { startBridgeProcess, type BridgeProcess } from '../helpers/bridge-process.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('tool code admin');
let b: BridgeProcess | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await b?.close();
  b = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('configuration reload: tool module code', () => {
  it('imports the changed module file at the reload and reports it; an unchanged one is not imported again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opb-toolcode-'));
    dirs.push(dir);
    const modulePath = join(dir, 'tool.mjs');
    const marker = join(dir, 'loaded.txt');
    // Each version of the module notes, when it is imported, which version ran.
    const writeModule = (v: number) =>
      writeFileSync(
        modulePath,
        `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(marker)}, 'v${v}\\n');\nexport default async () => ({ version: ${v} });\n`,
      );
    writeModule(1);
    const config = bridgeTestConfig({
      support: {
        tools: [
          {
            name: 'look_up',
            description: 'Looks something up.',
            side_effect: 'read',
            parameters: { type: 'object' },
            executor: { kind: 'module', module: modulePath },
          },
        ],
      },
    });
    b = await startBridgeProcess({ config, adminToken: ADMIN });
    expect(readFileSync(marker, 'utf8')).toBe('v1\n');

    writeModule(2);
    const r = await b.admin('/admin/config/reload', 'POST');
    expect(r.status).toBe(200);
    expect(r.json.summary).toBe('tool modules or hold audio reloaded: support');
    expect(readFileSync(marker, 'utf8')).toBe('v1\nv2\n');

    const again = await b.admin('/admin/config/reload', 'POST');
    expect(again.json.summary).toBe('no change');
    expect(readFileSync(marker, 'utf8')).toBe('v1\nv2\n');
  }, 120_000);
});
