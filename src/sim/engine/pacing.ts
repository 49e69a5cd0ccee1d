/**
 * How the offline engine puts a reply on the wire. Real engines differ: PyAI's reference server
 * sends 150 ms chunks from a timer (no lead), TTS engines send whole sentences at once, networks
 * add jitter and pauses, and a chunk need not hold a whole number of samples. A profile names one
 * such behaviour; `planChunks` turns an utterance into the (time, bytes) schedule it implies.
 *
 * Profiles (CLI `--pacing`, scenario `pacing:`):
 *   realtime             20 ms frames, 60 ms ahead of real time (the default)
 *   chunks:MS            one MS-long chunk every MS at real time, no lead (the reference server)
 *   burst                the whole utterance at once, in 100 ms chunks back to back (a TTS)
 *   jitter:MS:J          chunks:MS, each sent up to ±J ms off its time (order kept)
 * and any of them followed by
 *   +odd                 chunk boundaries at odd byte offsets (samples split across messages)
 *   +pause:AT:MS         a MS pause in the middle of the reply, AT ms into it
 */

export interface PacingProfile {
  /** audio per message (ms); 0 = the whole utterance in one message */
  chunkMs: number;
  /** how far ahead of real time a chunk is sent (ms); Infinity = all at once */
  leadMs: number;
  jitterMs: number;
  oddBytes: boolean;
  pause?: { atMs: number; ms: number };
}

export interface PlannedChunk {
  /** when to send it, ms after the utterance starts */
  atMs: number;
  /** byte range of the utterance's PCM16LE */
  start: number;
  end: number;
}

export const DEFAULT_PACING = 'realtime';

const MAX_CHUNK_MS = 2000;
const MAX_JITTER_MS = 500;

/** Parses a profile; throws an Error naming what is wrong. */
export function parsePacing(text: string): PacingProfile {
  const [base, ...mods] = text.trim().split('+');
  const parts = (base ?? '').split(':');
  const num = (v: string | undefined, what: string, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new Error(`pacing "${text}": ${what} must be a number from ${min} to ${max}`);
    }
    return n;
  };
  let p: PacingProfile;
  switch (parts[0]) {
    case 'realtime':
      p = { chunkMs: 20, leadMs: 60, jitterMs: 0, oddBytes: false };
      break;
    case 'chunks':
      p = { chunkMs: num(parts[1], 'the chunk length', 1, MAX_CHUNK_MS), leadMs: 0, jitterMs: 0, oddBytes: false };
      break;
    case 'burst':
      p = { chunkMs: 100, leadMs: Number.POSITIVE_INFINITY, jitterMs: 0, oddBytes: false };
      break;
    case 'jitter':
      p = {
        chunkMs: num(parts[1], 'the chunk length', 1, MAX_CHUNK_MS),
        leadMs: 0,
        jitterMs: num(parts[2], 'the jitter', 0, MAX_JITTER_MS),
        oddBytes: false,
      };
      break;
    default:
      throw new Error(
        `pacing "${text}": expected realtime, chunks:MS, burst or jitter:MS:J (with optional +odd, +pause:AT:MS)`,
      );
  }
  for (const mod of mods) {
    const m = mod.split(':');
    if (m[0] === 'odd' && m.length === 1) p.oddBytes = true;
    else if (m[0] === 'pause')
      p.pause = { atMs: num(m[1], 'the pause position', 0, 600_000), ms: num(m[2], 'the pause length', 0, 10_000) };
    else throw new Error(`pacing "${text}": unknown modifier "+${mod.slice(0, 20)}" (expected +odd or +pause:AT:MS)`);
  }
  return p;
}

/** A source of uniform numbers in [0, 1) (seeded in tests, Math.random otherwise). */
export type Uniform = () => number;

/**
 * The send schedule of an utterance of `samples` samples at `rate`: chunk k carries the audio of
 * [k·chunk, (k+1)·chunk) and is sent when that audio is due minus the lead, moved by jitter and
 * the pause; with `oddBytes` each boundary moves by one byte. Times never go backwards (a socket
 * keeps order).
 */
export function planChunks(
  samples: number,
  rate: number,
  p: PacingProfile,
  random: Uniform = Math.random,
): PlannedChunk[] {
  const bytes = samples * 2;
  const chunkSamples = p.chunkMs === 0 ? samples : Math.max(1, Math.round((p.chunkMs * rate) / 1000));
  const out: PlannedChunk[] = [];
  let last = 0;
  for (let s = 0; s < samples; s += chunkSamples) {
    const dueMs = (s * 1000) / rate;
    let at = Number.isFinite(p.leadMs) ? Math.max(0, dueMs - p.leadMs) : 0;
    if (p.jitterMs > 0) at += (random() * 2 - 1) * p.jitterMs;
    if (p.pause && dueMs >= p.pause.atMs) at += p.pause.ms;
    at = Math.max(at, last, 0);
    last = at;
    let start = s * 2;
    let end = Math.min(bytes, (s + chunkSamples) * 2);
    if (p.oddBytes) {
      if (start > 0) start -= 1;
      if (end < bytes) end -= 1;
    }
    if (end > start) out.push({ atMs: at, start, end });
  }
  return out;
}
