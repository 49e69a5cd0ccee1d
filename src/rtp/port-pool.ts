import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * RTP ports from RTP_PORT_MIN..RTP_PORT_MAX: even ones only (RFC 3550 §11; the odd one above is
 * RTCP's). Least recently released first, so a new call does not get a port whose previous
 * call's stray packets may still arrive.
 */
export class PortPool {
  private readonly free: number[] = [];
  private readonly taken = new Set<number>();

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || min > max) {
      throw new RangeError(`RTP port range ${min}..${max} is not within 1024..65535`);
    }
    // the RTCP port (p+1) must lie in the range too
    for (let p = min + (min % 2); p + 1 <= max; p += 2) this.free.push(p);
    if (this.free.length === 0) throw new RangeError(`RTP port range ${min}..${max} holds no even/odd pair`);
  }

  get available(): number {
    return this.free.length;
  }

  get size(): number {
    return this.free.length + this.taken.size;
  }

  acquire(): number | undefined {
    const p = this.free.shift();
    if (p !== undefined) this.taken.add(p);
    return p;
  }

  /** Returns a port; releasing one not taken (twice, or foreign) does nothing. */
  release(port: number): void {
    if (!this.taken.delete(port)) return;
    this.free.push(port);
  }
}

export interface RtpSocket {
  readonly socket: Socket;
  readonly port: number;
  /** closes the socket and gives the port back, once */
  close(): Promise<void>;
}

/**
 * Binds a UDP socket on the next free pool port; a port some other process holds is skipped
 * (and given back to the pool's end). Undefined when every port has been tried.
 */
export async function bindRtpSocket(pool: PortPool, host: string): Promise<RtpSocket | undefined> {
  const tries = pool.available;
  for (let i = 0; i < tries; i++) {
    const port = pool.acquire();
    if (port === undefined) return undefined;
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, host, () => resolve(true));
    });
    if (!ok) {
      socket.close();
      pool.release(port);
      continue;
    }
    socket.on('error', () => {}); // ICMP port unreachable from a peer that went away
    let closed = false;
    return {
      socket,
      port,
      close: async () => {
        if (closed) return;
        closed = true;
        await new Promise<void>((r) => socket.close(() => r()));
        pool.release(port);
      },
    };
  }
  return undefined;
}
