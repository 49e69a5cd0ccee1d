/** The Omni session URL (§1 of the protocol) and its log-safe form. */

export const DEFAULT_OMNI_BASE_URL = 'wss://api.pyai.com';
export type OmniRate = 8000 | 16000 | 24000;
export const OMNI_RATES: readonly OmniRate[] = [8000, 16000, 24000];

const MAX_LABEL_CHARS = 256;
// C0 controls, DEL and C1 controls: none may appear in a session label.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/g;
const SCHEMES: Record<string, string> = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' };
/** Query parameters that may carry a secret and are masked in logs. */
const SECRET_PARAMS = /^(api_key|apikey|key|token|access_token|kb_token|auth|authorization|signature)$/i;

/** Strips control characters, trims, and cuts to 256 characters without splitting a surrogate pair. */
export function sanitizeSessionLabel(label: string): string {
  const clean = label.replace(CONTROL_CHARS, '').trim();
  if (clean.length <= MAX_LABEL_CHARS) return clean;
  let cut = clean.slice(0, MAX_LABEL_CHARS);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}

/**
 * `{base}/v1/omni?format=pcm16&rate=..&session_label=..`. A base path is kept as a prefix (proxies),
 * a base that already ends in /v1/omni is not doubled, and an existing query is preserved.
 * @throws Error for a base that is not a ws/wss/http/https URL (the message never echoes the base,
 *   which might carry credentials).
 */
export function buildOmniUrl(baseUrl: string, rate: OmniRate, sessionLabel?: string): string {
  const base = baseUrl?.trim() || DEFAULT_OMNI_BASE_URL;
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error('invalid Omni base URL: not an absolute URL');
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme) throw new Error(`invalid Omni base URL: scheme must be ws, wss, http or https (got ${url.protocol})`);
  if (!OMNI_RATES.includes(rate)) throw new RangeError(`invalid Omni rate ${String(rate)}: use 8000, 16000 or 24000`);
  // URL refuses protocol changes between "special" and other schemes, so rebuild from the string.
  url = new URL(scheme + url.href.slice(url.protocol.length));
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/v1/omni') ? path : `${path}/v1/omni`;
  url.hash = '';
  url.searchParams.set('format', 'pcm16');
  url.searchParams.set('rate', String(rate));
  url.searchParams.delete('session_label');
  const label = sessionLabel === undefined ? '' : sanitizeSessionLabel(sessionLabel);
  if (label) url.searchParams.set('session_label', label);
  return url.toString();
}

/** A copy of `url` safe to log: credentials in userinfo and secret-looking query values masked. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '[invalid url]';
  }
  if (parsed.username) parsed.username = 'redacted';
  if (parsed.password) parsed.password = 'redacted';
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.test(key)) parsed.searchParams.set(key, 'redacted');
  }
  return parsed.toString();
}
