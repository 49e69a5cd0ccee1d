/**
 * The spans of one call (src/observability/tracing.ts): the call's root span, and one
 * `engine.connect` span per engine session attempt (the first and each reconnect), from the
 * attempt to the engine's hello, or to the drop that ended it. Tool and verb spans are their
 * owners' (src/tools/runtime.ts, src/control/controller.ts); they hang under `span`.
 */
import type { EventEmitter } from 'node:events';
import type { CallLabels } from '../observability/call-labels.js';
import type { TraceSpan, Tracing } from '../observability/tracing.js';
import type { CallOutcome } from './outcome.js';
import type { CallInfo } from './types.js';

/** Outcomes that are the bridge's failure to serve the call: the root span's status is an error. */
const FAILED: ReadonlySet<CallOutcome> = new Set<CallOutcome>([
  'engine_refused',
  'engine_lost',
  'engine_silent',
  'engine_flapping',
  'engine_unresponsive',
  'no_stream',
]);

export class CallTrace {
  readonly span: TraceSpan;
  private connecting: TraceSpan | undefined;

  constructor(tracing: Tracing, info: CallInfo, labels: CallLabels) {
    // configured names and the call's id only: never a number (the route is the number's name)
    this.span = tracing.startCall({
      'call.sid': info.callSid,
      'call.agent': labels.agent,
      'call.route': labels.route,
      'call.transport': info.transport ?? 'twilio',
      'call.direction': info.direction,
    });
  }

  get traceId(): string | undefined {
    return this.span.traceId;
  }

  /** Follows the engine link's attempts: `ready`, `reconnecting`(attempt), `lost`. */
  watchEngine(link: EventEmitter): void {
    link.on('ready', () => this.endConnect());
    link.on('reconnecting', (attempt: number) => {
      this.endConnect('dropped');
      this.startConnect(attempt);
    });
    link.on('lost', (e: { cause: string }) => this.endConnect(`engine ${e.cause}`));
  }

  /** The first engine session is being opened. */
  engineStarting(): void {
    this.startConnect(0);
  }

  private startConnect(attempt: number): void {
    this.connecting = this.span.child('engine.connect', { 'engine.attempt': attempt });
  }

  private endConnect(error?: string): void {
    this.connecting?.end(error);
    this.connecting = undefined;
  }

  /** The call ended: its root span ends with the outcome (an error status unless it ended normally). */
  end(outcome: CallOutcome): void {
    this.endConnect('call ended');
    this.span.set({ 'call.outcome': outcome });
    this.span.end(FAILED.has(outcome) ? outcome : undefined);
  }
}
