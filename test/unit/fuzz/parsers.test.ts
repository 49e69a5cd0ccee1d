import { describe, expect, it, onTestFailed } from 'vitest';
import { decodeServerMessage } from '../../../src/omni/framing.js';
import { parseServerEvent, parseTranscriptPayload } from '../../../src/omni/events.js';
import { decodeMediaPayload, parseTwilioMessage } from '../../../src/twilio/messages.js';
import { Rng, fuzzSeed, randomJson } from '../../helpers/fuzz.js';
import { omniServerFrame, streamIds, twilioFrame, type TwilioFrameState } from '../../helpers/fuzz-frames.js';

const FRAMES = 100_000;

const TWILIO_EVENTS = new Set(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);
const OMNI_TYPES = new Set([
  'hello', 'session_started', 'configured', 'transcript', 'turn_begin', 'barge_in', 'assistant_interrupted',
  'audio_position', 'telemetry', 'tool_call', 'transfer_to_human', 'send_dtmf', 'play_hold', 'collect', 'end_call',
  'dtmf_echo', 'warning', 'error', 'session_end', 'unknown',
]);

function seeded(): Rng {
  const seed = fuzzSeed();
  onTestFailed(() => console.error(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`));
  return new Rng(seed);
}

describe('parsers under fuzzing', () => {
  it(`parseTwilioMessage never throws on ${FRAMES} random and mutated frames and keeps reasons short and printable`, () => {
    const rng = seeded();
    const st: TwilioFrameState = { ids: streamIds(rng), seq: 0, chunk: 0, ts: 0 };
    const reasons = new Set<string>();
    let ok = 0;
    for (let i = 0; i < FRAMES; i++) {
      const f = twilioFrame(rng, st);
      const text = typeof f.data === 'string' ? f.data : f.data.toString('utf8');
      const res = parseTwilioMessage(text);
      if (res.ok) {
        ok++;
        expect(TWILIO_EVENTS.has(res.msg.event)).toBe(true);
        if (res.msg.event === 'media') {
          const bytes = decodeMediaPayload(res.msg.media.payload);
          // a payload the schema accepted decodes to exactly the bytes base64 says it holds
          if (bytes) expect(bytes.length).toBe(Buffer.from(res.msg.media.payload, 'base64').length);
        }
      } else {
        // reasons reach logs and metric labels: bounded, printable ASCII (plus the clip ellipsis)
        expect(res.reason.length).toBeLessThanOrEqual(160);
        expect(res.reason).toMatch(/^[\x20-\x7e…]+$/);
        reasons.add(res.reason.split(':')[0]!);
      }
    }
    // both sides of the parser were exercised, and metric labels stay a small set
    expect(ok).toBeGreaterThan(FRAMES * 0.2);
    expect(ok).toBeLessThan(FRAMES * 0.9);
    expect(reasons.size).toBeLessThan(20);
  });

  it(`decodeMediaPayload never throws on ${FRAMES / 2} hostile payloads and accepts only canonical base64`, () => {
    const rng = seeded();
    for (let i = 0; i < FRAMES / 2; i++) {
      const s = rng.chance(0.5) ? rng.bytes(rng.int(64)).toString('base64') : rng.bytes(rng.int(64)).toString('latin1');
      const out = decodeMediaPayload(s);
      if (out) {
        expect(out.length).toBeGreaterThan(0);
        expect(Buffer.from(out).toString('base64').replace(/=+$/, '')).toBe(s.replace(/=+$/, ''));
      }
    }
    expect(decodeMediaPayload(undefined as unknown as string)).toBeNull();
    expect(decodeMediaPayload(5 as unknown as string)).toBeNull();
  });

  it(`decodeServerMessage never throws on ${FRAMES} random and mutated engine messages and reads audio exactly`, () => {
    const rng = seeded();
    const kinds = { audio: 0, event: 0, ignored: 0 };
    const labels = new Set<string>();
    for (let i = 0; i < FRAMES; i++) {
      const f = omniServerFrame(rng);
      const data = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data;
      // Messages often arrive as views into a larger buffer at an odd offset: exercise both paths.
      const view = rng.chance(0.5) ? data : Buffer.concat([Buffer.alloc(1), data]).subarray(1);
      const msg = decodeServerMessage(view, f.binary);
      kinds[msg.kind]++;
      if (msg.kind === 'audio') {
        const payload = data.length - 1;
        expect(msg.pcm.length).toBe(payload >> 1);
        expect(msg.droppedBytes ?? 0).toBe(payload & 1);
        const k = rng.int(msg.pcm.length);
        expect(msg.pcm[k]).toBe(data.readInt16LE(1 + 2 * k));
      } else if (msg.kind === 'event') {
        expect(OMNI_TYPES.has(msg.event.type)).toBe(true);
        if (msg.event.type === 'unknown') expect(msg.event.name.length).toBeLessThanOrEqual(64);
      } else {
        expect(msg.reason.length).toBeLessThanOrEqual(200);
        labels.add(msg.reason.split(':')[0]!.slice(0, 40));
      }
    }
    expect(kinds.audio).toBeGreaterThan(FRAMES * 0.1);
    expect(kinds.event).toBeGreaterThan(FRAMES * 0.1);
    expect(kinds.ignored).toBeGreaterThan(FRAMES * 0.1);
    // the bridge uses the reason's head as a metric label: the set must stay bounded
    expect(labels.size).toBeLessThan(400);
  });

  it('parseServerEvent and parseTranscriptPayload never throw on arbitrary JSON values and text', () => {
    const rng = seeded();
    for (let i = 0; i < 20_000; i++) {
      const v = randomJson(rng);
      const r = parseServerEvent(v);
      if (!r.ok) expect(typeof r.reason).toBe('string');
      const t = parseTranscriptPayload(typeof v === 'string' ? v : JSON.stringify(v) ?? '');
      if (t.ok) expect(OMNI_TYPES.has(t.event.type)).toBe(true);
    }
  });
});
