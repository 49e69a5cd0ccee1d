import { describe, expect, it } from 'vitest';
import type { LegListener } from '../../../src/call/leg.js';
import { SipWarm, type HumanLeg } from '../../../src/sip/warm.js';

/**
 * The SIP warm transfer's decisions (src/sip/warm.ts) over a fake human leg: the accept key, any
 * other key, the whisper heard with no key asked for, the human's BYE, and the caller leaving
 * mid-whisper, each ending the attempt once (never left pending).
 */

const log = { info() {}, warn() {}, error() {} } as never;
const TARGET = { name: 'desk', kind: 'sip' as const, value: 'sip:desk@127.0.0.1' };

function fakeHuman() {
  let listener: LegListener | undefined;
  const sent: string[] = [];
  let hungUp = 0;
  let joined = 0;
  const human: HumanLeg = {
    media: {
      start: (l) => (listener = l),
      sendAudio: () => sent.push('audio'),
      sendMark: (name) => {
        sent.push(`mark:${name}`);
      },
      close: () => {},
    },
    join: () => (joined++, { ok: true }),
    hangup: () => void hungUp++,
    onEnded: undefined,
  };
  return {
    human,
    sent,
    key: (d: string) => listener!.onDtmf(d),
    played: (name: string) => listener!.onMark(name),
    counts: () => ({ hungUp, joined }),
  };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('SipWarm', () => {
  it('the accept key accepts, and bridgeCaller joins; another key refuses and hangs the human up', async () => {
    const a = fakeHuman();
    const warm = new SipWarm(
      async () => ({ ok: true, human: a.human }),
      (t) => t.value,
      log,
    );
    const p = warm.warmTransfer(TARGET, { whisper: 'A caller about billing.', acceptKey: '1', ringTimeoutS: 10 });
    await until(() => a.sent.includes('mark:whisper-end'));
    a.key('1');
    expect(await p).toMatchObject({ accepted: true, answeredAt: expect.any(Number) });
    expect(await warm.bridgeCaller()).toEqual({ ok: true });
    expect(a.counts()).toEqual({ hungUp: 0, joined: 1 });

    const b = fakeHuman();
    const warm2 = new SipWarm(
      async () => ({ ok: true, human: b.human }),
      (t) => t.value,
      log,
    );
    const q = warm2.warmTransfer(TARGET, { whisper: 'A caller.', acceptKey: '1', ringTimeoutS: 10 });
    await until(() => b.sent.length > 0);
    b.key('7');
    expect(await q).toMatchObject({ accepted: false, why: 'refused' });
    expect(b.counts()).toEqual({ hungUp: 1, joined: 0 });
  });

  it('without an accept key, hearing the whisper accepts; the human hanging up first refuses', async () => {
    const a = fakeHuman();
    const warm = new SipWarm(
      async () => ({ ok: true, human: a.human }),
      (t) => t.value,
      log,
    );
    const p = warm.warmTransfer(TARGET, { whisper: 'A caller.', ringTimeoutS: 10 });
    await until(() => a.sent.includes('mark:whisper-end'));
    a.played('whisper-end');
    expect(await p).toMatchObject({ accepted: true });

    const b = fakeHuman();
    const warm2 = new SipWarm(
      async () => ({ ok: true, human: b.human }),
      (t) => t.value,
      log,
    );
    const q = warm2.warmTransfer(TARGET, { whisper: 'A caller.', acceptKey: '1', ringTimeoutS: 10 });
    await until(() => b.human.onEnded !== undefined);
    b.human.onEnded!();
    expect(await q).toMatchObject({ accepted: false, why: 'refused' });
  });

  it('the caller leaving mid-whisper ends the attempt at once and hangs the human up', async () => {
    const a = fakeHuman();
    const warm = new SipWarm(
      async () => ({ ok: true, human: a.human }),
      (t) => t.value,
      log,
    );
    const p = warm.warmTransfer(TARGET, { whisper: 'A caller about billing.', acceptKey: '1', ringTimeoutS: 10 });
    await until(() => a.human.onEnded !== undefined);
    warm.cancelWarm();
    expect(await p).toMatchObject({ accepted: false, why: 'canceled' });
    expect(a.counts().hungUp).toBeGreaterThanOrEqual(1);
    expect(await warm.bridgeCaller()).toMatchObject({ ok: false });
  });

  it('a busy or silent human is reported as such, and an unreachable target fails', async () => {
    const busy = new SipWarm(
      async () => ({ ok: false, status: 486, message: 'busy' }),
      (t) => t.value,
      log,
    );
    expect(await busy.warmTransfer(TARGET, { whisper: 'x', ringTimeoutS: 5 })).toMatchObject({ why: 'busy' });
    const silent = new SipWarm(
      async () => ({ ok: false, status: 408, message: 'no answer' }),
      (t) => t.value,
      log,
    );
    expect(await silent.warmTransfer(TARGET, { whisper: 'x', ringTimeoutS: 5 })).toMatchObject({ why: 'no_answer' });
    const nowhere = new SipWarm(
      async () => ({ ok: false, status: 500, message: 'x' }),
      () => undefined,
      log,
    );
    expect(await nowhere.warmTransfer(TARGET, { whisper: 'x', ringTimeoutS: 5 })).toMatchObject({ why: 'failed' });
  });
});
