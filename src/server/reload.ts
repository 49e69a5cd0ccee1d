import { checkSecretLengths, ConfigError, readConfigFile, type LoadedConfig } from '../config/loader.js';
import { describeDiff, diffConfig, isEmptyDiff, RELOADED_BRIDGE_KEYS, type ConfigDiff } from '../config/diff.js';
import { maskNumber } from '../observability/redact.js';
import type { Logger } from '../observability/logger.js';
import type { BridgeSettings, ConfigFile } from '../config/schema.js';
import type { ToolRegistry } from '../tools/registry.js';
import { loadAgentSet, type AgentSet, type AgentSetOptions } from './agent-set.js';

export type ReloadResult =
  { ok: true; changes: ConfigDiff; summary: string; at: string } | { ok: false; error: string; at: string };

export interface ReloadDeps {
  /** the configuration in force (its env and baseDir stay: a reload re-reads the file only) */
  current(): { config: LoadedConfig; set: AgentSet };
  /**
   * Puts a validated configuration and its loaded agents in force, for new calls. It may still
   * refuse by throwing before it changes anything (the MCP manager's reconcile).
   */
  apply(config: LoadedConfig, set: AgentSet): void;
  /** the agent objects of the calls in progress (each keeps the agent it started with) */
  agentsInUse(): Iterable<object>;
  agentSetOptions: Omit<AgentSetOptions, 'baseDir'>;
  logger: Logger;
  /**
   * Where the new configuration comes from; default: the file at the configuration's path. With
   * the control plane, the database's agents, numbers and tools (src/control-plane/runtime-config.ts),
   * with `env`: the stored secrets the tools name, over the process's environment.
   */
  read?: (source: string, inForce: LoadedConfig) => Promise<{ file: ConfigFile; env?: Record<string, string> }>;
}

/** The `bridge` section in force after a reload: the start-up one, with the per-request policies of the new file. */
function reloadedBridge(inForce: BridgeSettings, read: BridgeSettings): BridgeSettings {
  const out: Record<string, unknown> = { ...inForce };
  for (const k of RELOADED_BRIDGE_KEYS) out[k] = read[k];
  return out as BridgeSettings;
}

/**
 * Configuration reload without a restart (SIGHUP, POST /admin/config/reload, the console). The
 * new file is validated completely and its agents loaded before anything changes: an invalid
 * file or a tool that does not load leaves the old configuration in force, and the error names
 * the field. A valid file applies to new calls; calls in progress keep their agent objects and
 * so their tools; a retired registry closes once no call uses it (`sweep`, on every call end).
 * Reloads run one at a time.
 */
export class ConfigReloader {
  private retired = new Map<ToolRegistry, object>();
  private chain: Promise<unknown> = Promise.resolve();
  last: ReloadResult | undefined;

  constructor(private readonly deps: ReloadDeps) {}

  reload(source: string): Promise<ReloadResult> {
    const run = this.chain.then(() => this.reloadNow(source));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(source: string): Promise<ReloadResult> {
    const at = new Date().toISOString();
    const { config, set } = this.deps.current();
    const log = this.deps.logger;
    let next: LoadedConfig;
    let nextSet: AgentSet;
    let read: LoadedConfig['file'];
    try {
      const got = this.deps.read
        ? await this.deps.read(source, config)
        : { file: readConfigFile(config.env.configPath, this.deps.agentSetOptions.env) };
      read = got.file;
      const file = read;
      const env = got.env ? { ...this.deps.agentSetOptions.env, ...got.env } : this.deps.agentSetOptions.env;
      // Process settings (ports, limits, sockets) were applied at start: the file's `bridge` section
      // is compared and reported, but the one in force stays until a restart — except the policies
      // read per request (RELOADED_BRIDGE_KEYS: who the admin API may dial), which follow the file.
      next = { ...config, file: { ...file, bridge: reloadedBridge(config.file.bridge, file.bridge) } };
      checkSecretLengths(next, env);
      nextSet = await loadAgentSet(next.file, { ...this.deps.agentSetOptions, env, baseDir: config.baseDir }, set);
    } catch (err) {
      const error =
        err instanceof ConfigError ? err.message : `the new configuration did not load: ${(err as Error).message}`;
      log.error({ source, error }, 'configuration reload refused; the configuration in force is unchanged');
      this.last = { ok: false, error, at };
      return this.last;
    }
    const changes = diffConfig(config.file, read);
    // Same configuration, new files: the agent was loaded again (agent-set.ts), and says so.
    changes.agentFiles = [...nextSet.agents.values()]
      .filter((a) => set.agents.has(a.id) && set.agents.get(a.id) !== a && !changes.agents.changed.includes(a.id))
      .map((a) => a.id)
      .sort();
    try {
      this.deps.apply(next, nextSet);
    } catch (err) {
      // apply refuses before it changes anything (an MCP server the manager cannot take): undo our loads.
      for (const [agent, reg] of nextSet.tools) if (set.tools.get(agent) !== reg) reg.close();
      const error =
        err instanceof ConfigError ? err.message : `the new configuration was not applied: ${(err as Error).message}`;
      log.error({ source, error }, 'configuration reload refused; the configuration in force is unchanged');
      this.last = { ok: false, error, at };
      return this.last;
    }
    for (const [agent, reg] of set.tools) {
      if (nextSet.tools.get(agent) !== reg) this.retired.set(reg, agent);
    }
    this.sweep();
    const summary = describeDiff(changes);
    log.info({ source, changes, retiredToolSets: this.retired.size }, `configuration reloaded: ${summary}`);
    if (changes.bridgeNotApplied.length)
      log.warn({ keys: changes.bridgeNotApplied }, 'configuration reload: bridge settings change only with a restart');
    this.last = { ok: true, changes, summary: describeDiff(changes, maskNumber), at };
    if (isEmptyDiff(changes)) log.info({ source }, 'configuration reload: the file is unchanged');
    return this.last;
  }

  /** Closes retired tool registries that no call in progress uses any more. */
  sweep(): void {
    if (this.retired.size === 0) return;
    const inUse = new Set(this.deps.agentsInUse());
    for (const [reg, agent] of this.retired) {
      if (inUse.has(agent)) continue;
      reg.close();
      this.retired.delete(reg);
      this.deps.logger.info('tools of a replaced agent configuration closed: no call uses them any more');
    }
  }

  /** Tool registries waiting for their last call to end. */
  get pendingClose(): number {
    return this.retired.size;
  }
}
