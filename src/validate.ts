/**
 * `omni-phone-bridge validate [FILE]`: checks the configuration and the environment the way
 * start-up would — the environment's settings, the file's schema and cross-references, secret
 * lengths, tool modules that import, webhook URLs against the SSRF policy, the secrets tools name —
 * and, unless --offline, that the engines and MCP servers accept a connection and that webhook
 * hosts resolve to public addresses. Every problem is reported at once; exit 0 or 1.
 */
import { promises as dns } from 'node:dns';
import { dirname, resolve } from 'node:path';
import { parseOrExit, processEnvIo, type CliEnvIo } from './cli-args.js';
import { VALIDATE } from './cli-commands.js';
import { checkSecretLengths, ConfigError, loadEnv, readConfigFile, type EnvSettings } from './config/loader.js';
import type { ConfigFile } from './config/schema.js';
import { createLogger } from './observability/logger.js';
import { checkReachable, drainTimeoutMs } from './serve.js';
import { loadAgentSet } from './server/agent-set.js';
import { loadScenario } from './sim/engine/scenario.js';
import { classifyIp, checkWebhookUrl, normalizeHost } from './tools/netguard.js';

export interface ValidateOptions {
  /** the configuration file (default: BRIDGE_CONFIG, else config/agents.yaml) */
  file?: string;
  env: NodeJS.ProcessEnv;
  /** skip every check that reaches the network (engines, MCP servers, DNS) */
  offline: boolean;
}

export interface ValidateReport {
  file: string;
  problems: string[];
  /** what was checked, for the OK line */
  checked: { agents: number; tools: number; network: boolean };
}

/** How many times one environment problem is set aside to find the next (bounded: one per variable). */
const MAX_ENV_PROBLEMS = 30;

/**
 * The environment's problems, all of them: loadEnv stops at the first, so the variable it names
 * is set aside and the rest read again, until it passes.
 */
function envProblems(env: NodeJS.ProcessEnv): { settings?: EnvSettings; problems: string[] } {
  const copy = { ...env };
  const problems: string[] = [];
  for (let i = 0; i < MAX_ENV_PROBLEMS; i++) {
    try {
      const settings = loadEnv(copy);
      return { settings: problems.length ? undefined : settings, problems };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err.message);
      const named = [...err.message.matchAll(/\b([A-Z][A-Z0-9_]{2,})\b/g)].map((m) => m[1]!).find((n) => n in copy);
      if (!named) return { problems };
      delete copy[named];
    }
  }
  return { problems };
}

/** The configuration's agents with the tools each loads: every agent's problems, not the first one's. */
async function toolProblems(file: ConfigFile, baseDir: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const logger = createLogger({ level: 'silent' });
  const problems: string[] = [];
  for (const agent of file.agents) {
    try {
      const set = await loadAgentSet(
        { ...file, agents: [agent] },
        { baseDir, env, allowHosts: file.bridge.tool_allow_hosts, logger },
      );
      for (const reg of set.tools.values()) reg.close();
    } catch (err) {
      problems.push(`agent "${agent.id}": ${(err as Error).message.replace(/\n\s*/g, ' ')}`);
    }
  }
  return problems;
}

/** `wss://host:port` of a URL, never its path or query (either may hold a key). */
function origin(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

async function networkProblems(file: ConfigFile, env: NodeJS.ProcessEnv, settings: EnvSettings): Promise<string[]> {
  const problems: string[] = [];
  const offlineEngine = !settings.pyaiApiKey && !env.PYAI_BASE_URL;
  const engines = new Set(file.agents.map((a) => a.engine?.base_url).filter((u): u is string => !!u));
  if (!offlineEngine && file.agents.some((a) => !a.engine?.base_url)) engines.add(settings.pyaiBaseUrl);
  const allow = new Set(file.bridge.tool_allow_hosts.map(normalizeHost));
  const checks: Promise<string | undefined>[] = [];
  for (const base of engines)
    checks.push(
      checkReachable(base).then((why) =>
        why ? `the Omni engine at ${origin(base)} is unreachable (${why})` : undefined,
      ),
    );
  for (const agent of file.agents) {
    for (const server of agent.mcp_servers)
      checks.push(
        checkReachable(server.url).then((why) =>
          why
            ? `agent "${agent.id}": MCP server ${server.name} at ${origin(server.url)} does not answer (${why})`
            : undefined,
        ),
      );
    for (const tool of agent.tools) {
      if (tool.executor.kind !== 'http') continue;
      const check = checkWebhookUrl(tool.executor.url, allow);
      if (!check.ok || check.allowListed) continue; // the static refusal is reported by the tool check
      checks.push(
        dns.lookup(check.host, { all: true }).then(
          (all) => {
            const blocked = all.map((a) => classifyIp(a.address)).find((r) => r);
            return blocked
              ? `agent "${agent.id}": tool "${tool.name}": webhook host ${check.host} resolves to an address that is ${blocked} (the SSRF policy refuses every call)`
              : undefined;
          },
          (err: NodeJS.ErrnoException) =>
            `agent "${agent.id}": tool "${tool.name}": webhook host ${check.host} does not resolve (${err.code ?? err.message})`,
        ),
      );
    }
  }
  for (const p of await Promise.all(checks)) if (p) problems.push(p);
  return problems;
}

export async function validateDeployment(opts: ValidateOptions): Promise<ValidateReport> {
  const env = opts.file ? { ...opts.env, BRIDGE_CONFIG: opts.file } : opts.env;
  const { settings, problems } = envProblems(env);
  try {
    drainTimeoutMs(env.DRAIN_TIMEOUT_MS);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const path = resolve(settings?.configPath ?? loadEnv({ BRIDGE_CONFIG: env.BRIDGE_CONFIG }).configPath);
  const report: ValidateReport = { file: path, problems, checked: { agents: 0, tools: 0, network: false } };
  let file: ConfigFile;
  try {
    file = readConfigFile(path, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(err.message);
    return report;
  }
  report.checked.agents = file.agents.length;
  report.checked.tools = file.agents.reduce((n, a) => n + a.tools.length, 0);
  if (settings) {
    try {
      checkSecretLengths({ file, env: settings, baseDir: dirname(path) }, env);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  problems.push(...(await toolProblems(file, dirname(path), env)));
  // The offline scenarios agents name: checked whatever the key, as a file that will be read.
  for (const a of file.agents) {
    if (!a.offline) continue;
    await loadScenario(resolve(dirname(path), a.offline.scenario)).catch((err: Error) =>
      problems.push(`agents.${a.id}.offline.scenario: ${err.message}`),
    );
  }
  if (!opts.offline && settings) {
    problems.push(...(await networkProblems(file, env, settings)));
    report.checked.network = true;
  }
  return report;
}

export async function runValidate(argv: readonly string[], io: CliEnvIo = processEnvIo()): Promise<number> {
  const args = parseOrExit(VALIDATE, argv, io);
  if (args.exit !== undefined) return args.exit;
  const report = await validateDeployment({
    ...(args.positionals[0] ? { file: args.positionals[0] } : {}),
    env: io.env,
    offline: args.values.offline === true,
  });
  if (report.problems.length) {
    io.err(
      `${report.file}: ${report.problems.length} problem${report.problems.length > 1 ? 's' : ''}:\n${report.problems
        .map((p) => `  - ${p.replace(/\n/g, '\n    ')}`)
        .join('\n')}\n`,
    );
    return 1;
  }
  const c = report.checked;
  io.out(
    `${report.file}: OK (${c.agents} agent${c.agents === 1 ? '' : 's'}, ${c.tools} tool${c.tools === 1 ? '' : 's'}; ${
      c.network ? 'engines, MCP servers and webhook hosts reached' : 'network checks skipped (--offline)'
    })\n`,
  );
  return 0;
}
