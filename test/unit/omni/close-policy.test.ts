import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeCodeLabel } from '../../../src/omni/close-policy.js';

describe('closeCodeLabel', () => {
  it("labels the protocol's and RFC 6455's codes as themselves and any other code as `other`", () => {
    for (const c of [1000, 1006, 1008, 1011, 4401, 4403, 4429]) expect(closeCodeLabel(c)).toBe(String(c));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), (c) => {
        const l = closeCodeLabel(c);
        expect(l === 'other' || (Number(l) === c && ((c >= 1000 && c <= 1015) || [4401, 4403, 4429].includes(c)))).toBe(
          true,
        );
      }),
    );
  });
});
