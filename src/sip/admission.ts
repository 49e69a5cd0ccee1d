import { AddressList } from './cidr.js';
import type { DropSink } from './drops.js';
import { header, type SipRequest } from './message.js';

/**
 * Who may knock: a request from a known scanner's user agent, or from a source in no trunk's
 * `allow` list, gets no answer at all (the port looks closed to it) and is counted by reason.
 * Otherwise the first trunk in file order whose list holds the source takes it.
 */

/** Lower-case substrings of the User-Agent of SIP scanners (SIPVicious and its descendants). */
export const SCANNER_AGENTS: readonly string[] = ['friendly-scanner', 'sipvicious', 'sipcli'];

export function isScanner(userAgent: string | undefined): boolean {
  if (userAgent === undefined) return false;
  const ua = userAgent.toLowerCase();
  return SCANNER_AGENTS.some((s) => ua.includes(s));
}

export interface TrunkLike {
  readonly name: string;
  readonly allow: readonly string[];
}

export type Admission<T> = { admitted: true; trunk: T } | { admitted: false; reason: 'scanner' | 'no_trunk' };

export class TrunkSelector<T extends TrunkLike> {
  private readonly lists: { trunk: T; list: AddressList }[];

  constructor(
    trunks: readonly T[],
    private readonly onDrop: DropSink = () => {},
  ) {
    this.lists = trunks.map((trunk) => ({ trunk, list: new AddressList(trunk.allow) }));
  }

  /** The first trunk, in file order, whose `allow` holds `address`. */
  trunkFor(address: string): T | undefined {
    return this.lists.find((x) => x.list.has(address))?.trunk;
  }

  admit(req: SipRequest, sourceAddress: string): Admission<T> {
    if (isScanner(header(req, 'User-Agent'))) {
      this.onDrop('scanner');
      return { admitted: false, reason: 'scanner' };
    }
    const trunk = this.trunkFor(sourceAddress);
    if (!trunk) {
      this.onDrop('no_trunk');
      return { admitted: false, reason: 'no_trunk' };
    }
    return { admitted: true, trunk };
  }
}
