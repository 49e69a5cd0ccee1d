/**
 * CallControl on its own: a stub call (CallControlPort) over the in-memory leg. What the engine's
 * verbs, the caller's shortcuts, an operator and the fallback ask of the phone call is what the
 * leg was asked; no session, no socket, no Twilio.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PlayedResult } from '../../../src/call/playback.js';
import type { CallOutcome } from '../../../src/call/outcome.js';
import type { CallControlPort, TransferRecord } from '../../../src/call/types.js';
import { CallControl } from '../../../src/control/controller.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { NO_SPAN } from '../../../src/observability/tracing.js';
import { MemoryLeg } from '../../helpers/memory-leg.js';
import { testAgent } from '../../helpers/session-rig.js';

function stubCall(
  agent = testAgent(),
  played: PlayedResult = 'played',
  extraDeps: Partial<CallControlPort['deps']> = {},
) {
  const leg = new MemoryLeg();
  const replies: { callId: string | undefined; name: string; output: unknown }[] = [];
  const verbs: string[] = [];
  const ended: CallOutcome[] = [];
  const transfers: Partial<TransferRecord>[] = [];
  const playback = {
    holding: false,
    silenced: 0,
    startHold: vi.fn(),
    stopHold: vi.fn(),
    pushPcm8k: vi.fn(),
    whenPlayed: vi.fn(async () => played),
    silence() {
      this.silenced++;
    },
    unmute: vi.fn(),
  };
  const port: CallControlPort = {
    callSid: 'CA00000000000000000000000000000001',
    agent,
    labels: { agent: agent.id, route: '_default' },
    span: NO_SPAN,
    info: {},
    log: pino({ level: 'silent' }),
    record: {
      verb: (v, r) => verbs.push(`${v}:${r}`),
      operator: (a, by) => verbs.push(`operator_${a}:${by}`),
      transfer: (t) => transfers.push(t),
      sinceStart: () => 0,
      toolsSoFar: () => [],
    },
    playback,
    leg,
    deps: { holdFor: () => new Int16Array(800), metrics: createMetrics(), ...extraDeps },
    get isEnded() {
      return ended.length > 0;
    },
    hasStream: true,
    streamEndOutcome: 'stream_closed' as const,
    memory: { all: () => [] },
    verbOwns: () => undefined,
    reply: (callId, name, output) => replies.push({ callId, name, output }),
    end: (o) => ended.push(o),
  };
  return { control: new CallControl(port), leg, replies, verbs, ended, playback, transfers };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('CallControl over a telephony leg', () => {
  it('end_call waits for the goodbye, then hangs up through the leg and ends the call', async () => {
    const { control, leg, replies, ended, playback } = stubCall();
    await control.handleVerb({ type: 'end_call', callId: 'e1' });
    expect(playback.whenPlayed).toHaveBeenCalledWith(10_000);
    expect(leg.kinds()).toEqual(['hangup']);
    expect(ended).toEqual(['agent_hangup']);
    expect(replies).toEqual([{ callId: 'e1', name: 'end_call', output: { status: 'ending' } }]);
  });

  it('a transfer the caller interrupted never reaches the leg and unlocks the call', async () => {
    const { control, leg, replies, ended } = stubCall(testAgent(), 'interrupted');
    await control.handleVerb({ type: 'transfer_to_human', callId: 't1', raw: {} });
    expect(leg.kinds()).toEqual([]);
    expect(ended).toEqual([]);
    expect(control.busy).toBe(false);
    expect(replies[0]!.output).toEqual({ error: 'transfer_aborted: the caller interrupted' });
  });

  it('a transfer with no allowed target is refused before the leg is asked', async () => {
    const agent = testAgent();
    const { control, leg, replies } = stubCall({
      ...agent,
      transfer: { ...agent.transfer, targets: [], default: undefined },
    });
    await control.handleVerb({ type: 'transfer_to_human', destination: '+19005550000', callId: 't1', raw: {} });
    expect(leg.kinds()).toEqual([]);
    expect(replies[0]!.output).toEqual({ error: 'transfer_failed: no allowed destination and no default target' });
  });

  it('an operator transfer cuts the agent off and transfers at once; a refusal unmutes and goes on', async () => {
    const { control, leg, playback, ended, verbs } = stubCall();
    leg.answer = { ok: false, message: 'nope' };
    await control.operatorTransfer('desk', 'console');
    expect(playback.silenced).toBe(1);
    expect(playback.whenPlayed).not.toHaveBeenCalled();
    expect(leg.kinds()).toEqual(['transfer']);
    expect(playback.unmute).toHaveBeenCalled();
    expect(ended).toEqual([]);
    expect(verbs).toContain('operator_transfer:console');
  });

  it('a context webhook that throws, or never answers, changes nothing for the transfer', async () => {
    const agent = testAgent();
    const withHook = {
      ...agent,
      transfer: {
        ...agent.transfer,
        context_webhook: {
          url: 'https://desk.example.com/c',
          signing_secret_env: 'TOOL_SECRET_X',
          timeout_ms: 2000,
          retries: 2,
        },
      },
    };
    for (const deliver of [
      () => {
        throw new Error('the desktop exploded');
      },
      () => undefined, // a delivery left running: deliver returns at once by contract
    ]) {
      const { control, leg, ended, transfers } = stubCall(withHook, 'played', {
        transferContext: { sender: { deliver }, publicUrl: 'https://bridge.example.com' },
      });
      await control.handleVerb({ type: 'transfer_to_human', callId: 't1', raw: {} });
      expect(leg.kinds()).toEqual(['transfer']);
      expect(ended).toEqual(['transferred']);
      expect(transfers[0]).toMatchObject({ mode: 'cold', result: 'started', contextId: expect.any(String) });
    }
  });

  it("a caller's shortcut key transfers through the leg; shortcuts are off while collecting", async () => {
    const { control, leg } = stubCall(testAgent('dtmf_shortcuts: { "0": transfer }'));
    await control.handleVerb({ type: 'collect', kind: 'dtmf', field: 'acct', callId: 'c1' });
    expect(control.onCallerDigit('0')).toBe(false); // a digit of the account number
    expect(leg.kinds()).toEqual([]);
    const again = stubCall(testAgent('dtmf_shortcuts: { "0": transfer }'));
    expect(again.control.onCallerDigit('0')).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(again.leg.kinds()).toEqual(['transfer']);
  });

  it("the fallback transfers when the agent says so, else says the agent's message and hangs up", async () => {
    const hangup = stubCall();
    await hangup.control.giveUp('engine_lost');
    expect(hangup.leg.actions).toEqual([{ kind: 'hangup_with_message', message: testAgent().fallback.message }]);
    expect(hangup.ended).toEqual(['engine_lost']);
    const transfer = stubCall(testAgent('fallback: { action: transfer }'));
    await transfer.control.giveUp('engine_lost');
    expect(transfer.leg.kinds()).toEqual(['transfer']);
    expect(transfer.ended).toEqual(['transferred']);
  });

  it('send_dtmf refuses digits outside the alphabet before anything is sent', async () => {
    const { control, leg, replies, playback } = stubCall(testAgent('send_dtmf_mode: play_digits'));
    await control.handleVerb({ type: 'send_dtmf', digits: '12x', callId: 'd1' });
    expect(leg.kinds()).toEqual([]);
    expect(playback.pushPcm8k).not.toHaveBeenCalled();
    expect(String((replies[0]!.output as { error: string }).error)).toMatch(/^invalid_digits: /);
  });
});
