/**
 * Line numbers for configuration mistakes: the line of the key a schema issue names, and the line
 * where an unclosed quoted string opened (the YAML parser reports the end of the file there, which
 * can be many lines below the mistake).
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Parser } from 'yaml';

/**
 * A function from an issue's path (`agents.0.greting`) to the 1-based line of that key in `text`,
 * or of its deepest existing parent (a missing required key points at the object that lacks it).
 */
export function yamlLineOf(text: string): (path: readonly PropertyKey[]) => number | undefined {
  const lines = new LineCounter();
  let doc;
  try {
    doc = parseDocument(text, { lineCounter: lines });
  } catch {
    return () => undefined;
  }
  const lineAt = (offset: number | undefined) => (offset === undefined ? undefined : lines.linePos(offset).line);
  return (path) => {
    let node: unknown = doc.contents;
    let best = lineAt((node as { range?: [number] } | null)?.range?.[0]);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return best;
        best = lineAt((pair.key as { range?: [number] }).range?.[0]) ?? best;
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) return best;
        best = lineAt((item as { range?: [number] }).range?.[0]) ?? best;
        node = item;
      } else return best;
    }
    return best;
  };
}

/**
 * The 1-based line where a quoted scalar opens and never closes, if `text` has one: the place to
 * look when the parser says "Missing closing quote" at the end of the file.
 */
export function unclosedQuoteLine(text: string): number | undefined {
  let found: number | undefined;
  const visit = (tok: unknown): void => {
    if (found !== undefined || !tok || typeof tok !== 'object') return;
    const t = tok as { type?: string; offset?: number; source?: string };
    if (
      (t.type === 'single-quoted-scalar' || t.type === 'double-quoted-scalar') &&
      typeof t.source === 'string' &&
      typeof t.offset === 'number' &&
      !closes(t.source)
    ) {
      found = text.slice(0, t.offset).split('\n').length;
      return;
    }
    for (const v of Object.values(tok)) {
      if (Array.isArray(v)) v.forEach(visit);
      else if (v && typeof v === 'object') visit(v);
    }
  };
  try {
    for (const tok of new Parser().parse(text)) visit(tok);
  } catch {
    return undefined;
  }
  return found;
}

/** Whether a quoted scalar's source ends with its closing quote (not an escaped one). */
function closes(source: string): boolean {
  const q = source[0];
  if (source.length < 2 || source[source.length - 1] !== q) return false;
  if (q === "'") {
    // '' is an escaped quote: the closing one is the last of an odd run after the opening quote
    const run = /'+$/.exec(source.slice(1))?.[0].length ?? 0;
    return run % 2 === 1;
  }
  let backslashes = 0;
  for (let i = source.length - 2; i > 0 && source[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}
