/**
 * A warm transfer's whisper template (`transfer.targets[].whisper`): text with `{name}`
 * placeholders. Parsed here, once, for the schema (an unknown placeholder is a configuration
 * error) and for the controller (src/control/whisper.ts fills it). Pure: no call state.
 */

/** What the bridge fills by itself, whatever the call. */
export const WHISPER_BUILTINS = [
  'from_masked',
  'reason',
  'destination',
  'agent',
  'target',
  'last_caller_turn',
  'last_agent_turn',
] as const;

/** A placeholder name: a field of `transfer_to_human`'s arguments or of a `collect` result. */
export const WHISPER_FIELD_RE = /^[a-z][a-z0-9_]{0,39}$/;

export type WhisperPiece = { text: string } | { field: string };

/** `{{` and `}}` are literal braces; a lone `{` or `}` is an error (a typo, not text). */
export function parseWhisper(template: string): { pieces: WhisperPiece[] } | { error: string } {
  const pieces: WhisperPiece[] = [];
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if ((c === '{' || c === '}') && template[i + 1] === c) {
      text += c;
      i++;
      continue;
    }
    if (c === '}') return { error: `a "}" at character ${i + 1} closes no placeholder (write "}}" for a brace)` };
    if (c !== '{') {
      text += c;
      continue;
    }
    const close = template.indexOf('}', i);
    if (close < 0) return { error: `the "{" at character ${i + 1} is never closed` };
    const name = template.slice(i + 1, close).trim();
    if (!WHISPER_FIELD_RE.test(name))
      return { error: `"{${name.slice(0, 40)}}" is not a placeholder name (lower-case letters, digits, _)` };
    if (text) pieces.push({ text });
    text = '';
    pieces.push({ field: name });
    i = close;
  }
  if (text) pieces.push({ text });
  return { pieces };
}

/** The placeholders of a template that are neither built in nor declared in `fields`. */
export function unknownPlaceholders(pieces: readonly WhisperPiece[], fields: readonly string[]): string[] {
  const known = new Set<string>([...WHISPER_BUILTINS, ...fields]);
  const out: string[] = [];
  for (const p of pieces) if ('field' in p && !known.has(p.field) && !out.includes(p.field)) out.push(p.field);
  return out;
}
