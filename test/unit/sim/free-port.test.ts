import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../src/sim/free-port.js';

const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

describe('freePort', () => {
  it('hands out distinct ports below the ephemeral range, so no listen(0) can take one before its server binds it', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(50);
    for (const p of ports) expect(p).toBeLessThan(low);
    // the race the old way lost: other servers binding port 0 while the port is still unbound
    const others: Server[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const s = createServer().listen(0, '127.0.0.1');
        await new Promise((r) => s.once('listening', r));
        others.push(s);
      }
      const taken = new Set(others.map((s) => (s.address() as AddressInfo).port));
      expect(ports.filter((p) => taken.has(p))).toEqual([]);
    } finally {
      await Promise.all(others.map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('skips a port that is already in use', async () => {
    const first = await freePort();
    // occupy the next ports this process would hand out
    const held: Server[] = [];
    try {
      for (let p = first + 1; p <= first + 3; p++) {
        const s = createServer().listen(p, '127.0.0.1');
        await new Promise((r, j) => {
          s.once('listening', r);
          s.once('error', j);
        }).catch(() => undefined);
        held.push(s);
      }
      const next = await freePort();
      expect(next === first + 1 || next === first + 2 || next === first + 3).toBe(false);
      await new Promise<void>((resolve, reject) => {
        const s = createServer().listen(next, '127.0.0.1', () => s.close(() => resolve()));
        s.once('error', reject);
      });
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  });
});
