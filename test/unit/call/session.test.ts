/**
 * CallSession over the in-memory leg (test/helpers/memory-leg.ts), an in-process engine and a
 * manual clock: the call's behaviour with no socket and no real time. What the caller hears is
 * what the session handed the leg; what the carrier did is what the leg was asked.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LEG_FRAME_BYTES } from '../../../src/call/leg.js';
import { encodeMulaw } from '../../../src/audio/index.js';
import { MemoryMedia } from '../../helpers/memory-leg.js';
import { sessionRig, testAgent, tone } from '../../helpers/session-rig.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('CallSession over a telephony leg', () => {
  it('sends agent audio to the leg as 20 ms μ-law frames (a reply ends on its one short frame)', async () => {
    const { engine, media, advance } = await sessionRig();
    engine.say(tone(410)); // 410 ms: 20 whole frames and a 10 ms tail
    await advance(1000);
    const chunks = media.sent.flatMap((s) => (s.kind === 'audio' ? [s.bytes.length] : []));
    expect(chunks.length).toBeGreaterThan(0);
    // every chunk is whole frames, but the reply's last
    for (const n of chunks.slice(0, -1)) expect(n % LEG_FRAME_BYTES).toBe(0);
    const total = media.audio.length;
    expect(total).toBeGreaterThanOrEqual(400 * 8);
    expect(total).toBeLessThanOrEqual(410 * 8);
    // audible: the tone, not silence
    const silence = encodeMulaw(new Int16Array(1))[0]!;
    expect(media.audio.filter((b) => b !== silence).length).toBeGreaterThan(total / 2);
    expect(media.count('clear')).toBe(0);
  });

  it('paces the leg: no more than the lead ahead of the playout, the rest as the clock runs', async () => {
    const { engine, media, advance, session } = await sessionRig();
    const lead = session.deps.settings.playback_lead_ms;
    engine.say(tone(3000));
    await advance(20);
    expect(media.audio.length).toBeLessThanOrEqual((lead + 20 + 200) * 8);
    await advance(1000);
    const after1s = media.audio.length;
    expect(after1s).toBeGreaterThan(1000 * 8);
    expect(after1s).toBeLessThanOrEqual((1020 + lead + 200) * 8);
  });

  it('sends clear on a barge-in, and nothing more of the interrupted reply', async () => {
    const { engine, media, advance, records, session } = await sessionRig();
    engine.say(tone(5000));
    await advance(300);
    const before = media.audio.length;
    engine.event({ type: 'barge_in' });
    expect(media.count('clear')).toBe(1);
    await advance(1000);
    expect(media.audio.length).toBe(before);
    expect(session.isEnded).toBe(false);
    expect(records).toEqual([]);
  });

  it('forwards caller DTMF to the engine, and caller audio at the engine rate', async () => {
    const { engine, media } = await sessionRig();
    media.dtmf('5');
    media.dtmf('#');
    expect(engine.dtmf).toEqual(['5', '#']);
    media.media(new Uint8Array(160).fill(0xff), 0);
    media.media(new Uint8Array(160).fill(0xff), 20);
    const samples = engine.heard.reduce((n, f) => n + f.length, 0);
    expect(samples).toBeGreaterThan(0);
    expect(samples % 480).toBe(0); // 20 ms frames at 24 kHz
  });

  it('hangs up through the leg after the goodbye has played (end_call), and ends the call once', async () => {
    const { engine, media, leg, advance, session, records } = await sessionRig();
    engine.say(tone(800));
    engine.event({ type: 'end_call', callId: 'e1' });
    await advance(400);
    expect(leg.kinds()).toEqual([]); // the goodbye is still playing
    expect(session.isEnded).toBe(false);
    await advance(1500);
    expect(leg.kinds()).toEqual(['hangup']);
    expect(session.isEnded).toBe(true);
    expect(records.map((r) => r.outcome)).toEqual(['agent_hangup']);
    expect(engine.toolResults).toEqual([{ callId: 'e1', name: 'end_call', output: { status: 'ending' } }]);
    expect(media.audio.length).toBeGreaterThanOrEqual(790 * 8);
    expect(media.closed).toBe(true);
  });

  it('waits for the goodbye only as long as the caller has not heard it: unheard marks hold the hang-up', async () => {
    const { engine, leg, advance } = await sessionRig();
    engine.say(tone(400));
    engine.event({ type: 'end_call', callId: 'e1' });
    await advance(2000, false); // audio sent, marks never echoed: not yet played
    expect(leg.kinds()).toEqual([]);
    await advance(200); // the caller's playout confirms it
    expect(leg.kinds()).toEqual(['hangup']);
  });

  it("calls the leg's transfer with the agent's target after its last words, and ends as transferred", async () => {
    const { engine, leg, advance, session, records } = await sessionRig();
    engine.say(tone(600));
    engine.event({ type: 'transfer_to_human', destination: 'desk', callId: 't1', raw: {} });
    await advance(200);
    expect(leg.kinds()).toEqual([]);
    await advance(1500);
    expect(leg.actions).toEqual([
      { kind: 'transfer', target: { name: 'desk', kind: 'number', value: '+15550100200' } },
    ]);
    expect(session.isEnded).toBe(true);
    expect(records.map((r) => r.outcome)).toEqual(['transferred']);
    expect(engine.toolResults[0]).toMatchObject({
      callId: 't1',
      output: { status: 'transferring', destination: 'desk', used_default: false },
    });
  });

  it('keeps the call with the agent when the leg refuses the transfer, and tells the agent why', async () => {
    const { engine, leg, advance, session } = await sessionRig();
    leg.answer = { ok: false, message: 'busy here' };
    engine.event({ type: 'transfer_to_human', destination: 'desk', callId: 't1', raw: {} });
    await advance(400);
    expect(leg.kinds()).toEqual(['transfer']);
    expect(session.isEnded).toBe(false);
    expect(session.control.busy).toBe(false);
    expect(engine.toolResults).toEqual([
      { callId: 't1', name: 'transfer_to_human', output: { error: 'transfer_failed: busy here' } },
    ]);
  });

  it('cancels a transfer the caller barges in over: the leg is never asked', async () => {
    const { engine, leg, advance, session } = await sessionRig();
    engine.say(tone(2000));
    engine.event({ type: 'transfer_to_human', callId: 't1', raw: {} });
    await advance(300);
    engine.event({ type: 'barge_in' });
    await advance(500);
    expect(leg.kinds()).toEqual([]);
    expect(session.isEnded).toBe(false);
    expect(engine.toolResults[0]?.output).toEqual({ error: 'transfer_aborted: the caller interrupted' });
  });

  it('answers with no_rest when the leg cannot act on the call, without waiting or ending it', async () => {
    const { engine, leg, advance, session } = await sessionRig();
    leg.unavailable = 'no control here';
    engine.event({ type: 'transfer_to_human', callId: 't1', raw: {} });
    await advance(20);
    expect(leg.kinds()).toEqual([]);
    expect(session.isEnded).toBe(false);
    expect(engine.toolResults[0]?.output).toEqual({ error: 'transfer_failed: no control here' });
  });

  it('sends DTMF out of band through the leg in play_digits mode, after the agent has finished', async () => {
    const { engine, leg, advance } = await sessionRig(testAgent('send_dtmf_mode: play_digits'));
    engine.say(tone(300));
    engine.event({ type: 'send_dtmf', digits: '12a#', callId: 'd1' });
    await advance(100);
    expect(leg.kinds()).toEqual([]);
    await advance(800);
    expect(leg.actions).toEqual([{ kind: 'digits', digits: '12A#' }]);
    expect(engine.toolResults[0]?.output).toEqual({ status: 'sent', digits: '12A#', mode: 'play_digits' });
  });

  it('sends DTMF in band as tones on the media, never through the leg, in inband mode', async () => {
    const { engine, leg, media, advance } = await sessionRig();
    engine.event({ type: 'send_dtmf', digits: '1', callId: 'd1' });
    await advance(1500);
    expect(leg.kinds()).toEqual([]);
    expect(media.audio.length).toBeGreaterThan(0);
    expect(engine.toolResults[0]?.output).toEqual({ status: 'sent', digits: '1' });
  });

  it('collects caller digits for the engine and answers the collect verb', async () => {
    const { engine, media } = await sessionRig();
    engine.event({ type: 'collect', kind: 'dtmf', field: 'pin', numDigits: 3, callId: 'c1' });
    for (const d of '123') media.dtmf(d);
    expect(engine.dtmf).toEqual(['1', '2', '3']); // the engine still hears every key
    expect(engine.toolResults[0]).toMatchObject({
      callId: 'c1',
      output: { field: 'pin', value: '123', reason: 'num_digits' },
    });
  });

  it('an operator hang-up clears the agent at once and hangs up through the leg, without waiting', async () => {
    const { engine, media, leg, advance, session, records } = await sessionRig();
    engine.say(tone(5000));
    await advance(200);
    await session.control.operatorHangup('console');
    expect(media.count('clear')).toBe(1);
    expect(leg.kinds()).toEqual(['hangup']);
    expect(records.map((r) => r.outcome)).toEqual(['operator_hangup']);
  });

  it("the fallback says the agent's message and hangs up through the leg when the engine is lost", async () => {
    const { engine, leg, advance, records } = await sessionRig();
    engine.emit('lost', { code: 1011, reason: 'gone', fatal: false, cause: 'closed' });
    await advance(20);
    expect(leg.actions).toEqual([{ kind: 'hangup_with_message', message: testAgent().fallback.message }]);
    expect(records.map((r) => r.outcome)).toEqual(['engine_lost']);
  });

  it('waits for the next stream when the leg expects its media to restart, and the agent goes on there', async () => {
    const { engine, media, leg, session, records, advance } = await sessionRig();
    leg.restartMs = 5000;
    media.stop('stop');
    expect(session.isEnded).toBe(false);
    await advance(1000);
    const next = new MemoryMedia('MZ00000000000000000000000000000002', session);
    session.attachStream(next);
    expect(leg.mediaRestartMs()).toBe(0);
    expect(session.streamSid).toBe('MZ00000000000000000000000000000002');
    engine.say(tone(200));
    await advance(500);
    expect(next.audio.length).toBeGreaterThanOrEqual(190 * 8);
    expect(records).toEqual([]);
  });

  it('ends as no_stream when an expected restart never comes', async () => {
    const { media, leg, session, records, advance } = await sessionRig();
    leg.restartMs = 2000;
    media.stop('stop');
    await advance(2100);
    expect(session.isEnded).toBe(true);
    expect(records.map((r) => r.outcome)).toEqual(['no_stream']);
  });

  it('ends as caller_hangup when the leg reports its stream stopped by the far end', async () => {
    const { media, leg, session, records } = await sessionRig();
    media.stop('stop');
    expect(session.isEnded).toBe(true);
    expect(leg.kinds()).toEqual([]); // the caller hung up: nothing to ask the carrier
    expect(records.map((r) => r.outcome)).toEqual(['caller_hangup']);
  });
});

describe("the call's phase over a telephony leg", () => {
  /** the console's state of the call now (what its page shows) */
  function consoleState(rig: Awaited<ReturnType<typeof sessionRig>>): string | undefined {
    const feed = rig.feeds.get(rig.session.callSid);
    feed?.sample(false);
    return feed?.state;
  }

  it('a call the caller hangs up: connecting → streaming → ended, as caller_hangup', async () => {
    const rig = await sessionRig();
    const { engine, media, session, phases, advance } = rig;
    expect(consoleState(rig)).toBe('listening'); // streaming (this agent has no greeting)
    engine.say(tone(200));
    await advance(400);
    media.stop('stop');
    expect(phases).toEqual(['connecting', 'streaming', 'ended']);
    expect(session.phase).toBe('ended');
    expect(session.outcome).toBe('caller_hangup');
    expect(rig.records.map((r) => r.outcome)).toEqual(['caller_hangup']);
  });

  it('end_call: streaming → ending (the goodbye plays) → ended, as agent_hangup', async () => {
    const rig = await sessionRig();
    const { engine, session, phases, advance } = rig;
    engine.say(tone(600));
    engine.event({ type: 'end_call', callId: 'e1' });
    await advance(200);
    expect(session.phase).toBe('ending');
    expect(consoleState(rig)).toBe('ending');
    await advance(1500);
    expect(phases).toEqual(['connecting', 'streaming', 'ending', 'ended']);
    expect(session.outcome).toBe('agent_hangup');
  });

  it('a transfer: streaming → transferring → ended, as transferred', async () => {
    const rig = await sessionRig();
    const { engine, session, phases, advance } = rig;
    engine.say(tone(400));
    engine.event({ type: 'transfer_to_human', destination: 'desk', callId: 't1', raw: {} });
    await advance(100);
    expect(session.phase).toBe('transferring');
    expect(consoleState(rig)).toBe('transferring');
    await advance(1500);
    expect(phases).toEqual(['connecting', 'streaming', 'transferring', 'ended']);
    expect(session.outcome).toBe('transferred');
  });

  it('a transfer the leg refuses gives the call back: transferring → streaming', async () => {
    const { engine, leg, session, phases, advance } = await sessionRig();
    leg.answer = { ok: false, message: 'busy here' };
    engine.event({ type: 'transfer_to_human', destination: 'desk', callId: 't1', raw: {} });
    await advance(400);
    expect(phases).toEqual(['connecting', 'streaming', 'transferring', 'streaming']);
    expect(session.control.busy).toBe(false);
  });

  it.each([
    ['stop', 'caller_hangup'],
    ['closed', 'stream_closed'],
  ] as const)(
    'a transfer refused after its stream ended (%s) ends the call from transferring, as %s',
    async (why, outcome) => {
      const { engine, leg, media, session, phases, advance } = await sessionRig();
      let answer: (r: { ok: false; message: string }) => void = () => undefined;
      leg.transfer = (target) => {
        leg.actions.push({ kind: 'transfer', target });
        return new Promise((r) => (answer = r));
      };
      engine.event({ type: 'transfer_to_human', destination: 'desk', callId: 't1', raw: {} });
      await advance(100);
      expect(leg.kinds()).toEqual(['transfer']);
      // the stream ends before the leg's answer (a caller's BYE or stop; a dropped socket): the transfer still owns the call
      media.stop(why);
      expect(session.phase).toBe('transferring');
      answer({ ok: false, message: 'no' });
      await advance(20);
      expect(phases).toEqual(['connecting', 'streaming', 'transferring', 'ended']);
      expect(session.outcome).toBe(outcome);
    },
  );

  it("<Play digits>: streaming → awaiting_restart → streaming on the leg's next stream", async () => {
    const rig = await sessionRig(testAgent('send_dtmf_mode: play_digits'));
    const { engine, leg, media, session, phases, advance } = rig;
    engine.event({ type: 'send_dtmf', digits: '12', callId: 'd1' });
    await advance(100);
    expect(leg.actions).toEqual([{ kind: 'digits', digits: '12' }]);
    leg.restartMs = 5000; // the leg's <Play> ends the stream and opens a new one
    media.stop('stop');
    expect(session.phase).toBe('awaiting_restart');
    expect(consoleState(rig)).toBe('restarting');
    await advance(1000);
    const next = new MemoryMedia('MZ00000000000000000000000000000002', session);
    session.attachStream(next);
    expect(session.phase).toBe('streaming');
    next.stop('stop');
    expect(phases).toEqual(['connecting', 'streaming', 'awaiting_restart', 'streaming', 'ended']);
    expect(session.outcome).toBe('caller_hangup');
  });

  it('play_hold: streaming → on_hold while the hold plays → streaming when its time is up', async () => {
    const rig = await sessionRig();
    const { engine, media, session, phases, advance } = rig;
    engine.event({ type: 'play_hold', seconds: 1, callId: 'h1' });
    expect(session.phase).toBe('on_hold');
    expect(consoleState(rig)).toBe('holding');
    await advance(500);
    expect(session.phase).toBe('on_hold');
    expect(media.audio.length).toBeGreaterThan(0); // the caller hears the hold audio
    await advance(1000);
    expect(session.phase).toBe('streaming');
    expect(phases).toEqual(['connecting', 'streaming', 'on_hold', 'streaming']);
  });

  it("the agent's audio ends a hold, and an engine reconnect holds the caller until it is back", async () => {
    const { engine, session, phases, advance } = await sessionRig();
    engine.event({ type: 'play_hold', callId: 'h1' }); // no time: until the agent speaks
    await advance(200);
    expect(session.phase).toBe('on_hold');
    engine.say(tone(200));
    expect(session.phase).toBe('streaming');
    await advance(400);
    engine.emit('reconnecting', 1);
    expect(session.phase).toBe('on_hold');
    engine.emit('ready');
    await advance(200); // the hold fades out, then ends
    expect(phases).toEqual(['connecting', 'streaming', 'on_hold', 'streaming', 'on_hold', 'streaming']);
  });

  it('a pre-connected call is connecting until its stream comes, then streaming', async () => {
    const rig = await sessionRig(testAgent(), { attach: false });
    const { session, media, phases, advance } = rig;
    session.awaitStream(3000, 'preconnect');
    await advance(1000);
    expect(session.phase).toBe('connecting');
    expect(consoleState(rig)).toBe('connecting');
    session.attachStream(media);
    await advance(3000);
    expect(phases).toEqual(['connecting', 'streaming']);
  });

  it('a pre-connected call whose stream never comes ends from connecting, as no_stream', async () => {
    const { session, phases, advance } = await sessionRig(testAgent(), { attach: false });
    session.awaitStream(3000, 'preconnect');
    await advance(3100);
    expect(phases).toEqual(['connecting', 'ended']);
    expect(session.outcome).toBe('no_stream');
  });

  it("an operator's hang-up: streaming → ending → ended, as operator_hangup", async () => {
    const { session, phases, advance } = await sessionRig();
    await session.control.operatorHangup('console');
    await advance(20);
    expect(phases).toEqual(['connecting', 'streaming', 'ending', 'ended']);
    expect(session.outcome).toBe('operator_hangup');
  });

  it('the fallback after a lost engine: streaming → ending → ended, as engine_lost', async () => {
    const { engine, session, phases, advance } = await sessionRig();
    engine.emit('lost', { code: 1011, reason: 'gone', fatal: false, cause: 'closed' });
    await advance(20);
    expect(phases).toEqual(['connecting', 'streaming', 'ending', 'ended']);
    expect(session.outcome).toBe('engine_lost');
  });
});
