import type { CallControlPort } from '../call/types.js';
import type { TransferTarget } from '../config/schema.js';
import { buildTransferContext } from './transfer-context.js';

export interface TransferStart {
  contextId: string;
  mode: 'cold' | 'warm';
  target: TransferTarget;
  usedDefault: boolean;
  reason: string | undefined;
  destination: string | undefined;
  whisper?: string;
  operator?: string;
  args: Readonly<Record<string, unknown>> | undefined;
  collected: ReadonlyMap<string, string>;
}

/**
 * Hands the call's context to the agent's context webhook, if it has one: at once, never
 * waited for (src/control/context-webhook.ts). Its id is the one the dial carries.
 */
export function sendTransferContext(s: CallControlPort, t: TransferStart): void {
  const deps = s.deps.transferContext;
  if (!deps || !s.agent.transfer.context_webhook) return;
  try {
    deliver(s, deps, t);
  } catch (err) {
    // the context is a help for the human; the transfer goes on whatever happens to it
    s.log.error({ err: (err as Error).message, contextId: t.contextId }, 'context webhook: not sent');
  }
}

function deliver(s: CallControlPort, deps: NonNullable<CallControlPort['deps']['transferContext']>, t: TransferStart) {
  deps.sender.deliver(
    s.agent,
    buildTransferContext({
      contextId: t.contextId,
      callSid: s.callSid,
      agent: s.agent.id,
      ...(s.info.from !== undefined ? { from: s.info.from } : {}),
      ...(s.info.to !== undefined ? { to: s.info.to } : {}),
      publicUrl: deps.publicUrl,
      mode: t.mode,
      target: t.target,
      usedDefault: t.usedDefault,
      ...(t.reason !== undefined ? { reason: t.reason } : {}),
      ...(t.destination !== undefined ? { destination: t.destination } : {}),
      ...(t.whisper !== undefined ? { whisper: t.whisper } : {}),
      ...(t.operator !== undefined ? { operator: t.operator } : {}),
      ...(t.args ? { args: t.args } : {}),
      collected: t.collected,
      turns: s.memory.all(),
      tools: s.record.toolsSoFar(),
    }),
  );
}
