import type { ConfigFile } from '../../config/schema.js';

/**
 * Who the admin API may call. A leaked admin token must not turn the bridge into a toll-fraud
 * tool (premium-rate numbers, arbitrary SIP trunks), so `POST /admin/calls` only dials:
 * - the agents' configured transfer targets (numbers, `sip:` URIs, `client:` identities), and
 * - destinations matching `bridge.outbound.allow`: an exact number, a number prefix (`+1555*`), or a
 *   `sip:`/`client:` pattern where `*` stands for a run of letters, digits and `_ . + -` — never
 *   `@`, `:`, `;` or `?`, so a pattern cannot be stretched over another host or URI parameters.
 */
export class OutboundPolicy {
  private readonly exact = new Set<string>();
  private readonly patterns: RegExp[] = [];
  /** caller IDs an outbound call may show: the account's numbers, the `numbers:` keys */
  private readonly callerIds: Set<string>;

  constructor(file: ConfigFile) {
    this.callerIds = new Set(Object.keys(file.numbers));
    for (const a of file.agents) {
      for (const t of a.transfer.targets) {
        if (t.kind === 'number' || t.kind === 'sip') this.exact.add(t.value);
        else if (t.kind === 'client') this.exact.add(t.value.startsWith('client:') ? t.value : `client:${t.value}`);
      }
    }
    for (const p of file.bridge.outbound.allow) {
      if (!p.includes('*')) this.exact.add(p);
      else this.patterns.push(new RegExp(`^${p.split('*').map(escapeRegExp).join('[A-Za-z0-9_.+-]*')}$`));
    }
  }

  allows(destination: string): boolean {
    return this.exact.has(destination) || this.patterns.some((re) => re.test(destination));
  }

  /** A caller ID that is not one of the account's configured numbers would spoof someone else's. */
  allowsFrom(from: string): boolean {
    return this.callerIds.has(from);
  }
}

// One policy per configuration object: a reload puts a new object in force, so the next request
// reads the new targets and numbers, and nothing built from an older file can outlive it.
const byConfig = new WeakMap<ConfigFile, OutboundPolicy>();

/** The outbound policy of the configuration `file` (built once per configuration in force). */
export function outboundPolicyOf(file: ConfigFile): OutboundPolicy {
  let p = byConfig.get(file);
  if (!p) byConfig.set(file, (p = new OutboundPolicy(file)));
  return p;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What a refusal logs of a destination: its kind and first characters (a phone number is personal data). */
export function destinationHint(destination: string): string {
  const m = /^(\+\d{1,4}|sips?:|client:)/.exec(destination);
  return `${m ? m[1] : destination.slice(0, 4)}…(${destination.length})`;
}
