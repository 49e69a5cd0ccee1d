import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readIntoSharedBuffer } from '../../../src/net/shared-read.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

/** n loopback connections; the server side of each is switched to shared reads on accept. */
async function pairs(n: number, share = true): Promise<{ client: Socket; server: Socket; applied: boolean }[]> {
  const accepted: { server: Socket; applied: boolean }[] = [];
  const srv = createServer((s) => accepted.push({ server: s, applied: share && readIntoSharedBuffer(s) }));
  servers.push(srv);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  const clients: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const c = connect(port, '127.0.0.1');
    await once(c, 'connect');
    clients.push(c);
    sockets.push(c);
  }
  while (accepted.length < n) await new Promise((r) => setTimeout(r, 5));
  accepted.forEach((a) => sockets.push(a.server));
  return clients.map((client, i) => ({ client, ...accepted[i]! }));
}

/** A deterministic pattern per socket, so a byte from another socket's read would show. */
function pattern(seed: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

describe('readIntoSharedBuffer', () => {
  it('delivers every byte of several interleaved sockets, in order, each to its own listener', async () => {
    const ps = await pairs(4);
    expect(ps.every((p) => p.applied)).toBe(true);
    const want = ps.map((_, i) => pattern(i + 1, 300_000));
    const got = ps.map((p) => {
      const chunks: Buffer[] = [];
      p.server.on('data', (c: Buffer) => chunks.push(c));
      return once(p.server, 'end').then(() => Buffer.concat(chunks));
    });
    // Interleave ~1 KB writes across the sockets, as engine frames of many calls arrive.
    for (let off = 0; off < 300_000; off += 1000)
      ps.forEach((p, i) => p.client.write(want[i]!.subarray(off, off + 1000)));
    ps.forEach((p) => p.client.end());
    const results = await Promise.all(got);
    results.forEach((r, i) => expect(r.equals(want[i]!)).toBe(true));
  });

  it('gives each listener a copy that later reads do not overwrite', async () => {
    const [p] = await pairs(1);
    const kept: Buffer[] = [];
    p!.server.on('data', (c: Buffer) => kept.push(c));
    p!.client.write(Buffer.alloc(500, 1));
    while (kept.length === 0) await new Promise((r) => setTimeout(r, 2));
    p!.client.write(Buffer.alloc(500, 2));
    p!.client.end();
    await once(p!.server, 'end');
    expect(Buffer.concat(kept).equals(Buffer.concat([Buffer.alloc(500, 1), Buffer.alloc(500, 2)]))).toBe(true);
  });

  it('stops reading while paused and delivers the rest on resume (ws pauses a backed-up socket)', async () => {
    const [p] = await pairs(1);
    let received = 0;
    p!.server.on('data', (c: Buffer) => (received += c.length));
    p!.client.write(Buffer.alloc(1000));
    while (received < 1000) await new Promise((r) => setTimeout(r, 2));
    p!.server.pause();
    p!.client.write(Buffer.alloc(2000));
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toBe(1000);
    p!.server.resume();
    p!.client.end();
    await once(p!.server, 'end');
    expect(received).toBe(3000);
  });

  it('is applied once: a second call leaves the socket as it is', async () => {
    const [p] = await pairs(1);
    expect(p!.applied).toBe(true);
    expect(readIntoSharedBuffer(p!.server)).toBe(false);
  });

  it('leaves a destroyed socket alone', async () => {
    const [p] = await pairs(1, false);
    p!.server.destroy();
    expect(readIntoSharedBuffer(p!.server)).toBe(false);
  });

  it('leaves a TLS socket alone (its handle decrypts on its own read path)', async () => {
    const [p] = await pairs(1, false);
    Object.defineProperty(p!.server, 'encrypted', { value: true });
    expect(readIntoSharedBuffer(p!.server)).toBe(false);
  });
});
