/**
 * A pragmatic floor on the randomness of a secret the bridge checks itself (ADMIN_TOKEN,
 * METRICS_TOKEN): refuses `aaaa…`, `abcabcabc…`, `0123456789…`, `admin-token-2024` and the like.
 * It is an estimate from above, not a proof: a value made by `openssl rand -hex 32` (256 bits)
 * passes with a wide margin, a human-made one rarely does (docs/decisions.md).
 *
 * The value is read left to right and each piece is charged bits:
 *  - a repeat of something earlier in the value (3+ characters, overlapping allowed): 8 bits;
 *  - a run along the alphabet, the digits or a keyboard row (3+ characters): 6 bits;
 *  - a common word (the list below, 3+ letters, any case): 10 bits;
 *  - any other character: log2 of the size of the character classes the value uses (lower case
 *    26, upper case 26, digits 10, anything else 33).
 * A value with fewer than 8 distinct characters, or charged under 128 bits, is refused.
 */
export const MIN_SECRET_BITS = 128;
const MIN_DISTINCT = 8;

/** Words people put in tokens (and this project's own tests did). Lower case. */
// prettier-ignore
const WORDS = [
  'admin', 'token', 'secret', 'password', 'passwd', 'pass', 'test', 'example', 'change', 'letmein',
  'welcome', 'qwerty', 'default', 'bridge', 'console', 'phone', 'omni', 'twilio', 'demo', 'prod',
  'staging', 'local', 'dev', 'key', 'root', 'user', 'login', 'master', 'hello', 'super', 'my',
  'api', 'auth', 'access', 'metrics', 'reload', 'fleet', 'fuzz', 'browser', 'record', 'operator',
  'action', 'outbound', 'allow', 'list', 'ops', 'tool', 'code', 'name', 'for', 'the', 'and',
  'monkey', 'dragon', 'sunshine', 'iloveyou', 'abc', 'xyz', 'foo', 'bar', 'baz', 'temp', 'sample',
].sort((a, b) => b.length - a.length);

const SEQUENCES = ['abcdefghijklmnopqrstuvwxyz', '0123456789', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm'];

function classBits(value: string): number {
  let size = 0;
  if (/[a-z]/.test(value)) size += 26;
  if (/[A-Z]/.test(value)) size += 26;
  if (/[0-9]/.test(value)) size += 10;
  if (/[^a-zA-Z0-9]/.test(value)) size += 33;
  return Math.log2(Math.max(size, 2));
}

/** Length of the longest earlier occurrence (overlap allowed) of value[i…]. */
function repeatAt(value: string, i: number): number {
  let best = 0;
  for (let j = 0; j < i; j++) {
    let n = 0;
    while (i + n < value.length && value[j + n] === value[i + n]) n++;
    if (n > best) best = n;
  }
  return best;
}

/** Length of an alphabet, digit or keyboard run (either direction) starting at value[i]. */
function runAt(lower: string, i: number): number {
  let best = 0;
  for (const seq of SEQUENCES)
    for (const s of [seq, [...seq].reverse().join('')]) {
      let n = 0;
      let k = s.indexOf(lower[i] ?? '');
      while (k >= 0 && k + n < s.length && lower[i + n] === s[k + n]) n++;
      if (n > best) best = n;
      k = -1;
    }
  return best;
}

/** Estimated bits of randomness of `value` (see above). */
export function estimateSecretBits(value: string): number {
  const lower = value.toLowerCase();
  const perChar = classBits(value);
  let bits = 0;
  for (let i = 0; i < value.length;) {
    const word = WORDS.find((w) => lower.startsWith(w, i));
    const repeat = repeatAt(value, i);
    const run = runAt(lower, i);
    if (word && word.length >= Math.max(repeat, run)) {
      bits += 10;
      i += word.length;
    } else if (repeat >= 3 && repeat >= run) {
      bits += 8;
      i += repeat;
    } else if (run >= 3) {
      bits += 6;
      i += run;
    } else {
      bits += perChar;
      i++;
    }
  }
  return bits;
}

/** Why `value` is too weak to be one of the bridge's own tokens; undefined when it is strong enough. */
export function weakSecretProblem(value: string): string | undefined {
  if (new Set(value).size < MIN_DISTINCT) return `it has fewer than ${MIN_DISTINCT} distinct characters`;
  const bits = estimateSecretBits(value);
  if (bits < MIN_SECRET_BITS)
    return `it has an estimated ${Math.floor(bits)} bits of randomness (repeats, runs and common words count for little), under ${MIN_SECRET_BITS}`;
  return undefined;
}
