import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configFileSchema, type ConfigFile } from './schema.js';

/** Thrown for any configuration problem; the message names the field and the fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_CONFIG_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/agents.yaml');

export interface EnvSettings {
  port: number;
  host: string;
  publicUrl: string;
  pyaiApiKey?: string;
  pyaiBaseUrl: string;
  omniRate: 8000 | 16000 | 24000;
  twilioAccountSid?: string;
  twilioAuthToken?: string;
  twilioApiBase?: string;
  /** development only: accept unsigned Twilio requests (logged loudly at start-up) */
  skipSignatureValidation: boolean;
  adminToken?: string;
  /** proxy hops whose X-Forwarded-For is trusted for the client address (0: none) */
  trustProxyHops: number;
  configPath: string;
  logLevel: string;
}

export interface LoadedConfig {
  file: ConfigFile;
  env: EnvSettings;
  /** folder of the config file: relative paths inside it (tool modules, WAVs) resolve from here */
  baseDir: string;
}

function formatIssues(issues: z.core.$ZodIssue[], source: string): string {
  const lines = issues.slice(0, 20).map((i) => {
    const path = i.path.length ? i.path.map(String).join('.') : '(root)';
    return `  - ${path}: ${i.message}`;
  });
  return `invalid configuration in ${source}:\n${lines.join('\n')}`;
}

/** Parses and validates a configuration file's text (YAML or JSON: YAML is a superset). */
export function parseConfigText(text: string, source = 'config'): ConfigFile {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${source} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, source));
  return parsed.data;
}

const RATES = [8000, 16000, 24000] as const;

/** Reads deployment settings and secrets from the environment, with readable errors. */
export function loadEnv(env: NodeJS.ProcessEnv = process.env): EnvSettings {
  const port = env.PORT === undefined || env.PORT === '' ? 8080 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT must be an integer between 0 and 65535 (got "${env.PORT}")`);
  }
  const rate = env.OMNI_RATE ? Number(env.OMNI_RATE) : 24000;
  if (!RATES.includes(rate as never)) {
    throw new ConfigError(`OMNI_RATE must be 8000, 16000 or 24000 (got "${env.OMNI_RATE}")`);
  }
  const publicUrl = (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    const u = new URL(publicUrl);
    if (!/^https?:$/.test(u.protocol)) throw new Error('scheme');
    if (u.search || (u.pathname && u.pathname !== '/')) throw new Error('path');
  } catch {
    throw new ConfigError(`PUBLIC_URL must be the bridge's public origin, like https://bridge.example.com (no path or query); got "${publicUrl}"`);
  }
  const baseUrl = env.PYAI_BASE_URL || 'wss://api.pyai.com';
  if (!/^(wss?|https?):\/\//.test(baseUrl)) {
    throw new ConfigError(`PYAI_BASE_URL must start with wss://, ws://, https:// or http:// (got "${baseUrl}")`);
  }
  const sid = env.TWILIO_ACCOUNT_SID || undefined;
  if (sid && !/^AC[0-9a-fA-F]{32}$/.test(sid)) {
    throw new ConfigError('TWILIO_ACCOUNT_SID must look like AC followed by 32 hex characters');
  }
  const apiBase = env.TWILIO_API_BASE || undefined;
  if (apiBase && !/^https?:\/\/[^/]+\/?$/.test(apiBase)) {
    throw new ConfigError(`TWILIO_API_BASE must be an origin like http://127.0.0.1:4010 (got "${apiBase}")`);
  }
  const skip = (env.TWILIO_SIGNATURE_VALIDATION ?? '').toLowerCase();
  if (skip && skip !== 'off' && skip !== 'on') {
    throw new ConfigError('TWILIO_SIGNATURE_VALIDATION must be "on" (default) or "off" (development only)');
  }
  return {
    port,
    host: env.HOST || '0.0.0.0',
    publicUrl,
    pyaiApiKey: env.PYAI_API_KEY || undefined,
    pyaiBaseUrl: baseUrl,
    omniRate: rate as 8000 | 16000 | 24000,
    twilioAccountSid: sid,
    twilioAuthToken: env.TWILIO_AUTH_TOKEN || undefined,
    twilioApiBase: apiBase,
    skipSignatureValidation: skip === 'off',
    adminToken: env.ADMIN_TOKEN || undefined,
    trustProxyHops: trustHops(env.TRUST_PROXY_HOPS),
    configPath: env.BRIDGE_CONFIG || DEFAULT_CONFIG_PATH,
    logLevel: env.LOG_LEVEL || 'info',
  };
}

function trustHops(v: string | undefined): number {
  if (!v) return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 10) throw new ConfigError(`TRUST_PROXY_HOPS must be an integer 0–10 (got "${v}")`);
  return n;
}

/** Loads the environment and the configuration file it points at. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const settings = loadEnv(env);
  let text: string;
  try {
    text = readFileSync(settings.configPath, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read BRIDGE_CONFIG file ${settings.configPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'} — point BRIDGE_CONFIG at a YAML or JSON file (see config/agents.yaml)`);
  }
  const file = parseConfigText(text, settings.configPath);
  for (const a of file.agents) {
    if (a.kb_token_env && !env[a.kb_token_env]) {
      throw new ConfigError(`agents.${a.id}.kb_token_env names ${a.kb_token_env}, which is not set in the environment`);
    }
  }
  return { file, env: settings, baseDir: dirname(resolve(settings.configPath)) };
}

/** The secrets of a configuration: handed to the logger so that none can ever be printed. */
export function collectSecrets(cfg: LoadedConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const out = [cfg.env.pyaiApiKey, cfg.env.twilioAuthToken, cfg.env.adminToken];
  for (const a of cfg.file.agents) {
    if (a.kb_token_env) out.push(env[a.kb_token_env]);
    for (const t of a.tools) {
      const ex = t.executor as unknown as Record<string, unknown>;
      for (const k of ['auth_secret_env', 'signing_secret_env']) {
        const name = ex?.[k];
        if (typeof name === 'string') out.push(env[name]);
      }
    }
  }
  return out.filter((s): s is string => typeof s === 'string' && s.length > 0);
}
