/**
 * Checked element access for tests (tsconfig.json has noUncheckedIndexedAccess): instead of a
 * `!` that would turn a missing element into a confusing failure further down, these throw at
 * once with a message that names what was missing.
 */

/** `xs[i]`; throws a RangeError naming the index (and `what`) when there is no element there. */
export function at<T>(xs: ArrayLike<T>, i: number, what = 'array'): T {
  const x = xs[i];
  if (x === undefined) throw new RangeError(`${what}: no element at index ${i} (length ${xs.length})`);
  return x;
}

/** `x`, narrowed; throws an Error saying `what` is undefined when it is. */
export function defined<T>(x: T | undefined, what: string): T {
  if (x === undefined) throw new Error(`${what} is undefined`);
  return x;
}
