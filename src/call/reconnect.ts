/**
 * When an engine session drops, whether the call's link reconnects (and after how long) or gives
 * up: a pure function of the time, the cause and the link's history, so the rules
 * (docs/decisions.md "Engine deadlines and flapping", omni-protocol.md §8) are tested with plain
 * numbers. EngineLink (src/call/engine-link.ts) keeps the history and acts on the decision.
 *
 * - One outage (the drops between two hellos) gets at most `delaysMs.length` attempts, paused by
 *   `delaysMs` (100, 600, 1800 ms), all inside `outageMs` (5 s): an attempt is not started when
 *   what is left of the outage would not cover its pause and `minAttemptMs` (250 ms) of trying.
 * - Every reconnect is time-stamped; a drop that finds `maxReconnects` (3) of them within
 *   `windowMs` (60 s) is a flapping engine: give up, even though each outage was short.
 * - A refusal (close 1008, 4401, 4403: policy, key, scope) is never retried.
 */
import { classifyClose } from '../omni/close-policy.js';

/** Why an engine session dropped: refused (a policy close), closed abnormally, or silent past the hello deadline. */
export type DropCause = 'refused' | 'closed' | 'silent';

/** Why the link gave up: the session maps it to the call's outcome. */
export type LostCause = DropCause | 'flapping';

export interface ReconnectPolicy {
  /** the pause before each attempt of one outage; its length is the outage's attempt budget */
  delaysMs: readonly number[];
  /** all attempts of one outage start within this */
  outageMs: number;
  /** an attempt needs at least this much of the outage left after its pause */
  minAttemptMs: number;
  /** at most this many reconnects within `windowMs`; a drop that finds them all used gives up */
  maxReconnects: number;
  windowMs: number;
}

export const DEFAULT_RECONNECT_POLICY: ReconnectPolicy = {
  delaysMs: [100, 600, 1800],
  outageMs: 5000,
  minAttemptMs: 250,
  maxReconnects: 3,
  windowMs: 60_000,
};

/** What the link remembers between drops (times on the clock `now` is read from, in ms). */
export interface ReconnectHistory {
  /** attempts made in the outage running now; 0: none is running (the engine said hello since) */
  readonly attempt: number;
  /** when the running outage began (its first drop) */
  readonly outageStart: number;
  /** when each reconnect still inside the sliding window was started */
  readonly reconnects: readonly number[];
}

export const NO_RECONNECTS: ReconnectHistory = { attempt: 0, outageStart: 0, reconnects: [] };

export type ReconnectDecision =
  | { kind: 'retry'; delayMs: number; history: ReconnectHistory }
  | {
      kind: 'give_up';
      cause: LostCause;
      history: ReconnectHistory;
      /** reconnecting had been tried (an outage was running, or the window is full): counts as a gave_up */
      afterRetrying: boolean;
    };

/** How a session's abnormal close counts: 1008/4401/4403 are refusals, anything else but 1000 a drop. */
export function dropCauseOf(code: number): DropCause {
  return classifyClose(code) === 'fatal' ? 'refused' : 'closed';
}

/** A session dropped at `now` for `cause`: reconnect after `delayMs`, or give up. */
export function decideReconnect(
  now: number,
  cause: DropCause,
  history: ReconnectHistory,
  policy: ReconnectPolicy = DEFAULT_RECONNECT_POLICY,
): ReconnectDecision {
  const reconnects = history.reconnects.filter((t) => now - t < policy.windowMs);
  const attempt = history.attempt;
  const outageStart = attempt === 0 ? now : history.outageStart;
  const outageLeft = policy.outageMs - (now - outageStart);
  const outageOver =
    attempt >= policy.delaysMs.length || outageLeft <= (policy.delaysMs[attempt] ?? 0) + policy.minAttemptMs;
  const flapping = reconnects.length >= policy.maxReconnects;
  if (cause === 'refused' || outageOver || flapping) {
    return {
      kind: 'give_up',
      cause: cause === 'refused' ? 'refused' : outageOver ? cause : 'flapping',
      history: { attempt, outageStart, reconnects },
      afterRetrying: attempt > 0 || flapping,
    };
  }
  return {
    kind: 'retry',
    delayMs: policy.delaysMs[attempt]!,
    history: { attempt: attempt + 1, outageStart, reconnects: [...reconnects, now] },
  };
}

/** The engine said hello: the outage (if one ran) is over; the sliding window keeps its reconnects. */
export function afterHello(history: ReconnectHistory): ReconnectHistory {
  return { attempt: 0, outageStart: 0, reconnects: history.reconnects };
}

/**
 * How long an attempt may take to connect (or to say hello) at `now`: `ms` on a first connect;
 * within a running outage, what is left of it, but at least `minAttemptMs`.
 */
export function attemptBudgetMs(
  now: number,
  ms: number,
  history: ReconnectHistory,
  policy: ReconnectPolicy = DEFAULT_RECONNECT_POLICY,
): number {
  if (history.attempt === 0) return ms;
  const left = policy.outageMs - (now - history.outageStart);
  return Math.max(policy.minAttemptMs, Math.min(ms, left));
}
