/**
 * One CallSession on the in-memory leg, an in-process engine and a manual clock: no socket, no
 * real time. Vitest's fake timers run the session's timeouts; the manual pace clock runs the
 * playback; `advance` moves both together, 20 ms at a time, and the caller hears (echoes the
 * marks of) everything sent on the way unless told otherwise.
 */
import pino from 'pino';
import { vi } from 'vitest';
import { ManualPaceClock, PACE_MS } from '../../src/call/pace-clock.js';
import type { CallRecord } from '../../src/call/record.js';
import type { CallPhase } from '../../src/call/phase.js';
import { CallSession } from '../../src/call/session.js';
import { parseConfigText } from '../../src/config/loader.js';
import type { AgentConfig } from '../../src/config/schema.js';
import { CallFeedHub } from '../../src/observability/call-events.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { InProcessEngine } from './in-process-engine.js';
import { MemoryLeg, MemoryMedia } from './memory-leg.js';

export interface SessionRig {
  session: CallSession;
  leg: MemoryLeg;
  media: MemoryMedia;
  engine: InProcessEngine;
  clock: ManualPaceClock;
  metrics: ReturnType<typeof createMetrics>;
  records: CallRecord[];
  /** the call's phases so far, from its first (`connecting`) */
  phases: CallPhase[];
  /** the console's feed hub of the call */
  feeds: CallFeedHub;
  /** Moves time by `ms`; the caller's playout echoes the marks sent unless `hear` is false. */
  advance: (ms: number, hear?: boolean) => Promise<void>;
}

/** The agent of these tests: one transfer target, the defaults otherwise; `extra` is YAML under the agent. */
export function testAgent(extra = ''): AgentConfig {
  return parseConfigText(`
default_agent: a
agents:
  - id: a
    persona: p
    transfer:
      targets:
        - { name: desk, kind: number, value: "+15550100200" }
      default: desk
${extra
  .split('\n')
  .map((l) => (l.trim() ? `    ${l}` : l))
  .join('\n')}
`).agents[0]!;
}

/**
 * Call `vi.useFakeTimers()` first (the rig's timeouts are the session's own setTimeouts). With
 * `attach: false` the call is pre-connected: its engine runs, `media` is made but not attached.
 */
export async function sessionRig(agent = testAgent(), opts: { attach?: boolean } = {}): Promise<SessionRig> {
  const cfg = parseConfigText('default_agent: a\nagents:\n  - { id: a, persona: p }\n');
  const clock = new ManualPaceClock();
  const leg = new MemoryLeg();
  const metrics = createMetrics();
  const records: CallRecord[] = [];
  const phases: CallPhase[] = ['connecting'];
  const feeds = new CallFeedHub();
  let engine: InProcessEngine | undefined;
  const session = new CallSession(
    { callSid: 'CA00000000000000000000000000000001', agent, from: '+15550001111', to: '+15550002222' },
    {
      settings: cfg.bridge,
      engine: { baseUrl: 'ws://127.0.0.1:1', rate: 24000 },
      legFor: () => leg,
      engineLink: (o) => (engine = new InProcessEngine(o)),
      toolsFor: () => undefined,
      holdFor: () => new Int16Array(8000),
      logger: pino({ level: 'silent' }),
      metrics,
      paceClock: clock,
      onEnded: (_s, record) => records.push(record),
      onPhase: (_from, to) => phases.push(to),
      feeds,
    },
  );
  const media = new MemoryMedia('MZ00000000000000000000000000000001', session);
  session.startEngine();
  if (opts.attach !== false) session.attachStream(media);
  await vi.advanceTimersByTimeAsync(0); // the engine's hello
  const advance = async (ms: number, hear = true): Promise<void> => {
    for (let left = ms; left > 0; left -= PACE_MS) {
      const step = Math.min(PACE_MS, left);
      clock.advanceTo(clock.now() + step);
      await vi.advanceTimersByTimeAsync(step);
      if (hear) media.playMarks();
      await vi.advanceTimersByTimeAsync(0);
    }
  };
  return { session, leg, media, engine: engine!, clock, metrics, records, phases, feeds, advance };
}

/** `ms` of a 440 Hz tone at `rate`, at a level the μ-law encoder keeps well above silence. */
export function tone(ms: number, rate = 24000): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
  return pcm;
}
