import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { negotiateTimer, parseSessionExpires, timerDueMs } from '../../../src/sip/session-timer.js';
import type { SipRequest } from '../../../src/sip/message.js';

const request = (headers: [string, string][]): SipRequest => ({
  kind: 'request',
  method: 'INVITE',
  uri: 'sip:+15550001111@127.0.0.1',
  headers: headers.map(([name, value]) => ({ name, value })),
  body: Buffer.alloc(0),
});

describe('RFC 4028 session timers, the UAS side', () => {
  it('answers what the peer asked, with the refresher it named, and Require: timer when it supports timers', () => {
    const v = negotiateTimer(
      request([
        ['Supported', 'replaces, timer'],
        ['Session-Expires', '1800;refresher=uas'],
      ]),
      90,
    );
    expect(v).toEqual({
      timer: { seconds: 1800, refresher: 'uas' },
      headers: [
        { name: 'Session-Expires', value: '1800;refresher=uas' },
        { name: 'Require', value: 'timer' },
      ],
    });
  });

  it('lets a timer-capable peer refresh when it named nobody, and refreshes itself for one that cannot', () => {
    const capable = negotiateTimer(
      request([
        ['Supported', 'timer'],
        ['Session-Expires', '600'],
      ]),
      90,
    );
    expect('timer' in capable && capable.timer).toEqual({ seconds: 600, refresher: 'uac' });
    // a proxy added the header; the caller cannot refresh, even if the header says it would
    const unable = negotiateTimer(request([['Session-Expires', '600;refresher=uac']]), 90);
    expect('timer' in unable && unable.timer).toEqual({ seconds: 600, refresher: 'uas' });
    expect('headers' in unable && unable.headers).toEqual([{ name: 'Session-Expires', value: '600;refresher=uas' }]);
  });

  it('refuses an interval below Min-SE with 422 and its Min-SE, and runs no timer for a request without one', () => {
    expect(negotiateTimer(request([['Session-Expires', '30']]), 90)).toEqual({
      tooSmall: [{ name: 'Min-SE', value: '90' }],
    });
    expect(negotiateTimer(request([]), 90)).toEqual({ timer: undefined });
  });

  it('refreshes at half the interval, and gives up at the interval minus min(32 s, a third)', () => {
    expect(timerDueMs({ seconds: 1800, refresher: 'uas' })).toBe(900_000);
    expect(timerDueMs({ seconds: 1800, refresher: 'uac' })).toBe(1_768_000);
    expect(timerDueMs({ seconds: 90, refresher: 'uac' })).toBe(60_000);
  });

  it('never throws on a hostile Session-Expires, and reads only a positive whole delta with a known refresher', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (value) => {
        const got = parseSessionExpires(value);
        if (got === undefined) return;
        expect(Number.isInteger(got.seconds) && got.seconds > 0).toBe(true);
        expect(got.refresher === undefined || got.refresher === 'uac' || got.refresher === 'uas').toBe(true);
        expect(Number(value.split(';')[0])).toBe(got.seconds);
      }),
      { numRuns: 2000 },
    );
    expect(parseSessionExpires('-5')).toBeUndefined();
    expect(parseSessionExpires('0')).toBeUndefined();
    expect(parseSessionExpires('1e3')).toBeUndefined();
    expect(parseSessionExpires(' 120 ; refresher = UAC ')).toEqual({ seconds: 120, refresher: 'uac' });
  });
});
