/**
 * Ports for servers that must know their port before they listen (a bridge's PUBLIC_URL, a
 * spawned process's PORT). "Bind port 0, read it, close it" is a race: until the real server
 * listens, the kernel may hand the same ephemeral port to any other `listen(0)` — an offline
 * engine, a simulator, a WebSocket client — and the server fails with EADDRINUSE (seen in a
 * suite running nine stacks at once on a loaded machine).
 *
 * So these ports come from BELOW the kernel's ephemeral range, which `listen(0)` and outgoing
 * connections never use, from a slice of its own per test worker (VITEST_POOL_ID) or per
 * process, in turn, each checked free by binding it. Where the ephemeral range cannot be read
 * (not Linux) or leaves no room below it, the old way is the fallback.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const SLICES = 16;
const SPAN = 12_000;

function ephemeralLow(): number | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : undefined;
  } catch {
    return undefined;
  }
}

function slice(): { start: number; size: number } | undefined {
  const low = ephemeralLow();
  if (low === undefined || low - SPAN < 1024) return undefined;
  const size = Math.floor(SPAN / SLICES);
  const pool = Number(process.env.VITEST_POOL_ID);
  const index = Number.isInteger(pool) && pool > 0 ? pool % SLICES : process.pid % SLICES;
  return { start: low - SPAN + index * size, size };
}

const mine = slice();
/** next offset in this process's slice; starts at a pid-dependent place so reruns differ */
let cursor = mine ? process.pid % mine.size : 0;

function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const bound = (srv.address() as { port: number }).port;
      srv.close(() => resolve(bound));
    });
  });
}

/** A loopback port that nothing listens on and that no `listen(0)` will be given meanwhile. */
export async function freePort(): Promise<number> {
  if (mine) {
    for (let i = 0; i < mine.size; i++) {
      const port = mine.start + (cursor++ % mine.size);
      if ((await tryBind(port)) !== undefined) return port;
    }
  }
  const port = await tryBind(0);
  if (port === undefined) throw new Error('freePort: cannot bind any loopback port');
  return port;
}
