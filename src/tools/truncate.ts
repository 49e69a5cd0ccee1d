/**
 * Output size cap of protocol §6: a serialized output above 6144 bytes is replaced by
 * `{"truncated": true, "bytes": <original size>, "preview": "<start of the serialized output>"}`,
 * sized so that the replacement itself serializes to at most 6144 bytes.
 */

export const MAX_OUTPUT_BYTES = 6144;

/** True when `code` is the first half of a UTF-16 surrogate pair (cutting after it splits a code point). */
function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Returns `output` unchanged when it fits, else the truncated form. `undefined` (a handler that
 * returned nothing) becomes `null` so there is always a JSON value to send. Throws when the value
 * cannot be serialized (BigInt, cycles): the caller turns that into a structured tool failure.
 */
export function truncateOutput(output: unknown, maxBytes: number = MAX_OUTPUT_BYTES): unknown {
  const json = JSON.stringify(output);
  if (json === undefined) return null;
  // Fast path: UTF-8 takes at most 3 bytes per UTF-16 unit, so short strings need no byte count.
  if (json.length * 3 <= maxBytes) return output;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes <= maxBytes) return output;

  // Never split a surrogate pair: the preview always ends on a code point (= UTF-8) boundary.
  const cut = (n: number): number => (n > 0 && n < json.length && isHighSurrogate(json.charCodeAt(n - 1)) ? n - 1 : n);
  const sizeWith = (n: number): number =>
    Buffer.byteLength(JSON.stringify({ truncated: true, bytes, preview: json.slice(0, n) }), 'utf8');

  // Escaping makes the wrapped size hard to predict (quotes double, control characters grow to
  // six bytes), so search for the longest prefix that fits; size is monotonic in the prefix length.
  let lo = 0;
  let hi = Math.min(json.length, maxBytes);
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (sizeWith(cut(mid)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return { truncated: true, bytes, preview: json.slice(0, cut(lo)) };
}
