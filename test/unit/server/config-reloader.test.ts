import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadEnv, readConfigFile, type LoadedConfig } from '../../../src/config/loader.js';
import { createLogger } from '../../../src/observability/logger.js';
import { loadAgentSet, type AgentSet } from '../../../src/server/agent-set.js';
import { ConfigReloader } from '../../../src/server/reload.js';

const tool = (module: string) => ({
  name: 'lookup',
  description: 'Looks something up.',
  side_effect: 'read',
  parameters: { type: 'object', properties: {}, additionalProperties: false },
  executor: { kind: 'module', module },
});

function fileWith(o: { supportPersona?: string; billing?: boolean; module?: string } = {}) {
  return {
    default_agent: 'support',
    agents: [
      { id: 'support', persona: o.supportPersona ?? 'You are Ada.', tools: [tool(o.module ?? './tool.js')] },
      { id: 'sales', persona: 'You are Sam.' },
      ...(o.billing ? [{ id: 'billing', persona: 'You are Bo.', tools: [tool('./tool.js')] }] : []),
    ],
    numbers: { '+15550001111': { agent: 'support' } },
  };
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function setup() {
  dir = mkdtempSync(join(tmpdir(), 'opb-reload-'));
  const path = join(dir, 'agents.json');
  writeFileSync(join(dir, 'tool.js'), 'export default async () => ({ ok: true });\n');
  const write = (o: unknown) => writeFileSync(path, JSON.stringify(o));
  write(fileWith());
  const logger = createLogger({ level: 'silent' });
  const env = loadEnv({ BRIDGE_CONFIG: path });
  const options = { env: process.env, allowHosts: [], logger };
  let config: LoadedConfig = { file: readConfigFile(path), env, baseDir: dir };
  let set: AgentSet = await loadAgentSet(config.file, { ...options, baseDir: dir });
  let inUse: object[] = [];
  const reloader = new ConfigReloader({
    current: () => ({ config, set }),
    apply: (c, s) => {
      config = c;
      set = s;
    },
    agentsInUse: () => inUse,
    agentSetOptions: options,
    logger,
  });
  return { write, reloader, set: () => set, use: (a: object[]) => (inUse = a), dir };
}

describe('the configuration reloader', () => {
  it('loads added tools, keeps unchanged agents as they were, and closes replaced tools only when no call uses them', async () => {
    const t = await setup();
    const before = t.set();
    const oldSupport = before.agents.get('support')!;
    const oldTools = before.tools.get(oldSupport)!;
    const close = vi.spyOn(oldTools, 'close');
    t.use([oldSupport]); // a call in progress with the old support agent

    t.write(fileWith({ supportPersona: 'You are Ada, briefer.', billing: true }));
    const r = await t.reloader.reload('test');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.changes.agents).toEqual({ added: ['billing'], removed: [], changed: ['support'] });
    const after = t.set();
    expect(after.agents.get('sales')).toBe(before.agents.get('sales')); // unchanged: the same object
    expect(after.agents.get('support')).not.toBe(oldSupport);
    expect(after.tools.get(after.agents.get('billing')!)?.size).toBe(1); // added tools loaded
    expect(close).not.toHaveBeenCalled(); // the call still uses them
    expect(t.reloader.pendingClose).toBe(1);

    t.use([]); // that call ended
    t.reloader.sweep();
    expect(close).toHaveBeenCalledTimes(1);
    expect(t.reloader.pendingClose).toBe(0);
  });

  it('refuses a file that does not validate or whose tools do not load, naming the problem, and changes nothing', async () => {
    const t = await setup();
    const before = t.set();
    t.write({ ...fileWith(), agents: [{ id: 'support', persona: 'x', transfer: { timeout_s: 2 } }] });
    const bad = await t.reloader.reload('test');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toContain('agents.0.transfer.timeout_s');
    expect(t.set()).toBe(before);

    t.write(fileWith({ supportPersona: 'changed', module: './missing.js' }));
    const missing = await t.reloader.reload('test');
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.error).toMatch(/missing\.js|lookup/);
    expect(t.set()).toBe(before);
  });

  it("loads a tool module's new code when only the file changed, and says so (never 'no change')", async () => {
    const t = await setup();
    const run = async (set: AgentSet) => {
      const reg = set.tools.get(set.agents.get('support')!)!;
      const ctx = { toolCallId: 'c1', context: {} as never, signal: new AbortController().signal };
      return reg.get('lookup')!.execute({}, ctx);
    };
    expect(await run(t.set())).toEqual({ ok: true });
    const before = t.set().agents.get('support');

    writeFileSync(join(t.dir, 'tool.js'), 'export default async () => ({ ok: true, version: 2 });\n');
    const r = await t.reloader.reload('test');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.changes.agentFiles).toEqual(['support']);
    expect(r.changes.agents).toEqual({ added: [], removed: [], changed: [] });
    expect(r.summary).toBe('tool modules or hold audio reloaded: support');
    expect(t.set().agents.get('support')).not.toBe(before); // a new agent object: calls in progress keep the old code
    expect(await run(t.set())).toEqual({ ok: true, version: 2 });

    // The same bytes again: nothing to load, and nothing said.
    const again = await t.reloader.reload('test');
    expect(again.ok && again.summary).toBe('no change');
  });
});
