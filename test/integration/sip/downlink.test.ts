import { createSocket } from 'node:dgram';
import { existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMulaw } from '../../../src/audio/mulaw.js';
import { parseRtp } from '../../../src/rtp/packet.js';
import { compareUtterances, offlineMulawConversion } from '../../helpers/audio.js';
import { janitor, startBridgeStack, SUPPORT_NUMBER } from '../../helpers/bridge-stack.js';
import { waitFor } from '../../helpers/harness.js';
import { runSipp } from '../../helpers/sipp.js';

/**
 * The way down over SIP, byte for byte: everything the engine said, converted offline (one-block
 * resample, the ITU μ-law coder of alawmulaw), is found sample for sample in the RTP a caller
 * receives — utterance by utterance, since the pauses between replies are the call's. SIPp places
 * the call; its media is this test's socket. The engine sends each reply at once (`burst`), so
 * no underrun can put silence inside a reply however loaded the machine is.
 */

const HOST = '127.0.0.1';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;
const HAVE_SIPP = existsSync('/usr/bin/sipp');
const ENGINE_RATE = 24000;

const jan = janitor();
let dir: string | undefined;
afterEach(async () => {
  await jan.closeAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe.skipIf(!HAVE_SIPP && !process.env.CI)('agent audio to a SIP caller', () => {
  it(
    'is the offline conversion of what the engine sent, sample for sample, in 20 ms packets',
    { timeout: 60_000 },
    async () => {
      const rtpPort = 30000 + 2 * Math.floor(Math.random() * 10000);
      const s = jan.track(
        await startBridgeStack({
          outputRate: ENGINE_RATE,
          engine: { pacing: 'burst', recordAudio: true },
          steps: [{ say: 'Your order has shipped.' }, { say: 'Anything else today?' }],
          env: { SIP_PORT: '0', SIP_HOST: HOST, RTP_PORT_MIN: String(rtpPort), RTP_PORT_MAX: String(rtpPort + 1) },
          tweak: (cfg) => {
            cfg.file.sip = {
              trunks: [{ name: 'loopback', allow: ['127.0.0.1/32'], transfer: 'refer' }],
              answer_wait_ms: 5000,
              media_timeout_s: 30,
            };
          },
        }),
      );
      const sock = createSocket('udp4');
      jan.track(sock);
      await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
      const packets: { seq: number; payload: Buffer }[] = [];
      sock.on('message', (b) => {
        const p = parseRtp(b);
        if (p && p.payloadType === 0) packets.push({ seq: p.sequence, payload: Buffer.from(p.payload) });
      });
      const r = await runSipp({
        scenariosDir: SCENARIOS,
        scenario: 'uac-bridge-call.xml',
        target: `${HOST}:${s.bridge.sip!.port}`,
        service: SUPPORT_NUMBER,
        extra: ['-key', 'rtp_port', String((sock.address() as { port: number }).port)],
      });
      dir = r.dir;
      expect(r.code, r.out).toBe(0);
      await waitFor(() => s.records.length === 1, 5000);

      expect(packets.length).toBeGreaterThan(100);
      expect(packets.every((p) => p.payload.length === 160)).toBe(true);
      // in sequence order (loopback keeps it; a gap would be a lost packet)
      for (let i = 1; i < packets.length; i++) expect((packets[i]!.seq - packets[i - 1]!.seq) & 0xffff).toBe(1);
      const got = decodeMulaw(Buffer.concat(packets.map((p) => p.payload)));

      const sent = Buffer.concat(s.engine.sessions.flatMap((x) => x.audioSent ?? []));
      const pcm = new Int16Array(sent.length >> 1);
      new Uint8Array(pcm.buffer).set(sent.subarray(0, pcm.length * 2));
      const ref = offlineMulawConversion(pcm, ENGINE_RATE);
      const cmp = compareUtterances(ref, got, 8000);
      // the greeting and both sentences, each found and identical
      console.info(`SIP downlink: ${JSON.stringify(cmp)}; reference ${ref.length} samples`);
      expect(cmp.utterances).toBeGreaterThanOrEqual(1);
      expect(cmp.differ).toBe(0);
      expect(cmp.compared).toBeGreaterThan(8000);
    },
  );
});
