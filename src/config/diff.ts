import type { AgentConfig, BridgeSettings, ConfigFile } from './schema.js';

/**
 * `bridge.*` keys that a reload applies: policies read from the configuration in force at each
 * request (src/server/routes/admin.ts), not process settings fixed at start.
 */
export const RELOADED_BRIDGE_KEYS: readonly (keyof BridgeSettings)[] = ['outbound'];

/** What a configuration reload changes: by agent id and by routed number. */
export interface ConfigDiff {
  agents: { added: string[]; removed: string[]; changed: string[] };
  numbers: { added: string[]; removed: string[]; changed: string[] };
  defaultAgent?: { from: string; to: string };
  /** `bridge.*` keys that differ: process settings, applied only by a restart */
  bridgeNotApplied: string[];
  /** `bridge.*` policies that differ and are applied by the reload (RELOADED_BRIDGE_KEYS) */
  bridgeApplied: string[];
  /** agents whose configuration is the same but whose files (tool modules, hold WAV) changed: loaded again */
  agentFiles: string[];
}

/** Key order does not make two values different (YAML and JSON files may order keys freely). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : x,
  );
}

export function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function diffKeyed<T>(
  before: Map<string, T>,
  after: Map<string, T>,
): { added: string[]; removed: string[]; changed: string[] } {
  const added = [...after.keys()].filter((k) => !before.has(k)).sort();
  const removed = [...before.keys()].filter((k) => !after.has(k)).sort();
  const changed = [...after.keys()].filter((k) => before.has(k) && !sameValue(before.get(k), after.get(k))).sort();
  return { added, removed, changed };
}

export function diffConfig(before: ConfigFile, after: ConfigFile): ConfigDiff {
  const agents = (f: ConfigFile) => new Map<string, AgentConfig>(f.agents.map((a) => [a.id, a]));
  const numbers = (f: ConfigFile) => new Map(Object.entries(f.numbers));
  const bridgeKeys = new Set([...Object.keys(before.bridge), ...Object.keys(after.bridge)]);
  const b1 = before.bridge as Record<string, unknown>;
  const b2 = after.bridge as Record<string, unknown>;
  const differing = [...bridgeKeys].filter((k) => !sameValue(b1[k], b2[k])).sort();
  const reloaded = new Set<string>(RELOADED_BRIDGE_KEYS);
  return {
    agents: diffKeyed(agents(before), agents(after)),
    numbers: diffKeyed(numbers(before), numbers(after)),
    ...(before.default_agent !== after.default_agent
      ? { defaultAgent: { from: before.default_agent, to: after.default_agent } }
      : {}),
    bridgeNotApplied: differing.filter((k) => !reloaded.has(k)).map((k) => `bridge.${k}`),
    bridgeApplied: differing.filter((k) => reloaded.has(k)).map((k) => `bridge.${k}`),
    agentFiles: [],
  };
}

export function isEmptyDiff(d: ConfigDiff): boolean {
  const n = (x: { added: string[]; removed: string[]; changed: string[] }) =>
    x.added.length + x.removed.length + x.changed.length;
  return (
    n(d.agents) + n(d.numbers) === 0 &&
    !d.defaultAgent &&
    d.bridgeNotApplied.length === 0 &&
    d.bridgeApplied.length === 0 &&
    d.agentFiles.length === 0
  );
}

/**
 * One line for the log and the console: "agents added: x; numbers removed: •••1111; …".
 * `showNumber` masks routed numbers where the reader must not see them whole (the console page).
 */
export function describeDiff(d: ConfigDiff, showNumber: (n: string) => string = (n) => n): string {
  if (isEmptyDiff(d)) return 'no change';
  const parts: string[] = [];
  for (const kind of ['added', 'removed', 'changed'] as const) {
    if (d.agents[kind].length) parts.push(`agents ${kind}: ${d.agents[kind].join(', ')}`);
  }
  for (const kind of ['added', 'removed', 'changed'] as const) {
    if (d.numbers[kind].length) parts.push(`numbers ${kind}: ${d.numbers[kind].map(showNumber).join(', ')}`);
  }
  if (d.agentFiles.length) parts.push(`tool modules or hold audio reloaded: ${d.agentFiles.join(', ')}`);
  if (d.defaultAgent) parts.push(`default agent: ${d.defaultAgent.from} → ${d.defaultAgent.to}`);
  if (d.bridgeApplied.length) parts.push(`applied: ${d.bridgeApplied.join(', ')}`);
  if (d.bridgeNotApplied.length) parts.push(`not applied until a restart: ${d.bridgeNotApplied.join(', ')}`);
  return parts.join('; ');
}
