import { describe, expect, it } from 'vitest';
import { detectDtmf } from '../../src/audio/index.js';
import { ACCOUNT, simulatorAgainstStandIn, streamTwiml, toneB64, type StandIn } from './simulator-standin.js';

const setup = simulatorAgainstStandIn();

/** Fraction of 20 ms frames in [fromMs, toMs) with audible audio. */
function audibleShare(pcm: Int16Array, fromMs: number, toMs: number): number {
  let loud = 0;
  let frames = 0;
  for (let f = Math.floor(fromMs / 20); f < Math.floor(toMs / 20); f++) {
    let peak = 0;
    for (let i = f * 160; i < (f + 1) * 160 && i < pcm.length; i++) peak = Math.max(peak, Math.abs(pcm[i]!));
    frames++;
    if (peak > 1000) loud++;
  }
  return frames === 0 ? 0 : loud / frames;
}

describe('Twilio simulator: media streams', () => {
  it('posts a signed voice webhook and streams media with string counters over a signed socket', async () => {
    const { standIn, sim } = await setup({ '/twilio/voice': streamTwiml({ agent: 'support' }) });
    standIn.onSocket = (s) => setTimeout(() => s.ws.close(), 600);
    const placedAt = performance.now(); // before the call's clock starts
    const call = sim.placeCall({ to: '+15550001111', from: '+15557654321', maxDurationMs: 5000 });
    const result = await call.done;

    const hook = standIn.webhooks[0]!;
    expect(hook.sigOk).toBe(true);
    expect(hook.path).toBe('/twilio/voice');
    expect(hook.params).toMatchObject({
      CallSid: call.callSid,
      AccountSid: ACCOUNT,
      From: '+15557654321',
      To: '+15550001111',
      CallStatus: 'ringing',
      Direction: 'inbound',
      ApiVersion: '2010-04-01',
    });
    expect(call.callSid).toMatch(/^CA[0-9a-f]{32}$/);

    const sock = standIn.sockets[0]!;
    expect(sock.sigOk).toBe(true);
    const [connected, start, ...rest] = sock.messages;
    expect(connected).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(start).toEqual({
      event: 'start',
      sequenceNumber: '1',
      streamSid: start!.streamSid,
      start: {
        accountSid: ACCOUNT,
        streamSid: start!.streamSid,
        callSid: call.callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: { agent: 'support' },
      },
    });
    expect(start!.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    const media = rest.filter((m) => m.event === 'media');
    expect(media.length).toBeGreaterThan(20); // the socket is closed 600 ms after it opened
    media.forEach((m, i) => {
      expect(m.sequenceNumber).toBe(String(i + 2));
      expect(m.media.chunk).toBe(String(i + 1));
      expect(m.media.timestamp).toBe(String((i + 1) * 20));
      expect(m.media.track).toBe('inbound');
      expect(Buffer.from(m.media.payload, 'base64')).toHaveLength(160);
    });
    // paced at real time, never ahead of it: frame k rides tick k or later of the call's clock,
    // which starts when the call is placed, so the last of n frames arrives at least (n - 1) × 20 ms
    // after placing (a burst sender would send them all at once). A loaded machine only makes it
    // later, and may deliver frames in a catch-up burst: no bound on spacing, none from above.
    const lastAt = sock.times.at(-1)!;
    expect(lastAt - placedAt).toBeGreaterThanOrEqual((media.length - 1) * 20);

    expect(result.endedBy).toBe('twiml-end');
    expect(result.violations).toEqual([]);
    expect(result.streams).toHaveLength(1);
    expect(result.streams[0]).toMatchObject({ streamSid: start!.streamSid, endedBy: 'bridge-close' });
  });

  it('echoes a mark when playback reaches it, and at once when nothing is buffered', async () => {
    const { standIn, sim } = await setup({ '/twilio/voice': streamTwiml() });
    let sentAt = 0;
    let immediateAt = 0;
    standIn.onSocket = (s) => {
      void s
        .waitFor((m) => m.event === 'start')
        .then(() => {
          immediateAt = performance.now();
          s.mark('empty');
          setTimeout(() => {
            sentAt = performance.now();
            for (let i = 0; i < 5; i++) s.media(toneB64(200)); // 1 s in five messages
            s.mark('after-1s');
          }, 100);
        });
    };
    const call = sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 });
    const sock = await waitSocket(standIn);
    const empty = await sock.waitFor((m) => m.event === 'mark' && m.mark.name === 'empty');
    const emptyAt = sock.times[sock.messages.indexOf(empty)]!;
    expect(emptyAt - immediateAt).toBeLessThan(60);
    const played = await sock.waitFor((m) => m.event === 'mark' && m.mark.name === 'after-1s');
    const playedAt = sock.times[sock.messages.indexOf(played)]!;
    expect(played).toEqual({
      event: 'mark',
      sequenceNumber: played.sequenceNumber,
      streamSid: sock.streamSid,
      mark: { name: 'after-1s' },
    });
    expect(playedAt - sentAt).toBeGreaterThan(940);
    expect(playedAt - sentAt).toBeLessThan(1150);
    sock.ws.close();
    const result = await call.done;
    expect(result.streams[0]!.marksEchoed).toBe(2);
    expect(result.streams[0]!.mediaMessages).toBe(5);
    // the caller heard about one second of tone
    const loudMs = audibleShare(result.heard, 0, result.heard.length / 8) * (result.heard.length / 8);
    expect(loudMs).toBeGreaterThan(900);
    expect(loudMs).toBeLessThan(1100);
    expect(result.violations).toEqual([]);
  });

  it('clear drops buffered audio and echoes every pending mark at once', async () => {
    const { standIn, sim } = await setup({ '/twilio/voice': streamTwiml() });
    let clearedAt = 0;
    standIn.onSocket = (s) => {
      void s
        .waitFor((m) => m.event === 'start')
        .then(() => {
          s.media(toneB64(1500));
          s.mark('a');
          s.media(toneB64(1500));
          s.mark('b');
          setTimeout(() => {
            clearedAt = performance.now();
            s.clear();
          }, 400);
        });
    };
    const call = sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 });
    const sock = await waitSocket(standIn);
    const b = await sock.waitFor((m) => m.event === 'mark' && m.mark.name === 'b');
    const marks = sock.messages.filter((m) => m.event === 'mark').map((m) => m.mark.name);
    expect(marks).toEqual(['a', 'b']);
    expect(sock.times[sock.messages.indexOf(b)]! - clearedAt).toBeLessThan(60);
    await new Promise((r) => setTimeout(r, 500));
    sock.ws.close();
    const result = await call.done;
    const s0 = result.streams[0]!;
    expect(s0.clears).toBe(1);
    expect(s0.clearedMs).toBeGreaterThan(2400);
    // tone until the clear (~400 ms into playback), silence after it
    const startMs = s0.startedAtMs;
    expect(audibleShare(result.heard, startMs + 100, startMs + 350)).toBeGreaterThan(0.9);
    expect(audibleShare(result.heard, startMs + 550, startMs + 850)).toBe(0);
    expect(result.timeline.some((e) => e.who === 'bridge' && e.what === 'mark b discarded')).toBe(true);
  });

  it('forwards caller DTMF as dtmf events with the inbound_track track', async () => {
    const { standIn, sim } = await setup({ '/twilio/voice': streamTwiml() });
    const call = sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000, caller: [{ atMs: 300, dtmf: '4#' }] });
    const sock = await waitSocket(standIn);
    const hash = await sock.waitFor((m) => m.event === 'dtmf' && m.dtmf.digit === '#');
    const four = sock.messages.find((m) => m.event === 'dtmf' && m.dtmf.digit === '4')!;
    expect(four).toEqual({
      event: 'dtmf',
      sequenceNumber: four.sequenceNumber,
      streamSid: sock.streamSid,
      dtmf: { track: 'inbound_track', digit: '4' },
    });
    const gap = sock.times[sock.messages.indexOf(hash)]! - sock.times[sock.messages.indexOf(four)]!;
    expect(gap).toBeGreaterThan(120);
    expect(gap).toBeLessThan(250);
    // sequence numbers stay contiguous across media and dtmf
    const seqs = sock.messages.slice(1).map((m) => Number(m.sequenceNumber));
    seqs.forEach((s, i) => expect(s).toBe(i + 1));
    call.hangup();
    const result = await call.done;
    expect(result.endedBy).toBe('caller');
    await sock.waitFor((m) => m.event === 'stop');
  });

  it('sends loud caller audio (noise script) in the media payloads', async () => {
    const { standIn, sim } = await setup({ '/twilio/voice': streamTwiml() });
    const call = sim.placeCall({
      to: '+1',
      from: '+2',
      maxDurationMs: 5000,
      caller: [{ atMs: 200, noiseMs: 400 }, { hangup: true }],
    });
    const result = await call.done;
    expect(result.endedBy).toBe('caller');
    const media = standIn.sockets[0]!.messages.filter((m) => m.event === 'media');
    const loud = media.filter((m) => Buffer.from(m.media.payload, 'base64').some((b: number) => (b & 0x7f) < 0x30));
    expect(loud.length).toBeGreaterThanOrEqual(18);
    expect(loud.length).toBeLessThanOrEqual(22);
    const stop = standIn.sockets[0]!.messages.at(-1)!;
    expect(stop).toEqual({
      event: 'stop',
      sequenceNumber: stop.sequenceNumber,
      streamSid: standIn.sockets[0]!.streamSid,
      stop: { accountSid: ACCOUNT, callSid: call.callSid },
    });
  });

  it('records violations for binary frames, wrong streamSid, extra fields, unknown events and bad base64', async () => {
    const { standIn, sim } = await setup({ '/twilio/voice': streamTwiml() });
    standIn.onSocket = (s) => {
      void s
        .waitFor((m) => m.event === 'start')
        .then(() => {
          const sid = s.streamSid;
          s.ws.send(Buffer.from([1, 2, 3]));
          s.send({ event: 'media', streamSid: 'MZwrong', media: { payload: 'AAAA' } });
          s.send({ event: 'media', streamSid: sid, media: { payload: 'AAAA', track: 'outbound' } });
          s.send({ event: 'mark', streamSid: sid, mark: { name: 'x' }, sequenceNumber: '1' });
          s.send({ event: 'dtmf', streamSid: sid, dtmf: { digit: '1' } });
          s.send({ event: 'media', streamSid: sid, media: { payload: 'not*base64' } });
          s.send('{not json');
          setTimeout(() => s.ws.close(), 200);
        });
    };
    const result = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 }).done;
    const v = result.violations.join('\n');
    expect(result.violations).toHaveLength(7);
    expect(v).toMatch(/31951 binary frame/);
    expect(v).toMatch(/31951 media: wrong streamSid/);
    expect(v).toMatch(/31951 media: unexpected field media\.track/);
    expect(v).toMatch(/31951 mark: unexpected field sequenceNumber/);
    expect(v).toMatch(/31951 unknown outbound event "dtmf"/);
    expect(v).toMatch(/31951 media: payload is not valid base64/);
    expect(v).toMatch(/31951 invalid JSON/);
    expect(result.streams[0]!.mediaMessages).toBe(0);
  });

  it('records a violation when the bridge refuses the socket, then runs the next verb', async () => {
    const twiml = '<Response><Connect><Stream url="wss://bridge.test/twilio/refuse"/></Connect><Hangup/></Response>';
    const { sim, standIn } = await setup({ '/twilio/voice': twiml });
    const res = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 }).done;
    expect(res.violations).toHaveLength(1);
    expect(res.violations[0]).toMatch(/stream connect refused: HTTP 403/);
    expect(res.streams[0]!.endedBy).toBe('connect-failed');
    expect(res.endedBy).toBe('bridge-hangup');
    expect(standIn.sockets).toHaveLength(0);
  });
});

describe('Twilio simulator: TwiML verbs', () => {
  it('<Play digits> is heard as DTMF tones (w = half a second)', async () => {
    const { sim } = await setup({ '/twilio/voice': '<Response><Play digits="ww123#"/><Hangup/></Response>' });
    const result = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 10_000 }).done;
    expect(result.endedBy).toBe('bridge-hangup');
    const hits = detectDtmf(result.heard, 8000);
    expect(hits.map((h) => h.digit).join('')).toBe('123#');
    // Both on the call's media clock (the heard audio's timeline): wall time between two events
    // stretches when a loaded machine delays ticks and then catches up.
    const playAt = result.timeline.find((e) => e.what.startsWith('play digits'))!.tickMs;
    expect(hits[0]!.startMs - playAt).toBeGreaterThan(950);
  });

  it("<Gather> collects the caller's digits and posts them signed to the action", async () => {
    const { standIn, sim } = await setup({
      '/twilio/voice':
        '<Response><Gather input="dtmf" numDigits="4" action="/twilio/gather" timeout="3"><Pause length="1"/></Gather><Say>nothing</Say></Response>',
      '/twilio/gather': '<Response><Hangup/></Response>',
    });
    const result = await sim.placeCall({
      to: '+1',
      from: '+2',
      maxDurationMs: 10_000,
      caller: [{ atMs: 300, dtmf: '1234' }],
    }).done;
    const hook = standIn.webhooks.find((w) => w.path === '/twilio/gather')!;
    expect(hook.sigOk).toBe(true);
    expect(hook.params).toMatchObject({ Digits: '1234', CallStatus: 'in-progress' });
    expect(result.endedBy).toBe('bridge-hangup');
    expect(result.violations).toEqual([]);
  });

  it('<Gather> without input continues with the next verb', async () => {
    const { sim } = await setup({
      '/twilio/voice': '<Response><Gather numDigits="1" action="/twilio/gather" timeout="1"/><Hangup/></Response>',
    });
    const result = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 10_000 }).done;
    expect(result.endedBy).toBe('bridge-hangup');
    expect(result.timeline.some((e) => e.what === 'gather: no input, continuing')).toBe(true);
  });

  it('<Redirect> fetches and follows the next document; a broken one is a parse failure', async () => {
    const { standIn, sim } = await setup({
      '/twilio/voice': '<Response><Redirect>/twilio/next</Redirect><Say>never</Say></Response>',
      '/twilio/next': '<Response><Pause length="1"/><Broken></Response>',
    });
    const result = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 10_000 }).done;
    expect(standIn.webhooks.map((w) => w.path)).toEqual(['/twilio/voice', '/twilio/next']);
    expect(result.violations.join()).toMatch(/12100 document parse failure/);
    expect(result.endedBy).toBe('twiml-end');
  });

  it('a webhook refused with 403 is an application error that ends the call', async () => {
    const { sim } = await setup({});
    const result = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 }).done;
    expect(result.violations.join()).toMatch(/11200 webhook POST \/twilio\/voice answered HTTP 404/);
    expect(result.endedBy).toBe('twiml-end');
  });
});

async function waitSocket(s: StandIn, timeoutMs = 3000) {
  const t0 = Date.now();
  while (s.sockets.length === 0) {
    if (Date.now() - t0 > timeoutMs) throw new Error('no media socket');
    await new Promise((r) => setTimeout(r, 10));
  }
  return s.sockets[0]!;
}
