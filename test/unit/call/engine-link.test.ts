/**
 * EngineLink on a fake client factory and fake timers: no socket. The link does what the
 * reconnect decision (src/call/reconnect.ts) says — the pauses, the give-up and its cause — and
 * holds caller audio until the engine can take it.
 */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EngineLink, type EngineClient, type LinkLost } from '../../../src/call/engine-link.js';
import type { OmniClientEvents, OmniClientOptions } from '../../../src/omni/client.js';

/** One engine session's client: the test opens it, makes it say hello, or closes it. */
class FakeClient extends EventEmitter<OmniClientEvents> implements EngineClient {
  readonly audio: Int16Array[] = [];
  bufferedAmount = 0;
  ended = false;
  private settle: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(readonly opts: OmniClientOptions) {
    super();
  }

  get outputRate(): number {
    return this.opts.rate;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  /** the socket opened (configure sent) */
  open(): void {
    this.settle?.resolve();
  }

  /** the socket failed before it opened: the close first, as OmniClient does */
  fail(code = 1006): void {
    this.emit('close', code, 'connect failed');
    this.settle?.reject(new Error('connect failed'));
  }

  hello(): void {
    this.emit('ready');
  }

  drop(code: number): void {
    this.emit('close', code, 'dropped');
  }

  sendAudio(pcm: Int16Array): boolean {
    this.audio.push(pcm.slice());
    return true;
  }

  sendDtmf(): boolean {
    return true;
  }

  sendToolResult(): boolean {
    return true;
  }

  end(): void {
    this.ended = true;
  }
}

function rig(opts: { helloTimeoutMs?: number } = {}) {
  const clients: { client: FakeClient; at: number }[] = [];
  const lost: LinkLost[] = [];
  const events: string[] = [];
  const link = new EngineLink({
    baseUrl: 'ws://engine.invalid',
    rate: 24000,
    configure: { persona: 'p', greeting: 'hi' },
    connectTimeoutMs: 3000,
    maxPendingMs: 200,
    helloTimeoutMs: opts.helloTimeoutMs,
    onAudio: () => undefined,
    logger: pino({ level: 'silent' }),
    client: (o) => {
      const client = new FakeClient(o);
      clients.push({ client, at: performance.now() });
      return client;
    },
  });
  link.on('lost', (e) => lost.push(e));
  link.on('reconnecting', (n) => events.push(`reconnecting ${n}`));
  link.on('ready', () => events.push('ready'));
  const last = (): FakeClient => clients[clients.length - 1]!.client;
  return { link, clients, lost, events, last };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('EngineLink on a client factory', () => {
  it('reconnects after 100, 600 and 1800 ms, then gives up as closed', async () => {
    const { link, clients, lost, last } = rig();
    const t0 = performance.now();
    link.start();
    for (let i = 0; i < 4; i++) {
      last().fail();
      await flush();
      await vi.advanceTimersByTimeAsync(i < 3 ? [100, 600, 1800][i]! : 5000);
    }
    expect(clients.map((c) => Math.round(c.at - t0))).toEqual([0, 100, 700, 2500]);
    expect(lost).toEqual([{ code: 1006, reason: 'connect failed', fatal: false, cause: 'closed' }]);
    expect(link.state).toBe('ended');
    expect(link.stats.reconnects).toBe(3);
  });

  it('gives the next session a complete configure without the greeting', async () => {
    const { link, clients, last } = rig();
    link.start();
    last().fail();
    await vi.advanceTimersByTimeAsync(100);
    expect(clients[0]!.client.opts.configure.greeting).toBe('hi');
    expect(clients[1]!.client.opts.configure.greeting).toBeUndefined();
    expect(clients[1]!.client.opts.configure.persona).toContain('Do not greet the caller again');
  });

  it.each([1008, 4401, 4403])('never reconnects after close %i: lost as refused at once', async (code) => {
    const { link, clients, lost, last } = rig();
    link.start();
    last().open();
    await flush();
    last().hello();
    last().drop(code);
    await vi.advanceTimersByTimeAsync(5000);
    expect(clients).toHaveLength(1);
    expect(lost).toMatchObject([{ code, fatal: true, cause: 'refused' }]);
  });

  it('gives up on an engine that comes up and drops again and again: flapping, after 3 reconnects', async () => {
    const { link, clients, lost, events, last } = rig();
    link.start();
    for (let i = 0; i < 4; i++) {
      last().open();
      await flush();
      last().hello();
      await vi.advanceTimersByTimeAsync(1000); // up for a second
      last().drop(1011);
      await vi.advanceTimersByTimeAsync(200);
    }
    expect(clients).toHaveLength(4);
    expect(lost).toMatchObject([{ code: 1011, cause: 'flapping' }]);
    expect(link.stats.flaps).toBe(4);
    expect(events).toEqual(['ready', 'reconnecting 1', 'ready', 'reconnecting 1', 'ready', 'reconnecting 1', 'ready']);
  });

  it('drops a session that never says hello and reconnects; an engine that stays silent is lost as silent', async () => {
    const { link, clients, lost, last } = rig({ helloTimeoutMs: 1000 });
    link.start();
    for (let i = 0; i < 6 && lost.length === 0; i++) {
      last().open();
      await flush();
      await vi.advanceTimersByTimeAsync(3000);
    }
    expect(clients.length).toBeGreaterThan(1);
    expect(clients.slice(0, -1).every((c) => c.client.ended)).toBe(true);
    expect(lost).toMatchObject([{ cause: 'silent' }]);
  });

  it('holds caller audio until the socket opens, then sends it first, in order', async () => {
    const { link, last } = rig();
    link.start();
    link.sendAudio(new Int16Array(480).fill(1));
    link.sendAudio(new Int16Array(480).fill(2));
    expect(last().audio).toEqual([]);
    last().open();
    await flush();
    link.sendAudio(new Int16Array(480).fill(3));
    expect(last().audio.map((f) => f[0])).toEqual([1, 2, 3]);
  });
});
