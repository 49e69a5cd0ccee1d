import { describe, expect, it } from 'vitest';
import { redactNumbers } from '../../../src/observability/redact.js';

describe('call record transcript redaction', () => {
  it('masks card and account numbers, typed or spoken', () => {
    expect(redactNumbers('my card is 4111 1111 1111 1111 thanks')).toBe('my card is [redacted] thanks');
    expect(redactNumbers('account four eight two nine one three please')).toBe('account [redacted] please');
    expect(redactNumbers('ref 482-913-77')).toBe('ref [redacted]');
  });

  it('keeps short numbers such as order ids and times', () => {
    expect(redactNumbers('order 4417 arrives at 10:30')).toBe('order 4417 arrives at 10:30');
  });
});

describe('call record tools', () => {
  it("keeps a tool's masked arguments and result only with the transcript (call_record_transcript)", async () => {
    const { CallRecordBuilder } = await import('../../../src/call/record.js');
    const finish = (keep: boolean) => {
      const b = new CallRecordBuilder({ callSid: 'CA1', agent: { id: 'support' } as never, direction: 'inbound' });
      b.toolFinished('lookup', 'ok', 12, 'module', undefined, { args: '{"id":"1"}', result: '{"ok":true}' });
      const stats = {
        framesSent: 0,
        framesPlayed: 0,
        staleMarks: 0,
        clears: 0,
        underruns: 0,
        underrunMs: 0,
        replies: [],
      };
      return b.finish('caller_hangup', {
        playback: { stats },
        memory: { all: () => [] },
        deps: { settings: { call_record_transcript: keep } },
      });
    };
    expect(finish(true).tools).toEqual([
      { name: 'lookup', outcome: 'ok', durationMs: 12, args: '{"id":"1"}', result: '{"ok":true}' },
    ]);
    expect(finish(false).tools).toEqual([{ name: 'lookup', outcome: 'ok', durationMs: 12 }]);
    expect(finish(false).direction).toBe('inbound');
  });
});
