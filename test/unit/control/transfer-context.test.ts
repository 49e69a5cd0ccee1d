import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTransferContext, type ContextSource } from '../../../src/control/transfer-context.js';

const base: ContextSource = {
  contextId: '3f2b8c1e-9a4d-4e55-8f00-1234567890ab',
  callSid: 'CA' + 'a'.repeat(32),
  agent: 'support',
  from: '+15557654321',
  to: '+15550001111',
  publicUrl: 'https://bridge.example.com/',
  mode: 'cold',
  target: { name: 'desk', kind: 'sip', value: 'sip:desk@pbx.example.com' },
  usedDefault: true,
  collected: new Map(),
  turns: [],
  tools: [],
};

describe('transfer context payload', () => {
  it('names the call, the agent, the transfer and links the call in the console', () => {
    const c = buildTransferContext({ ...base, reason: '  a   refund ', destination: 'billing' }, new Date(0));
    expect(c).toEqual({
      context_id: base.contextId,
      event: 'transfer',
      created_at: '1970-01-01T00:00:00.000Z',
      call: {
        call_sid: base.callSid,
        from_masked: '•••4321',
        to_masked: '•••1111',
        console_url: `https://bridge.example.com/console?call=${base.callSid}`,
      },
      agent: { id: 'support' },
      transfer: {
        mode: 'cold',
        target: 'desk',
        kind: 'sip',
        used_default: true,
        reason: 'a refund',
        requested: 'billing',
      },
      collected: {},
      arguments: {},
      transcript: [],
      tool_results: [],
    });
  });

  it('keeps collected fields and plain arguments; drops secret-looking arguments and objects', () => {
    const c = buildTransferContext({
      ...base,
      collected: new Map([['account_number', '482913']]),
      args: { order: 'A-17', amount: 12.5, api_token: 'tok_live_x', pin: '1234', nested: { a: 1 }, reason: 'r' },
    });
    expect(c.collected).toEqual({ account_number: '482913' });
    expect(c.arguments).toEqual({ order: 'A-17', amount: 12.5 });
  });

  it('redacts digit runs of the transcript and the whisper, as the call record does', () => {
    const c = buildTransferContext({
      ...base,
      whisper: 'Card 4111 1111 1111 1111.',
      turns: [{ role: 'user', text: 'my card is 4111 1111 1111 1111', atMs: 10.4 }],
    });
    expect(c.transcript).toEqual([{ role: 'user', text: 'my card is [redacted]', at_ms: 10 }]);
    expect(c.transfer.whisper).not.toContain('4111');
  });

  it("never carries a caller's full number, whatever it is", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\+[1-9]\d{9,14}$/), (from) => {
        const json = JSON.stringify(buildTransferContext({ ...base, from, to: from }));
        return !json.includes(from.slice(1)) && !json.includes(from.slice(-7));
      }),
      { seed: 33, numRuns: 300 },
    );
  });
});
