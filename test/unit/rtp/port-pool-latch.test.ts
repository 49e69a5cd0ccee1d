import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { RtpLatch } from '../../../src/rtp/latch.js';
import { bindRtpSocket, PortPool } from '../../../src/rtp/port-pool.js';

describe('RTP port pool', () => {
  it('hands out even ports whose RTCP neighbour is in range, least recently released first', () => {
    const pool = new PortPool(20001, 20008);
    expect(pool.size).toBe(3); // 20002, 20004, 20006 (20008 has no 20009)
    const a = pool.acquire();
    const b = pool.acquire();
    const c = pool.acquire();
    expect([a, b, c]).toEqual([20002, 20004, 20006]);
    expect(pool.acquire()).toBeUndefined();
    pool.release(20004);
    pool.release(20004); // twice: no double entry
    pool.release(30000); // foreign: ignored
    pool.release(20002);
    expect(pool.available).toBe(2);
    expect(pool.acquire()).toBe(20004);
    expect(pool.acquire()).toBe(20002);
  });

  it('refuses a range that is not one', () => {
    expect(() => new PortPool(100, 200)).toThrow(RangeError);
    expect(() => new PortPool(30000, 20000)).toThrow(RangeError);
    expect(() => new PortPool(20000, 20000)).toThrow(RangeError);
  });

  it('binds on 127.0.0.1, skips a port held elsewhere, and gives ports back on close', async () => {
    const base = 40000 + 2 * Math.floor(Math.random() * 5000);
    const blocker = createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(base, '127.0.0.1', () => r()));
    try {
      const pool = new PortPool(base, base + 5);
      const s = await bindRtpSocket(pool, '127.0.0.1');
      expect(s?.port).toBe(base + 2);
      expect(pool.available).toBe(2); // base+4, and base back at the end of the queue
      await s!.close();
      await s!.close();
      expect(pool.available).toBe(3);
    } finally {
      blocker.close();
    }
  });
});

describe('symmetric RTP latch', () => {
  const sdp = { address: '127.0.0.2', port: 4000 };
  const nat = { address: '127.0.0.3', port: 61000 };

  it('sends to the SDP address until the first packet, then to where packets come from', () => {
    const l = new RtpLatch(sdp);
    expect(l.target).toEqual(sdp);
    expect(l.accept(nat)).toBe(true);
    expect(l.target).toEqual(nat);
  });

  it('accepts only the latched source afterwards', () => {
    const l = new RtpLatch(sdp);
    l.accept(nat);
    expect(l.accept({ address: '127.0.0.9', port: 61000 })).toBe(false);
    expect(l.accept({ address: nat.address, port: 61001 })).toBe(false);
    expect(l.accept(nat)).toBe(true);
    expect(l.rejected).toBe(2);
    expect(l.target).toEqual(nat);
  });

  it('latches again after a re-INVITE, on the new SDP address until then', () => {
    const l = new RtpLatch(sdp);
    l.accept(nat);
    const moved = { address: '127.0.0.4', port: 5000 };
    l.reset(moved);
    expect(l.target).toEqual(moved);
    expect(l.accept({ address: '127.0.0.5', port: 7000 })).toBe(true);
    expect(l.target).toEqual({ address: '127.0.0.5', port: 7000 });
  });
});
