/**
 * Who may hold the HTTP listener's connections, each one a file descriptor.
 *
 * A connection is *unproven* from its accept until it carries a request whose Twilio signature
 * verifies (a webhook, or the media upgrade: `promote`); then it is *proven* for its life, and
 * this guard never cuts it. Invariants, checked at every accept:
 * - open connections never exceed `max` (below the descriptor limit: accept never hits EMFILE);
 * - unproven ones never exceed `max − reserved`: the reserve is room only proven connections
 *   (signed webhooks, live media) take;
 * - one address holds at most `perSource` unproven ones (off behind a proxy, whose one address
 *   every connection has: per-client limits are then the proxy's);
 * - when there is no room, a newcomer displaces the oldest unproven connection of the address
 *   that holds the most, so a flood of slow or idle connections, even from many addresses,
 *   cannot keep Twilio's next connection (one of a few from its address) out. Only when every
 *   connection is proven is the newcomer refused.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  max: number;
  reserved: number;
  /** 0: no per-source cap (behind a proxy) */
  perSource: number;
}

export type ConnectionRefusal = 'per_source' | 'displaced' | 'full';

export class ConnectionGuard {
  /** unproven sockets by address, each set in accept order (oldest first) */
  private readonly bySource = new Map<string, Set<Socket>>();
  private readonly sourceOf = new Map<Socket, string>();
  private readonly proven = new Set<Socket>();

  constructor(
    private readonly limits: ConnectionLimits,
    /** every connection this guard cuts or refuses, with its address (counted, logged by the caller) */
    private readonly onRefused: (reason: ConnectionRefusal, source: string) => void,
  ) {}

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
  }

  get unprovenCount(): number {
    return this.sourceOf.size;
  }

  get provenCount(): number {
    return this.proven.size;
  }

  /** A request on this socket carried a valid Twilio signature: it is never cut by this guard. */
  promote(socket: Socket): void {
    if (this.proven.has(socket) || socket.destroyed) return;
    this.forget(socket);
    this.proven.add(socket);
  }

  private admit(socket: Socket): void {
    const source = sourceKey(socket.remoteAddress);
    if (!source || socket.destroyed) return void socket.destroy();
    const { max, reserved, perSource } = this.limits;
    const mine = this.bySource.get(source);
    if (perSource > 0 && (mine?.size ?? 0) >= perSource) return this.refuse(socket, 'per_source', source);
    const unprovenRoom = max - reserved - this.sourceOf.size;
    const totalRoom = max - this.sourceOf.size - this.proven.size;
    if ((unprovenRoom <= 0 || totalRoom <= 0) && !this.displaceOne(source)) return this.refuse(socket, 'full', source);
    let set = mine;
    if (!set) this.bySource.set(source, (set = new Set()));
    set.add(socket);
    this.sourceOf.set(socket, source);
    socket.once('close', () => {
      this.forget(socket);
      this.proven.delete(socket);
    });
  }

  /** Cuts the oldest unproven socket of the address holding the most; false when there is none. */
  private displaceOne(newcomer: string): boolean {
    let worst: Set<Socket> | undefined;
    let worstSource = '';
    let worstSize = 0;
    for (const [source, set] of this.bySource) {
      // The newcomer counts with its own address: an address that holds the most displaces its own.
      const size = set.size + (source === newcomer ? 1 : 0);
      if (size > worstSize) [worst, worstSource, worstSize] = [set, source, size];
    }
    const victim = worst?.values().next().value;
    if (!victim) return false;
    this.forget(victim);
    victim.destroy();
    this.onRefused('displaced', worstSource);
    return true;
  }

  private refuse(socket: Socket, reason: ConnectionRefusal, source: string): void {
    socket.destroy();
    this.onRefused(reason, source);
  }

  private forget(socket: Socket): void {
    const source = this.sourceOf.get(socket);
    if (source === undefined) return;
    this.sourceOf.delete(socket);
    const set = this.bySource.get(source)!;
    set.delete(socket);
    if (set.size === 0) this.bySource.delete(source);
  }
}

/**
 * The source a connection is counted under: an IPv4 address (also when IPv4-mapped), or an IPv6
 * address's /64 — one subscriber's allocation, which holds more addresses than any cap.
 */
export function sourceKey(addr: string | undefined): string | undefined {
  if (!addr) return undefined;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (v4) return v4[1];
  if (!addr.includes(':')) return addr;
  const [head = '', tail] = addr.split('%')[0]!.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
