/**
 * The offline engine's "agent": a scenario played step by step, or the friendly echo agent. It
 * drives a session only through ScenarioHost, so the conversation logic stays apart from the wire.
 */
import type { PlayResult } from './speaker.js';
import { type Scenario, type ScenarioStep, stepKind } from './scenario.js';
import { type Inbox, fillTemplate, sleep } from './waits.js';

export interface CallerTurn {
  speechMs: number;
  text: string;
}
export interface ToolResult {
  name: string;
  output: unknown;
}

export interface ScenarioHost {
  readonly signal: AbortSignal;
  readonly closed: boolean;
  readonly callerTurns: Inbox<CallerTurn>;
  readonly digits: Inbox<string>;
  readonly vars: Record<string, unknown>;
  /** Set on barge-in; cleared when the caller's turn has been taken. */
  bargedIn: boolean;
  /** Text for the user transcript of the caller turn now awaited. */
  expectedCallerLine: string | undefined;
  say(text: string): Promise<PlayResult | undefined>;
  send(event: Record<string, unknown>): void;
  /** Registers `fixed` (or a fresh id with `prefix`) as a call id the client may answer. */
  issueCallId(fixed: string | undefined, prefix: string): string;
  waitToolResult(callId: string, timeoutMs: number): Promise<ToolResult | undefined>;
  closeWith(code: number, reason?: string): void;
  becomeEchoAgent(): void;
}

const TURN_TIMEOUT_MS = 30_000;
const DTMF_TIMEOUT_MS = 10_000;
const TOOL_TIMEOUT_MS = 16_000; // above the bridge's largest tool budget (15 s): late means broken

async function takeCallerTurn(host: ScenarioHost, timeoutMs: number, expect?: string): Promise<CallerTurn | undefined> {
  host.expectedCallerLine = expect;
  try {
    const turn = await host.callerTurns.take(timeoutMs, host.signal);
    if (turn) host.vars.last_caller_ms = turn.speechMs;
    return turn;
  } finally {
    host.bargedIn = false;
    host.expectedCallerLine = undefined;
  }
}

async function collectDigits(
  host: ScenarioHost,
  step: { count?: number; until?: string; timeout_ms?: number },
): Promise<string> {
  const deadline = performance.now() + (step.timeout_ms ?? DTMF_TIMEOUT_MS);
  let digits = '';
  while (!host.closed) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    const d = await host.digits.take(left, host.signal);
    if (d === undefined || d === step.until) break;
    digits += d;
    if (step.count !== undefined && digits.length >= step.count) break;
  }
  return digits;
}

async function runStep(host: ScenarioHost, step: ScenarioStep): Promise<'next' | 'stop'> {
  if ('say' in step) {
    const spoken = host.say(fillTemplate(step.say, host.vars));
    if (!step.no_wait) await spoken;
    else void spoken.catch(() => undefined); // never an unhandled rejection: the speech is just lost
  } else if ('wait_for_caller' in step) {
    await takeCallerTurn(host, step.timeout_ms ?? TURN_TIMEOUT_MS, step.expect);
  } else if ('wait_ms' in step) {
    await sleep(step.wait_ms, host.signal);
  } else if ('wait_for_dtmf' in step) {
    host.vars.digits = await collectDigits(host, step.wait_for_dtmf);
  } else if ('tool_call' in step) {
    const t = step.tool_call;
    const callId = host.issueCallId(t.call_id, 'tool');
    host.send({ event: 'tool_call', call_id: callId, name: t.name, arguments: t.arguments });
    const result = await host.waitToolResult(callId, t.timeout_ms ?? TOOL_TIMEOUT_MS);
    host.vars[t.name] = result?.output;
    host.vars.result = result?.output;
    if (t.say_template !== undefined && !host.closed) {
      await host.say(
        result
          ? fillTemplate(t.say_template, result.output, host.vars)
          : 'Sorry, I could not get that information right now.',
      );
    }
  } else if ('verb' in step) {
    // Without a call_id the bridge sends nothing back (§6), so one is needed only to await a result.
    const callId = step.call_id || step.await_result ? host.issueCallId(step.call_id, step.verb) : undefined;
    host.send({ event: step.verb, ...step.args, ...(callId ? { call_id: callId } : {}) });
    if (step.await_result && callId) {
      const result = await host.waitToolResult(callId, step.timeout_ms ?? TOOL_TIMEOUT_MS);
      host.vars[step.verb] = result?.output;
      host.vars.result = result?.output;
    }
  } else if ('error' in step) {
    host.send({ event: 'error', ...step.error });
  } else if ('warning' in step) {
    host.send({ event: 'warning', ...step.warning });
  } else if ('close' in step) {
    host.closeWith(step.close.code, step.close.reason);
    return 'stop';
  }
  return 'next';
}

/** Plays the scenario's steps in order. */
export async function runScenario(host: ScenarioHost, scenario: Scenario): Promise<void> {
  for (const step of scenario.steps) {
    if (host.closed) return;
    // After a barge-in the caller has the floor: let them finish before the script goes on.
    if (host.bargedIn && stepKind(step) !== 'wait_for_caller') await takeCallerTurn(host, TURN_TIMEOUT_MS);
    if ((await runStep(host, step)) === 'stop') return;
  }
  if (scenario.after === 'echo' && !host.closed) host.becomeEchoAgent();
}

const DTMF_WORDS: Record<string, string> = { '*': 'star', '#': 'pound' };

/** The echo agent's answer to a caller turn or a burst of keys. */
export async function runEchoReply(
  host: ScenarioHost,
  input: { kind: 'turn'; turn: CallerTurn } | { kind: 'dtmf'; digits: string },
): Promise<void> {
  host.bargedIn = false;
  const text =
    input.kind === 'turn'
      ? `I heard you speak for ${(input.turn.speechMs / 1000).toFixed(1)} seconds. How else can I help?`
      : `You pressed ${[...input.digits].map((d) => DTMF_WORDS[d] ?? d).join(' ')}.`;
  await host.say(text);
}
