import { checkWebhookUrl, type BlockReason } from '../tools/netguard.js';

/**
 * Registration's SSRF check of a tool's URL: the runtime's static policy (src/tools/netguard.ts:
 * https only, no credentials, no literal internal address, no `localhost`), answered with the
 * rule it broke. A name is not resolved here (DNS may answer differently later): delivery resolves
 * and checks it again on every call (guardedLookup).
 */

/** A registration refusal: the URL's own form, or the runtime guard's address rule (netguard.ts). */
export type UrlRule = 'https_only' | 'credentials' | 'invalid_url' | Exclude<BlockReason, 'invalid'>;

export interface BlockedUrl {
  error: 'blocked_url';
  rule: UrlRule;
  message: string;
}

function ruleOf(reason: string): UrlRule {
  if (reason === 'scheme must be https') return 'https_only';
  if (reason.startsWith('credentials')) return 'credentials';
  const m = /^address is (\w+)$/.exec(reason);
  if (m && m[1] !== 'invalid') return m[1] as UrlRule;
  return 'invalid_url';
}

/** Undefined when `url` passes; else the 422 body naming the rule. `field` is the body's path, for the message. */
export function blockedUrl(url: string, allowHosts: ReadonlySet<string>, field: string): BlockedUrl | undefined {
  const r = checkWebhookUrl(url, allowHosts);
  if (r.ok) return undefined;
  const rule = ruleOf(r.reason);
  return {
    error: 'blocked_url',
    rule,
    message: `${field} is refused by the SSRF policy (${rule}): ${r.reason}; tools reach public HTTPS addresses only`,
  };
}
