import { performance } from 'node:perf_hooks';
import type { Logger } from '../observability/logger.js';
import type { TraceSpan } from '../observability/tracing.js';
import { previewForPage } from '../observability/redact.js';
import { isToolExecutionError } from './errors.js';
import type { RegisteredTool, ToolSet } from './registry.js';
import { truncateOutput } from './truncate.js';
import type { ToolCallContext, ToolObserver, ToolOutcome } from './types.js';

export const DEFAULT_CEILING_MS = 5000;
/** A read is retried only if at least this much of its budget is left. */
const MIN_RETRY_BUDGET_MS = 50;
/** Longest error message / name echoed to the engine or a log line. */
const MAX_TEXT = 200;
/** JSON-string arguments above this size are refused before parsing. */
const MAX_ARGUMENT_CHARS = 256 * 1024;

export interface ToolRuntimeOptions {
  ceilingMs?: number;
  context: ToolCallContext;
  /** Sends `tool_result {call_id, name, output}`; called exactly once per answered call. */
  send: (callId: string, name: string, output: unknown) => void;
  logger: Logger;
  observer?: ToolObserver;
  /** Log tool arguments (they may hold personal data: off by default). */
  debugArgs?: boolean;
  /** the call's span: each tool call is a child span of it (its webhook request one of that) */
  trace?: TraceSpan;
}

export interface IncomingToolCall {
  callId: string;
  name: string;
  arguments: unknown;
}

interface InFlight {
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly startedAt: number;
  retried: boolean;
  /** Answered (or abandoned at hang-up): anything arriving later is dropped. */
  settled: boolean;
}

const bound = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s);

type ParsedArgs = { ok: true; args: Record<string, unknown> } | { ok: false; message: string };

/** `arguments` arrives as an object or a JSON string (§5); absent means no arguments. */
function parseArguments(raw: unknown): ParsedArgs {
  let value = raw;
  if (typeof value === 'string') {
    if (value.trim() === '') return { ok: true, args: {} };
    if (value.length > MAX_ARGUMENT_CHARS) return { ok: false, message: 'arguments are too large' };
    try {
      value = JSON.parse(value);
    } catch {
      return { ok: false, message: 'arguments are not valid JSON' };
    }
  }
  if (value === undefined || value === null) return { ok: true, args: {} };
  if (typeof value !== 'object' || Array.isArray(value))
    return { ok: false, message: 'arguments must be a JSON object' };
  return { ok: true, args: value as Record<string, unknown> };
}

/**
 * Runs one phone call's tool calls. Each call is answered exactly once through `send`, in whatever
 * order calls finish; a budget timer guarantees an answer even when the tool never returns.
 * `handle` never throws: a misbehaving tool must not take the phone call down with it.
 */
export class ToolRuntime {
  private readonly inFlight = new Map<string, InFlight>();
  /** the span of each tool call still running, by call id; ended by `record` */
  private readonly spans = new Map<string, TraceSpan>();
  private readonly ceilingMs: number;
  private closed = false;

  constructor(
    private readonly registry: ToolSet,
    private readonly opts: ToolRuntimeOptions,
  ) {
    this.ceilingMs = opts.ceilingMs ?? DEFAULT_CEILING_MS;
  }

  /** Number of tool calls currently running. */
  get running(): number {
    return this.inFlight.size;
  }

  handle(call: IncomingToolCall): void {
    const startedAt = performance.now();
    const callId = typeof call.callId === 'string' ? call.callId : String(call.callId ?? '');
    const name = typeof call.name === 'string' ? call.name : '';
    try {
      this.start(callId, name, call.arguments, startedAt);
    } catch (err) {
      // Defensive: start() is written not to throw; if it does, still answer once.
      this.opts.logger.error({ callId: bound(callId), err: this.safeMessage(err) }, 'tool runtime failure');
      const entry = this.inFlight.get(callId);
      if (entry && !entry.settled)
        this.settle(callId, entry, { error: 'tool_failed', message: 'internal error' }, 'tool_failed');
    }
  }

  /** The phone call ended: abort everything still running; nothing is sent afterwards. */
  abortAll(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [callId, entry] of this.inFlight) {
      entry.settled = true;
      clearTimeout(entry.timer);
      entry.controller.abort(new Error('call ended'));
      this.record(callId, entry.tool, 'aborted', entry.startedAt, entry.retried, entry.args);
    }
    this.inFlight.clear();
  }

  private start(callId: string, name: string, rawArgs: unknown, startedAt: number): void {
    if (this.closed) {
      this.opts.logger.debug({ callId: bound(callId), tool: bound(name) }, 'tool call after hang-up ignored');
      return;
    }
    if (this.inFlight.has(callId)) {
      // Answering twice would confuse the engine; the first run answers for both.
      this.opts.logger.warn(
        { callId: bound(callId), tool: bound(name) },
        'duplicate tool call id while running: ignored',
      );
      return;
    }
    const tool = this.registry.get(name);
    if (!tool) {
      this.answer(callId, bound(name), { error: 'unknown_tool', name: bound(name) }, 'unknown_tool', startedAt, false);
      return;
    }
    const parsed = parseArguments(rawArgs);
    if (!parsed.ok) {
      const output = { error: 'invalid_arguments', details: [{ path: '/', message: parsed.message }] };
      this.answer(callId, name, output, 'invalid_arguments', startedAt, false);
      return;
    }
    const problems = tool.validate(parsed.args);
    if (problems) {
      this.answer(
        callId,
        name,
        { error: 'invalid_arguments', details: problems },
        'invalid_arguments',
        startedAt,
        false,
        parsed.args,
      );
      return;
    }

    const budget = Math.min(tool.definition.timeout_ms, this.ceilingMs);
    const entry: InFlight = {
      controller: new AbortController(),
      timer: undefined,
      tool: name,
      args: parsed.args,
      startedAt,
      retried: false,
      settled: false,
    };
    entry.timer = setTimeout(() => this.onTimeout(callId, entry), budget);
    this.inFlight.set(callId, entry);
    const span = this.openSpan(name);
    if (span) this.spans.set(callId, span);
    this.run(tool, callId, entry, startedAt + budget).catch((err: unknown) => {
      // run() handles every failure itself; this only guards against an unhandled rejection.
      this.opts.logger.error({ callId: bound(callId), tool: name, err: this.safeMessage(err) }, 'tool runtime failure');
    });
  }

  private async run(tool: RegisteredTool, callId: string, entry: InFlight, deadline: number): Promise<void> {
    const span = this.spans.get(callId);
    const ctx = {
      toolCallId: callId,
      context: this.opts.context,
      signal: entry.controller.signal,
      ...(span ? { trace: span } : {}),
    };
    let output: unknown;
    let outcome: ToolOutcome = 'ok';
    try {
      try {
        output = await tool.execute(entry.args, ctx);
      } catch (err) {
        const retry =
          tool.definition.side_effect === 'read' &&
          isToolExecutionError(err) &&
          err.retryable &&
          !entry.settled &&
          deadline - performance.now() >= MIN_RETRY_BUDGET_MS;
        if (!retry) throw err;
        // Reads are safe to repeat; actions never are (a second ticket, a second payment).
        entry.retried = true;
        this.opts.logger.debug({ callId: bound(callId), tool: entry.tool, reason: err.message }, 'retrying read tool');
        output = await tool.execute(entry.args, ctx);
      }
    } catch (err) {
      if (entry.settled) return;
      if (isToolExecutionError(err)) {
        outcome = err.outcome;
        output = this.scrubOutput(err.output);
      } else {
        outcome = 'tool_failed';
        output = { error: 'tool_failed', message: this.safeMessage(err) };
      }
    }
    if (entry.settled) {
      this.opts.logger.debug({ callId: bound(callId), tool: entry.tool }, 'late tool result discarded');
      return;
    }
    if (outcome === 'ok') {
      try {
        output = truncateOutput(this.scrubResult(output));
      } catch {
        outcome = 'tool_failed';
        output = { error: 'tool_failed', message: 'result is not JSON-serializable' };
      }
    }
    this.settle(callId, entry, output, outcome);
  }

  private onTimeout(callId: string, entry: InFlight): void {
    if (entry.settled) return;
    entry.controller.abort(new Error('tool timed out'));
    this.settle(callId, entry, { error: 'tool timed out' }, 'timeout');
  }

  private settle(callId: string, entry: InFlight, output: unknown, outcome: ToolOutcome): void {
    entry.settled = true;
    clearTimeout(entry.timer);
    if (this.inFlight.get(callId) === entry) this.inFlight.delete(callId);
    this.answer(callId, entry.tool, output, outcome, entry.startedAt, entry.retried, entry.args);
  }

  private answer(
    callId: string,
    name: string,
    output: unknown,
    outcome: ToolOutcome,
    startedAt: number,
    retried: boolean,
    args?: Record<string, unknown>,
  ): void {
    try {
      this.opts.send(callId, name, output);
    } catch (err) {
      // The engine socket may be closing; the call's own shutdown path handles that.
      this.opts.logger.warn(
        { callId: bound(callId), tool: name, err: this.safeMessage(err) },
        'tool_result could not be sent',
      );
    }
    this.record(callId, name, outcome, startedAt, retried, args, output);
  }

  /**
   * One log line and one observer event per tool call. A failure's output is logged too: it is
   * already bounded and scrubbed, and it is what an operator needs to see why the tool failed.
   */
  private record(
    callId: string,
    tool: string,
    outcome: ToolOutcome,
    startedAt: number,
    retried: boolean,
    args?: Record<string, unknown>,
    output?: unknown,
  ): void {
    const failure = outcome === 'ok' ? undefined : output;
    const durationMs = performance.now() - startedAt;
    const ex = outcome === 'unknown_tool' ? undefined : this.registry.get(tool)?.definition.executor;
    this.closeSpan(callId, tool, outcome, retried);
    const line = {
      callId: bound(callId),
      tool,
      mcpServer: ex?.kind === 'mcp' ? ex.server : undefined,
      outcome,
      durationMs: Math.round(durationMs * 10) / 10,
      retried,
      args: args === undefined ? undefined : this.opts.debugArgs ? args : '[redacted]',
      failure,
    };
    if (outcome === 'ok' || outcome === 'aborted') this.opts.logger.info(line, 'tool call finished');
    else this.opts.logger.warn(line, 'tool call failed');
    try {
      this.opts.observer?.onToolFinished({
        tool,
        outcome,
        durationMs,
        retried,
        executor: ex?.kind,
        server: ex?.kind === 'mcp' ? ex.server : undefined,
        // for a person to read (the console's past-call review): masked, no configured secret
        args: previewForPage(args, (t) => this.scrub(t)),
        result: previewForPage(output, (t) => this.scrub(t)),
      });
    } catch (err) {
      this.opts.logger.warn({ err: this.safeMessage(err) }, 'tool observer threw');
    }
  }

  /** A tool call's span: its name and how it runs (configured names), never its arguments. */
  private openSpan(tool: string): TraceSpan | undefined {
    const parent = this.opts.trace;
    if (!parent) return undefined;
    const def = this.registry.get(tool)?.definition;
    const ex = def?.executor;
    return parent.child(def ? `tool ${tool}` : 'tool', {
      'tool.name': def ? tool : undefined,
      'tool.executor': ex?.kind,
      'tool.mcp_server': ex?.kind === 'mcp' ? ex.server : undefined,
      'tool.side_effect': def?.side_effect,
    });
  }

  /** Ends the call's span with its outcome (one answered at once gets a span that opens and ends here). */
  private closeSpan(callId: string, tool: string, outcome: ToolOutcome, retried: boolean): void {
    const span = this.spans.get(callId) ?? this.openSpan(tool);
    this.spans.delete(callId);
    if (!span) return;
    span.set({ 'tool.outcome': outcome, 'tool.retried': retried });
    span.end(outcome === 'ok' || outcome === 'aborted' ? undefined : outcome);
  }

  /** First line of an error message, bounded and scrubbed of every configured secret. */
  private safeMessage(err: unknown): string {
    const raw = err instanceof Error ? err.message : typeof err === 'string' ? err : 'tool failed';
    return bound(this.scrub((raw.split('\n')[0] ?? '').trim() || 'tool failed'));
  }

  private scrub(text: string): string {
    let out = text;
    for (const s of this.registry.secretValues())
      if (s.length >= 4 && out.includes(s)) out = out.split(s).join('[redacted]');
    return out;
  }

  /**
   * A webhook may echo what it was sent (debugging endpoints do), auth header included: a success
   * output never carries a configured secret to the engine. Done on the JSON text, so any nesting
   * and toJSON() are covered; the fast path (no secret inside) returns the output untouched.
   */
  private scrubResult(output: unknown): unknown {
    const json = JSON.stringify(output);
    if (json === undefined) return output;
    let clean = json;
    for (const s of this.registry.secretValues()) {
      if (s.length < 4) continue;
      for (const form of [s, JSON.stringify(s).slice(1, -1)])
        if (clean.includes(form)) clean = clean.split(form).join('[redacted]');
    }
    if (clean === json) return output;
    try {
      return JSON.parse(clean) as unknown;
    } catch {
      return { error: 'tool_failed', message: 'result withheld: it contained a configured secret' };
    }
  }

  private scrubOutput(output: Record<string, unknown>): Record<string, unknown> {
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(output)) clean[k] = typeof v === 'string' ? this.scrub(v) : v;
    return clean;
  }
}
