/**
 * One media stream must not hurt the others. A stream with a valid token floods the
 * bridge (1,000 valid 64 KB media messages, or a burst of 10,000 ordinary ones) while a bystander
 * call runs; the flooding socket is throttled, then closed and counted, and the bystander's
 * dropouts are measured and bounded. Rejection warnings are rate-limited per connection, and
 * what came from outside is capped before it reaches the log.
 *
 * Everything runs in this one process (bridge, engine, both callers), so a stall of the bridge
 * also stalls the bystander's own sending and receiving: the numbers are indicative. With
 * STREAM_FLOOD_UNDEFENDED=1 the rate limits are lifted, to measure the same attack without the
 * defence (the tests then fail, as they did before it).
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMulaw } from '../../src/audio/index.js';
import { janitor, sleep, startBridgeStack, type BridgeStack } from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';
import { RawStream, sid } from '../helpers/raw-twilio.js';

const j = janitor();
afterEach(() => j.closeAll());

const UNDEFENDED = process.env.STREAM_FLOOD_UNDEFENDED === '1';
const LIFTED = {
  max_messages_per_s: 100_000,
  burst_messages: 1_000_000,
  max_bytes_per_s: 100_000_000,
  burst_bytes: 1_000_000_000,
};

async function stack(): Promise<BridgeStack> {
  return j.track(
    await startBridgeStack({
      engine: { pacing: 'burst' },
      support: { greeting: LONG_GREETING },
      bridge: { media_stream: { close_after_throttled_ms: 1500, ...(UNDEFENDED ? LIFTED : {}) } },
    }),
  );
}

/** A client text frame with a zero mask key (valid, and the payload needs no masking work here). */
function maskedFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x81, 0x80 | n]) : Buffer.from([0x81, 0x80 | 126, n >> 8, n & 0xff]);
  if (n >= 65536) throw new Error('frame too long for this helper');
  return Buffer.concat([header, Buffer.alloc(4), payload]);
}

/**
 * `count` valid media messages of `bytes` μ-law each, timestamps in order, as raw frames in one
 * buffer: one write, so that the flooding costs this process next to nothing.
 */
function mediaFrames(streamSid: string, count: number, bytes: number): Buffer {
  const payload = Buffer.alloc(bytes, 0x55).toString('base64');
  const ms = bytes / 8;
  return Buffer.concat(
    Array.from({ length: count }, (_, i) =>
      maskedFrame(
        JSON.stringify({
          event: 'media',
          sequenceNumber: String(i + 2),
          streamSid,
          media: { track: 'inbound', chunk: String(i + 1), timestamp: String(Math.round((i + 1) * ms)), payload },
        }),
      ),
    ),
  );
}

/** A 20 ms frame of a 440 Hz tone (μ-law), for the bystander's voice. */
function toneFrame(): () => Uint8Array {
  const mu = new Uint8Array(160);
  let n = 0;
  return () => {
    const pcm = new Int16Array(160);
    for (let i = 0; i < 160; i++, n++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * n) / 8000));
    encodeMulaw(pcm, mu);
    return mu;
  };
}

/**
 * Dropouts of what the bystander heard in [from, to): its audio played at real time from the
 * first message on, as Twilio plays what it buffered; each time the buffer runs dry inside the
 * window counts until the next message (or the window's end). Also the longest gap between two
 * messages in the window.
 */
function dropouts(raw: RawStream, from: number, to: number): { dropoutMs: number; maxGapMs: number; heardMs: number } {
  const msgs = raw.media8k();
  let playAt = msgs[0]?.at ?? from;
  let dropoutMs = 0;
  let maxGapMs = 0;
  let heardMs = 0;
  let prev: number | undefined;
  for (const m of msgs) {
    if (m.at >= to) break;
    if (m.at > playAt) {
      const dryFrom = Math.max(playAt, from);
      if (m.at > dryFrom) dropoutMs += m.at - dryFrom;
      playAt = m.at;
    }
    playAt += m.pcm.length / 8;
    if (m.at >= from) {
      if (prev !== undefined) maxGapMs = Math.max(maxGapMs, m.at - prev);
      prev = m.at;
      heardMs += m.pcm.length / 8;
    }
  }
  if (to > Math.max(playAt, from)) dropoutMs += to - Math.max(playAt, from); // dry at the window's end
  return { dropoutMs: Math.round(dropoutMs), maxGapMs: Math.round(maxGapMs), heardMs: Math.round(heardMs) };
}

/** The bystander's agent speaks this long (the tone voice: 20 ms a character), longer than the test. */
const LONG_GREETING = 'a'.repeat(450);

/**
 * A bystander call: its agent talks for 9 s, sent by the engine at once (a TTS) and played out
 * by the bridge at real time, a little ahead, as in production; the caller sends its audio.
 */
async function bystander(h: BridgeStack): Promise<RawStream> {
  const raw = j.track(await RawStream.open(h.target));
  raw.start(sid('CA'), { agent: 'support' });
  j.track({ close: raw.pace(toneFrame()) });
  await waitFor(() => raw.audio().length > 8000, 5000); // a second of the agent: it is steady
  return raw;
}

/** Opens the flooding stream (a valid token: the flood is of valid messages) and writes `frames` at once. */
async function flood(
  h: BridgeStack,
  frames: (streamSid: string) => Buffer,
): Promise<{ attacker: RawStream; startedAt: number }> {
  const attacker = j.track(await RawStream.open(h.target));
  const callSid = sid('CA');
  attacker.start(callSid, { agent: 'sales' });
  await waitFor(() => h.bridge.ctx.registry.get(callSid)?.hasStream === true);
  const built = frames(attacker.streamSid);
  const tcp = (attacker.ws as unknown as { _socket: Socket })._socket;
  await sleep(300); // whatever building the frames left to the garbage collector, before the window opens
  const startedAt = performance.now();
  tcp.write(built);
  return { attacker, startedAt };
}

async function runFlood(name: string, frames: (streamSid: string) => Buffer) {
  const h = await stack();
  const by = await bystander(h);
  const quietFrom = performance.now();
  await sleep(1500);
  const baseline = dropouts(by, quietFrom, performance.now());
  const linesBefore = h.logs.lines.length;
  const { attacker, startedAt } = await flood(h, frames);
  // The measured window: 4 s from the flood's first byte.
  await sleep(Math.max(0, startedAt + 4000 - performance.now()));
  const during = dropouts(by, startedAt, performance.now());
  // The flooder's close reply waits behind its own queued flood, so the bridge cuts it 2 s after
  // its close frame: allow for that on a busy machine.
  const closed = await Promise.race([attacker.closed, sleep(8000).then(() => 'open' as const)]);
  const logLines = h.logs.lines.length - linesBefore;
  const throttled = await metricValue(h.bridge, 'bridge_media_streams_throttled_total');
  const closedForRate = await metricValue(h.bridge, 'bridge_media_streams_refused_total', { reason: 'rate_exceeded' });
  console.info(
    `${name}${UNDEFENDED ? ' (UNDEFENDED)' : ''}: bystander baseline ${JSON.stringify(baseline)}, during flood ${JSON.stringify(during)}; attacker ${closed === 'open' ? 'still open' : `closed ${closed}`}, throttled ${throttled}x, log lines ${logLines}`,
  );
  return { h, by, baseline, during, closed, throttled, closedForRate, logLines };
}

describe('one stream cannot hurt the others', () => {
  it('throttles then closes a stream sending 1,000 valid 64 KB media messages, and a bystander call keeps its audio', async () => {
    const r = await runFlood('64 KB flood', (streamSid) => mediaFrames(streamSid, 1000, 48_000));
    expect(r.closed).not.toBe('open');
    expect(r.closedForRate).toBe(1);
    expect(r.throttled).toBeGreaterThanOrEqual(1);
    // The bystander heard its audio throughout: dropouts bounded over the 4 s of the flood.
    expect(r.during.heardMs).toBeGreaterThan(3000);
    // (measured here: 0 ms with the defence; 300-1700 ms without it)
    // A gross bound (undefended: 1,714 ms; 160 seen defended beside two CPU burners, 520 at load 17): the
    // defence itself is proven by the throttle and the close above, which CPU load cannot fake.
    expect(r.during.dropoutMs).toBeLessThan(r.baseline.dropoutMs + 900);
    expect(r.logLines).toBeLessThan(30);
  }, 45_000);

  it('throttles then closes a stream sending a burst of 10,000 media messages, and a bystander call keeps its audio', async () => {
    const r = await runFlood('10k burst', (streamSid) => mediaFrames(streamSid, 10_000, 160));
    expect(r.closed).not.toBe('open');
    expect(r.closedForRate).toBe(1);
    expect(r.during.heardMs).toBeGreaterThan(3000);
    // (measured here: 0 ms with the defence; 300-1700 ms without it)
    expect(r.during.dropoutMs).toBeLessThan(r.baseline.dropoutMs + 150);
    expect(r.logLines).toBeLessThan(30);
  }, 45_000);

  it('logs one line per rejection reason per second per connection, with a count, and caps what came from outside', async () => {
    // The rate limit is lifted here, so that every bad message is read and only the log limiter bounds the lines.
    const h = j.track(await startBridgeStack({ bridge: { media_stream: LIFTED } }));
    const raw = j.track(await RawStream.open(h.target));
    const callSid = sid('CA');
    raw.start(callSid, { agent: 'support' });
    await waitFor(() => h.bridge.ctx.registry.get(callSid)?.hasStream === true);
    const linesBefore = h.logs.lines.length;
    const tcp = (raw.ws as unknown as { _socket: Socket })._socket;
    const bad = [
      maskedFrame('{"event": "media", oops'),
      maskedFrame(JSON.stringify({ event: 'x'.repeat(2000), streamSid: raw.streamSid })),
      maskedFrame(
        JSON.stringify({
          event: 'media',
          sequenceNumber: '2',
          streamSid: 'MZ' + 'f'.repeat(32),
          media: { track: 'inbound', chunk: '1', timestamp: '20', payload: 'AAAA' },
        }),
      ),
    ];
    const t0 = Date.now();
    for (let i = 0; i < 21_000; i++) tcp.write(bad[i % 3]!);
    while ((await metricValue(h.bridge, 'bridge_rejected_messages_total')) < 21_000 && Date.now() - t0 < 30_000)
      await sleep(20);
    expect(await metricValue(h.bridge, 'bridge_rejected_messages_total')).toBe(21_000);
    const seconds = Math.ceil((Date.now() - t0) / 1000);
    raw.close();
    await waitFor(() => h.logs.find('twilio rejections suppressed on this connection').length === 1, 3000);
    const lines = h.logs.lines.slice(linesBefore);
    const rejections = h.logs.find('twilio message rejected').filter((l) => l.callSid === callSid);
    console.info(
      `21,000 bad messages in ${seconds} s: ${lines.length} log lines, ${Buffer.byteLength(lines.join('\n'))} bytes, longest ${Math.max(...lines.map((l) => l.length))} chars`,
    );
    // three reasons, at most one line each per second of the flood, and one summary
    expect(rejections.length).toBeGreaterThanOrEqual(3);
    expect(rejections.length).toBeLessThanOrEqual(3 * (seconds + 1));
    const summary = h.logs.find('twilio rejections suppressed on this connection')[0]!;
    // every rejection is accounted for: a line, a count on a later line of its reason, or the summary
    const onLines = rejections.reduce((a, l) => a + (typeof l.suppressed === 'number' ? l.suppressed : 0), 0);
    const atEnd = Object.values(summary.suppressed as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(rejections.length + onLines + atEnd).toBe(21_000);
    // the flood's lines are those and the summary; the rest is the call's own life (its start, its
    // end, a late reply under load), which no number of bad messages adds to
    const floodLines = lines.filter((l) => /rejected|suppressed/.test(l));
    expect(floodLines.length).toBeLessThanOrEqual(3 * (seconds + 1) + 1);
    expect(lines.length - floodLines.length).toBeLessThan(20);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(1500);

    // A crafted 60 KB value in a refused start is cut to 200 characters in its log line.
    const crafted = j.track(await RawStream.open(h.target));
    const other = sid('CA');
    crafted.start(
      other,
      { agent: 'support' },
      { mediaFormat: { encoding: 'x'.repeat(60_000), sampleRate: 8000, channels: 1 } },
    );
    expect(await Promise.race([crafted.closed, sleep(2000).then(() => 'open')])).toBe(1008);
    const line = h.logs.lines.find((l) => l.includes('unsupported_encoding'))!;
    expect(line).toBeDefined();
    expect(line.length).toBeLessThan(1000);
  }, 60_000);
});
