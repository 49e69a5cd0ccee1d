import type { TransferTarget } from '../config/schema.js';
import type { Turn } from '../call/memory.js';
import { maskNumber, redactNumbers } from '../observability/redact.js';

/**
 * The call's context as the human's desktop receives it at a transfer (the context webhook,
 * src/control/context-webhook.ts): who calls (masked), which agent, why, what was collected,
 * what was said and what the tools answered, and the id the dial carries. Pure: built from what
 * the controller knows at the transfer. Nothing here is a secret or a full phone number: the
 * caller and the number called are masked, the transcript's digit runs redacted (as in the call
 * record), tool results are the record's masked previews, an argument under a secret-looking
 * name is dropped. Collected fields are sent as keyed: they are what the human needs (an account).
 */
export interface TransferContext {
  context_id: string;
  event: 'transfer';
  created_at: string;
  call: {
    call_sid: string;
    from_masked: string;
    to_masked: string;
    /** the call in the operator console (PUBLIC_URL/console?call=…) */
    console_url: string;
  };
  agent: { id: string };
  transfer: {
    mode: 'cold' | 'warm';
    target: string;
    kind: TransferTarget['kind'];
    used_default: boolean;
    reason: string | null;
    /** what the agent asked for (the target taken may be the default) */
    requested: string | null;
    /** warm: what the human hears before the caller is connected */
    whisper?: string;
    /** an operator's transfer: who asked ('console', 'admin_api'…) */
    operator?: string;
  };
  collected: Record<string, string>;
  arguments: Record<string, string | number>;
  transcript: { role: string; text: string; at_ms: number }[];
  tool_results: { name: string; outcome: string; duration_ms: number; result?: string }[];
}

export interface ContextSource {
  contextId: string;
  callSid: string;
  agent: string;
  from?: string;
  to?: string;
  publicUrl: string;
  mode: 'cold' | 'warm';
  target: TransferTarget;
  usedDefault: boolean;
  reason?: string;
  destination?: string;
  whisper?: string;
  operator?: string;
  args?: Readonly<Record<string, unknown>>;
  collected: ReadonlyMap<string, string>;
  turns: readonly Turn[];
  tools: readonly { name: string; outcome: string; durationMs: number; result?: string }[];
}

const SECRET_KEY = /secret|token|passw|api[-_]?key|auth|signature|credential|cookie|bearer|private|pin\b/i;
const MAX_TURNS = 50;
const MAX_TEXT = 1000;
const MAX_TOOLS = 50;
const MAX_FIELDS = 32;

const text = (v: string | undefined, max = 200): string | null => {
  const t = v?.replace(/\s+/g, ' ').trim();
  return t ? t.slice(0, max) : null;
};

/** transfer_to_human's own arguments that are said elsewhere in the payload */
const VERB_ARGS = new Set(['destination', 'reason', 'call_id']);

export function buildTransferContext(s: ContextSource, now = new Date()): TransferContext {
  const args: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(s.args ?? {})) {
    if (Object.keys(args).length >= MAX_FIELDS) break;
    if (VERB_ARGS.has(k) || SECRET_KEY.test(k) || !/^[A-Za-z0-9_.-]{1,64}$/.test(k)) continue;
    if (typeof v === 'number' && Number.isFinite(v)) args[k] = v;
    else if (typeof v === 'string' && v.trim()) args[k] = v.trim().slice(0, 200);
  }
  const collected: Record<string, string> = {};
  for (const [k, v] of [...s.collected].slice(0, MAX_FIELDS)) collected[k] = v.slice(0, 200);
  const base = s.publicUrl.replace(/\/+$/, '');
  return {
    context_id: s.contextId,
    event: 'transfer',
    created_at: now.toISOString(),
    call: {
      call_sid: s.callSid,
      from_masked: maskNumber(s.from),
      to_masked: maskNumber(s.to),
      console_url: `${base}/console?call=${encodeURIComponent(s.callSid)}`,
    },
    agent: { id: s.agent },
    transfer: {
      mode: s.mode,
      target: s.target.name,
      kind: s.target.kind,
      used_default: s.usedDefault,
      reason: text(s.reason),
      requested: text(s.destination, 64),
      ...(s.whisper !== undefined ? { whisper: redactNumbers(s.whisper) } : {}),
      ...(s.operator !== undefined ? { operator: s.operator } : {}),
    },
    collected,
    arguments: args,
    transcript: s.turns.slice(-MAX_TURNS).map((t) => ({
      role: t.role,
      text: redactNumbers(t.text).slice(0, MAX_TEXT),
      at_ms: Math.round(t.atMs),
    })),
    tool_results: s.tools.slice(-MAX_TOOLS).map((t) => ({
      name: t.name,
      outcome: t.outcome,
      duration_ms: Math.round(t.durationMs),
      ...(t.result !== undefined ? { result: t.result } : {}),
    })),
  };
}
