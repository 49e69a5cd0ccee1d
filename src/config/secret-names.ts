/**
 * Which environment variables the configuration file may name. A `*_env` field hands the value of
 * the variable it names to someone outside the bridge (a tool webhook's header, an MCP server, the
 * engine's `configure`), so whoever may edit the file must not be able to name the bridge's own
 * secrets — nor any other secret the process environment happens to hold (cloud credentials, a
 * CI token). The rule is an allow-list by name: a variable named in the file starts with
 * TOOL_SECRET_, a prefix the operator gives only to the credentials meant for tools. The deny-list
 * below is not what protects (none of its names has the prefix): it makes the message say why.
 */

/** The prefix every variable named by a `*_env` field of the configuration file must carry. */
export const CONFIG_SECRET_PREFIX = 'TOOL_SECRET_';

/**
 * The variables the bridge reads as its own secrets (src/config/loader.ts, src/store/open-store.ts),
 * and two a deployment commonly holds next to them.
 */
export const BRIDGE_SECRET_VARS: readonly string[] = [
  'TWILIO_AUTH_TOKEN',
  'ADMIN_TOKEN',
  'PYAI_API_KEY',
  'STREAM_TOKEN_SECRET',
  'REDIS_URL',
  'DATABASE_URL',
  'SECRETS_KEY',
];

/** Why the configuration may not name the variable `name` (the zod issue's path names the field); undefined when it may. */
export function configEnvNameProblem(name: string): string | undefined {
  if (BRIDGE_SECRET_VARS.includes(name.toUpperCase())) {
    return `names ${name}, one of the bridge's own secrets, which the configuration may never hand out; give the tool its own credential in a variable starting with ${CONFIG_SECRET_PREFIX} (e.g. ${CONFIG_SECRET_PREFIX}ORDER_HOOK_TOKEN)`;
  }
  if (!name.startsWith(CONFIG_SECRET_PREFIX)) {
    return `must name a variable starting with ${CONFIG_SECRET_PREFIX} (rename ${name} to ${CONFIG_SECRET_PREFIX}${name}): only those may be handed to tools, so the file cannot reach another secret of the process`;
  }
  return undefined;
}

/**
 * Every `*_env` field (with a string value) in `value`, at any depth, with its path: the rule holds
 * for each such field there is or will be, not only the ones known today. A tool's `parameters`
 * is the JSON Schema the engine sees, whose keys are the tool's own, and is not searched.
 */
export function envFields(
  value: unknown,
  path: (string | number)[] = [],
): { path: (string | number)[]; name: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => envFields(v, [...path, i]));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    k.endsWith('_env') && typeof v === 'string'
      ? [{ path: [...path, k], name: v }]
      : k === 'parameters'
        ? []
        : envFields(v, [...path, k]),
  );
}
