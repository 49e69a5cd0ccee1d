import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DropCounts } from '../../../src/sip/drops.js';
import { header, type SipMessage, type SipRequest, type SipResponse } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parse.js';
import { SipTransport, type SipSource } from '../../../src/sip/transport.js';

const HOST = '127.0.0.1';

function options(via: string): Buffer {
  return Buffer.from(
    `OPTIONS sip:bridge@${HOST} SIP/2.0\r\nVia: ${via}\r\nFrom: <sip:a@${HOST}>;tag=1\r\nTo: <sip:b@${HOST}>\r\n` +
      'Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
  );
}

function okFor(req: SipRequest): SipResponse {
  return {
    kind: 'response',
    status: 200,
    reason: 'OK',
    headers: req.headers.filter((h) => ['Via', 'From', 'To', 'Call-ID', 'CSeq'].includes(h.name)),
    body: Buffer.alloc(0),
  };
}

let transport: SipTransport | undefined;
afterEach(async () => {
  await transport?.close();
  transport = undefined;
});

function until<T>(what: string, fn: (resolve: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`hang guard: ${what}`)), 10_000);
    fn((v) => {
      clearTimeout(guard);
      resolve(v);
    });
  });
}

describe('SIP transport (UDP and TCP on one port)', () => {
  it('delivers a UDP request with its source and a stamped Via, and answers to received:rport', async () => {
    const got: [SipMessage, SipSource][] = [];
    transport = await SipTransport.listen({
      host: HOST,
      port: 0,
      onMessage: (m, s) => {
        got.push([m, s]);
        if (m.kind === 'request') transport!.sendResponse(okFor(m), s);
      },
    });
    const client = createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, HOST, () => r()));
    const myPort = client.address().port;
    const reply = until<Buffer>('UDP response', (resolve) => client.once('message', resolve));
    // sent-by names a port nobody listens on: only rport brings the answer back
    client.send(options('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKu;rport'), transport.port, HOST);
    const res = parseMessage(await reply);
    client.close();
    expect(res.ok && res.message.kind === 'response' && res.message.status).toBe(200);
    const [msg, src] = got[0]!;
    expect(src).toEqual({ transport: 'udp', address: HOST, port: myPort });
    expect(header(msg, 'Via')).toBe(`SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKu;rport=${myPort};received=${HOST}`);
  });

  it('a response sent after close (a late retransmission) is dropped, never thrown', async () => {
    const t = await SipTransport.listen({ host: HOST, port: 0, onMessage: () => {} });
    const req = parseMessage(options('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKlate;rport=9'));
    if (!req.ok || req.message.kind !== 'request') throw new Error('fixture');
    await t.close();
    // before the guard: ERR_SOCKET_DGRAM_NOT_RUNNING, uncaught, from a UAS timer (it crashed a run)
    expect(() =>
      t.sendResponse(okFor(req.message as SipRequest), { transport: 'udp', address: HOST, port: 9 }),
    ).not.toThrow();
  });

  it('frames TCP requests split across writes and answers on the same connection', async () => {
    transport = await SipTransport.listen({
      host: HOST,
      port: 0,
      onMessage: (m, s) => {
        if (m.kind === 'request') transport!.sendResponse(okFor(m), s);
      },
    });
    const sock = connect(transport.port, HOST);
    const wire = options('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKt');
    const reply = until<Buffer>('TCP response', (resolve) => sock.once('data', resolve));
    await until<void>('connect', (r) => sock.once('connect', () => r()));
    sock.write(wire.subarray(0, 7));
    setTimeout(() => sock.write(wire.subarray(7)), 20);
    const res = parseMessage(await reply);
    sock.destroy();
    expect(res.ok && res.message.kind === 'response' && res.message.status).toBe(200);
  });

  it('drops unparseable and oversized datagrams silently, counted by reason', async () => {
    const drops = new DropCounts();
    let delivered = 0;
    transport = await SipTransport.listen({
      host: HOST,
      port: 0,
      maxMessageBytes: 1000,
      onDrop: drops.sink,
      onMessage: () => delivered++,
    });
    const client = createSocket('udp4');
    client.send(Buffer.from('hello there\r\n\r\n'), transport.port, HOST);
    client.send(Buffer.alloc(1500, 0x41), transport.port, HOST);
    client.send(Buffer.from('\r\n\r\n'), transport.port, HOST); // keep-alive: neither delivered nor a drop
    client.send(options('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKz'), transport.port, HOST);
    await until<void>('the valid datagram', (r) => {
      const poll = setInterval(() => {
        if (delivered > 0) {
          clearInterval(poll);
          r();
        }
      }, 10);
    });
    client.close();
    expect(drops.snapshot()).toEqual({ malformed: 1, too_large: 1 });
  });

  it('closes a TCP connection that overflows its buffer, and an idle one', async () => {
    const drops = new DropCounts();
    transport = await SipTransport.listen({
      host: HOST,
      port: 0,
      maxMessageBytes: 1000,
      tcpIdleMs: 300,
      onDrop: drops.sink,
      onMessage: () => {},
    });
    const closed = (s: Socket) => until<void>('close', (r) => s.once('close', () => r()));
    const flood = connect(transport.port, HOST);
    flood.on('error', () => {});
    const floodClosed = closed(flood);
    flood.write(Buffer.alloc(3000, 0x41));
    await floodClosed;
    const idle = connect(transport.port, HOST);
    await closed(idle);
    expect(drops.snapshot()).toEqual({ too_large: 1, idle_timeout: 1 });
  });

  it('refuses TCP connections past the limit', async () => {
    const drops = new DropCounts();
    transport = await SipTransport.listen({
      host: HOST,
      port: 0,
      maxTcpConnections: 1,
      onDrop: drops.sink,
      onMessage: () => {},
    });
    const a = connect(transport.port, HOST);
    await until<void>('first connect', (r) => a.once('connect', () => r()));
    const b = connect(transport.port, HOST);
    b.on('error', () => {});
    await until<void>('second refused', (r) => b.once('close', () => r()));
    a.destroy();
    expect(drops.get('too_many_connections')).toBe(1);
  });
});
