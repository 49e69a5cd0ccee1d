import { once } from 'node:events';
import { type AddressInfo, type Socket, createServer, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteCoalescer, type CorkableSocket } from '../../../src/net/write-coalescer.js';

/** A fake socket that records cork depth and when its data would leave. */
class FakeSocket implements CorkableSocket {
  corked = 0;
  sent: string[] = [];
  private pending: string[] = [];
  throwOnUncork = false;
  cork(): void {
    this.corked++;
  }
  uncork(): void {
    if (this.throwOnUncork) throw new Error('uncork refused');
    if (this.corked > 0) this.corked--;
    if (this.corked === 0) this.sent.push(...this.pending.splice(0));
  }
  write(s: string): void {
    if (this.corked > 0) this.pending.push(s);
    else this.sent.push(s);
  }
}

const nextImmediate = () => new Promise<void>((r) => setImmediate(r));

/** A coalescer with a long bound (only the poll phase ends a batch) and two fake sockets attached. */
function twoSockets() {
  const c = new WriteCoalescer({ maxHoldMs: 1000 });
  const a = new FakeSocket();
  const b = new FakeSocket();
  return { c, a, b, ha: c.attach(a), hb: c.attach(b) };
}

describe('WriteCoalescer', () => {
  it('holds writes made in one turn of the event loop until the poll phase ends', async () => {
    const { c, a, b, ha, hb } = twoSockets();
    ha.hold();
    a.write('a1');
    hb.hold();
    b.write('b1');
    ha.hold();
    a.write('a2');
    expect(a.sent).toEqual([]);
    expect(b.sent).toEqual([]);
    expect(c.pending).toBe(2); // a socket is held once however often it writes
    await nextImmediate();
    expect(a.sent).toEqual(['a1', 'a2']);
    expect(b.sent).toEqual(['b1']);
    expect(a.corked + b.corked).toBe(0);
  });

  it('flushes the held sockets before holding one more than maxSockets', () => {
    const c = new WriteCoalescer({ maxHoldMs: 1000, maxSockets: 2 });
    const s = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    s.forEach((sock, i) => {
      c.attach(sock).hold();
      sock.write(`m${i}`);
    });
    expect(s[0]!.sent).toEqual(['m0']);
    expect(s[1]!.sent).toEqual(['m1']);
    expect(s[2]!.sent).toEqual([]); // the third starts the next batch
    expect(c.pending).toBe(1);
  });

  it("flushes a batch older than maxHoldMs at the next hold and reports each socket's wait", () => {
    let now = 100;
    const c = new WriteCoalescer({ maxHoldMs: 1, now: () => now });
    const waits: number[] = [];
    const a = new FakeSocket();
    const b = new FakeSocket();
    const ha = c.attach(a, { observe: (s) => waits.push(s) });
    const hb = c.attach(b, { observe: (s) => waits.push(s) });
    ha.hold();
    a.write('a');
    now = 100.4;
    hb.hold();
    b.write('b');
    expect(a.sent).toEqual([]);
    now = 101.2; // the batch is 1.2 ms old
    ha.hold(); // a new write on a: the old batch leaves first
    expect(a.sent).toEqual(['a']);
    expect(b.sent).toEqual(['b']);
    expect(waits.map((w) => Math.round(w * 1e4) / 10)).toEqual([1.2, 0.8]); // ms, oldest message of each socket
    expect(c.pending).toBe(1);
  });

  it('keeps flushing the other sockets when one refuses to uncork, and counts it', async () => {
    const c = new WriteCoalescer({ maxHoldMs: 1000 });
    const bad = new FakeSocket();
    const good = new FakeSocket();
    c.attach(bad).hold();
    bad.throwOnUncork = true;
    c.attach(good).hold();
    good.write('x');
    await nextImmediate();
    expect(good.sent).toEqual(['x']);
    expect(c.uncorkErrors).toBe(1);
  });

  it("sends one socket's held writes at once on release, and the batch flush later leaves it alone", async () => {
    const { a, b, ha, hb } = twoSockets();
    ha.hold();
    a.write('data');
    hb.hold();
    b.write('other');
    a.write('close frame');
    ha.release();
    expect(a.sent).toEqual(['data', 'close frame']);
    expect(b.sent).toEqual([]); // the rest of the batch still waits
    await nextImmediate();
    expect(b.sent).toEqual(['other']);
    expect(a.sent).toEqual(['data', 'close frame']);
    expect(a.corked).toBe(0);
  });

  it('refuses a non-positive or non-finite hold time', () => {
    expect(() => new WriteCoalescer({ maxHoldMs: 0 })).toThrow(/maxHoldMs/);
    expect(() => new WriteCoalescer({ maxHoldMs: Number.NaN })).toThrow(/maxHoldMs/);
    expect(() => new WriteCoalescer({ maxHoldMs: Infinity })).toThrow(/maxHoldMs/);
  });

  describe('on real sockets (loopback)', () => {
    const cleanup: (() => void)[] = [];
    afterEach(() => cleanup.splice(0).forEach((f) => f()));

    async function pair(): Promise<{ client: Socket; server: Socket; received: () => string }> {
      const srv = createServer();
      srv.listen(0, '127.0.0.1');
      await once(srv, 'listening');
      const client = connect((srv.address() as AddressInfo).port, '127.0.0.1');
      const [server] = (await once(srv, 'connection')) as [Socket];
      let got = '';
      server.on('data', (d) => (got += d.toString()));
      cleanup.push(() => {
        client.destroy();
        server.destroy();
        srv.close();
      });
      return { client, server, received: () => got };
    }

    it('delivers held writes in order, once the batch is flushed', async () => {
      const { client, received } = await pair();
      const c = new WriteCoalescer({ maxHoldMs: 1000 });
      const h = c.attach(client);
      for (let i = 0; i < 5; i++) {
        h.hold();
        client.write(`${i},`);
      }
      expect(client.writableLength).toBe(10); // all still here
      await nextImmediate();
      expect(client.writableLength).toBe(0);
      for (let i = 0; i < 50 && received().length < 10; i++) await new Promise((r) => setTimeout(r, 5));
      expect(received()).toBe('0,1,2,3,4,');
    });

    it('loses nothing when the socket ends while its writes are held', async () => {
      const { client, server, received } = await pair();
      const c = new WriteCoalescer({ maxHoldMs: 1000 });
      c.attach(client).hold();
      client.write('last words');
      client.end(); // end() uncorks by itself
      await once(server, 'end');
      expect(received()).toBe('last words');
      await nextImmediate(); // the scheduled flush finds an ended socket: no throw
      expect(c.uncorkErrors).toBe(0);
    });

    it('does not throw when a held socket is destroyed before the flush', async () => {
      const { client } = await pair();
      const c = new WriteCoalescer({ maxHoldMs: 1000 });
      c.attach(client).hold();
      client.write('dropped');
      client.destroy();
      await nextImmediate();
      expect(c.pending).toBe(0);
    });
  });
});
