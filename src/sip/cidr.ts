import { BlockList, isIP } from 'node:net';

/**
 * Address lists written as CIDRs (`203.0.113.0/24`, `2001:db8::/32`) or bare addresses, matched
 * with node's BlockList. An IPv4 peer seen through a dual-stack socket (`::ffff:203.0.113.5`) is
 * matched as the IPv4 address it is.
 */

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

export function parseCidr(text: string): Cidr | undefined {
  const [addr, len, ...rest] = text.trim().split('/');
  if (addr === undefined || rest.length > 0) return undefined;
  const v = isIP(addr);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = len === undefined ? max : Number(len);
  if (prefix > max) return undefined;
  return { address: addr, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** `::ffff:a.b.c.d` → `a.b.c.d`; other addresses unchanged. */
export function unmapV4(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1]! : address;
}

export class AddressList {
  private readonly list = new BlockList();

  /** Throws a RangeError naming the entry that is not a CIDR (the schema refuses those first). */
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const c = parseCidr(e);
      if (!c) throw new RangeError(`not a CIDR: ${e}`);
      this.list.addSubnet(c.address, c.prefix, c.family);
    }
  }

  has(address: string): boolean {
    const a = unmapV4(address);
    const v = isIP(a);
    if (v === 0) return false;
    return this.list.check(a, v === 4 ? 'ipv4' : 'ipv6');
  }
}
