import { describe, expect, it, onTestFailed } from 'vitest';
import { decodeServerMessage } from '../../../src/omni/framing.js';
import { parseServerEvent, parseTranscriptPayload } from '../../../src/omni/events.js';
import { decodeMediaPayload, parseTwilioMessage } from '../../../src/twilio/messages.js';
import { Rng, fuzzSeed, randomJson } from '../../helpers/fuzz.js';
import { omniServerFrame, streamIds, twilioFrame, type TwilioFrameState } from '../../helpers/fuzz-frames.js';

const FRAMES = 100_000;

const TWILIO_EVENTS = new Set(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);
const OMNI_TYPES = new Set([
  'hello',
  'session_started',
  'configured',
  'transcript',
  'turn_begin',
  'barge_in',
  'assistant_interrupted',
  'audio_position',
  'telemetry',
  'tool_call',
  'transfer_to_human',
  'send_dtmf',
  'play_hold',
  'collect',
  'end_call',
  'dtmf_echo',
  'warning',
  'error',
  'session_end',
  'unknown',
]);

/** Collects property failures (expect() per iteration would dominate the run time). */
class Failures {
  readonly list: string[] = [];
  check(ok: boolean, what: string, input: unknown): void {
    if (!ok && this.list.length < 5) this.list.push(`${what}: ${JSON.stringify(input)?.slice(0, 300)}`);
  }
}

function seeded(): Rng {
  const seed = fuzzSeed();
  onTestFailed(() => console.error(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`));
  return new Rng(seed);
}

describe('parsers under fuzzing', () => {
  it(`parseTwilioMessage never throws on ${FRAMES} random and mutated frames and keeps reasons short and printable`, () => {
    const rng = seeded();
    const st: TwilioFrameState = { ids: streamIds(rng), seq: 0, chunk: 0, ts: 0 };
    const f = new Failures();
    const reasons = new Set<string>();
    let ok = 0;
    for (let i = 0; i < FRAMES; i++) {
      const frame = twilioFrame(rng, st);
      const text = typeof frame.data === 'string' ? frame.data : frame.data.toString('utf8');
      const res = parseTwilioMessage(text);
      if (res.ok) {
        ok++;
        f.check(TWILIO_EVENTS.has(res.msg.event), 'unknown event accepted', text);
        if (res.msg.event === 'media') {
          const bytes = decodeMediaPayload(res.msg.media.payload);
          // a payload the schema accepted decodes to exactly the bytes base64 says it holds
          if (bytes) f.check(bytes.equals(Buffer.from(res.msg.media.payload, 'base64')), 'payload bytes differ', text);
        }
      } else {
        // reasons reach logs and metric labels: bounded, printable ASCII (plus the clip ellipsis)
        f.check(
          res.reason.length <= 160 && /^[\x20-\x7e…]+$/.test(res.reason),
          `bad reason ${JSON.stringify(res.reason)}`,
          text,
        );
        reasons.add(res.reason.split(':')[0]!);
      }
    }
    expect(f.list).toEqual([]);
    // both sides of the parser were exercised, and metric labels stay a small set
    expect(ok).toBeGreaterThan(FRAMES * 0.2);
    expect(ok).toBeLessThan(FRAMES * 0.9);
    expect(reasons.size).toBeLessThan(20);
  });

  it(`decodeMediaPayload never throws on ${FRAMES / 2} hostile payloads and accepts only the base64 alphabet`, () => {
    const rng = seeded();
    const f = new Failures();
    let accepted = 0;
    for (let i = 0; i < FRAMES / 2; i++) {
      const s = rng.chance(0.5) ? rng.bytes(rng.int(64)).toString('base64') : rng.bytes(rng.int(64)).toString('latin1');
      const out = decodeMediaPayload(s);
      if (!out) continue;
      accepted++;
      f.check(
        out.length > 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && out.equals(Buffer.from(s, 'base64')),
        'accepted',
        s,
      );
    }
    expect(f.list).toEqual([]);
    expect(accepted).toBeGreaterThan(FRAMES / 8);
    expect(decodeMediaPayload(undefined as unknown as string)).toBeNull();
    expect(decodeMediaPayload(5 as unknown as string)).toBeNull();
  });

  it(`decodeServerMessage never throws on ${FRAMES} random and mutated engine messages and reads audio exactly`, () => {
    const rng = seeded();
    const f = new Failures();
    const kinds = { audio: 0, event: 0, ignored: 0 };
    const labels = new Set<string>();
    for (let i = 0; i < FRAMES; i++) {
      const frame = omniServerFrame(rng);
      const data = typeof frame.data === 'string' ? Buffer.from(frame.data, 'utf8') : frame.data;
      // Messages often arrive as views into a larger buffer at an odd offset: exercise both paths.
      const view = rng.chance(0.5) ? data : Buffer.concat([Buffer.alloc(1), data]).subarray(1);
      const msg = decodeServerMessage(view, frame.binary);
      kinds[msg.kind]++;
      if (msg.kind === 'audio') {
        const payload = data.length - 1;
        const k = rng.int(msg.pcm.length);
        f.check(
          msg.pcm.length === payload >> 1 &&
            (msg.droppedBytes ?? 0) === (payload & 1) &&
            msg.pcm[k] === data.readInt16LE(1 + 2 * k),
          'audio misread',
          data.length,
        );
      } else if (msg.kind === 'event') {
        f.check(OMNI_TYPES.has(msg.event.type), 'unknown event type', msg.event.type);
        if (msg.event.type === 'unknown') f.check(msg.event.name.length <= 64, 'long unknown name', msg.event.name);
      } else {
        f.check(msg.reason.length <= 200, 'long reason', msg.reason);
        labels.add(msg.reason.split(':')[0]!.slice(0, 40));
      }
    }
    expect(f.list).toEqual([]);
    expect(kinds.audio).toBeGreaterThan(FRAMES * 0.1);
    expect(kinds.event).toBeGreaterThan(FRAMES * 0.1);
    expect(kinds.ignored).toBeGreaterThan(FRAMES * 0.1);
    // the bridge uses the reason's head as a metric label: the set must stay bounded
    expect(labels.size).toBeLessThan(400);
  });

  it('parseServerEvent and parseTranscriptPayload never throw on arbitrary JSON values and text', () => {
    const rng = seeded();
    const f = new Failures();
    for (let i = 0; i < 20_000; i++) {
      const v = randomJson(rng);
      const r = parseServerEvent(v);
      if (!r.ok) f.check(typeof r.reason === 'string', 'reason', v);
      const t = parseTranscriptPayload(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
      if (t.ok) f.check(OMNI_TYPES.has(t.event.type), 'type', v);
    }
    expect(f.list).toEqual([]);
  });
});
