/**
 * Hostile HTTP clients for the listener's limits (test/integration/http-limits.test.ts): raw
 * loopback connections from chosen source addresses (127.0.0.x: Linux answers the whole of
 * 127/8) that send a request's headers, then its body one byte at a time — a slow POST — or
 * nothing at all, and open a new connection whenever the bridge cuts one.
 */
import { connect, type Socket } from 'node:net';

export interface FloodOptions {
  port: number;
  /** source addresses, e.g. ['127.0.0.2'] */
  sources: string[];
  /** connections each source keeps open */
  perSource: number;
  /** 'slow_body': headers, then a byte every dripMs; 'slow_headers': the headers a byte at a time */
  kind: 'slow_body' | 'slow_headers';
  dripMs?: number;
  /** a cut connection is opened again after this long */
  reconnectMs?: number;
}

export interface Flood {
  /** connections open now (as this side sees them) */
  open(): number;
  /** connections the bridge closed so far */
  cut(): number;
  /** what the bridge answered on cut connections (status lines) */
  answers(): string[];
  close(): void;
}

const HEADERS =
  'POST /twilio/voice HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n';

export function startFlood(o: FloodOptions): Flood {
  const live = new Set<Socket>();
  const answers: string[] = [];
  let cut = 0;
  let stopped = false;
  const sent = new WeakMap<Socket, number>();
  const open = (source: string) => {
    if (stopped) return;
    const s = connect({ port: o.port, host: '127.0.0.1', localAddress: source });
    s.setNoDelay(true);
    s.on('error', () => {});
    s.on('connect', () => {
      live.add(s);
      if (o.kind === 'slow_body') s.write(HEADERS);
      sent.set(s, 0);
    });
    s.on('data', (d) => {
      const line = d.toString('latin1').split('\r\n')[0];
      if (line) answers.push(line);
    });
    s.on('close', () => {
      if (live.delete(s)) cut++;
      setTimeout(() => open(source), o.reconnectMs ?? 500).unref();
    });
  };
  for (const source of o.sources) for (let i = 0; i < o.perSource; i++) open(source);
  const drip = setInterval(() => {
    for (const s of live) {
      const n = sent.get(s) ?? 0;
      if (o.kind === 'slow_headers' && n >= HEADERS.length - 4) continue; // never the blank line
      s.write(o.kind === 'slow_body' ? 'a' : HEADERS[n]!);
      sent.set(s, n + 1);
    }
  }, o.dripMs ?? 1000);
  return {
    open: () => live.size,
    cut: () => cut,
    answers: () => answers,
    close() {
      stopped = true;
      clearInterval(drip);
      for (const s of live) s.destroy();
      live.clear();
    },
  };
}

/** One slow request from `source`; resolves with what the bridge answered when it closed the connection. */
export function slowRequest(
  port: number,
  source: string,
  kind: 'slow_body' | 'slow_headers',
  dripMs = 200,
): { done: Promise<string>; close(): void } {
  const f = startFlood({ port, sources: [source], perSource: 1, kind, dripMs, reconnectMs: 3_600_000 });
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<string>((resolve) => {
    timer = setInterval(() => {
      if (f.cut() === 0) return;
      clearInterval(timer);
      f.close();
      resolve(f.answers()[0] ?? '(closed without an answer)');
    }, 20);
  });
  return {
    done,
    close() {
      clearInterval(timer);
      f.close();
    },
  };
}
