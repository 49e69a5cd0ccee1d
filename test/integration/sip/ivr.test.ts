import { createSocket } from 'node:dgram';
import { existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMulaw } from '../../../src/audio/mulaw.js';
import { planDigit } from '../../../src/rtp/dtmf-plan.js';
import { buildRtp, parseRtp } from '../../../src/rtp/packet.js';
import { strongest } from '../../helpers/audio.js';
import { janitor, OTHER_HZ, startBridgeStack, VOICE_HZ } from '../../helpers/bridge-stack.js';
import { waitFor } from '../../helpers/harness.js';
import { runSipp } from '../../helpers/sipp.js';

/**
 * An IVR number over SIP: SIPp places the call (its media is this test's socket), the bridge
 * answers and speaks the menu's prompt, and the caller's RFC 4733 key chooses the agent; no key
 * in time gives the menu's default. Which agent took the call is heard (each agent's greeting has
 * its own pitch) and recorded.
 */

const HOST = '127.0.0.1';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;
const HAVE_SIPP = existsSync('/usr/bin/sipp');
const IVR_NUMBER = '+15550003333';

const jan = janitor();
const dirs: string[] = [];
afterEach(async () => {
  await jan.closeAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function ivrCall(key: string | undefined) {
  const rtpPort = 30000 + 2 * Math.floor(Math.random() * 10000);
  const s = jan.track(
    await startBridgeStack({
      env: { SIP_PORT: '0', SIP_HOST: HOST, RTP_PORT_MIN: String(rtpPort), RTP_PORT_MAX: String(rtpPort + 1) },
      tweak: (cfg) => {
        cfg.file.sip = {
          trunks: [{ name: 'loopback', allow: ['127.0.0.1/32'], transfer: 'refer' }],
          answer_wait_ms: 5000,
          media_timeout_s: 30,
        };
        cfg.file.numbers[IVR_NUMBER] = {
          ivr: {
            prompt: { say: 'For sales, press one.' },
            options: { '1': { agent: 'sales' } },
            timeout_s: 2,
            max_attempts: 1,
            invalid_say: 'Sorry.',
            default: { agent: 'support' },
          },
        };
      },
    }),
  );
  const sock = createSocket('udp4');
  jan.track(sock);
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  const heard: { at: number; pcm: Int16Array }[] = [];
  let promptAt: number | undefined;
  let keyedAt: number | undefined;
  let seq = 1;
  let ts = 0;
  sock.on('message', (b) => {
    const p = parseRtp(b);
    if (!p || p.payloadType !== 0) return;
    const pcm = decodeMulaw(p.payload);
    heard.push({ at: performance.now(), pcm });
    let e = 0;
    for (const v of pcm) e += Math.abs(v);
    if (e / pcm.length > 300) promptAt ??= performance.now();
  });
  // the caller: silence, and its key as RFC 4733 events once the prompt has begun
  const events = key ? planDigit(key)! : [];
  const timer = setInterval(() => {
    if (promptAt !== undefined && performance.now() - promptAt > 500 && events.length > 0) {
      const e = events.shift()!;
      keyedAt ??= performance.now();
      sock.send(
        buildRtp({
          marker: e.marker,
          payloadType: 101,
          sequence: seq++,
          timestamp: 50_000,
          ssrc: 7,
          payload: e.payload,
        }),
        rtpPort,
        HOST,
      );
      return;
    }
    const payload = Buffer.alloc(160, 0xff);
    sock.send(
      buildRtp({ marker: false, payloadType: 0, sequence: seq++, timestamp: ts, ssrc: 7, payload }),
      rtpPort,
      HOST,
    );
    ts += 160;
  }, 20);
  jan.track({ close: () => clearInterval(timer) });
  const r = await runSipp({
    scenariosDir: SCENARIOS,
    scenario: 'uac-talk-10s.xml',
    target: `${HOST}:${s.bridge.sip!.port}`,
    service: IVR_NUMBER,
    extra: ['-key', 'rtp_port', String((sock.address() as { port: number }).port)],
  });
  dirs.push(r.dir);
  clearInterval(timer);
  expect(r.code, r.out).toBe(0);
  await waitFor(() => s.records.length === 1, 5000);
  return { s, heard, promptAt, keyedAt };
}

/** 20 ms frames of the agents' greeting pitches heard after `from` (performance.now()). */
function greetingFrames(heard: { at: number; pcm: Int16Array }[], from: number, hz: number): number {
  return heard.filter((h) => {
    if (h.at < from) return false;
    let e = 0;
    for (const v of h.pcm) e += Math.abs(v);
    return (
      e / h.pcm.length > 500 && strongest(h.pcm, 0, 160, 8000, [VOICE_HZ.support, VOICE_HZ.sales, OTHER_HZ]) === hz
    );
  }).length;
}

describe.skipIf(!HAVE_SIPP && !process.env.CI)('an IVR number over SIP', () => {
  it(
    'speaks the prompt, and the key chooses the agent, which takes the call on the same dialog',
    { timeout: 60_000 },
    async () => {
      const { s, heard, promptAt, keyedAt } = await ivrCall('1');
      expect(promptAt).toBeDefined(); // the prompt was heard before any agent
      expect(keyedAt).toBeDefined();
      expect(s.records[0]).toMatchObject({ agent: 'sales', transport: 'sip', outcome: 'caller_hangup' });
      expect(greetingFrames(heard, keyedAt!, VOICE_HZ.sales)).toBeGreaterThanOrEqual(5);
      // after the key has cut the prompt short (the frames in flight aside), only the chosen agent speaks
      expect(greetingFrames(heard, keyedAt! + 300, VOICE_HZ.support)).toBe(0);
      expect(s.logs.find('SIP IVR input')[0]).toMatchObject({ choice: '1' });
    },
  );

  it("gives the menu's default when no key comes in time", { timeout: 60_000 }, async () => {
    const { s, heard, promptAt } = await ivrCall(undefined);
    expect(promptAt).toBeDefined();
    expect(s.records[0]).toMatchObject({ agent: 'support', outcome: 'caller_hangup' });
    expect(greetingFrames(heard, promptAt!, VOICE_HZ.support)).toBeGreaterThanOrEqual(5);
    expect(s.logs.find('SIP IVR input')[0]).toMatchObject({ choice: 'none' });
  });
});
