/**
 * Shared pieces of the call-control integration tests (test/integration/control-*.test.ts): a
 * small agent configuration, a scripted offline engine with a fast deterministic voice, and
 * readers for what the caller heard and what the bridge asked of Twilio's REST API.
 */
import { parseScenario } from '../../src/sim/engine/index.js';
import {
  parseTwiml,
  type RecordedRestRequest,
  type HumanBehaviour,
  type TwimlNode,
} from '../../src/sim/twilio/index.js';
import { ACCOUNT_SID, startHarness, waitFor, type Harness } from './harness.js';

export { ACCOUNT_SID, waitFor, type Harness };

export const AGENT_NUMBER = '+15550001111';
export const CALLER_NUMBER = '+15557654321';
export const CALLER_ID = '+15550009999';
export const FRONT_DESK = '+15550100200';
export const BILLING_SIP = 'sip:billing@pbx.example.com';

/**
 * Voice of the scripted agent: a 2 kHz tone (far from hold music, ringback and DTMF, so what the
 * caller heard can be told apart), VOICE_MS_PER_CHAR per character, at 16 kHz.
 */
export const VOICE_HZ = 2000;
export const VOICE_MS_PER_CHAR = 40;
export async function toneVoice(text: string): Promise<{ samples: Int16Array; rate: number }> {
  const rate = 16000;
  const samples = new Int16Array(Math.round((text.length * VOICE_MS_PER_CHAR * rate) / 1000));
  for (let i = 0; i < samples.length; i++)
    samples[i] = Math.round(6000 * Math.sin((2 * Math.PI * VOICE_HZ * i) / rate));
  return { samples, rate };
}
export const voiceMs = (text: string): number => text.length * VOICE_MS_PER_CHAR;

export interface ControlStackOptions {
  /** the offline engine's script (every engine session of the run plays it) */
  steps: unknown[];
  /** merged over the test agent (`transfer` is merged one level deeper) */
  agent?: Record<string, unknown>;
  numbers?: Record<string, unknown>;
  bridge?: Record<string, unknown>;
  human?: HumanBehaviour;
  env?: Record<string, string>;
}

/** The agent every control test starts from: a small allow-list with a default human target. */
export function testConfig(o: Pick<ControlStackOptions, 'agent' | 'numbers' | 'bridge'> = {}): Record<string, unknown> {
  const { transfer, ...agentRest } = (o.agent ?? {}) as { transfer?: Record<string, unknown> };
  return {
    default_agent: 'support',
    agents: [
      {
        id: 'support',
        persona: 'You are Ada, the test agent.',
        transfer: {
          targets: [
            { name: 'front_desk', kind: 'number', value: FRONT_DESK },
            { name: 'billing', kind: 'sip', value: BILLING_SIP },
            { name: 'supervisors', kind: 'queue', value: 'supervisors' },
          ],
          default: 'front_desk',
          caller_id: CALLER_ID,
          timeout_s: 12,
          on_no_answer: 'back_to_agent',
          max_wait_for_playback_ms: 6000,
          ...(transfer ?? {}),
        },
        end_call: { max_wait_for_goodbye_ms: 6000 },
        ...agentRest,
      },
    ],
    numbers: { [AGENT_NUMBER]: { agent: 'support' }, ...(o.numbers ?? {}) },
    bridge: { preconnect: { enabled: true, stream_timeout_ms: 5000 }, ...(o.bridge ?? {}) },
  };
}

/** The offline stack (engine + bridge + simulator) with the test agent and a scripted engine. */
export async function startControlStack(o: ControlStackOptions): Promise<Harness> {
  const scenario = parseScenario({ name: 'control-test', steps: o.steps });
  return startHarness({
    configText: JSON.stringify(testConfig(o)),
    engine: { scenario, tts: toneVoice },
    human: o.human ?? { answer: 'answer', ringMs: 300, talkMs: 500 },
    ...(o.env ? { env: o.env } : {}),
  });
}

/** Closes every stack a test started, even when it failed half-way. */
export function stackJanitor(): { track(h: Harness): Harness; closeAll(): Promise<void> } {
  const open: Harness[] = [];
  return {
    track(h) {
      open.push(h);
      return h;
    },
    async closeAll() {
      while (open.length) await open.pop()!.close();
    },
  };
}

// ---- what the bridge asked of Twilio's REST API ---------------------------------------------

export const callPath = (callSid: string): string => `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${callSid}.json`;

/** The `Twiml` form field of a REST update, parsed (throws when there is none). */
export function restTwiml(req: RecordedRestRequest): TwimlNode {
  const t = req.form.Twiml;
  if (typeof t !== 'string') throw new Error(`REST request without a single Twiml field: ${JSON.stringify(req.form)}`);
  return parseTwiml(t);
}

export function child(node: TwimlNode, name: string): TwimlNode {
  const c = node.children.find((n) => n.name === name);
  if (!c) throw new Error(`<${node.name}> has no <${name}>: ${node.children.map((n) => n.name).join(',')}`);
  return c;
}

// ---- what the caller heard (8 kHz) ---------------------------------------------------------

const FRAME = 160;

/** Mean power of frequency f over x[start, start+n) (Goertzel). */
function powerAt(x: Int16Array, start: number, n: number, f: number): number {
  const c = 2 * Math.cos((2 * Math.PI * f) / 8000);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = x[start + i]! + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (2 * (s1 * s1 + s2 * s2 - c * s1 * s2)) / (n * n);
}

export type FrameKind = 'silent' | 'voice' | 'other';

/**
 * Classifies each 20 ms frame: silent, the agent's voice (the VOICE_HZ tone carries most of the
 * energy) or other audible audio (hold music, DTMF, ringback, noise).
 */
export function classifyFrames(pcm: Int16Array, audiblePeak = 400): FrameKind[] {
  const out: FrameKind[] = [];
  for (let at = 0; at + FRAME <= pcm.length; at += FRAME) {
    let peak = 0;
    let energy = 0;
    for (let i = at; i < at + FRAME; i++) {
      const v = pcm[i]!;
      if (v > peak) peak = v;
      else if (-v > peak) peak = -v;
      energy += v * v;
    }
    if (peak < audiblePeak) {
      out.push('silent');
      continue;
    }
    out.push(powerAt(pcm, at, FRAME, VOICE_HZ) > 0.6 * (energy / FRAME) ? 'voice' : 'other');
  }
  return out;
}

export interface Run {
  kind: FrameKind;
  startMs: number;
  endMs: number;
}

/** Consecutive frames of one kind, as time spans; runs shorter than `minMs` are merged away. */
export function runs(kinds: FrameKind[], minMs = 0): Run[] {
  const out: Run[] = [];
  kinds.forEach((k, i) => {
    const last = out.at(-1);
    if (last && last.kind === k) last.endMs = (i + 1) * 20;
    else out.push({ kind: k, startMs: i * 20, endMs: (i + 1) * 20 });
  });
  if (minMs <= 0) return out;
  const merged: Run[] = [];
  for (const r of out) {
    const last = merged.at(-1);
    if (last && (r.endMs - r.startMs < minMs || last.kind === r.kind)) last.endMs = r.endMs;
    else merged.push({ ...r });
  }
  return merged;
}

/** Spans where the caller heard the agent's voice (short blips merged away). */
export function voiceRuns(heard: Int16Array): Run[] {
  return runs(classifyFrames(heard), 60).filter((r) => r.kind === 'voice');
}

/** Level of frequency `f` over [fromMs, toMs) of 8 kHz audio, in dBm0 (0 dBm0 = sine of peak 22656). */
export function levelDbm0(pcm: Int16Array, fromMs: number, toMs: number, f: number): number {
  const start = Math.round(fromMs * 8);
  const n = Math.round((toMs - fromMs) * 8);
  const zeroDbm0 = (5664 * 4) ** 2 / 2;
  return 10 * Math.log10(powerAt(pcm, start, n, f) / zeroDbm0);
}
