import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { DropSink, SipDropReason } from './drops.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type SipMessage, type SipResponse } from './message.js';
import { parseMessage } from './parse.js';
import { serialize } from './serialize.js';
import { SipStreamFramer } from './stream-framer.js';
import { replaceTopVia, responseDestination, stampVia, topVia, type Destination } from './via.js';

/**
 * SIP over UDP and TCP on one port. It hands up parsed messages with where they came from, with
 * the top Via of a request already stamped (received/rport), and sends responses back per
 * RFC 3261 §18.2.2. Anything unparseable is dropped without an answer and counted: a scanner
 * learns nothing from a 400.
 */

export interface SipSource extends Destination {
  /** the TCP connection the message arrived on (responses go back on it while it is open) */
  readonly connection?: number;
}

export interface SipTransportOptions {
  host: string;
  /** 0 picks a free port (the same for UDP and TCP) */
  port: number;
  onMessage: (message: SipMessage, source: SipSource) => void;
  onDrop?: DropSink;
  maxMessageBytes?: number;
  /** a TCP connection that carries nothing for this long is closed */
  tcpIdleMs?: number;
  maxTcpConnections?: number;
}

const DEFAULT_IDLE_MS = 120_000;
const DEFAULT_MAX_CONNECTIONS = 1024;

export class SipTransport {
  /** set by close(): a retransmission timer that fires afterwards sends nothing */
  private closed = false;
  private readonly conns = new Map<number, Socket>();
  /** open connections by "address|port": requests to a TCP peer reuse them (§18.1.1) */
  private readonly byPeer = new Map<string, number>();
  private nextConn = 1;
  private readonly max: number;
  private readonly drop: DropSink;

  private constructor(
    private readonly opts: SipTransportOptions,
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
    readonly port: number,
  ) {
    this.max = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.drop = opts.onDrop ?? (() => {});
    udp.on('message', (buf, rinfo) =>
      this.onBytes(buf, { transport: 'udp', address: rinfo.address, port: rinfo.port }),
    );
    udp.on('error', () => {}); // ICMP unreachable on a send must not kill the listener
    tcp.on('connection', (s) => this.adopt(s));
  }

  static async listen(opts: SipTransportOptions): Promise<SipTransport> {
    // With port 0 the TCP port is picked first and UDP must get the same one; retry on a clash.
    for (let attempt = 0; ; attempt++) {
      const tcp = createServer();
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(opts.port, opts.host, () => resolve());
      });
      const port = (tcp.address() as { port: number }).port;
      const udp = createSocket({ type: isIPv6(opts.host) ? 'udp6' : 'udp4' });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(port, opts.host, () => resolve());
        });
        return new SipTransport(opts, udp, tcp, port);
      } catch (err) {
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        if (opts.port !== 0 || attempt >= 5) throw err;
      }
    }
  }

  get tcpConnections(): number {
    return this.conns.size;
  }

  /**
   * Sends a response to the request that came from `source`: on its TCP connection while open,
   * else where the top Via says (received/rport; a new connection for TCP).
   */
  sendResponse(res: SipResponse, source: SipSource): void {
    const wire = serialize(res);
    if (source.connection !== undefined) {
      const s = this.conns.get(source.connection);
      if (s && !s.destroyed) {
        s.write(wire);
        return;
      }
    }
    const v = topVia(res.headers);
    const dest = v ? responseDestination(v) : undefined;
    this.sendBytes(wire, dest ?? source);
  }

  /** Sends a request (or a response) to a destination, reusing an open TCP connection to it. */
  send(msg: SipMessage, dest: Destination): void {
    this.sendBytes(serialize(msg), dest);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.conns.values()) s.destroy();
    await Promise.all([
      new Promise<void>((r) => this.tcp.close(() => r())),
      new Promise<void>((r) => this.udp.close(() => r())),
    ]);
  }

  private sendBytes(wire: Buffer, dest: Destination): void {
    // A closed transport sends nothing: a transaction's retransmission may outlive the listener.
    if (this.closed) return;
    if (dest.transport === 'udp') {
      try {
        this.udp.send(wire, dest.port, dest.address);
      } catch {
        this.count('send_failed'); // a socket gone under us is a lost datagram, never a crash
      }
      return;
    }
    const id = this.byPeer.get(`${dest.address}|${dest.port}`);
    const open = id === undefined ? undefined : this.conns.get(id);
    if (open && !open.destroyed) {
      open.write(wire);
      return;
    }
    const s = createConnection({ host: dest.address, port: dest.port });
    if (!this.adopt(s)) return;
    s.write(wire);
  }

  /** Takes a TCP connection in (accepted or dialled); false when over the connection limit. */
  private adopt(s: Socket): boolean {
    if (this.conns.size >= (this.opts.maxTcpConnections ?? DEFAULT_MAX_CONNECTIONS)) {
      this.count('too_many_connections');
      s.destroy();
      return false;
    }
    const id = this.nextConn++;
    this.conns.set(id, s);
    const framer = new SipStreamFramer(this.max);
    let peer: { address: string; port: number } | undefined;
    const learnPeer = (): void => {
      if (peer || s.remoteAddress === undefined || s.remotePort === undefined) return;
      peer = { address: s.remoteAddress, port: s.remotePort };
      this.byPeer.set(`${peer.address}|${peer.port}`, id);
    };
    learnPeer();
    s.on('connect', learnPeer);
    s.setNoDelay(true);
    s.setTimeout(this.opts.tcpIdleMs ?? DEFAULT_IDLE_MS, () => {
      this.count('idle_timeout');
      s.destroy();
    });
    s.on('data', (chunk: Buffer) => {
      learnPeer();
      if (!peer) return;
      for (const r of framer.push(chunk)) {
        if (r.ok) this.deliver(r.message, { transport: 'tcp', ...peer, connection: id });
        else this.count(r.error === 'too_large' ? 'too_large' : 'malformed');
      }
      if (framer.broken) s.destroy();
    });
    s.on('error', () => {}); // a reset by the peer is an ordinary end of the connection
    s.on('close', () => {
      this.conns.delete(id);
      if (peer && this.byPeer.get(`${peer.address}|${peer.port}`) === id)
        this.byPeer.delete(`${peer.address}|${peer.port}`);
    });
    return true;
  }

  private onBytes(buf: Buffer, source: SipSource): void {
    // a lone CRLF (or double CRLF) is a keep-alive ping (RFC 5626 §3.5.1): nothing to deliver
    if (buf.length <= 4 && buf.every((b) => b === 0x0d || b === 0x0a)) return;
    const r = parseMessage(buf, { maxBytes: this.max });
    if (!r.ok) {
      this.count(r.error === 'too_large' ? 'too_large' : 'malformed');
      return;
    }
    this.deliver(r.message, source);
  }

  private deliver(message: SipMessage, source: SipSource): void {
    let msg = message;
    if (msg.kind === 'request') {
      const v = topVia(msg.headers);
      if (!v) {
        this.count('malformed');
        return;
      }
      msg = { ...msg, headers: replaceTopVia(msg.headers, stampVia(v, source)) };
    }
    try {
      this.opts.onMessage(msg, source);
    } catch (err) {
      // one message's handler failing never stops the listener
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'SipHandlerError');
    }
  }

  private count(reason: SipDropReason): void {
    this.drop(reason);
  }
}
