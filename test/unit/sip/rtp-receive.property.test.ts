/**
 * The SIP leg's RTP receive path as a whole (SipRtpMedia: latch → parse → reorder → media
 * timeline → μ-law), property-tested against a model of what the caller sent. Streams of 10-60 ms
 * packets, some sizes the path must refuse, silence-suppression gaps in the timestamps,
 * sequence numbers and timestamps that wrap, packets displaced by up to three places, duplicates,
 * a stranger's packets, and the sender restarting with a new SSRC. The reference timeline is
 * plain arithmetic on what was sent (no modular timestamps): each source starts where the last
 * delivered audio ended, and inside a source a packet sits at its sample offset / 8. A third
 * property stops the caller's RTP now and then while the clock runs: the filled silence and the
 * audio after it must keep one timeline that never goes back or overlaps.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:dgram';
import alawmulaw from 'alawmulaw';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LegListener, LegMedia } from '../../../src/call/leg.js';
import { ManualPaceClock } from '../../../src/call/pace-clock.js';
import { buildRtp } from '../../../src/rtp/packet.js';
import type { RtpSocket } from '../../../src/rtp/port-pool.js';
import { SipRtpMedia } from '../../../src/sip/call-leg.js';

const CALLER = { address: '127.0.0.1', port: 5004 };
const STRANGER = { address: '127.0.0.1', port: 6006 };
/** sizes the path takes (10-60 ms of G.711) and ones it must drop (empty, over 60 ms) */
const GOOD_SIZES = [80, 160, 240, 320, 480];
const BAD_SIZES = [0, 488, 640];
const DEPTH = 4; // the media's reorder depth: a packet displaced by less than this is put back

interface Sent {
  bytes: Uint8Array;
  seq: number;
  ts: number;
  ssrc: number;
  /** samples since the source's first packet, counted without wrapping */
  at: number;
  good: boolean;
}

const packet = fc.record({
  size: fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...GOOD_SIZES) },
    { weight: 1, arbitrary: fc.constantFrom(...BAD_SIZES) },
  ),
  // silence suppression: no packets for a while, the timestamp moves on
  gap: fc.oneof(
    { weight: 8, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 50 }).map((n) => n * 80) },
  ),
  displace: fc.integer({ min: 0, max: DEPTH - 1 }),
  dup: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  stranger: fc.oneof({ weight: 19, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  // the caller's RTP stops for this long before the packet (used by the silence-fill property only)
  pauseMs: fc.oneof(
    { weight: 9, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 }).map((n) => n * 20) },
  ),
});

const source = fc.record({
  seqBase: fc.oneof(fc.integer({ min: 65_500, max: 65_535 }), fc.integer({ min: 0, max: 65_535 })),
  tsBase: fc.oneof(fc.integer({ min: 2 ** 32 - 20_000, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  packets: fc.array(packet, { minLength: 1, maxLength: 50 }),
});

type SourceSpec = typeof source extends fc.Arbitrary<infer T> ? T : never;

class Heard implements LegListener {
  media: { bytes: Uint8Array; ms: number | undefined }[] = [];
  onMedia(mulaw: Uint8Array, ms: number | undefined) {
    this.media.push({ bytes: Uint8Array.from(mulaw), ms });
  }
  onDtmf() {}
  onMark() {}
  onStreamEnded(_m: LegMedia, _why: string) {}
}

/** A UDP socket stand-in: datagrams are emitted synchronously, what is sent goes nowhere. */
function fakeSocket(): { rtp: RtpSocket; deliver(buf: Buffer, from: { address: string; port: number }): void } {
  const emitter = new EventEmitter() as EventEmitter & { send(): void };
  emitter.send = () => {};
  return {
    rtp: { socket: emitter as unknown as Socket, port: 20_000, close: () => Promise.resolve() },
    deliver: (buf, from) => emitter.emit('message', buf, { ...from, family: 'IPv4', size: buf.length }),
  };
}

function run(codec: 'PCMU' | 'PCMA', sources: SourceSpec[], ssrcSeed: number, pauses = false) {
  const sock = fakeSocket();
  const clock = new ManualPaceClock();
  const media = new SipRtpMedia({
    id: 'prop',
    socket: sock.rtp,
    negotiated: {
      codec: { payload: codec === 'PCMU' ? 0 : 8, name: codec },
      remote: CALLER,
      offered: 'sendrecv',
      answered: 'sendrecv',
    },
    clock,
  });
  const heard = new Heard();
  media.start(heard);

  let fill = 0;
  const sent: Sent[][] = sources.map((src, k) => {
    const ssrc = (ssrcSeed + k) >>> 0; // consecutive sources differ
    let at = 0;
    return src.packets.map((p, i) => {
      at += p.gap;
      const bytes = Uint8Array.from({ length: p.size }, () => (fill = (fill * 31 + 7) & 0xff));
      const s: Sent = {
        bytes,
        seq: (src.seqBase + i) & 0xffff,
        ts: (src.tsBase + at) % 2 ** 32,
        ssrc,
        at,
        good: GOOD_SIZES.includes(p.size),
      };
      at += p.size; // one sample per byte in G.711
      return s;
    });
  });

  // the network: inside each source, a packet arrives up to DEPTH-1 places late, some twice, and
  // a stranger's copy now and then (after the first packet has latched the caller)
  let first = true;
  sources.forEach((src, k) => {
    const wire = src.packets.flatMap((p, i) => {
      const copies = [{ i, key: i + p.displace, from: CALLER }];
      if (p.dup) copies.push({ i, key: i + p.displace + 1 + (i % DEPTH), from: CALLER });
      if (p.stranger) copies.push({ i, key: i + 0.5, from: STRANGER });
      return copies;
    });
    wire.sort((a, b) => a.key - b.key || a.i - b.i);
    const paused = new Set<number>();
    for (const w of wire) {
      if (first && w.from === STRANGER) continue;
      first = false;
      const pause = src.packets[w.i]!.pauseMs;
      if (pauses && pause > 0 && !paused.has(w.i)) {
        paused.add(w.i);
        clock.advanceTo(clock.now() + pause); // the media ticks every 20 ms meanwhile
      }
      const s = sent[k]![w.i]!;
      const bytes = w.from === STRANGER ? new Uint8Array(s.bytes.length).fill(0x55) : s.bytes;
      sock.deliver(
        buildRtp({
          marker: false,
          payloadType: codec === 'PCMU' ? 0 : 8,
          sequence: s.seq,
          timestamp: s.ts,
          ssrc: s.ssrc,
          payload: Buffer.from(bytes),
        }),
        w.from,
      );
    }
  });
  // what the reorder buffer still holds at the end is the last few packets: they come out when
  // the stream ends; here they are simply not yet delivered
  return { heard, sent, media };
}

/** Which source (index) a reference entry came from. */
function sentSource(sent: Sent[][], w: { bytes: Uint8Array } | undefined): number {
  return w === undefined ? -1 : sent.findIndex((src) => src.some((s) => s.bytes === w.bytes));
}

/** The model: every packet the path accepts, once, in order, at its place on the caller's timeline. */
function reference(sent: Sent[][], codec: 'PCMU' | 'PCMA'): { bytes: Uint8Array; ms: number }[] {
  const out: { bytes: Uint8Array; ms: number }[] = [];
  let end = 0; // ms where the last delivered audio ended
  for (const src of sent) {
    const good = src.filter((s) => s.good);
    if (good.length === 0) continue;
    const start = end;
    const origin = good[0]!.at;
    for (const s of good) {
      const ms = start + (s.at - origin) / 8;
      const bytes =
        codec === 'PCMU'
          ? s.bytes
          : Uint8Array.from(alawmulaw.mulaw.encode(alawmulaw.alaw.decode(s.bytes)) as ArrayLike<number>);
      out.push({ bytes, ms });
      end = ms + s.bytes.length / 8;
    }
  }
  return out;
}

describe('SIP RTP receive path (property)', () => {
  for (const codec of ['PCMU', 'PCMA'] as const) {
    it(`${codec}: whatever the packet sizes, order, duplicates, strangers, SSRC restarts and wraps, the call gets each accepted packet once, in order, at the caller's timeline`, () => {
      fc.assert(
        fc.property(
          fc.array(source, { minLength: 1, maxLength: 4 }),
          fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          (sources, ssrcSeed) => {
            const { heard, sent, media } = run(codec, sources, ssrcSeed);
            const want = reference(sent, codec);
            // the last source's final DEPTH packets (at most) may still be held for reordering
            const got = heard.media;
            expect(got.length).toBeLessThanOrEqual(want.length);
            expect(want.length - got.length).toBeLessThanOrEqual(DEPTH);
            for (let i = 0; i < got.length; i++) {
              expect(got[i]!.ms, `packet ${i}`).toBe(want[i]!.ms);
              expect(Buffer.from(got[i]!.bytes).equals(Buffer.from(want[i]!.bytes)), `packet ${i} bytes`).toBe(true);
            }
            // only held packets of the last source are missing: earlier sources were flushed by the restart
            const lastCount = sent.at(-1)!.filter((s) => s.good).length;
            expect(want.length - got.length).toBeLessThanOrEqual(lastCount);
            media.close();
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("PCMU: when the caller's RTP stops, filled silence carries the timeline and the next packet goes on from its end; the caller's audio is still all there, once, in order", () => {
    const isFill = (b: Uint8Array) => b.length === 160 && b.every((x) => x === 0xff);
    fc.assert(
      fc.property(
        fc.array(source, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (sources, ssrcSeed) => {
          const { heard, sent, media } = run('PCMU', sources, ssrcSeed, true);
          const want = reference(sent, 'PCMU');
          const got = heard.media;
          const audio = got.filter((m) => !isFill(m.bytes));
          // the caller's own bytes: each accepted packet once, in order (the last few may be held)
          expect(want.length - audio.length).toBeGreaterThanOrEqual(0);
          expect(want.length - audio.length).toBeLessThanOrEqual(DEPTH);
          audio.forEach((m, i) =>
            expect(Buffer.from(m.bytes).equals(Buffer.from(want[i]!.bytes)), `packet ${i}`).toBe(true),
          );
          // the timeline: a fill starts where the last audio ended; after a fill or a new source the
          // caller's audio starts where the timeline stopped; otherwise it moves as the caller's did
          let end = 0;
          let k = 0; // index into want
          for (let i = 0; i < got.length; i++) {
            const m = got[i]!;
            const ms = m.ms!;
            if (isFill(m.bytes)) expect(ms, `fill ${i}`).toBe(end);
            else {
              const prev = i > 0 ? got[i - 1]! : undefined;
              const rebased =
                !prev || isFill(prev.bytes) || sentSource(sent, want[k]) !== sentSource(sent, want[k - 1]);
              if (rebased) expect(ms, `audio ${i} after a fill or restart`).toBe(end);
              else expect(ms - got[i - 1]!.ms!, `audio ${i}`).toBe(want[k]!.ms - want[k - 1]!.ms);
              k++;
            }
            expect(ms).toBeGreaterThanOrEqual(end); // never back in time, never overlapping
            end = ms + m.bytes.length / 8;
          }
          media.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("the media's latched source (what the SIP server reports when the call ends)", () => {
  it('is unknown until a packet comes, even though the SDP names an address, then the first source', () => {
    const sock = fakeSocket();
    const media = new SipRtpMedia({
      id: 'latch',
      socket: sock.rtp,
      negotiated: { codec: { payload: 0, name: 'PCMU' }, remote: CALLER, offered: 'sendrecv', answered: 'sendrecv' },
      clock: new ManualPaceClock(),
    });
    media.start(new Heard());
    expect(media.latched).toBeUndefined();
    const rtp = (seq: number) =>
      buildRtp({
        marker: false,
        payloadType: 0,
        sequence: seq,
        timestamp: seq * 160,
        ssrc: 9,
        payload: Buffer.alloc(160),
      });
    sock.deliver(rtp(1), STRANGER); // behind NAT the RTP comes from elsewhere than the SDP says
    sock.deliver(rtp(2), CALLER);
    expect(media.latched).toEqual(STRANGER);
    expect(media.packetsIn).toBe(1);
    media.close();
  });
});
