/** What the offline engine remembers about a session: for tests and the demo to assert on. */

export interface EngineSessionRecord {
  callId: string;
  inputRate: number;
  outputRate: number;
  sessionLabel?: string;
  mode: string;
  /** The (first) configure frame as received. */
  config?: Record<string, unknown>;
  configureCount: number;
  dtmf: string[];
  toolResults: { callId: string; name: string; output: unknown }[];
  /** Each distinct violation once, in order of first occurrence. */
  violations: string[];
  /** How often each violation happened (audio before configure can happen 50 times a second). */
  violationCounts: Record<string, number>;
  audioFramesReceived: number;
  audioMsReceived: number;
  audioMsSent: number;
  /** With EngineOptions.recordAudio: the PCM16LE bytes of every audio message sent, in order. */
  audioSent?: Buffer[];
  /** With EngineOptions.recordAudio: the PCM16 samples of every caller audio message received, in order. */
  audioReceived?: Int16Array[];
  /** Control events sent (the first 2000). */
  eventsSent: Record<string, unknown>[];
  transcripts: { role: 'user' | 'assistant'; text: string }[];
  bargeIns: number;
  closed?: { code: number; reason: string; by: 'client' | 'engine' };
  startedAt: number;
}

const MAX_DISTINCT_VIOLATIONS = 100;

export function newRecord(s: {
  callId: string;
  inputRate: number;
  outputRate: number;
  sessionLabel?: string;
  mode: string;
}): EngineSessionRecord {
  return {
    callId: s.callId,
    inputRate: s.inputRate,
    outputRate: s.outputRate,
    sessionLabel: s.sessionLabel,
    mode: s.mode,
    configureCount: 0,
    dtmf: [],
    toolResults: [],
    violations: [],
    violationCounts: {},
    audioFramesReceived: 0,
    audioMsReceived: 0,
    audioMsSent: 0,
    eventsSent: [],
    transcripts: [],
    bargeIns: 0,
    startedAt: Date.now(),
  };
}

/** Counts a violation; true when it is the first of its kind in this session. */
export function noteViolation(record: EngineSessionRecord, violation: string): boolean {
  const seen = record.violationCounts[violation] ?? 0;
  record.violationCounts[violation] = seen + 1;
  if (seen > 0 || record.violations.length >= MAX_DISTINCT_VIOLATIONS) return false;
  record.violations.push(violation);
  return true;
}
