/**
 * The console's calls: listing, hang-up and transfer go through here and only here, and from here
 * through the fleet's call service (src/server/calls/fleet-calls.ts), the one the admin API uses. With
 * a shared store the list is fleet-wide and actions reach the replica holding the call.
 */
import { maskNumber } from '../observability/redact.js';
import type { CallState } from '../observability/call-events.js';
import type { BridgeContext } from '../server/context.js';

export interface ConsoleCall {
  callSid: string;
  agent: string;
  caller: string;
  durationMs: number;
  /** live state for calls held here; another replica's calls show 'remote' (their feed is there) */
  state: CallState | 'remote';
  replica: string;
  /** no audio either way for bridge.console_stuck_after_s (this replica's calls only) */
  stuck: boolean;
  /** names of the agent's transfer targets (never their numbers) */
  targets: string[];
}

export interface ConsoleCallList {
  calls: ConsoleCall[];
  /** the fleet store could not be read: only this replica's calls are listed */
  partial: boolean;
}

export async function listCalls(ctx: BridgeContext): Promise<ConsoleCallList> {
  const { calls, partial } = await ctx.calls.list();
  return {
    partial,
    calls: calls.map((c) => ({
      callSid: c.callSid,
      agent: c.agent,
      caller: maskNumber(c.from ?? undefined),
      durationMs: c.durationMs,
      state: c.local ? (ctx.feeds.get(c.callSid)?.state ?? 'connecting') : 'remote',
      replica: c.replica,
      stuck: c.local ? (ctx.feeds.get(c.callSid)?.stuck ?? false) : false,
      targets: ctx.agent(c.agent)?.transfer.targets.map((t) => t.name) ?? [],
    })),
  };
}

export interface ActionResult {
  status: number;
  body: Record<string, unknown>;
}

/** `by` names who asked (the session's key name or 'admin token'), as the call's record keeps it. */
export function hangupCall(ctx: BridgeContext, callSid: string, by = 'console'): Promise<ActionResult> {
  return ctx.calls.hangup(callSid, by);
}

/** Transfers to one of the call's agent's configured targets, by name: nothing else is offered or dialled. */
export async function transferCall(
  ctx: BridgeContext,
  callSid: string,
  target: string,
  by = 'console',
): Promise<ActionResult> {
  const { calls } = await ctx.calls.list();
  const call = calls.find((c) => c.callSid === callSid);
  if (!call) return { status: 404, body: { error: 'no such active call' } };
  if (!ctx.agent(call.agent)?.transfer.targets.some((t) => t.name === target))
    return { status: 400, body: { error: "not one of this agent's transfer targets" } };
  return ctx.calls.transfer(callSid, target, by);
}
