/** Shared pieces of the offline-engine integration tests: a recording client and a caller voice. */
import { OmniClient, type OmniClientOptions } from '../../src/omni/client.js';
import type { OmniEvent } from '../../src/omni/events.js';
import type { OmniRate } from '../../src/omni/url.js';
import { silentLogger } from '../../src/observability/logger.js';

export interface Heard {
  at: number;
  kind: 'audio' | 'event';
  rate?: number;
  samples?: number;
  event?: OmniEvent;
}

export interface Recorded {
  client: OmniClient;
  heard: Heard[];
  closes: [number, string][];
  events(type?: OmniEvent['type']): OmniEvent[];
  audioMs(since?: number): number;
}

export function recordingClient(baseUrl: string, rate: OmniRate, extra: Partial<OmniClientOptions> = {}): Recorded {
  const heard: Heard[] = [];
  const closes: [number, string][] = [];
  const client = new OmniClient({
    baseUrl,
    rate,
    logger: silentLogger(),
    sessionLabel: 'engine-test',
    configure: { persona: 'Test agent.', greeting: 'Hello, thanks for calling. How can I help you today?' },
    onAudio: (pcm, r) => heard.push({ at: performance.now(), kind: 'audio', rate: r, samples: pcm.length }),
    ...extra,
  });
  client.on('event', (ev) => heard.push({ at: performance.now(), kind: 'event', event: ev }));
  client.on('close', (c, r) => closes.push([c, r]));
  return {
    client,
    heard,
    closes,
    events: (type) => heard.filter((h) => h.kind === 'event' && (!type || h.event!.type === type)).map((h) => h.event!),
    audioMs: (since = 0) =>
      heard.filter((h) => h.kind === 'audio' && h.at >= since).reduce((ms, h) => ms + (h.samples! * 1000) / h.rate!, 0),
  };
}

/**
 * Streams caller audio at real time in 20 ms frames until stopped, like the bridge does (silence
 * included). `level` 0 is digital silence; otherwise white noise of that peak amplitude.
 */
export function streamCaller(client: OmniClient, rate: number): { setLevel(level: number): void; stop(): void } {
  const n = Math.round(rate / 50);
  const frame = new Int16Array(n);
  let level = 0;
  const t0 = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - t0) / 20);
    while (sent < due) {
      for (let i = 0; i < n; i++) frame[i] = level ? Math.round((Math.random() * 2 - 1) * level) : 0;
      client.sendAudio(frame);
      sent++;
    }
  }, 10);
  return {
    setLevel: (l) => {
      level = l;
    },
    stop: () => clearInterval(timer),
  };
}

export function waitUntil(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`${what} not met within ${timeoutMs} ms`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A deterministic stand-in voice: a 300 Hz tone, 60 ms per character, at 16 kHz. */
export async function toneTts(text: string): Promise<{ samples: Int16Array; rate: number }> {
  const rate = 16000;
  const samples = new Int16Array(Math.round((text.length * 60 * rate) / 1000));
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / rate));
  return { samples, rate };
}
