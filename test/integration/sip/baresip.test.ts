import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import alawmulaw from 'alawmulaw';
import { CALL_RESAMPLER_QUALITY, StreamResampler, writeWav } from '../../../src/audio/index.js';
import { audibleRuns, compareUtterances, strongest, tone, toneSinadDb } from '../../helpers/audio.js';
import {
  GREETING,
  janitor,
  OTHER_HZ,
  startBridgeStack,
  SUPPORT_NUMBER,
  VOICE_HZ,
  voiceMs,
  type BridgeStack,
} from '../../helpers/bridge-stack.js';
import { waitFor } from '../../helpers/harness.js';
import { Baresip, HAVE_BARESIP } from '../../helpers/baresip.js';

/**
 * The bridge against Debian's baresip, a SIP user agent nobody here wrote, on 127.0.0.1 with the
 * offline engine (its voice is a tone per text, so what each side heard can be measured): baresip
 * dials the bridge, plays a WAV file as the caller's voice and records what it receives
 * (`sndfile`); it hangs up, sends RFC 4733 keys, and takes the bridge's BYE.
 */

const HOST = '127.0.0.1';
const RATE = 8000;
const CALLER_HZ = 300;
const randomEven = (lo: number, span: number) => lo + 2 * Math.floor(Math.random() * (span / 2));
const jan = janitor();
afterEach(() => jan.closeAll());

async function sipStack(
  o: { steps?: unknown[]; fallbackWav?: string } = {},
): Promise<BridgeStack & { sipPort: number }> {
  const rtpPort = randomEven(30000, 8000);
  const s = jan.track(
    await startBridgeStack({
      env: { SIP_PORT: '0', SIP_HOST: HOST, RTP_PORT_MIN: String(rtpPort), RTP_PORT_MAX: String(rtpPort + 1) },
      engine: { recordAudio: true },
      ...(o.steps ? { steps: o.steps } : {}),
      tweak: (cfg) => {
        if (o.fallbackWav) {
          const support = cfg.file.agents.find((a) => a.id === 'support')!;
          support.fallback = { ...support.fallback, action: 'hangup', wav: o.fallbackWav };
        }
        cfg.file.sip = {
          trunks: [{ name: 'loopback', allow: ['127.0.0.1/32'], transfer: 'refer' }],
          answer_wait_ms: 5000,
          media_timeout_s: 30,
        };
      },
    }),
  );
  return Object.assign(s, { sipPort: s.bridge.sip!.port });
}

/** `ms` of 8 kHz silence with a tone of `hz` for `toneMs` starting at `atMs`. */
function script(ms: number, at?: { atMs: number; toneMs: number; hz: number }): Int16Array {
  const pcm = new Int16Array((ms * RATE) / 1000);
  if (at) pcm.set(tone(at.hz, at.toneMs, RATE, 6000), (at.atMs * RATE) / 1000);
  return pcm;
}

/** The utterances heard (runs above the audible threshold), each with its pitch among `freqs`. */
function utterances(pcm: Int16Array, rate: number, freqs: number[]) {
  return audibleRuns(pcm, rate).map((r) => ({
    ...r,
    ms: ((r.last - r.first + 1) * 1000) / rate,
    hz: strongest(pcm, r.first, r.last + 1, rate, freqs),
    // the steady middle, clear of the ramps and of the resampler's edges
    sinad: toneSinadDb(
      pcm,
      r.first + Math.round(rate / 50),
      r.last + 1 - Math.round(rate / 50),
      rate,
      strongest(pcm, r.first, r.last + 1, rate, freqs),
    ),
  }));
}

/** the agent's recorded fallback message in the test below: a tone no voice here uses */
const FALLBACK_HZ = 1500;
const FALLBACK_MS = 1200;
const FREQS = [VOICE_HZ.support, OTHER_HZ, CALLER_HZ, 1000, FALLBACK_HZ];

describe.skipIf(!HAVE_BARESIP && !process.env.CI)('the bridge over SIP, against baresip', () => {
  for (const codec of ['PCMU', 'PCMA'] as const) {
    it(
      `${codec}: the agent's voice reaches baresip and baresip's reaches the engine as clean tones; baresip's BYE ends it once`,
      { timeout: 60_000 },
      async () => {
        const s = await sipStack();
        const ua = jan.track(
          await Baresip.start({
            source: { pcm: script(20_000, { atMs: 2000, toneMs: 1000, hz: CALLER_HZ }) },
            codecs: codec,
          }),
        );
        const dialled = await ua.command('dial', `sip:${SUPPORT_NUMBER}@${HOST}:${s.sipPort}`);
        expect(dialled.ok, ua.output).toBe(true);
        await ua.event('CALL_ESTABLISHED');

        // wait until baresip has heard the echo agent's whole answer to its second of speech
        await waitFor(() => {
          const dec = ua.dump('dec');
          if (!dec) return false;
          const u = utterances(dec.pcm, dec.rate, FREQS);
          return u.some((x) => x.hz === OTHER_HZ && x.last < dec.pcm.length - dec.rate / 2);
        }, 30_000);
        expect((await ua.command('hangup')).ok).toBe(true);
        await ua.event('CALL_CLOSED');
        expect(ua.output).toContain(`Set audio encoder: ${codec} 8000Hz`);
        await waitFor(() => s.records.length === 1, 5000);
        expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup', agent: 'support' });
        expect(s.bridge.ctx.registry.size).toBe(0);
        await waitFor(() => s.bridge.sip!.rtpPortsFree === 1, 5000);

        // baresip heard the greeting (500 Hz) then the reply (800 Hz), each a clean tone of its
        // full length, and nothing audible besides: no noise, no clicks between them
        const dec = ua.dump('dec')!;
        expect(dec.rate).toBe(RATE);
        const heard = utterances(dec.pcm, dec.rate, FREQS);
        expect(
          heard.map((u) => u.hz),
          JSON.stringify(heard),
        ).toEqual([VOICE_HZ.support, OTHER_HZ]);
        const [greeting, reply] = heard;
        const underruns = s.records[0]!.playback.replies.map((r) => r.underruns);

        expect(Math.abs(greeting!.ms - voiceMs(GREETING.support)), JSON.stringify(heard)).toBeLessThanOrEqual(20);
        const replyText = s.engine.sessions[0]!.transcripts.find((t) => /I heard you speak/.test(t.text))!.text;
        expect(Math.abs(reply!.ms - voiceMs(replyText)), JSON.stringify(heard)).toBeLessThanOrEqual(
          20 + 20 * (underruns[1] ?? 0),
        );
        // A reply the engine's frames reached late (the bridge counts it as an underrun: on a
        // loaded machine the offline engine shares the cores) has 20 ms of silence inside, which
        // the RTP cadence must carry; only a reply played without one must be a clean tone.
        heard.forEach((u, k) => {
          if ((underruns[k] ?? 0) === 0) expect(u.sinad, JSON.stringify(u)).toBeGreaterThanOrEqual(30);
          else
            console.log(`baresip ${codec}: reply ${k} had ${underruns[k]} underrun(s); SINAD ${u.sinad.toFixed(1)} dB`);
        });

        // the engine heard baresip's second of 300 Hz as one clean tone, and took it as a turn
        const session = s.engine.sessions[0]!;
        expect(session.transcripts.filter((t) => t.role === 'user')).toHaveLength(1);
        const got = Int16Array.from(session.audioReceived!.flatMap((x) => Array.from(x)));
        const said = utterances(got, session.inputRate, FREQS);
        expect(
          said.map((u) => u.hz),
          JSON.stringify(said),
        ).toEqual([CALLER_HZ]);
        expect(Math.abs(said[0]!.ms - 1000)).toBeLessThanOrEqual(25);
        expect(said[0]!.sinad).toBeGreaterThanOrEqual(30);

        // The way up: what baresip sent (its encoder's input, dumped before coding) through
        // G.711 and a one-block resample to the engine's rate is what the engine received
        const enc = ua.dump('enc')!;
        const coded =
          codec === 'PCMU'
            ? alawmulaw.mulaw.decode(alawmulaw.mulaw.encode(enc.pcm))
            : alawmulaw.mulaw.decode(alawmulaw.mulaw.encode(alawmulaw.alaw.decode(alawmulaw.alaw.encode(enc.pcm))));
        const up8k = new StreamResampler(RATE, session.inputRate, { quality: CALL_RESAMPLER_QUALITY, kernel: 'js' })
          .process(coded)
          .slice();
        const up = compareUtterances(up8k, got, session.inputRate);
        expect(up.utterances, JSON.stringify(up)).toBe(1);
        // identical in practice (the streaming resampler and the one-block one agree here); 40 dB
        // leaves room for a rounding difference, not for a lost or repeated packet
        expect(up.worst, JSON.stringify(up)).toBeGreaterThanOrEqual(40);
        console.log(`baresip ${codec}: up SINAD ${up.worst.toFixed(1)} dB against the offline conversion`);
        console.log(
          `baresip ${codec}: greeting SINAD ${greeting!.sinad.toFixed(1)} dB, reply ${reply!.sinad.toFixed(1)} dB; engine heard the caller at ${said[0]!.sinad.toFixed(1)} dB (${session.inputRate} Hz)`,
        );
      },
    );
  }

  it(
    "RFC 4733 keys from baresip reach the call once each; end_call's goodbye is heard in full, then baresip gets the BYE",
    { timeout: 60_000 },
    async () => {
      const GOODBYE = 'You pressed three keys, goodbye.';
      const s = await sipStack({
        steps: [
          { wait_for_dtmf: { count: 3, timeout_ms: 30_000 } },
          { say: GOODBYE, no_wait: true },
          { wait_ms: 300 },
          { verb: 'end_call', call_id: 'e1' },
        ],
      });
      const ua = jan.track(await Baresip.start({ source: { pcm: script(30_000) } }));
      await ua.command('dial', `sip:${SUPPORT_NUMBER}@${HOST}:${s.sipPort}`);
      await ua.event('CALL_ESTABLISHED');
      const session = () => s.engine.sessions[0]!;
      for (const [i, key] of ['1', '2', '3'].entries()) {
        expect((await ua.command('sndcode', key)).ok).toBe(true);
        await waitFor(() => session().dtmf.length === i + 1, 10_000);
      }
      const closed = await ua.event('CALL_CLOSED', 30_000);
      expect(closed.param ?? '').not.toMatch(/timeout/i);
      await waitFor(() => s.records.length === 1, 5000);
      const rec = s.records[0]!;
      expect(rec).toMatchObject({ transport: 'sip', outcome: 'agent_hangup', dtmf: '123' });
      expect(session().dtmf).toEqual(['1', '2', '3']);
      expect(ua.output).toContain("send DTMF digit: '3'");

      const dec = ua.dump('dec')!;
      const heard = utterances(dec.pcm, dec.rate, FREQS);
      const bye = heard.filter((u) => u.hz === OTHER_HZ);
      expect(bye, JSON.stringify(heard)).toHaveLength(1);
      expect(bye[0]!.ms).toBeGreaterThanOrEqual(voiceMs(GOODBYE) - 20); // not cut by the BYE
      expect(bye[0]!.sinad).toBeGreaterThanOrEqual(30);
    },
  );

  it(
    "the agent's fallback.wav is played to the SIP caller in full when the engine is lost, and the BYE comes after it",
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'opb-fallback-'));
      jan.track({ close: () => rmSync(dir, { recursive: true, force: true }) });
      const wavFile = join(dir, 'fallback.wav');
      // 16 kHz on disk: the bridge converts the recording to the call's 8 kHz itself
      writeFileSync(wavFile, writeWav(tone(FALLBACK_HZ, FALLBACK_MS, 16000, 6000), 16000));
      // the engine greets, then refuses the session for good (4403: fatal, no reconnect)
      const s = await sipStack({
        steps: [{ wait_ms: 1500 }, { close: { code: 4403, reason: 'gone' } }],
        fallbackWav: wavFile,
      });
      const ua = jan.track(await Baresip.start({ source: { pcm: script(30_000) } }));
      await ua.command('dial', `sip:${SUPPORT_NUMBER}@${HOST}:${s.sipPort}`);
      await ua.event('CALL_ESTABLISHED');
      // the bridge ends the call (baresip never hangs up here)
      const closed = await ua.event('CALL_CLOSED', 30_000);
      expect(closed.param ?? '').not.toMatch(/timeout/i);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'engine_refused' });

      // baresip heard the greeting, then the recording: the whole tone, clean, and it is the last
      // thing before the BYE (nothing was cut off and nothing played over it)
      const dec = ua.dump('dec')!;
      const heard = utterances(dec.pcm, dec.rate, FREQS);
      expect(
        heard.map((u) => u.hz),
        JSON.stringify(heard),
      ).toEqual([VOICE_HZ.support, FALLBACK_HZ]);
      const fallback = heard[1]!;
      expect(fallback.ms, JSON.stringify(fallback)).toBeGreaterThanOrEqual(FALLBACK_MS - 40);
      expect(fallback.ms, JSON.stringify(fallback)).toBeLessThanOrEqual(FALLBACK_MS + 40);
      expect(fallback.sinad, JSON.stringify(fallback)).toBeGreaterThanOrEqual(30);
      console.log(
        `fallback over SIP: heard ${fallback.ms} ms of ${FALLBACK_HZ} Hz (SINAD ${fallback.sinad.toFixed(1)} dB), then the BYE`,
      );
    },
  );

  it(
    'without a fallback.wav, the fallback message is spoken to the SIP caller, then the BYE',
    { timeout: 60_000 },
    async () => {
      const s = await sipStack({ steps: [{ wait_ms: 1500 }, { close: { code: 4403, reason: 'gone' } }] });
      const ua = jan.track(await Baresip.start({ source: { pcm: script(30_000) } }));
      await ua.command('dial', `sip:${SUPPORT_NUMBER}@${HOST}:${s.sipPort}`);
      await ua.event('CALL_ESTABLISHED');
      const closed = await ua.event('CALL_CLOSED', 30_000);
      expect(closed.param ?? '').not.toMatch(/timeout/i);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'engine_refused' });
      // the greeting, then speech (the synthesizer's words for "Technical difficulties, goodbye.")
      const dec = ua.dump('dec')!;
      const runs = audibleRuns(dec.pcm, dec.rate);
      const after = runs.filter((r) => r.first > runs[0]!.last + dec.rate / 10);
      const spokenMs = after.reduce((ms, r) => ms + ((r.last - r.first + 1) * 1000) / dec.rate, 0);
      console.log(`fallback message over SIP, synthesized: ${Math.round(spokenMs)} ms of speech before the BYE`);
      expect(spokenMs).toBeGreaterThan(800);
    },
  );
});
