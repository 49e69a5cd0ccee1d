import { readFileSync } from 'node:fs';
import { loadSipEnv, SipEnvError, type SipEnv } from './sip-env.js';
import { OtelEnvError, readOtelEnv, type OtelEnv } from '../observability/otel-env.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { unclosedQuoteLine, yamlLineOf } from './yaml-lines.js';
import type { z } from 'zod';
import { configFileSchema, type ConfigFile } from './schema.js';
import { issueLines, strictKeysErrorMap } from './suggest.js';
import { LOG_FORMATS, LOG_LEVELS } from '../observability/logger.js';
import { ACCOUNT_SID_RE } from '../twilio/wire.js';
import { isLoopbackHostname } from '../omni/key-policy.js';
import { weakSecretProblem } from './secret-strength.js';

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
  /** PYAI_KEY_HOSTS: `host[:port]` besides PYAI_BASE_URL's that receive the key over wss:// (src/omni/key-policy.ts) */
  pyaiKeyHosts: string[];
  omniRate: 8000 | 16000 | 24000;
  twilioAccountSid?: string;
  twilioAuthToken?: string;
  twilioApiBase?: string;
  /** development only: accept unsigned Twilio requests (logged loudly at start-up) */
  skipSignatureValidation: boolean;
  adminToken?: string;
  /** METRICS_TOKEN: a bearer for /metrics and /readyz details only (ADMIN_TOKEN works there too) */
  metricsToken?: string;
  /** key of the per-call stream tokens (src/twilio/stream-token.ts); unset: derived from twilioAuthToken */
  streamTokenSecret?: string;
  /** proxy hops whose X-Forwarded-For is trusted for the client address (0: none) */
  trustProxyHops: number;
  configPath: string;
  logLevel: LogLevel;
  /** LOG_FORMAT: unset = JSON, except readable lines on a TTY (decided by the logger) */
  logFormat?: 'json' | 'pretty';
  /** call traces over OTLP/HTTP: undefined (off) unless an OTLP endpoint is set (src/observability/otel-env.ts) */
  otel?: OtelEnv;
  /** SIP trunks: undefined (off) unless SIP_PORT is set */
  sip?: SipEnv;
  /** DATABASE_URL: the control plane on PostgreSQL (src/control-plane/); unset: the YAML file is the configuration */
  databaseUrl?: string;
  /** SECRETS_KEY and SECRETS_KEY_PREVIOUS: 32-byte keys of the secrets stored in the database */
  secretsKey?: Buffer;
  secretsKeyPrevious?: Buffer;
}

/** One of pino's levels (the list is the logger's: LOG_LEVEL must be one of them). */
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoadedConfig {
  file: ConfigFile;
  env: EnvSettings;
  /** folder of the config file: relative paths inside it (tool modules, WAVs) resolve from here */
  baseDir: string;
}

function formatIssues(issues: z.core.$ZodIssue[], source: string, text?: string): string {
  const lines = issueLines(issues, [], text === undefined ? undefined : yamlLineOf(text))
    .slice(0, 20)
    .map((l) => `  - ${l}`);
  return `invalid configuration in ${source}:\n${lines.join('\n')}`;
}

/** Parses and validates a configuration file's text (YAML or JSON: YAML is a superset). */
export function parseConfigText(text: string, source = 'config'): ConfigFile {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    const first = ((err as Error).message.split('\n')[0] ?? '').replace(/:\s*$/, '');
    // The parser finds an unclosed quote where the file ends: name the line the string opened on.
    const opened = /Missing closing .?quote/.test(first) ? unclosedQuoteLine(text) : undefined;
    const where = opened ? ` (the string that opens on line ${opened} is never closed)` : '';
    throw new ConfigError(`${source} is not valid YAML/JSON: ${first}${where}`);
  }
  const parsed = configFileSchema.safeParse(raw, { error: strictKeysErrorMap });
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, source, text));
  return parsed.data;
}

const RATES = [8000, 16000, 24000] as const;

/** A variable with a fixed set of values: anything else is an error naming the variable and the values. */
function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T;
function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback?: undefined,
): T | undefined;
function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback?: T,
): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = raw.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(v)) return v as T;
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got "${shown}")`);
}

/** Reads deployment settings and secrets from the environment, with readable errors. */
export function loadEnv(env: NodeJS.ProcessEnv = process.env): EnvSettings {
  const port = env.PORT === undefined || env.PORT === '' ? 8080 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT must be an integer between 0 and 65535 (got "${env.PORT}")`);
  }
  const rate = Number(oneOf(env, 'OMNI_RATE', RATES.map(String), '24000'));
  const publicUrl = (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    const u = new URL(publicUrl);
    if (!/^https?:$/.test(u.protocol)) throw new Error('scheme');
    if (u.search || (u.pathname && u.pathname !== '/')) throw new Error('path');
  } catch {
    throw new ConfigError(
      `PUBLIC_URL must be the bridge's public origin, like https://bridge.example.com (no path or query); got "${publicUrl}"`,
    );
  }
  const baseUrl = env.PYAI_BASE_URL || 'wss://api.pyai.com';
  if (!/^(wss?|https?):\/\//.test(baseUrl)) {
    throw new ConfigError(`PYAI_BASE_URL must start with wss://, ws://, https:// or http:// (got "${baseUrl}")`);
  }
  // The key travels in the WebSocket handshake: never in clear over a network (src/omni/key-policy.ts).
  if (env.PYAI_API_KEY && /^(ws|http):\/\//.test(baseUrl) && !isLoopbackHostname(hostnameOf(baseUrl))) {
    throw new ConfigError(
      'PYAI_BASE_URL must be wss:// (or https://) when PYAI_API_KEY is set: the key would travel in clear; ws:// only reaches an engine on this machine (127.0.0.1, localhost)',
    );
  }
  const keyHosts = (env.PYAI_KEY_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const h of keyHosts) {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/.test(h))
      throw new ConfigError(
        `PYAI_KEY_HOSTS is a comma-separated list of host or host:port, like engine.example.com,eu.engine.example.com:8443 (got "${h.slice(0, 60)}")`,
      );
  }
  const sid = env.TWILIO_ACCOUNT_SID || undefined;
  if (sid && !ACCOUNT_SID_RE.test(sid)) {
    throw new ConfigError('TWILIO_ACCOUNT_SID must look like AC followed by 32 hex characters');
  }
  const apiBase = env.TWILIO_API_BASE || undefined;
  if (apiBase && !/^https?:\/\/[^/]+\/?$/.test(apiBase)) {
    throw new ConfigError(`TWILIO_API_BASE must be an origin like http://127.0.0.1:4010 (got "${apiBase}")`);
  }
  const skip = oneOf(env, 'TWILIO_SIGNATURE_VALIDATION', ['on', 'off'], 'on');
  const adminToken = strongToken(env, 'ADMIN_TOKEN');
  const metricsToken = strongToken(env, 'METRICS_TOKEN');
  const host = env.HOST || '0.0.0.0';
  let sip: SipEnv | undefined;
  try {
    sip = loadSipEnv(env, host);
  } catch (err) {
    if (err instanceof SipEnvError) throw new ConfigError(err.message);
    throw err;
  }
  let otel: OtelEnv | undefined;
  try {
    otel = readOtelEnv(env);
  } catch (err) {
    if (err instanceof OtelEnvError) throw new ConfigError(err.message);
    throw err;
  }
  return {
    port,
    host,
    publicUrl,
    pyaiApiKey: env.PYAI_API_KEY || undefined,
    pyaiBaseUrl: baseUrl,
    pyaiKeyHosts: keyHosts,
    omniRate: rate as 8000 | 16000 | 24000,
    twilioAccountSid: sid,
    twilioAuthToken: env.TWILIO_AUTH_TOKEN || undefined,
    twilioApiBase: apiBase,
    skipSignatureValidation: skip === 'off',
    adminToken,
    metricsToken,
    streamTokenSecret: env.STREAM_TOKEN_SECRET || undefined,
    trustProxyHops: trustHops(env.TRUST_PROXY_HOPS),
    configPath: env.BRIDGE_CONFIG || DEFAULT_CONFIG_PATH,
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: oneOf(env, 'LOG_FORMAT', LOG_FORMATS),
    ...(sip ? { sip } : {}),
    ...(otel ? { otel } : {}),
    ...controlPlaneEnv(env),
  };
}

/**
 * DATABASE_URL, SECRETS_KEY and SECRETS_KEY_PREVIOUS. A URL that does not parse, or names no
 * database, is refused here; whether the server answers is the start-up's (src/control-plane/pool.ts).
 * A message names the variable and shows the URL without its password, never a key.
 */
function controlPlaneEnv(
  env: NodeJS.ProcessEnv,
): Pick<EnvSettings, 'databaseUrl' | 'secretsKey' | 'secretsKeyPrevious'> {
  const out: Pick<EnvSettings, 'databaseUrl' | 'secretsKey' | 'secretsKeyPrevious'> = {};
  const raw = env.DATABASE_URL?.trim();
  if (raw) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ConfigError(
        'DATABASE_URL is not a URL; it looks like postgres://USER:PASSWORD@HOST:5432/DATABASE (the value is not shown)',
      );
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
      throw new ConfigError(
        `DATABASE_URL must start with postgres:// or postgresql:// (got ${u.protocol}//…): ${redactedDatabaseUrl(raw)}`,
      );
    if (!u.hostname) throw new ConfigError(`DATABASE_URL names no host: ${redactedDatabaseUrl(raw)}`);
    if (!decodeURIComponent(u.pathname.replace(/^\//, '')))
      throw new ConfigError(
        `DATABASE_URL names no database (postgres://HOST:5432/DATABASE): ${redactedDatabaseUrl(raw)}; the bridge never creates one`,
      );
    out.databaseUrl = raw;
  }
  for (const [name, field] of [
    ['SECRETS_KEY', 'secretsKey'],
    ['SECRETS_KEY_PREVIOUS', 'secretsKeyPrevious'],
  ] as const) {
    const value = env[name]?.trim();
    if (!value) continue;
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    if (key.length !== 32)
      throw new ConfigError(
        `${name} must be 32 random bytes in base64 (44 characters); it decodes to ${key.length} bytes — generate one with \`openssl rand -base64 32\` (the value is not shown)`,
      );
    out[field] = key;
  }
  if (out.secretsKeyPrevious && !out.secretsKey)
    throw new ConfigError('SECRETS_KEY_PREVIOUS is set without SECRETS_KEY: set the new key in SECRETS_KEY');
  if (out.secretsKey && out.secretsKeyPrevious?.equals(out.secretsKey))
    throw new ConfigError('SECRETS_KEY_PREVIOUS is the same key as SECRETS_KEY: set it to the key being replaced');
  return out;
}

/** A DATABASE_URL fit for a message: the password (and any query, which may carry one) replaced. */
export function redactedDatabaseUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    const q = u.search ? '?…' : '';
    u.search = '';
    return `${u.toString()}${q}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * A token the bridge checks itself, which guards call control: at least 128 bits of randomness
 * by src/config/secret-strength.ts, on any PUBLIC_URL (loopback included: the same file and
 * environment reach production). The message names the variable and the fix, never the value.
 */
function strongToken(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name] || undefined;
  if (value === undefined) return undefined;
  const problem = weakSecretProblem(value);
  if (problem)
    throw new ConfigError(
      `${name} is too weak: ${problem}; it needs at least 128 bits of randomness — generate one with \`openssl rand -hex 32\` (the value is not shown)`,
    );
  return value;
}

function hostnameOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

function trustHops(v: string | undefined): number {
  if (!v) return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 10)
    throw new ConfigError(`TRUST_PROXY_HOPS must be an integer 0–10 (got "${v}")`);
  return n;
}

/**
 * Reads and validates the configuration file at `path` completely (start-up and reload): schema,
 * cross-references, and the environment variables it names. Throws a ConfigError naming the field.
 */
export function readConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read BRIDGE_CONFIG file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'} — point BRIDGE_CONFIG at a YAML or JSON file (see config/agents.yaml)`,
    );
  }
  const file = parseConfigText(text, path);
  for (const a of file.agents) {
    if (a.kb_token_env && !env[a.kb_token_env]) {
      throw new ConfigError(`agents.${a.id}.kb_token_env names ${a.kb_token_env}, which is not set in the environment`);
    }
  }
  return file;
}

/** Loads the environment and the configuration file it points at. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const settings = loadEnv(env);
  const file = readConfigFile(settings.configPath, env);
  const loaded = { file, env: settings, baseDir: dirname(resolve(settings.configPath)) };
  checkSecretLengths(loaded, env);
  return loaded;
}

/**
 * A configured secret: the variable that holds it, and whether the bridge itself checks or signs
 * with it (its strength is then ours to require) or only passes it on to the service that issued it.
 */
interface NamedSecret {
  variable: string;
  value: string | undefined;
  own: boolean;
}

function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

function namedSecrets(cfg: LoadedConfig, env: NodeJS.ProcessEnv): NamedSecret[] {
  const out: NamedSecret[] = [
    { variable: 'PYAI_API_KEY', value: cfg.env.pyaiApiKey, own: false },
    { variable: 'TWILIO_AUTH_TOKEN', value: cfg.env.twilioAuthToken, own: true },
    { variable: 'ADMIN_TOKEN', value: cfg.env.adminToken, own: true },
    { variable: 'METRICS_TOKEN', value: cfg.env.metricsToken, own: true },
    { variable: 'STREAM_TOKEN_SECRET', value: cfg.env.streamTokenSecret, own: true },
    // The fleet store's password travels inside REDIS_URL (redis://user:password@host).
    { variable: 'REDIS_URL', value: urlPassword(env.REDIS_URL), own: false },
    // The database's password travels inside DATABASE_URL; the secrets keys are never printed either.
    { variable: 'DATABASE_URL', value: urlPassword(env.DATABASE_URL), own: false },
    { variable: 'SECRETS_KEY', value: env.SECRETS_KEY?.trim() || undefined, own: true },
    { variable: 'SECRETS_KEY_PREVIOUS', value: env.SECRETS_KEY_PREVIOUS?.trim() || undefined, own: true },
  ];
  for (const a of cfg.file.agents) {
    if (a.kb_token_env) out.push({ variable: a.kb_token_env, value: env[a.kb_token_env], own: false });
    // the context webhook signs like a tool webhook: its secret is the bridge's own to keep (length, log redaction)
    const hook = a.transfer.context_webhook?.signing_secret_env;
    if (hook) out.push({ variable: hook, value: env[hook], own: true });
    for (const t of a.tools) {
      const ex = t.executor as unknown as Record<string, unknown>;
      for (const [k, own] of [
        ['auth_secret_env', false],
        ['signing_secret_env', true],
      ] as const) {
        const name = ex?.[k];
        if (typeof name === 'string') out.push({ variable: name, value: env[name], own });
      }
    }
  }
  return out;
}

/** The secrets of a configuration: handed to the logger so that none can ever be printed, whatever its length. */
export function collectSecrets(cfg: LoadedConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  return namedSecrets(cfg, env)
    .map((s) => s.value)
    .filter((s): s is string => typeof s === 'string' && s.length > 0);
}

/** Secrets the bridge checks or signs with (admin token, Twilio's auth token, stream-token key, tool signing secrets). */
export const MIN_OWN_SECRET_LENGTH = 16;
/** Credentials only passed on to their issuer (Omni key, knowledge-base tokens, tool auth secrets). */
export const MIN_PASSED_SECRET_LENGTH = 8;

/** A PUBLIC_URL on localhost / 127.0.0.0/8 / ::1: nothing outside this machine can reach the bridge. */
export function isLoopbackOrigin(publicUrl: string): boolean {
  const host = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === '::1'
  );
}

/**
 * Refuses to start with a secret short enough to guess when the bridge is reachable from outside
 * (PUBLIC_URL is not a loopback address). On loopback — the development recipe, the tests — any
 * length is accepted; every configured secret is scrubbed from the logs either way. The message
 * names the variable, never the value (docs/decisions.md).
 */
export function checkSecretLengths(cfg: LoadedConfig, env: NodeJS.ProcessEnv = process.env): void {
  if (isLoopbackOrigin(cfg.env.publicUrl)) return;
  for (const s of namedSecrets(cfg, env)) {
    if (!s.value) continue;
    const min = s.own ? MIN_OWN_SECRET_LENGTH : MIN_PASSED_SECRET_LENGTH;
    if (s.value.length >= min) continue;
    const hint = s.own ? '; generate one with `openssl rand -hex 32`' : '; use the credential as its issuer gave it';
    throw new ConfigError(
      `${s.variable} is too short: at least ${min} characters are required when PUBLIC_URL is not a loopback address (the value is not shown)${hint}`,
    );
  }
}
