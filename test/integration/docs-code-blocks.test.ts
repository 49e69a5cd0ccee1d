/**
 * The docs' examples run as written. Every fenced block whose info string says `runnable`
 * (```js runnable, ```js runnable module, ```js runnable server, ```sh runnable) in docs/*.md,
 * README.md and packages/tool-sdk/README.md is extracted and run with plain `node` (or bash) in
 * an empty folder where `omni-phone-bridge` and `@omni-phone-bridge/tool-sdk` resolve to this
 * checkout, as they would in a tool author's project:
 *   - `runnable`: a script, which must exit 0 (its own asserts say what it expects);
 *   - `runnable module`: a tool module, imported as the bridge imports one (a default export function);
 *   - `runnable server`: a webhook receiver, started with PORT, then called by the bridge's own
 *     webhook client (signed), and by an attacker (unsigned, tampered), whom it must refuse;
 *   - `sh runnable`: commands run with `bash -e`.
 * And every JavaScript or TypeScript block in those files is marked runnable: an example that
 * is not run is an example that rots.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/sim/free-port.js';
import type { ToolDefinition } from '../../src/tools/types.js';
import { harness } from '../unit/tools/helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const FILES = [
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'README.md',
  'packages/tool-sdk/README.md',
];

interface Block {
  file: string;
  line: number;
  lang: string;
  flags: string[];
  code: string;
}

function blocks(): Block[] {
  const out: Block[] = [];
  for (const file of FILES) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/^```(\w*)([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm)) {
      const line = text.slice(0, m.index).split('\n').length;
      out.push({ file, line, lang: m[1]!, flags: m[2]!.trim().split(/\s+/).filter(Boolean), code: m[3]! });
    }
  }
  return out;
}

const ALL = blocks();
const runnable = (b: Block) => b.flags[0] === 'runnable';
const mode = (b: Block) => b.flags[1] ?? 'script';
const name = (b: Block) => `${b.file}:${b.line}`;
const JS = ALL.filter((b) => b.lang === 'js' && runnable(b));
const SH = ALL.filter((b) => b.lang === 'sh' && runnable(b));

const dirs: string[] = [];
const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An empty project folder in which the bridge's package and the SDK resolve to this checkout. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'opb-docs-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'node_modules/@omni-phone-bridge'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/.bin'));
  symlinkSync(ROOT, join(dir, 'node_modules/omni-phone-bridge'));
  symlinkSync(join(ROOT, 'packages/tool-sdk'), join(dir, 'node_modules/@omni-phone-bridge/tool-sdk'));
  symlinkSync(join(ROOT, 'bin/omni-phone-bridge.js'), join(dir, 'node_modules/.bin/omni-phone-bridge'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'my-tools', private: true, type: 'module' }));
  return dir;
}

/** Runs a command to its end (a hang guard of 60 s): its exit code and output. */
function run(cmd: string, args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function waitListening(port: number, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await listening(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port} within 10 s`);
}

describe('the docs code blocks', () => {
  it('every JavaScript or TypeScript example is marked runnable, and there are runnable ones of each kind', () => {
    const unrun = ALL.filter((b) => ['js', 'mjs', 'ts', 'javascript', 'typescript'].includes(b.lang) && !runnable(b));
    expect(unrun.map(name)).toEqual([]);
    expect(new Set(JS.map(mode))).toEqual(new Set(['script', 'module', 'server']));
    expect(SH.length).toBeGreaterThanOrEqual(1);
    expect(JS.filter((b) => b.file === 'packages/tool-sdk/README.md').length).toBeGreaterThanOrEqual(1);
  });

  it.each(JS.filter((b) => mode(b) === 'script').map((b) => [name(b), b] as const))(
    '%s runs with plain node and exits 0',
    (_n, b) => {
      const dir = project();
      writeFileSync(join(dir, 'example.js'), b.code);
      const r = run(process.execPath, ['example.js'], dir);
      expect(r.output).not.toMatch(/Error/);
      expect(r.status).toBe(0);
    },
    70_000,
  );

  it.each(JS.filter((b) => mode(b) === 'module').map((b) => [name(b), b] as const))(
    '%s imports under plain node as a tool module: its default export is the handler',
    (_n, b) => {
      const dir = project();
      writeFileSync(join(dir, 'tool.js'), b.code);
      const check = "const m = await import('./tool.js'); if (typeof m.default !== 'function') process.exit(3);";
      const r = run(process.execPath, ['--input-type=module', '-e', check], dir);
      expect(r.output).toBe('');
      expect(r.status).toBe(0);
    },
    70_000,
  );

  it.each(JS.filter((b) => mode(b) === 'server').map((b) => [name(b), b] as const))(
    '%s answers the bridge webhook client, and refuses an unsigned or tampered call',
    async (_n, b) => {
      const dir = project();
      writeFileSync(join(dir, 'receiver.js'), b.code);
      const port = await freePort();
      const secret = 'docs-receiver-signing-secret-4c9a';
      const child = spawn(process.execPath, ['receiver.js'], {
        cwd: dir,
        env: { ...process.env, PORT: String(port), ORDER_HOOK_SIGNING_SECRET: secret },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitListening(port, `${name(b)} (stderr: ${stderr})`);

      // the bridge's own webhook client, as a call's tool call runs it
      const url = `http://127.0.0.1:${port}/tools/order-status`;
      const tool: ToolDefinition = {
        name: 'get_order_status',
        description: 'Look up an order.',
        parameters: { type: 'object', properties: { order_id: { type: 'string' } } },
        timeout_ms: 3000,
        side_effect: 'read',
        executor: { kind: 'http', url, method: 'POST', signing_secret_env: 'TOOL_SECRET_ORDER_HOOK_SIGNING' },
      };
      const h = await harness([tool], { env: { TOOL_SECRET_ORDER_HOOK_SIGNING: secret }, allowHosts: ['127.0.0.1'] });
      try {
        h.runtime.handle({ callId: 'call_7', name: 'get_order_status', arguments: { order_id: '4417' } });
        const [answer] = await h.waitFor(1, 10_000);
        expect(answer!.output).toEqual({ order_id: '4417', status: 'shipped', arriving: 'Thursday' });
      } finally {
        h.runtime.abortAll();
        h.registry.close();
      }

      // the attacker: no signature, then a signature of another body
      const body = JSON.stringify({ call_id: 'x', name: 'get_order_status', arguments: { order_id: '1' } });
      const unsigned = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(unsigned.status).toBe(401);
      const t = Math.floor(Date.now() / 1000);
      const forged = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-bridge-signature': `t=${t},v1=${'0'.repeat(64)}` },
      });
      expect(forged.status).toBe(401);
    },
    70_000,
  );

  it.each(SH.map((b) => [name(b), b] as const))(
    '%s runs with bash -e in an empty project',
    (_n, b) => {
      const dir = project();
      const r = run('bash', ['-e', '-c', b.code], dir);
      expect(r.status, r.output).toBe(0);
    },
    70_000,
  );
});
