import { createSocket, type Socket } from 'node:dgram';
import { existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw } from '../../../src/audio/mulaw.js';
import { planDigit } from '../../../src/rtp/dtmf-plan.js';
import { buildRtp, parseRtp, type RtpPacket } from '../../../src/rtp/packet.js';
import { strongest, tone } from '../../helpers/audio.js';
import { janitor, startBridgeStack, SUPPORT_NUMBER, type BridgeStack } from '../../helpers/bridge-stack.js';
import { waitFor } from '../../helpers/harness.js';
import { runSipp, type SippRun } from '../../helpers/sipp.js';

/**
 * `transfer: invite` (a trunk that refuses REFER): the bridge calls the human itself and joins the
 * two legs' RTP. Both SIP peers are Debian's SIPp (the caller a UAC, the human a UAS); each side's
 * media is this test's own UDP socket, named in its SDP, so what crosses the join is checked byte
 * for byte and by pitch, both ways.
 */

const HOST = '127.0.0.1';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;
const HAVE_SIPP = existsSync('/usr/bin/sipp');
const randomEven = (lo: number, span: number) => lo + 2 * Math.floor(Math.random() * (span / 2));
const CALLER_HZ = 300;
const HUMAN_HZ = 1200;
const CALLER_SSRC = 4242;
const HUMAN_SSRC = 9999;

const jan = janitor();
const dirs: string[] = [];
afterEach(async () => {
  await jan.closeAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function udp(): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, HOST, () => r()));
  jan.track(socket);
  return { socket, port: (socket.address() as { port: number }).port };
}

interface Heard {
  p: RtpPacket;
  payload: Buffer;
}

/**
 * One side's RTP, 20 ms apart. `send` says what to send now (silence until the other side is
 * heard through the join, then a tone); every packet sent is kept by sequence number.
 */
function rtpSide(
  sock: Socket,
  o: {
    ssrc: number;
    hz: number;
    to?: () => { port: number } | undefined;
    /** presses this key (RFC 4733) `afterMs` after the first audible packet heard */
    key?: { digit: string; afterMs: number };
  },
) {
  const heard: Heard[] = [];
  const sent = new Map<number, Buffer>();
  const speech = encodeMulaw(tone(o.hz, 4000, 8000, 6000));
  let peer: { port: number } | undefined;
  let joined = false;
  let seq = 100;
  let ts = 1000;
  let frame = 0;
  let audibleAt: number | undefined;
  const events = o.key ? planDigit(o.key.digit)! : [];
  sock.on('message', (b, rinfo) => {
    const p = parseRtp(b);
    if (!p) return;
    peer ??= { port: rinfo.port }; // symmetric: answer where the bridge sends from
    heard.push({ p, payload: Buffer.from(p.payload) });
    if (p.ssrc === CALLER_SSRC || p.ssrc === HUMAN_SSRC) joined = true;
    if (audibleAt === undefined && loudness(p.payload) > 300) audibleAt = performance.now();
  });
  const timer = setInterval(() => {
    const to = o.to?.() ?? peer;
    if (!to) return;
    if (o.key && audibleAt !== undefined && performance.now() - audibleAt > o.key.afterMs && events.length > 0) {
      const e = events.shift()!;
      sock.send(
        buildRtp({
          marker: e.marker,
          payloadType: 96,
          sequence: seq++ & 0xffff,
          timestamp: 90_000,
          ssrc: o.ssrc,
          payload: e.payload,
        }),
        to.port,
        HOST,
      );
      return;
    }
    const payload =
      joined && frame < speech.length / 160
        ? Buffer.from(speech.subarray(frame * 160, ++frame * 160))
        : Buffer.alloc(160, 0xff);
    const s = seq++ & 0xffff;
    sent.set(s, payload);
    sock.send(
      buildRtp({ marker: false, payloadType: 0, sequence: s, timestamp: ts, ssrc: o.ssrc, payload }),
      to.port,
      HOST,
    );
    ts += 160;
  }, 20);
  jan.track({ close: () => clearInterval(timer) });
  return { heard, sent, stop: () => clearInterval(timer) };
}

const loudness = (payload: Buffer) => {
  const pcm = decodeMulaw(payload);
  let e = 0;
  for (const v of pcm) e += Math.abs(v);
  return e / pcm.length;
};

/** Packets of `ssrc` whose audio is the tone `hz` rather than `other` (loud ones only). */
function toneFrames(heard: Heard[], ssrc: number, hz: number, other: number): number {
  let n = 0;
  for (const h of heard) {
    if (h.p.ssrc !== ssrc) continue;
    const pcm = decodeMulaw(h.payload);
    let e = 0;
    for (const v of pcm) e += Math.abs(v);
    if (e / pcm.length > 500 && strongest(pcm, 0, pcm.length, 8000, [hz, other]) === hz) n++;
  }
  return n;
}

async function stack(
  humanPort: number,
  timeoutS = 10,
  warm = false,
): Promise<BridgeStack & { rtpPort: number; sipPort: number }> {
  const rtpPort = randomEven(30000, 20000);
  const s = jan.track(
    await startBridgeStack({
      env: { SIP_PORT: '0', SIP_HOST: HOST, RTP_PORT_MIN: String(rtpPort), RTP_PORT_MAX: String(rtpPort + 3) },
      steps: [
        { say: 'Let me put you through.' },
        { verb: 'transfer_to_human', args: { reason: 'asked for a human' }, call_id: 't1', await_result: true },
      ],
      support: {
        transfer: {
          targets: [
            {
              name: 'desk',
              kind: 'sip',
              value: `sip:human@${HOST}:${humanPort}`,
              ...(warm
                ? { mode: 'warm', whisper: 'A caller about {reason}.', accept_key: '1', ring_timeout_s: 10 }
                : {}),
            },
          ],
          default: 'desk',
          timeout_s: timeoutS,
        },
      },
      tweak: (cfg) => {
        cfg.file.sip = {
          trunks: [{ name: 'pbx', allow: ['127.0.0.1/32'], transfer: 'invite' }],
          answer_wait_ms: 5000,
          media_timeout_s: 30,
        };
      },
    }),
  );
  return Object.assign(s, { rtpPort, sipPort: s.bridge.sip!.port });
}

function sipp(scenario: string, target: string, extra: string[], localPort?: number): Promise<SippRun> {
  return runSipp({
    scenariosDir: SCENARIOS,
    scenario,
    target,
    service: SUPPORT_NUMBER,
    extra,
    ...(localPort ? { localPort } : {}),
  }).then((r) => {
    dirs.push(r.dir);
    return r;
  });
}

/**
 * One transfer call: the bridge (the human's target at SIPp's UAS port), the caller's and (when the
 * human answers with media) the human's RTP sockets, then SIPp as the human and as the caller,
 * run to their ends.
 */
async function transferCall(o: {
  human: string;
  caller?: string;
  timeoutS?: number;
  warm?: boolean;
  /** false: the human's scenario never answers with media */
  humanMedia?: boolean;
  humanKey?: { digit: string; afterMs: number };
}) {
  const humanSip = randomEven(21000, 8000) + 1;
  const s = await stack(humanSip, o.timeoutS ?? 10, o.warm ?? false);
  const callerRtp = await udp();
  const caller = rtpSide(callerRtp.socket, { ssrc: CALLER_SSRC, hz: CALLER_HZ, to: () => ({ port: s.rtpPort }) });
  const humanRtp = o.humanMedia === false ? undefined : await udp();
  const human = humanRtp
    ? rtpSide(humanRtp.socket, { ssrc: HUMAN_SSRC, hz: HUMAN_HZ, ...(o.humanKey ? { key: o.humanKey } : {}) })
    : undefined;
  const target = `${HOST}:${s.sipPort}`;
  const humanRun = sipp(o.human, target, humanRtp ? ['-key', 'rtp_port', String(humanRtp.port)] : [], humanSip);
  const callerRun = await sipp(o.caller ?? 'uac-talk-10s.xml', target, ['-key', 'rtp_port', String(callerRtp.port)]);
  const humanDone = await humanRun;
  caller.stop();
  human?.stop();
  return { s, caller, human: human!, callerRun, humanDone };
}

describe.skipIf(!HAVE_SIPP && !process.env.CI)('transfer over SIP by a second leg (B2BUA), against SIPp', () => {
  it(
    'joins caller and human: each hears the other byte for byte, the agent session ends, and the caller hanging up hangs up the human',
    { timeout: 90_000 },
    async () => {
      const { s, caller, callerRun, humanDone, human } = await transferCall({ human: 'uas-human.xml' });
      expect(callerRun.code, callerRun.out).toBe(0); // no BYE from the bridge before the caller's own
      expect(humanDone.code, humanDone.out).toBe(0); // answered, then BYEd by the bridge once the caller left

      // each side heard the other's voice through the join, at least half a second of it
      expect(toneFrames(human.heard, CALLER_SSRC, CALLER_HZ, HUMAN_HZ)).toBeGreaterThanOrEqual(25);
      expect(toneFrames(caller.heard, HUMAN_SSRC, HUMAN_HZ, CALLER_HZ)).toBeGreaterThanOrEqual(25);
      // relayed unchanged: every packet of the caller the human got is the very packet the caller sent
      const relayed = human.heard.filter((h) => h.p.ssrc === CALLER_SSRC);
      for (const h of relayed) expect(h.payload.equals(caller.sent.get(h.p.sequence)!)).toBe(true);

      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'transferred' });
      const session = s.engine.sessions[0]!;
      await waitFor(() => session.closed !== undefined, 5000); // the agent is off the call
      expect(session.toolResults).toEqual([
        {
          callId: 't1',
          name: 'transfer_to_human',
          output: expect.objectContaining({ status: 'transferring', destination: 'desk' }),
        },
      ]);
      expect(s.logs.find('SIP transfer (B2BUA): caller and target joined')).toHaveLength(1);
      await waitFor(() => s.bridge.sip!.activeCalls === 0 && s.bridge.sip!.rtpPortsFree === 2, 5000);
    },
  );

  it('the human hanging up hangs up the caller, and both RTP ports go back', { timeout: 90_000 }, async () => {
    const { s, caller, callerRun, humanDone } = await transferCall({
      human: 'uas-human-hangs-up.xml',
      caller: 'uac-b2bua-caller-hung-up.xml',
    });
    expect(humanDone.code, humanDone.out).toBe(0); // its BYE answered 200
    expect(callerRun.code, callerRun.out).toBe(0); // the bridge's BYE reached the caller
    expect(toneFrames(caller.heard, HUMAN_SSRC, HUMAN_HZ, CALLER_HZ)).toBeGreaterThanOrEqual(25);
    expect(s.logs.find('SIP transfer (B2BUA) ended')[0]).toMatchObject({ by: 'human' });
    await waitFor(() => s.bridge.sip!.activeCalls === 0 && s.bridge.sip!.rtpPortsFree === 2, 5000);
  });

  it(
    'keeps the caller with the agent when the human is busy, and the agent gets the SIP status',
    { timeout: 90_000 },
    async () => {
      const { s, caller, callerRun, humanDone } = await transferCall({
        human: 'uas-human-busy.xml',
        humanMedia: false,
      });
      expect(humanDone.code, humanDone.out).toBe(0); // 486 sent, the bridge's ACK received
      expect(callerRun.code, callerRun.out).toBe(0); // the caller's own BYE ended it
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
      expect(s.engine.sessions).toHaveLength(1);
      expect(s.engine.sessions[0]!.toolResults).toEqual([
        {
          callId: 't1',
          name: 'transfer_to_human',
          output: { error: expect.stringMatching(/^transfer_failed/), sip_status: 486 },
        },
      ]);
      // the bridge's own audio went on after the refusal: the caller was never left in silence by a join
      expect(caller.heard.some((h) => h.p.ssrc === HUMAN_SSRC)).toBe(false);
      await waitFor(() => s.bridge.sip!.rtpPortsFree === 2, 5000);
    },
  );

  it(
    "cancels a second leg that rings past the target's timeout, and the agent keeps the caller with status 408",
    { timeout: 90_000 },
    async () => {
      const { s, callerRun, humanDone } = await transferCall({
        human: 'uas-human-no-answer.xml',
        timeoutS: 5,
        humanMedia: false,
      });
      expect(humanDone.code, humanDone.out).toBe(0); // CANCEL received, 487 ACKed
      expect(callerRun.code, callerRun.out).toBe(0);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.engine.sessions[0]!.toolResults).toEqual([
        {
          callId: 't1',
          name: 'transfer_to_human',
          output: { error: expect.stringMatching(/^transfer_failed/), sip_status: 408 },
        },
      ]);
    },
  );

  it('cancels a second leg still ringing when the caller hangs up', { timeout: 90_000 }, async () => {
    const { s, callerRun, humanDone } = await transferCall({
      human: 'uas-human-no-answer.xml',
      timeoutS: 60,
      humanMedia: false,
    }); // the target's own timeout is far beyond the caller's patience
    expect(callerRun.code, callerRun.out).toBe(0);
    expect(humanDone.code, humanDone.out).toBe(0); // CANCEL at the caller's BYE, 487 ACKed
    await waitFor(() => s.records.length === 1 && s.bridge.sip!.rtpPortsFree === 2, 5000);
    expect(s.records[0]).toMatchObject({ outcome: 'caller_hangup' });
  });

  it(
    'a warm transfer whispers to the human alone, takes the accept key from their RTP, then joins the caller',
    { timeout: 90_000 },
    async () => {
      const { s, caller, callerRun, humanDone, human } = await transferCall({
        human: 'uas-human.xml',
        warm: true,
        humanKey: { digit: '1', afterMs: 1200 },
      });
      expect(callerRun.code, callerRun.out).toBe(0);
      expect(humanDone.code, humanDone.out).toBe(0); // BYEd by the bridge once the caller left
      // the human heard the whisper (the bridge's own audio, before any of the caller's)
      const firstCaller = human.heard.findIndex((h) => h.p.ssrc === CALLER_SSRC);
      const beforeJoin = firstCaller < 0 ? human.heard : human.heard.slice(0, firstCaller);
      expect(beforeJoin.filter((h) => loudness(h.payload) > 300).length).toBeGreaterThanOrEqual(25);
      // then the two talk
      expect(toneFrames(human.heard, CALLER_SSRC, CALLER_HZ, HUMAN_HZ)).toBeGreaterThanOrEqual(25);
      expect(toneFrames(caller.heard, HUMAN_SSRC, HUMAN_HZ, CALLER_HZ)).toBeGreaterThanOrEqual(25);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'transferred' });
      expect(JSON.stringify(s.records[0])).toContain('"mode":"warm"');
      expect(s.engine.sessions[0]!.toolResults[0]!.output).toMatchObject({ status: 'transferred', mode: 'warm' });
      await waitFor(() => s.bridge.sip!.activeCalls === 0 && s.bridge.sip!.rtpPortsFree === 2, 5000);
    },
  );

  it(
    'a warm transfer the human refuses with another key: the human is hung up, the caller stays with the agent',
    { timeout: 90_000 },
    async () => {
      const { s, caller, callerRun, humanDone, human } = await transferCall({
        human: 'uas-human.xml',
        warm: true,
        humanKey: { digit: '2', afterMs: 800 },
      });
      expect(humanDone.code, humanDone.out).toBe(0); // the bridge's BYE right after the refusal
      expect(callerRun.code, callerRun.out).toBe(0); // the caller's own BYE ended its call
      expect(human.heard.some((h) => h.p.ssrc === CALLER_SSRC)).toBe(false); // never joined
      expect(caller.heard.some((h) => h.p.ssrc === HUMAN_SSRC)).toBe(false);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
      expect(s.engine.sessions).toHaveLength(1);
      expect(s.engine.sessions[0]!.toolResults[0]!.output).toMatchObject({ mode: 'warm', human: 'refused' });
      await waitFor(() => s.bridge.sip!.rtpPortsFree === 2, 5000);
    },
  );
});
