import type { Logger } from '../observability/logger.js';

/**
 * Where the Omni key (PYAI_API_KEY, sent as the WebSocket subprotocol) may go. The configuration
 * file can give an agent its own `engine.base_url`, and whoever may edit agents must not thereby
 * receive the key: it travels only to a host on the allow-list — PYAI_BASE_URL's host, the engine
 * the operator set next to the key, plus PYAI_KEY_HOSTS — and only over wss://, or over ws:// to a
 * loopback address (the key then never leaves the machine: the offline engine, a local test
 * engine). Any other engine URL is connected to without the key (a keyless engine is supported:
 * docs/decisions.md), so a hostile base_url learns nothing it could replay against PyAI.
 */

export interface OmniKeySource {
  /** the deployment's engine (PYAI_BASE_URL, or the in-process offline engine) */
  baseUrl: string;
  apiKey?: string;
  /** PYAI_KEY_HOSTS: more `host[:port]` that receive the key over wss:// */
  keyHosts?: readonly string[];
}

const WS_SCHEME: Record<string, string> = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' };

/** The scheme (http(s) mapped to ws(s), as buildOmniUrl does) and `host[:port]` of an engine URL. */
function endpoint(url: string): { scheme: string; host: string; hostname: string } | undefined {
  try {
    const u = new URL(url.trim());
    const scheme = WS_SCHEME[u.protocol];
    return scheme ? { scheme, host: u.host.toLowerCase(), hostname: u.hostname.toLowerCase() } : undefined;
  } catch {
    return undefined;
  }
}

/** localhost, 127.0.0.0/8 or ::1: a connection that never leaves this machine. */
export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::1';
}

/** Whether the Omni key may be sent to the engine at `url` (the allow-list rule above). */
export function omniKeyAllowed(url: string, src: Omit<OmniKeySource, 'apiKey'>): boolean {
  const to = endpoint(url);
  const home = endpoint(src.baseUrl);
  if (!to) return false;
  const hosts = new Set([...(home ? [home.host] : []), ...(src.keyHosts ?? []).map((h) => h.toLowerCase())]);
  if (!hosts.has(to.host)) return false;
  return to.scheme === 'wss:' || isLoopbackHostname(to.hostname);
}

/** The key to present to the engine at `url`: the configured one where it may go, else none. */
export function omniKeyFor(url: string, src: OmniKeySource): string | undefined {
  return src.apiKey && omniKeyAllowed(url, src) ? src.apiKey : undefined;
}

/** `wss://host:port` of an engine URL, for logs: never its path, query or credentials. */
export function engineOrigin(url: string): string {
  const e = endpoint(url);
  return e ? `${e.scheme}//${e.host}` : '(invalid URL)';
}

/** Logs each agent whose own `engine.base_url` will not receive the key (at start and at each reload). */
export function warnKeylessEngines(
  agents: readonly { id: string; engine: { base_url?: string } }[],
  src: OmniKeySource,
  logger: Logger,
): void {
  if (!src.apiKey) return;
  for (const a of agents) {
    const url = a.engine.base_url;
    if (url && !omniKeyAllowed(url, src))
      logger.warn(
        { agent: a.id, engine: engineOrigin(url) },
        "the agent's engine.base_url is not a wss:// host on the Omni key allow-list (PYAI_BASE_URL's host, PYAI_KEY_HOSTS): its sessions open without PYAI_API_KEY",
      );
  }
}
