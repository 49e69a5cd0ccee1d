import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateDtmf } from '../../../src/audio/dtmf.js';
import { MAX_SEND_DIGITS, normalizeSendDigits } from '../../../src/audio/dtmf-digits.js';
import { playDigitsThenStreamTwiml } from '../../../src/twilio/twiml.js';

const accepts = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

describe('one DTMF digit rule for send_dtmf, the in-band tones and <Play digits>', () => {
  it('takes 0-9 * # A-D w W, reads a-d as A-D, and refuses anything else', () => {
    expect(normalizeSendDigits('0123456789*#ABCDwW')).toBe('0123456789*#ABCDwW');
    expect(normalizeSendDigits('aW1d')).toBe('AW1D');
    for (const bad of ['', 'x', '1 2', '12e', 'E', '+1', '١', 'w'.repeat(MAX_SEND_DIGITS + 1), 12 as unknown])
      expect(normalizeSendDigits(bad), String(bad)).toBeUndefined();
  });

  it('whatever the rule accepts, both senders take; whatever it refuses, neither is ever handed', () => {
    const ch = fc.constantFrom(...'0123456789*#ABCDabcdwWxeE +;-"<'.split(''));
    fc.assert(
      fc.property(
        fc.array(ch, { maxLength: 70 }).map((a) => a.join('')),
        (raw) => {
          const digits = normalizeSendDigits(raw);
          if (digits === undefined) return;
          expect(accepts(() => generateDtmf(digits, 8000))).toBe(true);
          expect(
            accepts(() =>
              playDigitsThenStreamTwiml({ digits, streamUrl: 'wss://bridge.example.com/twilio/media', parameters: {} }),
            ),
          ).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("renders 'W' as a one-second pause and 'w' as half a second, as Twilio plays them", () => {
    expect(generateDtmf('W', 8000).length).toBe(8000);
    expect(generateDtmf('w', 8000).length).toBe(4000);
  });
});
