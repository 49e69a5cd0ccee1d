/**
 * A small reader for the loosely specified JSON objects Omni sends. "Accept liberally": a field may
 * go by several names, numbers may arrive as numeric strings, null means absent. But a field that is
 * present with an unusable type makes the whole event invalid (recorded in `problem`), so the
 * caller drops it with a reason instead of acting on half a message.
 */
export class FieldReader {
  /** First problem found, as "field: expected ..."; undefined while everything parsed. */
  problem: string | undefined;

  constructor(readonly raw: Record<string, unknown>) {}

  /** The first present (non-null) key among `keys`, or undefined. */
  private pick(keys: readonly string[]): [string, unknown] | undefined {
    for (const k of keys) {
      const v = this.raw[k];
      if (v !== undefined && v !== null) return [k, v];
    }
    return undefined;
  }

  private fail(key: string, expected: string): undefined {
    this.problem ??= `${key}: expected ${expected}`;
    return undefined;
  }

  /** A string; finite numbers are accepted and turned into their decimal text (ids, codes). */
  str(...keys: string[]): string | undefined {
    const hit = this.pick(keys);
    if (!hit) return undefined;
    const [k, v] = hit;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return this.fail(k, 'a string');
  }

  /** A finite number; numeric strings (as language models like to produce) are accepted. */
  num(...keys: string[]): number | undefined {
    const hit = this.pick(keys);
    if (!hit) return undefined;
    const [k, v] = hit;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'string' && v.trim() !== '') {
      const n = Number(v);
      if (Number.isFinite(n)) return n;
    }
    return this.fail(k, 'a number');
  }

  /** A boolean; also "true"/"false" and 0/1. */
  bool(...keys: string[]): boolean | undefined {
    const hit = this.pick(keys);
    if (!hit) return undefined;
    const [k, v] = hit;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 1) return true;
    if (v === 'false' || v === 0) return false;
    return this.fail(k, 'a boolean');
  }

  /** An array of strings; non-string entries make the field invalid. */
  strList(...keys: string[]): string[] | undefined {
    const hit = this.pick(keys);
    if (!hit) return undefined;
    const [k, v] = hit;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    return this.fail(k, 'an array of strings');
  }

  /** A nested plain object. */
  obj(...keys: string[]): Record<string, unknown> | undefined {
    const hit = this.pick(keys);
    if (!hit) return undefined;
    const [k, v] = hit;
    if (isPlainObject(v)) return v;
    return this.fail(k, 'an object');
  }

  /** Raw value of the first present key, unchecked. */
  any(...keys: string[]): unknown {
    return this.pick(keys)?.[1];
  }

  /** Marks a required field as missing. */
  require<T>(value: T | undefined, name: string): T | undefined {
    if (value === undefined) this.problem ??= `${name}: required`;
    return value;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `pcm16@16000` → 16000. Anything else (other encodings, absurd rates) → undefined: the caller then
 * keeps the rate it had instead of resampling garbage.
 */
export function parseAudioFormatRate(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\s*pcm16@(\d{4,6})\s*$/i.exec(value);
  if (!m) return undefined;
  const rate = Number(m[1]);
  return rate >= 8000 && rate <= 96000 ? rate : undefined;
}
