import { DEFAULT_WHISPER, type TransferTarget } from '../config/schema.js';
import { parseWhisper } from '../config/whisper-template.js';
import { maskNumber } from '../observability/redact.js';
import type { Turn } from '../call/memory.js';

/** What a whisper is filled from: the call, the verb's arguments, the collect results, the transcript. */
export interface WhisperSource {
  agent: string;
  target: string;
  from?: string;
  reason?: string;
  destination?: string;
  /** transfer_to_human's arguments as the engine sent them (only string and number values are used) */
  args?: Readonly<Record<string, unknown>>;
  /** the last value collected per `collect` field */
  collected: ReadonlyMap<string, string>;
  turns: readonly Turn[];
}

/** Each filled value, and the whole whisper, are capped: the human hears a summary, not a transcript. */
const MAX_VALUE_CHARS = 200;
const MAX_WHISPER_CHARS = 700;
const MISSING = 'not given';

function lastTurn(turns: readonly Turn[], role: Turn['role']): string | undefined {
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i]!.role === role) return turns[i]!.text;
  return undefined;
}

function clean(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.replace(/\s+/g, ' ').trim();
  return t ? t.slice(0, MAX_VALUE_CHARS) : undefined;
}

/**
 * The text the human hears before the caller is connected. The template was validated at load
 * (schema.ts), so every placeholder is built in or declared; one with no value on this call reads
 * "not given" rather than leaving a hole. A collect result wins over an argument of the same name
 * (it is what the caller keyed, not what the agent inferred).
 */
export function fillWhisper(target: TransferTarget, src: WhisperSource): string {
  const parsed = parseWhisper(target.whisper ?? DEFAULT_WHISPER);
  if ('error' in parsed) return clean(target.whisper) ?? ''; // unreachable: the schema refused it
  const builtin: Record<string, string | undefined> = {
    // Spoken, not shown: "ending in 4321" (maskNumber's bullets are no word for a synthesizer).
    from_masked: src.from ? `ending in ${maskNumber(src.from).replace(/^•+/, '')}` : undefined,
    reason: clean(src.reason),
    destination: clean(src.destination),
    agent: src.agent,
    target: target.name,
    last_caller_turn: clean(lastTurn(src.turns, 'user')),
    last_agent_turn: clean(lastTurn(src.turns, 'assistant')),
  };
  const value = (field: string): string =>
    (Object.hasOwn(builtin, field) ? builtin[field] : (src.collected.get(field) ?? clean(src.args?.[field]))) ??
    MISSING;
  const text = parsed.pieces.map((p) => ('text' in p ? p.text : value(p.field))).join('');
  return text.replace(/\s+/g, ' ').trim().slice(0, MAX_WHISPER_CHARS);
}
