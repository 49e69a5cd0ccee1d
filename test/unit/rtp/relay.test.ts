import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpLatch } from '../../../src/rtp/latch.js';
import { buildRtp, parseRtp, type RtpPacket } from '../../../src/rtp/packet.js';
import { bindRtpSocket, PortPool } from '../../../src/rtp/port-pool.js';
import { RtpRelay } from '../../../src/rtp/relay.js';

/**
 * Two legs' RTP joined (src/rtp/relay.ts), on loopback sockets: audio crosses byte for byte,
 * telephone-event is renumbered for the other side (marker kept), RTCP and strangers do not
 * cross, and closing gives both ports back.
 */

const HOST = '127.0.0.1';
const open: Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function peer(): Promise<{ socket: Socket; port: number; got: Buffer[] }> {
  const socket = createSocket('udp4');
  open.push(socket);
  const got: Buffer[] = [];
  socket.on('message', (b) => got.push(b));
  await new Promise<void>((r) => socket.bind(0, HOST, () => r()));
  return { socket, port: (socket.address() as { port: number }).port, got };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('RtpRelay', () => {
  it('passes audio unchanged both ways, renumbers telephone-event, and refuses RTCP and strangers', async () => {
    const base = 30000 + 2 * Math.floor(Math.random() * 10000);
    const pool = new PortPool(base, base + 3);
    const a = (await bindRtpSocket(pool, HOST))!;
    const b = (await bindRtpSocket(pool, HOST))!;
    const caller = await peer();
    const human = await peer();
    const stranger = await peer();
    const relay = new RtpRelay(
      { socket: a, latch: new RtpLatch({ address: HOST, port: caller.port }), telephoneEvent: 101 },
      { socket: b, latch: new RtpLatch({ address: HOST, port: human.port }), telephoneEvent: 96 },
    );
    const pkt = (o: Partial<RtpPacket> & { payload: Buffer }) =>
      buildRtp({ marker: false, payloadType: 0, sequence: 7, timestamp: 160, ssrc: 42, ...o });

    const audio = pkt({ payload: Buffer.from(Array.from({ length: 160 }, (_, i) => i)) });
    caller.socket.send(audio, a.port, HOST);
    await until(() => human.got.length === 1);
    expect(human.got[0]!.equals(audio)).toBe(true);

    const back = pkt({ ssrc: 99, payload: Buffer.alloc(160, 0x55) });
    human.socket.send(back, b.port, HOST);
    await until(() => caller.got.length === 1);
    expect(caller.got[0]!.equals(back)).toBe(true);

    const event = pkt({ marker: true, payloadType: 101, payload: Buffer.from([1, 0x0a, 0, 160]) });
    caller.socket.send(event, a.port, HOST);
    await until(() => human.got.length === 2);
    const e = parseRtp(human.got[1]!)!;
    expect([e.payloadType, e.marker, e.sequence, [...e.payload]]).toEqual([96, true, 7, [1, 0x0a, 0, 160]]);

    // a stranger on the caller's port, and RTCP from the caller: neither crosses
    stranger.socket.send(pkt({ ssrc: 666, payload: Buffer.alloc(160, 0x11) }), a.port, HOST);
    caller.socket.send(Buffer.from([0x80, 200, 0, 6, 0, 0, 0, 42, ...new Array<number>(20).fill(0)]), a.port, HOST);
    const marker = pkt({ sequence: 8, payload: Buffer.alloc(160, 0x22) });
    caller.socket.send(marker, a.port, HOST); // sent last: once it is through, the two above had their chance
    await until(() => human.got.length === 3);
    expect(human.got.length).toBe(3);
    expect(human.got[2]!.equals(marker)).toBe(true);
    expect(relay.relayed).toBe(4);

    await relay.close();
    expect(relay.isClosed).toBe(true);
    expect(pool.available).toBe(2);
  });
});
