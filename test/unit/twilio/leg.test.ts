/**
 * The Twilio implementation of the telephony leg (src/call/leg.ts): its control as TwiML through
 * the REST API, and its media as Media Streams messages. A recording TwilioRest stands in for
 * Twilio; the assertions are on what would go over the wire.
 */
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RestResult, TwilioRest } from '../../../src/twilio/rest.js';
import { TwilioLeg } from '../../../src/twilio/leg.js';
import { TwilioMediaOut } from '../../../src/twilio/media-out.js';
import { testAgent } from '../../helpers/session-rig.js';

const SID = 'CA00000000000000000000000000000001';

function recordingRest(answers: RestResult[] = []) {
  const calls: { op: string; twiml?: string }[] = [];
  const next = async (): Promise<RestResult> => answers.shift() ?? { ok: true };
  const rest: TwilioRest = {
    updateCallTwiml: (_sid, twiml) => (calls.push({ op: 'twiml', twiml }), next()),
    updateCallUrl: () => (calls.push({ op: 'url' }), next()),
    hangup: () => (calls.push({ op: 'hangup' }), next()),
    createCall: async () => ({ ok: false, message: 'not here' }),
    cancel: () => (calls.push({ op: 'cancel' }), next()),
  };
  return { rest, calls };
}

function legWith(rest: TwilioRest | undefined, agent = testAgent()) {
  const mint = vi.fn((_sid: string, _c: object, _extra: number) => 'TOKEN');
  const leg = new TwilioLeg(
    { callSid: SID, agent, from: '+15550001111', to: '+15550002222' },
    { rest, publicUrl: 'https://bridge.example.com', streamTokens: { mint } },
    pino({ level: 'silent' }),
  );
  return { leg, mint };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Twilio leg: control through TwiML and REST', () => {
  it('transfers with <Dial> to the target and a dial-action URL whose nonce is the resume key', async () => {
    const { rest, calls } = recordingRest();
    const { leg } = legWith(rest);
    const target = testAgent().transfer.targets[0]!;
    expect(await leg.transfer(target)).toEqual({ ok: true });
    expect(calls).toHaveLength(1);
    const twiml = calls[0]!.twiml!;
    expect(twiml).toContain('<Number>+15550100200</Number>');
    const nonce = leg.resumeKey!;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(twiml).toContain(`/twilio/dial-action?agent=a&amp;target=desk&amp;nonce=${nonce}`);
    // a new transfer gets a new nonce
    await leg.transfer(target);
    expect(leg.resumeKey).not.toBe(nonce);
  });

  it("reports Twilio's refusal as a result, never a throw", async () => {
    const { rest } = recordingRest([{ ok: false, status: 400, message: 'Call is not in-progress' }]);
    const { leg } = legWith(rest);
    expect(await leg.transfer(testAgent().transfer.targets[0]!)).toEqual({
      ok: false,
      message: 'Call is not in-progress',
    });
  });

  it('hangs up with Status=completed once per call', async () => {
    const { rest, calls } = recordingRest();
    const { leg } = legWith(rest);
    await leg.hangup();
    await leg.hangup();
    expect(calls.map((c) => c.op)).toEqual(['hangup']);
  });

  it('says the message then hangs up by TwiML; a refused update falls back to a REST hang-up', async () => {
    const ok = recordingRest();
    await legWith(ok.rest).leg.hangupWithMessage('Goodbye now.');
    expect(ok.calls.map((c) => c.op)).toEqual(['twiml']);
    expect(ok.calls[0]!.twiml).toMatch(/<Say>Goodbye now\.<\/Say><Hangup\/>/);
    const refused = recordingRest([{ ok: false, message: 'nope' }]);
    const { leg } = legWith(refused.rest);
    await leg.hangupWithMessage('Goodbye now.');
    await leg.hangup(); // already done by the fallback: not twice
    expect(refused.calls.map((c) => c.op)).toEqual(['twiml', 'hangup']);
  });

  it('sends digits as <Play digits> then a new stream with a restart token, and expects that restart', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { rest, calls } = recordingRest();
    const { leg, mint } = legWith(rest);
    expect(leg.mediaRestartMs()).toBe(0);
    expect(await leg.sendDigits('12#')).toEqual({ ok: true });
    expect(calls[0]!.twiml).toContain('<Play digits="12#"/>');
    expect(calls[0]!.twiml).toContain('<Stream url="wss://bridge.example.com/twilio/media">');
    expect(calls[0]!.twiml).toContain('<Parameter name="token" value="TOKEN"/>');
    expect(mint).toHaveBeenCalledWith(
      SID,
      { purpose: 'restart', agent: 'a', from: '+15550001111', to: '+15550002222' },
      3000,
    );
    expect(leg.mediaRestartMs()).toBe(15_000);
    leg.mediaAttached();
    expect(leg.mediaRestartMs()).toBe(0);
  });

  it('expects no restart when Twilio refused the digits', async () => {
    const { rest } = recordingRest([{ ok: false, message: 'gone' }]);
    const { leg } = legWith(rest);
    expect(await leg.sendDigits('1')).toEqual({ ok: false, message: 'gone' });
    expect(leg.mediaRestartMs()).toBe(0);
  });

  it('without REST credentials: unavailable, and nothing is sent', async () => {
    const { leg } = legWith(undefined);
    expect(leg.unavailable).toBe('Twilio REST credentials are not configured');
    expect(await leg.transfer(testAgent().transfer.targets[0]!)).toEqual({
      ok: false,
      message: 'Twilio REST credentials are not configured',
    });
    await leg.hangup();
    await leg.hangupWithMessage('bye');
  });
});

describe('Twilio leg: media as Media Streams messages', () => {
  function socket(buffered = 0) {
    const sent: string[] = [];
    return {
      sent,
      closed: false,
      bufferedAmount: buffered,
      send(t: string | Buffer) {
        sent.push(t.toString());
      },
      close() {
        this.closed = true;
      },
    };
  }

  it('writes frames, marks and clears as the three outbound messages of the stream', () => {
    const s = socket();
    const out = new TwilioMediaOut('MZ00000000000000000000000000000001', s);
    out.sendAudio(new Uint8Array([0xff, 0x7f, 0x00]));
    out.sendMark('m1');
    out.sendClear();
    expect(s.sent.map((m) => JSON.parse(m))).toEqual([
      { event: 'media', streamSid: 'MZ00000000000000000000000000000001', media: { payload: '/38A' } },
      { event: 'mark', streamSid: 'MZ00000000000000000000000000000001', mark: { name: 'm1' } },
      { event: 'clear', streamSid: 'MZ00000000000000000000000000000001' },
    ]);
    out.close();
    expect(s.closed).toBe(true);
  });

  it('is backlogged past ~5 s of media queued in the socket', () => {
    expect(new TwilioMediaOut('MZ1', socket(256 * 1024)).backlogged()).toBe(false);
    expect(new TwilioMediaOut('MZ1', socket(256 * 1024 + 1)).backlogged()).toBe(true);
  });
});
