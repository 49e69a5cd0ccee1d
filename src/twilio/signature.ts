import twilio from 'twilio';

/**
 * `X-Twilio-Signature` checks (specs/twilio.md §2). The HMAC and its constant-time comparison
 * are the `twilio` package's; this module only decides *which URL* Twilio signed. That URL is
 * always rebuilt from the configured public URL, never from the Host header or the scheme the
 * server sees: behind a TLS-terminating proxy those differ from what Twilio requested.
 */

export type TwilioParams = Record<string, string | string[]>;

/**
 * Joins the public base URL (e.g. `https://bridge.example.com`, optionally with a path prefix a
 * proxy strips) and the path (+ query) the server received.
 */
function joinPublic(publicUrl: string, pathWithQuery: string): string {
  const base = publicUrl.endsWith('/') ? publicUrl.slice(0, -1) : publicUrl;
  const path = pathWithQuery.startsWith('/') ? pathWithQuery : `/${pathWithQuery}`;
  return base + path;
}

function safeValidate(authToken: string, signature: string, url: string, params: TwilioParams): boolean {
  try {
    return twilio.validateRequest(authToken, signature, url, params);
  } catch {
    return false; // an unparsable URL can never match a signature
  }
}

/** A form-encoded webhook (voice, status, action callbacks). */
export function verifyWebhook(
  authToken: string,
  publicUrl: string,
  pathWithQuery: string,
  params: TwilioParams,
  signature: string | undefined,
): boolean {
  if (!authToken || typeof signature !== 'string' || signature.length === 0) return false;
  return safeValidate(authToken, signature, joinPublic(publicUrl, pathWithQuery), params ?? {});
}

/** A webhook with a JSON body: the URL carries `bodySHA256`, the body is hashed. */
export function verifyWebhookBody(
  authToken: string,
  publicUrl: string,
  pathWithQuery: string,
  rawBody: string,
  signature: string | undefined,
): boolean {
  if (!authToken || typeof signature !== 'string' || signature.length === 0) return false;
  try {
    return twilio.validateRequestWithBody(authToken, signature, joinPublic(publicUrl, pathWithQuery), rawBody);
  } catch {
    return false;
  }
}

/**
 * The Media Streams WebSocket upgrade (a GET). Twilio signs `wss://{host}{path}` with no params.
 * Tried in order: the wss form, the same with a trailing `/` toggled (Twilio's own advice when
 * the bare path fails), then the https forms (Twilio's advice for failing stream signatures).
 * `path` must be the path only; a query string, if any, is ignored because Twilio drops it.
 */
export function verifyMediaUpgrade(
  authToken: string,
  publicUrl: string,
  path: string,
  signature: string | undefined,
): boolean {
  if (!authToken || typeof signature !== 'string' || signature.length === 0) return false;
  let pub: URL;
  try {
    pub = new URL(publicUrl);
  } catch {
    return false;
  }
  const bare = path.split('?')[0] ?? '';
  const prefix = pub.pathname.endsWith('/') ? pub.pathname.slice(0, -1) : pub.pathname;
  const p = prefix + (bare.startsWith('/') ? bare : `/${bare}`);
  const toggled = p.endsWith('/') ? p.slice(0, -1) : `${p}/`;
  // Twilio only opens wss:// sockets, so the wss form is tried even when PUBLIC_URL is plain http
  // (a local setup behind a tunnel); the https form and the configured scheme come after it.
  const schemes = ['wss://', 'https://'];
  if (pub.protocol === 'http:' || pub.protocol === 'ws:') schemes.push('ws://', 'http://');
  const candidates: string[] = [];
  for (const scheme of schemes) candidates.push(scheme + pub.host + p, scheme + pub.host + toggled);
  for (const url of candidates) {
    if (url.endsWith('://' + pub.host)) continue; // toggling "/" can produce a host-only URL
    if (safeValidate(authToken, signature, url, {})) return true;
  }
  return false;
}

/** The signature Twilio would send for this request: for the simulator and tests. */
export function signTwilioRequest(authToken: string, url: string, params: TwilioParams = {}): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}
