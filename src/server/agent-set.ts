import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generateDefaultHold, readWav, StreamResampler } from '../audio/index.js';
import { sameValue } from '../config/diff.js';
import type { AgentConfig, ConfigFile } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { ToolRegistry } from '../tools/registry.js';
import { moduleVersion } from '../tools/module-version.js';

/**
 * The agents of one configuration with what they load: tool registries and hold loops. A reload
 * builds a new set from the new file; an agent whose configuration did not change keeps its
 * object, registry and hold from the previous set, so that "which calls use this registry" is
 * "which sessions have this agent object" (src/server/reload.ts).
 */
export interface AgentSet {
  file: ConfigFile;
  agents: Map<string, AgentConfig>;
  tools: Map<AgentConfig, ToolRegistry>;
  holds: Map<string, Int16Array>;
  /** per agent id: its recorded fallback message at 8 kHz (`fallback.wav`), when it has one */
  fallbacks: Map<string, Int16Array>;
  /** per agent id: the versions of the files it loads (tool modules, hold WAV), filesVersion */
  files: Map<string, string>;
}

export interface AgentSetOptions {
  baseDir: string;
  env: NodeJS.ProcessEnv;
  allowHosts: string[];
  logger: Logger;
}

/**
 * The versions of the files an agent loads — its tool modules and its hold WAV — as one string: an
 * agent whose configuration is unchanged but whose files changed is loaded again (a reload must
 * never keep old code while saying "no change").
 */
export function filesVersion(agent: AgentConfig, baseDir: string): string {
  const files = agent.tools.flatMap((t) => (t.executor.kind === 'module' ? [t.executor.module] : []));
  if (agent.hold.wav) files.push(agent.hold.wav);
  if (agent.fallback.wav) files.push(agent.fallback.wav);
  return files.map((f) => `${f}=${moduleVersion(resolve(baseDir, f))}`).join(';');
}

/** Loads a WAV once, resampled to 8 kHz (the rate of the caller leg). */
function loadWav8k(path: string, baseDir: string): Int16Array {
  const wav = readWav(readFileSync(resolve(baseDir, path)));
  if (wav.rate === 8000) return wav.samples;
  return new StreamResampler(wav.rate, 8000).process(wav.samples).slice();
}

function loadHold(agent: AgentConfig, baseDir: string): Int16Array {
  return agent.hold.wav ? loadWav8k(agent.hold.wav, baseDir) : generateDefaultHold(8000);
}

/**
 * Loads every agent of `file`, reusing `previous`'s unchanged ones. On any failure (a tool module
 * that does not load, a WAV that does not read) what this call opened is closed and it throws:
 * the previous set stays whole.
 */
export async function loadAgentSet(file: ConfigFile, opts: AgentSetOptions, previous?: AgentSet): Promise<AgentSet> {
  const set: AgentSet = {
    file,
    agents: new Map(),
    tools: new Map(),
    holds: new Map(),
    fallbacks: new Map(),
    files: new Map(),
  };
  const opened: ToolRegistry[] = [];
  try {
    for (const fresh of file.agents) {
      const prev = previous?.agents.get(fresh.id);
      const version = filesVersion(fresh, opts.baseDir);
      set.files.set(fresh.id, version);
      if (prev && sameValue(prev, fresh) && previous!.files.get(prev.id) === version) {
        set.agents.set(prev.id, prev);
        const reg = previous!.tools.get(prev);
        if (reg) set.tools.set(prev, reg);
        set.holds.set(prev.id, previous!.holds.get(prev.id)!);
        const said = previous!.fallbacks.get(prev.id);
        if (said) set.fallbacks.set(prev.id, said);
        continue;
      }
      const hook = fresh.transfer.context_webhook;
      // Its URL passed the schema's address rules; its secret must be there before a call needs it.
      if (hook && !opts.env[hook.signing_secret_env])
        throw new Error(
          `agent "${fresh.id}": transfer.context_webhook: environment variable ${hook.signing_secret_env} (signing secret) is not set`,
        );
      set.agents.set(fresh.id, fresh);
      set.holds.set(fresh.id, loadHold(fresh, opts.baseDir));
      if (fresh.fallback.wav) set.fallbacks.set(fresh.id, loadWav8k(fresh.fallback.wav, opts.baseDir));
      if (fresh.tools.length) {
        const reg = await ToolRegistry.load(fresh.tools, {
          baseDir: opts.baseDir,
          env: opts.env,
          allowHosts: opts.allowHosts,
          logger: opts.logger,
        });
        opened.push(reg);
        set.tools.set(fresh, reg);
      }
    }
  } catch (err) {
    for (const r of opened) r.close();
    throw err;
  }
  return set;
}
