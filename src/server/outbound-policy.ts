import type { ConfigFile } from '../config/schema.js';

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

  constructor(file: ConfigFile) {
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
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What a refusal logs of a destination: its kind and first characters (a phone number is personal data). */
export function destinationHint(destination: string): string {
  const m = /^(\+\d{1,4}|sips?:|client:)/.exec(destination);
  return `${m ? m[1] : destination.slice(0, 4)}…(${destination.length})`;
}
