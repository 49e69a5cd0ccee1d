/**
 * Deterministic fuzzing helpers: a seeded PRNG and generators of hostile values, texts and bytes.
 * Every fuzz test takes its seed from FUZZ_SEED (to replay a failure) or picks one and prints it
 * when the test fails, so any finding can be reproduced exactly.
 */

/** sfc32: small, fast, good enough statistical quality for fuzzing, fully determined by the seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** uniform in [0, 2^32) */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform float in [0, 1) */
  float(): number {
    return this.next() / 4294967296;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** integer in [lo, hi] */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
}

/** FUZZ_SEED from the environment, else a fresh one (printed by the caller on failure). */
export function fuzzSeed(): number {
  const fromEnv = Number(process.env.FUZZ_SEED);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : (Math.random() * 0x7fffffff) | 0 || 1;
}

const WEIRD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\n',
  '"',
  '\\',
  '\\u0000',
  '{',
  '}',
  '[]',
  'null',
  'true',
  '0',
  '-0',
  '1e309',
  'NaN',
  'Infinity',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '%00',
  '%s%s%n',
  '${7*7}',
  '{{x}}',
  '\u202e\u202d',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\ufeff',
  '\u2028\u2029',
  'Ω≈ç√∫',
  '𝕳𝖊𝖑𝖑𝖔',
  '<script>',
  "'; DROP TABLE calls; --",
  '../../etc/passwd',
  'http://169.254.169.254/',
  'x'.repeat(300),
  'é'.repeat(70),
  '0:0',
  '1:1',
  '999999999:1',
  '-1',
  '0x10',
  '20 ',
  ' 20',
  '1.5',
  '1e3',
  '000000000000000000001',
  'media',
  'start',
  'stop',
  'mark',
  'dtmf',
  'connected',
  'clear',
  'audio/x-mulaw',
  'audio/x-alaw',
];

const WEIRD_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  1e-308,
  5e-324,
  2 ** 31,
  -(2 ** 31),
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e21,
  1e308,
  -1e308,
  160,
  8000,
  999_999_999_999_999,
];

export function weirdString(rng: Rng): string {
  if (rng.chance(0.7)) return rng.pick(WEIRD_STRINGS);
  // random code units, surrogate halves included
  let s = '';
  const n = rng.int(24);
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.8) ? rng.range(0x20, 0x7e) : rng.int(0x10000));
  return s;
}

/** Any JSON value (bounded depth), biased towards the shapes parsers trip on. */
export function randomJson(rng: Rng, depth = 0): unknown {
  const k = rng.int(depth > 3 ? 5 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(WEIRD_NUMBERS);
    case 3:
      return weirdString(rng);
    case 4:
      return rng.int(1000);
    case 5: {
      const arr: unknown[] = [];
      const n = rng.int(4);
      for (let i = 0; i < n; i++) arr.push(randomJson(rng, depth + 1));
      return arr;
    }
    default: {
      const obj: Record<string, unknown> = {};
      const n = rng.int(4);
      for (let i = 0; i < n; i++) setOwn(obj, weirdString(rng), randomJson(rng, depth + 1));
      return obj;
    }
  }
}

/** Sets an own property, even `__proto__` (plain assignment would change the prototype instead). */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Every path to a value inside a plain JSON object (for targeted mutations). */
function paths(value: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const k of Object.keys(value)) {
      const p = [...prefix, k];
      out.push(p);
      paths((value as Record<string, unknown>)[k], p, out);
    }
  }
  return out;
}

/**
 * One structural mutation of a JSON object, in place: a field deleted, retyped, replaced by a
 * weird value, a junk or prototype-named key added, or a huge number set.
 */
export function mutateObject(rng: Rng, obj: Record<string, unknown>): void {
  const all = paths(obj);
  const path = all.length ? rng.pick(all) : [];
  let parent: Record<string, unknown> = obj;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
  const key = path[path.length - 1];
  const op = key === undefined ? 4 : rng.int(7);
  switch (op) {
    case 0:
      delete parent[key!];
      return;
    case 1:
      parent[key!] = randomJson(rng);
      return;
    case 2:
      parent[key!] = rng.pick(WEIRD_NUMBERS);
      return;
    case 3:
      parent[key!] = weirdString(rng);
      return;
    case 4:
      setOwn(parent, rng.pick(['__proto__', 'constructor', 'prototype', weirdString(rng)]), randomJson(rng));
      return;
    case 5:
      parent[key!] = [parent[key!]];
      return;
    default:
      parent[key!] = { value: parent[key!] };
      return;
  }
}

/** One textual mutation: truncation, byte noise, insertion, duplication, wrapping. */
export function mutateText(rng: Rng, text: string): string {
  const at = rng.int(text.length + 1);
  switch (rng.int(8)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + weirdString(rng) + text.slice(at);
    case 2:
      return text.slice(0, at) + String.fromCharCode(rng.int(0x10000)) + text.slice(at + 1);
    case 3:
      return text + text.slice(at);
    case 4:
      return `[${text}]`;
    case 5:
      return text.replace(/"/g, rng.pick(["'", '', '\\"', '""']));
    case 6:
      return `\ufeff${text}`;
    default:
      return text.slice(at) + text.slice(0, at);
  }
}
