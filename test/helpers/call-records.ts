/** Finished calls' records for the call history tests: a plausible record, any field overridden. */
import { randomBytes } from 'node:crypto';
import type { CallRecord } from '../../src/call/record.js';

export const newCallSid = (): string => `CA${randomBytes(16).toString('hex')}`;

export function fakeRecord(o: Partial<CallRecord> = {}): CallRecord {
  const started = o.startedAt ?? new Date().toISOString();
  return {
    callSid: newCallSid(),
    agent: 'support',
    from: '+15557654321',
    to: '+15550001111',
    direction: 'inbound',
    startedAt: started,
    endedAt: o.endedAt ?? new Date(Date.parse(started) + 1000).toISOString(),
    durationMs: 1000,
    outcome: 'caller_hangup',
    streams: ['MZ1'],
    dtmf: '4929',
    bargeIns: 0,
    tools: [],
    verbs: [],
    engineCloses: [],
    playback: {
      framesSent: 10,
      framesPlayed: 10,
      staleMarks: 0,
      clears: 0,
      underruns: 0,
      underrunMs: 0,
      replies: [],
    },
    ...o,
  };
}
