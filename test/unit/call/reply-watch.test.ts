/**
 * The reply deadline's clock (src/call/reply-watch.ts) on fake timers: what owes a reply, what
 * restarts the clock, what does not, and that an excuse's end gives the engine the whole timeout.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReplyWatch } from '../../../src/call/reply-watch.js';

const TIMEOUT = 1000;
const HOLD = 500;

function watch(excuse: () => string | undefined = () => undefined) {
  const log: string[] = [];
  const w = new ReplyWatch({
    timeoutMs: TIMEOUT,
    holdMs: HOLD,
    excuse,
    now: () => Date.now(),
    onMissed: (e) => log.push(`missed:${e.owedBy}@${Date.now()}`),
    onRecovered: () => log.push(`recovered@${Date.now()}`),
    onGiveUp: () => log.push(`giveup@${Date.now()}`),
  });
  return { w, log };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});
afterEach(() => vi.useRealTimers());

describe('ReplyWatch', () => {
  it('owed greeting, never answered: missed after the timeout (within one tick), fallback after the hold', () => {
    const { w, log } = watch();
    w.owe('greeting');
    vi.advanceTimersByTime(999);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1 + 200 + HOLD);
    expect(log).toEqual(['missed:greeting@1000', 'giveup@1500']);
  });

  it('nothing owed: silence is never timed (the agent asked, the caller is thinking)', () => {
    const { w, log } = watch();
    w.onEvent({ type: 'transcript', role: 'assistant', text: 'What is your account number?', final: true });
    vi.advanceTimersByTime(60_000);
    expect(log).toEqual([]);
  });

  it('a final user transcript owes a reply; agent audio pays it', () => {
    const { w, log } = watch();
    w.onEvent({ type: 'transcript', role: 'user', text: 'Where is my order?', final: true });
    vi.advanceTimersByTime(800);
    w.answered();
    vi.advanceTimersByTime(10_000);
    expect(log).toEqual([]);
  });

  it('engine events restart the clock; warnings, errors and telemetry do not', () => {
    const { w, log } = watch();
    w.owe('caller_turn');
    vi.advanceTimersByTime(800);
    w.onEvent({ type: 'tool_call', callId: 'x', name: 't', arguments: {} }); // at 800
    vi.advanceTimersByTime(800);
    w.onEvent({ type: 'transcript', role: 'user', text: 'and also', final: false }); // caller still speaking, at 1600
    vi.advanceTimersByTime(800);
    w.onEvent({ type: 'warning', code: 'slow' });
    w.onEvent({ type: 'audio_position', sentMs: 1 });
    w.onEvent({ type: 'error', message: 'x' });
    expect(log).toEqual([]);
    vi.advanceTimersByTime(400);
    expect(log).toEqual(['missed:caller_turn@2600']);
  });

  it('while excused the clock does not run, and when the excuse ends the engine gets the whole timeout again', () => {
    let excuse: string | undefined = 'tool';
    const { w, log } = watch(() => excuse);
    w.owe('caller_turn');
    vi.advanceTimersByTime(5000);
    excuse = undefined; // the tool answered at 5000
    vi.advanceTimersByTime(999);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(400);
    expect(log).toHaveLength(1);
    const missedAt = Number(log[0]!.split('@')[1]);
    expect(missedAt).toBeGreaterThanOrEqual(6000);
    expect(missedAt).toBeLessThanOrEqual(6400);
  });

  it('agent audio during the hold rescues the call: no fallback', () => {
    const { w, log } = watch();
    w.owe('greeting');
    vi.advanceTimersByTime(1100);
    w.answered();
    vi.advanceTimersByTime(5000);
    expect(log).toEqual(['missed:greeting@1000', 'recovered@1100']);
  });

  it('a final user transcript while the agent is still speaking (a backchannel) owes nothing', () => {
    let speaking = true;
    const log: string[] = [];
    const w = new ReplyWatch({
      timeoutMs: TIMEOUT,
      holdMs: HOLD,
      excuse: () => undefined,
      agentSpeaking: () => speaking,
      onMissed: () => log.push('missed'),
      onRecovered: () => log.push('recovered'),
      onGiveUp: () => log.push('giveup'),
    });
    w.onEvent({ type: 'transcript', role: 'user', text: 'uh-huh', final: true });
    speaking = false;
    vi.advanceTimersByTime(10_000);
    expect(log).toEqual([]);
    w.onEvent({ type: 'transcript', role: 'user', text: 'and my order?', final: true }); // after the agent finished
    vi.advanceTimersByTime(1000);
    expect(log).toEqual(['missed']);
  });

  it('configured with greeting: false cancels a greeting that will not come', () => {
    const { w, log } = watch();
    w.owe('greeting');
    w.onEvent({ type: 'configured', greeting: false });
    vi.advanceTimersByTime(10_000);
    expect(log).toEqual([]);
  });

  it('config_ack that ignores the greeting cancels it too', () => {
    const { w, log } = watch();
    w.owe('greeting');
    w.onEvent({ type: 'configured', honored: ['persona'], ignored: ['greeting'] });
    vi.advanceTimersByTime(10_000);
    expect(log).toEqual([]);
  });

  it('timeout 0 is off', () => {
    const log: string[] = [];
    const w = new ReplyWatch({
      timeoutMs: 0,
      holdMs: HOLD,
      excuse: () => undefined,
      onMissed: () => log.push('missed'),
      onRecovered: () => log.push('recovered'),
      onGiveUp: () => log.push('giveup'),
    });
    w.owe('greeting');
    vi.advanceTimersByTime(60_000);
    expect(log).toEqual([]);
  });
});
