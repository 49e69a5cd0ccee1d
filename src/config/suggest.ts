import type { z } from 'zod';

/**
 * "Did you mean …?" for configuration typos: every object of the configuration file (and of the
 * offline engine's scenario) is strict, and an unknown key is reported with its full path and the
 * closest known key of that object.
 */

/** Levenshtein distance (insert, delete, substitute: 1 each), two rows of memory. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/**
 * The known word closest to `word`, if it is close enough to be a plausible typo: at most a third
 * of the word's length away (2 for short words), or one is the other cut short or extended
 * (`timeout` → `timeout_ms`). Case and `-`/`_` are not counted as differences.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, '_');
  const w = norm(word);
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const n = norm(k);
    let d = editDistance(w, n);
    if (Math.min(w.length, n.length) >= 4 && (n.startsWith(w) || w.startsWith(n))) d = Math.min(d, 1);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= limit ? best : undefined;
}

/** `unknown key; did you mean max_concurrent_calls?`, or the list of known keys when none is close. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const guess = closest(key, known);
  if (guess) return `unknown key; did you mean ${guess}?`;
  return known.length ? `unknown key; expected one of: ${known.join(', ')}` : 'unknown key';
}

/**
 * A per-parse zod error map: an unknown key of a strict object gets one line per key (the
 * object's own keys are read from the schema that refused them); everything else keeps zod's
 * message or the schema's own. Pass it as `schema.safeParse(value, { error: strictKeysErrorMap })`.
 */
export const strictKeysErrorMap: z.core.$ZodErrorMap = (iss) => {
  if (iss.code !== 'unrecognized_keys') return undefined;
  const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
  const known = shape ? Object.keys(shape) : [];
  return iss.keys.map((k) => unknownKeyMessage(k, known)).join('\n');
};

/**
 * Readable lines for zod issues, each `path: message`. An unknown key's path ends with the key
 * itself; a union that failed in every branch reports the one branch the value was meant for
 * (the only one whose failure is not "this is another kind of value").
 */
export function issueLines(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
  lineOf?: (path: readonly PropertyKey[]) => number | undefined,
): string[] {
  const out: string[] = [];
  for (const i of issues) {
    const path = [...prefix, ...i.path];
    const at = (p: readonly PropertyKey[]) => (p.length ? p.map(String).join('.') : '(root)');
    // `(line N)` last, so the path and message read as before and a file's line is still given
    const line = (p: readonly PropertyKey[]) => {
      const n = lineOf?.(p);
      return n ? ` (line ${n})` : '';
    };
    if (i.code === 'unrecognized_keys') {
      const lines = i.message.split('\n');
      i.keys.forEach((k, j) =>
        out.push(
          `${at([...path, k])}: ${lines.length === i.keys.length ? lines[j] : 'unknown key'}${line([...path, k])}`,
        ),
      );
      continue;
    }
    if (i.code === 'invalid_union' && i.errors.length) {
      const meant = i.errors.filter(
        (branch) =>
          !branch.every((b) => b.path.length === 0 && (b.code === 'invalid_type' || b.code === 'invalid_value')),
      );
      if (meant.length === 1) {
        out.push(...issueLines(meant[0]!, path, lineOf));
        continue;
      }
    }
    out.push(`${at(path)}: ${i.message}${line(path)}`);
  }
  return out;
}
