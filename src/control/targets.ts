import type { AgentConfig, TransferTarget } from '../config/schema.js';

/**
 * Picks the transfer target for a destination the agent named. Only targets in the agent's
 * configuration are ever dialled — an agent talked into "transfer me to +1900…" cannot reach a
 * number the contact center did not list. Matching is by target name or by its value
 * (E.164 digits, sip URI case-insensitively, client identity with or without `client:`).
 */
export function resolveTarget(
  agent: AgentConfig,
  destination: string | undefined,
): { target: TransferTarget; usedDefault: boolean } | undefined {
  const targets = agent.transfer.targets;
  const d = destination?.trim();
  if (d) {
    const lower = d.toLowerCase();
    const digits = d.replace(/[^\d+]/g, '');
    const found = targets.find((t) => {
      if (t.name.toLowerCase() === lower) return true;
      switch (t.kind) {
        case 'number':
          return digits.length > 6 && t.value === digits;
        case 'sip':
          return t.value.toLowerCase() === lower;
        case 'client':
          return t.value.replace(/^client:/, '') === d.replace(/^client:/, '');
        case 'queue':
          return t.value.toLowerCase() === lower;
      }
      return false;
    });
    if (found) return { target: found, usedDefault: false };
  }
  const def = agent.transfer.default ? targets.find((t) => t.name === agent.transfer.default) : undefined;
  return def ? { target: def, usedDefault: true } : undefined;
}
