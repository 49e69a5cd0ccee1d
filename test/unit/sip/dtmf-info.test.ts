import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDtmfInfo } from '../../../src/sip/dtmf-info.js';

describe('SIP INFO DTMF', () => {
  it('reads application/dtmf-relay and application/dtmf', () => {
    expect(parseDtmfInfo('application/dtmf-relay', Buffer.from('Signal=5\r\nDuration=160\r\n'))).toBe('5');
    expect(parseDtmfInfo('Application/DTMF-Relay; charset=x', Buffer.from('signal = #\r\n'))).toBe('#');
    expect(parseDtmfInfo('application/dtmf-relay', Buffer.from('Signal=10\r\nDuration=100'))).toBe('*');
    expect(parseDtmfInfo('application/dtmf-relay', Buffer.from('Signal=11'))).toBe('#');
    expect(parseDtmfInfo('application/dtmf', Buffer.from('7'))).toBe('7');
    expect(parseDtmfInfo('application/dtmf', Buffer.from('d'))).toBe('D');
  });

  it('gives nothing for other bodies, and never throws', () => {
    expect(parseDtmfInfo('application/sdp', Buffer.from('Signal=5'))).toBeUndefined();
    expect(parseDtmfInfo(undefined, Buffer.from('Signal=5'))).toBeUndefined();
    expect(parseDtmfInfo('application/dtmf-relay', Buffer.from('Signal=16'))).toBeUndefined();
    expect(parseDtmfInfo('application/dtmf-relay', Buffer.from('Duration=160'))).toBeUndefined();
    fc.assert(fc.property(fc.string(), fc.uint8Array(), (t, b) => void parseDtmfInfo(t, Buffer.from(b))));
  });
});
