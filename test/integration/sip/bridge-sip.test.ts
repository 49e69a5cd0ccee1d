import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw } from '../../../src/audio/mulaw.js';
import { buildRtp, parseRtp, type RtpPacket } from '../../../src/rtp/packet.js';
import { planDigit } from '../../../src/rtp/dtmf-plan.js';
import { DtmfReceiver } from '../../../src/rtp/dtmf-receiver.js';
import { percentile, strongest, tone } from '../../helpers/audio.js';
import {
  janitor,
  sleep,
  startBridgeStack,
  SUPPORT_NUMBER,
  VOICE_HZ,
  voiceMs,
  bridgeTestConfig,
  OTHER_HZ,
  type BridgeStack,
} from '../../helpers/bridge-stack.js';
import { LogCapture, waitFor } from '../../helpers/harness.js';
import { loadConfig } from '../../../src/config/loader.js';
import { createLogger } from '../../../src/observability/logger.js';
import { startBridge } from '../../../src/serve.js';
import { runSipp } from '../../helpers/sipp.js';

/**
 * The bridge's SIP way in, end to end against Debian's SIPp (signalling) on 127.0.0.1, with the
 * offline engine: a call answered once the agent is ready, its RTP both ways (the caller's media
 * is this test's own UDP socket, named in SIPp's SDP), BYE → one call record; CANCEL while it
 * rings → 487 and no engine session left; strangers and scanners get no answer at all.
 */

const HOST = '127.0.0.1';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;
const HAVE_SIPP = existsSync('/usr/bin/sipp');
const randomEven = (lo: number, span: number) => lo + 2 * Math.floor(Math.random() * (span / 2));

const jan = janitor();
let workDir: string | undefined;
afterEach(async () => {
  await jan.closeAll();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
});

async function sipStack(
  o: {
    allow?: string[];
    greetingImmediately?: boolean;
    steps?: unknown[];
    outboundProxy?: string;
    digest?: { username: string; password_env: string };
    mediaTimeoutS?: number;
    /** RTP port pairs (concurrent calls); default 1 */
    ports?: number;
    /** sip.min_session_expires_s (RFC 4028 Min-SE) */
    minSessionExpiresS?: number;
  } = {},
): Promise<BridgeStack & { rtpPort: number; sipPort: number }> {
  const rtpPort = randomEven(30000, 20000);
  const s = jan.track(
    await startBridgeStack({
      env: {
        SIP_PORT: '0',
        SIP_HOST: HOST,
        RTP_PORT_MIN: String(rtpPort),
        RTP_PORT_MAX: String(rtpPort + 2 * (o.ports ?? 1) - 1),
      },
      ...(o.greetingImmediately === false ? { engine: { greetingImmediately: false } } : {}),
      ...(o.steps ? { steps: o.steps } : {}),
      tweak: (cfg) => {
        cfg.file.sip = {
          trunks: [
            {
              name: 'loopback',
              allow: o.allow ?? ['127.0.0.1/32'],
              transfer: 'refer',
              ...(o.outboundProxy ? { outbound_proxy: o.outboundProxy } : {}),
              ...(o.digest ? { digest: o.digest } : {}),
            },
          ],
          answer_wait_ms: 5000,
          media_timeout_s: o.mediaTimeoutS ?? 30,
          ...(o.minSessionExpiresS ? { min_session_expires_s: o.minSessionExpiresS } : {}),
        };
      },
    }),
  );
  expect(s.bridge.sip).toBeDefined();
  return Object.assign(s, { rtpPort, sipPort: s.bridge.sip!.port });
}

async function sipp(
  scenario: string,
  port: number,
  extra: string[] = [],
  localIp = HOST,
): Promise<{ code: number | null; out: string }> {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  const r = await runSipp({
    scenariosDir: SCENARIOS,
    scenario,
    target: `${HOST}:${port}`,
    service: SUPPORT_NUMBER,
    extra,
    localIp,
  });
  workDir = r.dir;
  return r;
}

/** SIPp's digest arguments for the trunk user `trunk1` with `password`, against the bridge at `port`. */
const digestArgs = (password: string, port: number) => [
  ...['-au', 'trunk1', '-ap', password],
  ...['-auth_uri', `${SUPPORT_NUMBER}@${HOST}:${port}`],
];

/** Runs `fn` with the trunk password variable `name` set to `password`, removed afterwards. */
async function withTrunkPassword(name: string, password: string, fn: () => Promise<void>): Promise<void> {
  process.env[name] = password;
  try {
    await fn();
  } finally {
    delete process.env[name];
  }
}

async function udp(address = HOST): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, address, () => r()));
  jan.track(socket);
  return { socket, port: (socket.address() as { port: number }).port };
}

/**
 * The caller's RTP, from the socket the SDP names: silence until the bridge's first packet, then
 * a second of 300 Hz "speech" once the greeting has had time to play, then silence again.
 */
function callerMedia(sock: Socket, to: { port: number }, speak = true, digit?: string) {
  const heard: { at: number; seq: number; payload: Buffer; pt: number; p: RtpPacket }[] = [];
  const speech = encodeMulaw(tone(300, 1000, 8000, 6000));
  let firstAt: number | undefined;
  let seq = 1000;
  let ts = 5000;
  let frame = 0;
  sock.on('message', (b) => {
    const p = parseRtp(b);
    if (!p) return;
    firstAt ??= performance.now();
    heard.push({ at: performance.now(), seq: p.sequence, payload: Buffer.from(p.payload), pt: p.payloadType, p });
  });
  const events = digit ? planDigit(digit)! : [];
  const timer = setInterval(() => {
    if (firstAt !== undefined && performance.now() - firstAt > 1500 && events.length > 0) {
      // an RFC 4733 key press on its own SSRC (as SIPp's pcap has it), one packet per 20 ms
      const e = events.shift()!;
      sock.send(
        buildRtp({
          marker: e.marker,
          payloadType: 101,
          sequence: seq++ & 0xffff,
          timestamp: 77_000,
          ssrc: 777,
          payload: e.payload,
        }),
        to.port,
        HOST,
      );
      return;
    }
    let payload = Buffer.alloc(160, 0xff);
    if (speak && firstAt !== undefined && performance.now() - firstAt > 1200 && frame < speech.length / 160) {
      payload = Buffer.from(speech.subarray(frame * 160, ++frame * 160));
    }
    sock.send(
      buildRtp({ marker: false, payloadType: 0, sequence: seq++ & 0xffff, timestamp: ts, ssrc: 4242, payload }),
      to.port,
      HOST,
    );
    ts += 160;
  }, 20);
  return { heard, stop: () => clearInterval(timer) };
}

const optionsRequest = (port: number, from: { address: string; port: number }, id: string) =>
  [
    `OPTIONS sip:bridge@${HOST}:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${from.address}:${from.port};branch=z9hG4bK-${id};rport`,
    `From: <sip:probe@${from.address}>;tag=${id}`,
    `To: <sip:bridge@${HOST}>`,
    `Call-ID: ${id}`,
    'CSeq: 1 OPTIONS',
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

/** The status line of the answer to one OPTIONS, or undefined when none came within `ms`. */
async function probe(port: number, ms = 2000): Promise<string | undefined> {
  const p = await udp(HOST);
  const got = new Promise<string>((r) => p.socket.once('message', (b) => r(b.toString().split('\r\n')[0]!)));
  p.socket.send(
    optionsRequest(port, { address: HOST, port: p.port }, `opt${Math.random().toString(36).slice(2)}`),
    port,
    HOST,
  );
  return Promise.race([got, sleep(ms).then(() => undefined)]);
}

const invite = (port: number, o: { ua?: string; callId: string; fromPort: number; fromHost?: string }) =>
  Buffer.from(
    [
      `INVITE sip:${SUPPORT_NUMBER}@${HOST}:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${o.fromHost ?? HOST}:${o.fromPort};branch=z9hG4bK-${o.callId};rport`,
      `From: <sip:+15557654321@${o.fromHost ?? HOST}>;tag=t-${o.callId}`,
      `To: <sip:${SUPPORT_NUMBER}@${HOST}>`,
      `Call-ID: ${o.callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:caller@${o.fromHost ?? HOST}:${o.fromPort}>`,
      'Max-Forwards: 70',
      ...(o.ua ? [`User-Agent: ${o.ua}`] : []),
      'Content-Type: application/sdp',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );

// Skipped only outside CI: under CI=true a missing SIPp is a failure, not a silent pass.
describe.skipIf(!HAVE_SIPP && !process.env.CI)('the bridge over SIP, against SIPp', () => {
  it(
    'answers once the agent is ready, carries RTP both ways, and a BYE ends it with one SIP call record',
    { timeout: 60_000 },
    async () => {
      const s = await sipStack();
      const caller = await udp();
      const media = callerMedia(caller.socket, { port: s.rtpPort });
      const r = await sipp('uac-bridge-call.xml', s.sipPort, ['-key', 'rtp_port', String(caller.port)]);
      media.stop();
      expect(r.code, r.out).toBe(0);
      await waitFor(() => s.records.length === 1, 5000);
      const rec = s.records[0]!;
      expect(rec).toMatchObject({ transport: 'sip', outcome: 'caller_hangup', agent: 'support', to: SUPPORT_NUMBER });
      expect(s.bridge.ctx.registry.size).toBe(0);

      // the agent's audio came back as 20 ms PCMU packets: the greeting (500 Hz), then the echo
      // agent's answer to the caller's second of speech (800 Hz), which it heard through RTP
      const audio = media.heard.filter((h) => h.pt === 0);
      expect(audio.length).toBeGreaterThan(100);
      expect(audio.every((h) => h.payload.length === 160)).toBe(true);
      const pcm = decodeMulaw(Buffer.concat(audio.map((h) => h.payload)));
      const freqs = [VOICE_HZ.support, OTHER_HZ, 300];
      const loudAt = (from: number) => {
        for (let i = from; i + 160 <= pcm.length; i += 160) {
          let e = 0;
          for (let j = i; j < i + 160; j++) e += Math.abs(pcm[j]!);
          if (e / 160 > 500) return i;
        }
        return -1;
      };
      const greet = loudAt(0);
      expect(greet).toBeGreaterThanOrEqual(0);
      expect(strongest(pcm, greet, greet + 1600, 8000, freqs)).toBe(VOICE_HZ.support);
      let quiet = greet;
      while (quiet + 160 <= pcm.length && loudAt(quiet) === quiet) quiet += 160;
      const reply = loudAt(quiet);
      expect(reply, 'the echo agent answered what it heard over RTP').toBeGreaterThan(0);
      expect(strongest(pcm, reply, reply + 1600, 8000, freqs)).toBe(OTHER_HZ);
      const session = s.engine.sessions.at(-1)!;
      expect(session.transcripts.some((t) => t.role === 'assistant' && /I heard you speak/.test(t.text))).toBe(true);

      // packet spacing, printed for the record (a benchmark's job, not this test's)
      const gaps = audio.slice(1).map((h, i) => h.at - audio[i]!.at);
      console.log(
        `SIP RTP spacing over ${gaps.length} gaps: median ${percentile(gaps, 0.5).toFixed(1)} ms, p95 ${percentile(gaps, 0.95).toFixed(1)} ms, max ${Math.max(...gaps).toFixed(1)} ms`,
      );
    },
  );

  it(
    "takes SIPp's PCMA recording in 30 ms packets: the engine hears the caller speak",
    { timeout: 60_000 },
    async () => {
      const s = await sipStack();
      const r = await sipp('uac-pcma-pcap-long.xml', s.sipPort);
      expect(r.code, r.out).toBe(0);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
      const heard = s.engine.sessions[0]!.transcripts.filter((t) => t.role === 'user');
      expect(heard.length, JSON.stringify(s.engine.sessions[0]!.transcripts)).toBeGreaterThan(0);
    },
  );

  it(
    'answers a sendonly re-INVITE recvonly and sends nothing while held, then resumes on sendrecv',
    { timeout: 60_000 },
    async () => {
      const s = await sipStack();
      const caller = await udp();
      const media = callerMedia(caller.socket, { port: s.rtpPort }, false);
      const r = await sipp('uac-hold.xml', s.sipPort, ['-key', 'rtp_port', String(caller.port), '-trace_msg']);
      media.stop();
      expect(r.code, r.out).toBe(0);
      const trace = readdirSync(workDir!).find((f) => f.endsWith('_messages.log'))!;
      const answers = readFileSync(join(workDir!, trace), 'utf8')
        .split(/^-+ /m)
        .filter((m) => /SIP\/2\.0 200 OK/.test(m) && /CSeq: [23] INVITE/.test(m));
      expect(answers).toHaveLength(2);
      expect(answers[0]).toMatch(/a=recvonly/);
      expect(answers[1]).toMatch(/a=sendrecv/);
      // the bridge's RTP stopped for the hold (1.5 s) and came back after it
      const at = media.heard.map((h) => h.at);
      const gaps = at.slice(1).map((t, i) => ({ gap: t - at[i]!, i: i + 1 }));
      const hold = gaps.find((g) => g.gap > 1000);
      expect(hold, "a pause in the bridge's RTP while held").toBeDefined();
      expect(at.length - hold!.i).toBeGreaterThan(20); // resumed
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
    },
  );

  it(
    'a 1,000-INVITE burst from a trunk address opens no call and no engine session, is rate-limited, and a bystander still gets in',
    { timeout: 90_000 },
    async () => {
      const VAR = 'TOOL_SECRET_SIP_FLOOD_TEST';
      await withTrunkPassword(VAR, 'fl00d-pass-word', async () => {
        const s = await sipStack({ allow: ['127.0.0.0/29'], digest: { username: 'trunk1', password_env: VAR } });
        const started = performance.now();
        const burst = await sipp('uac-flood.xml', s.sipPort, [
          '-m',
          '1000',
          '-r',
          '1000',
          '-rp',
          '1000',
          '-nr',
          '-l',
          '1000',
        ]);
        const elapsedS = (performance.now() - started) / 1000;
        expect(burst.code, burst.out).toBe(0);
        const dropped = Object.fromEntries(
          (await s.bridge.ctx.metrics.sipDropped.get()).values.map((v) => [v.labels.reason, v.value]),
        );
        // each admitted INVITE was challenged (407) and is held until its ACK (never sent) or 32 s
        const admitted = s.bridge.sip!.transactions;
        const limited = dropped.rate_limited ?? 0;
        console.log(`INVITE burst: ${admitted} admitted, ${limited} rate-limited, over ${elapsedS.toFixed(2)} s`);
        // the token bucket (40 at once, 10 a second) over however long the burst took to arrive
        expect(admitted).toBeLessThanOrEqual(40 + Math.ceil(10 * elapsedS) + 1);
        expect(admitted).toBeGreaterThan(0);
        // what the socket received beyond the bucket was refused unanswered (loopback UDP loses
        // part of a burst this fast in the kernel's buffers: not every INVITE sent is received)
        expect(limited).toBeGreaterThan(0);
        expect(admitted + limited).toBeLessThanOrEqual(1000);
        expect(s.engine.sessions).toEqual([]);
        expect(s.records).toEqual([]);
        expect(s.bridge.ctx.registry.size).toBe(0);
        const auth = digestArgs('fl00d-pass-word', s.sipPort);
        // a bystander at another trunk address is not held back by the flooding one
        const bystander = await sipp('uac-digest.xml', s.sipPort, auth, '127.0.0.2');
        expect(bystander.code, bystander.out).toBe(0);
        await waitFor(() => s.records.length === 1, 5000);
        expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
        // and the flooding address itself is not locked out: its bucket refills (40 / 10 per s)
        await sleep(4100);
        const later = await sipp('uac-digest.xml', s.sipPort, auth);
        expect(later.code, later.out).toBe(0);
        await waitFor(() => s.records.length === 2, 5000);
        expect(s.logs.text()).not.toContain('fl00d-pass-word');
      });
    },
  );

  it(
    'session timers (RFC 4028): a peer that stops refreshing gets one BYE; a refreshing one keeps its call; below Min-SE is 422',
    { timeout: 90_000 },
    async () => {
      const s = await sipStack({ minSessionExpiresS: 2 });
      const started = performance.now();
      const expired = await sipp('uac-session-expiry.xml', s.sipPort);
      expect(expired.code, expired.out).toBe(0); // the 200 carried the timer; the bridge's BYE came and was answered
      // due at 3 s − min(32 s, 1 s) = 2 s after the answer: never before it
      expect(performance.now() - started).toBeGreaterThan(1900);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip' });
      expect(s.records[0]!.outcome).not.toBe('caller_hangup');
      // refreshed every 1.5 s, the call outlives three intervals' worth of expiry and ends with the caller's BYE
      const refreshed = await sipp('uac-session-refresh.xml', s.sipPort);
      expect(refreshed.code, refreshed.out).toBe(0);
      await waitFor(() => s.records.length === 2, 5000);
      expect(s.records[1]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
      const small = await sipp('uac-session-too-small.xml', s.sipPort);
      expect(small.code, small.out).toBe(0); // 422 with Min-SE: 2
      await sleep(300);
      expect(s.records).toHaveLength(2);
      expect(s.engine.sessions).toHaveLength(2);
    },
  );

  it(
    'a caller that never ACKs the 200 gets it retransmitted for 32 s, then one BYE; one call record',
    { timeout: 90_000 },
    async () => {
      // no caller RTP either: the media timeout must not be what ends it
      const s = await sipStack({ mediaTimeoutS: 120 });
      const started = performance.now();
      const r = await sipp('uac-no-ack.xml', s.sipPort, ['-trace_msg', '-timeout', '60s']);
      expect(r.code, r.out).toBe(0);
      expect(performance.now() - started).toBeGreaterThan(31_000); // 64·T1, never sooner
      const trace = readdirSync(workDir!).find((f) => f.endsWith('_messages.log'))!;
      const received = readFileSync(join(workDir!, trace), 'utf8').split(/^-+ /m);
      const oks = received.filter((m) => /received/.test(m) && /SIP\/2\.0 200 OK/.test(m) && /CSeq: 1 INVITE/.test(m));
      expect(oks.length).toBeGreaterThan(5); // retransmitted from T1 doubling to T2
      expect(received.filter((m) => /received/.test(m) && /^BYE /m.test(m))).toHaveLength(1);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip' });
      expect(s.bridge.sip!.activeCalls).toBe(0);
    },
  );

  it(
    'session timers (RFC 4028): asked to refresh, the bridge re-INVITEs with its SDP at half the interval and ACKs the 200',
    { timeout: 60_000 },
    async () => {
      const s = await sipStack({ minSessionExpiresS: 2 });
      const r = await sipp('uac-session-uas-refresher.xml', s.sipPort);
      expect(r.code, r.out).toBe(0);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
    },
  );

  it(
    'challenges a trunk with digest: 407 then the call with the right password, 403 and no engine session with a wrong one',
    { timeout: 60_000 },
    async () => {
      const VAR = 'TOOL_SECRET_SIP_TRUNK_TEST';
      await withTrunkPassword(VAR, 's3cret-pass', async () => {
        const s = await sipStack({ digest: { username: 'trunk1', password_env: VAR } });
        const auth = (pw: string) => digestArgs(pw, s.sipPort);
        const ok = await sipp('uac-digest.xml', s.sipPort, auth('s3cret-pass'));
        expect(ok.code, ok.out).toBe(0);
        await waitFor(() => s.records.length === 1, 5000);
        expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
        const sessions = s.engine.sessions.length;
        const wrong = await sipp('uac-digest-wrong.xml', s.sipPort, auth('wrong'));
        expect(wrong.code, wrong.out).toBe(0); // it expects the 403
        await sleep(300);
        expect(s.engine.sessions.length).toBe(sessions);
        expect(s.records).toHaveLength(1);
        expect(s.logs.text()).not.toContain('s3cret-pass');
      });
    },
  );

  it(
    'DTMF both ways: a caller key by RFC 4733 reaches the call once, send_dtmf goes out as RFC 4733 events',
    { timeout: 60_000 },
    async () => {
      const s = await sipStack({
        steps: [{ wait_ms: 500 }, { verb: 'send_dtmf', args: { digits: '1234#' }, call_id: 'd1', await_result: true }],
      });
      const caller = await udp();
      const media = callerMedia(caller.socket, { port: s.rtpPort }, false, '5');
      const r = await sipp('uac-bridge-call.xml', s.sipPort, ['-key', 'rtp_port', String(caller.port)]);
      media.stop();
      expect(r.code, r.out).toBe(0);
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]!.dtmf).toBe('5');
      const got: string[] = [];
      const rx = new DtmfReceiver((d) => got.push(d.digit));
      for (const h of media.heard) if (h.pt === 101) rx.onPacket(h.p);
      expect(got.join('')).toBe('1234#');
    },
  );

  it("hangs up with BYE when the caller's RTP stops for sip.media_timeout_s", { timeout: 60_000 }, async () => {
    const s = await sipStack({ mediaTimeoutS: 2 });
    const caller = await udp();
    const media = callerMedia(caller.socket, { port: s.rtpPort }, false);
    setTimeout(() => media.stop(), 1500); // the caller's RTP stops; the bridge's silence fill is not RTP
    const r = await sipp('uac-bye-from-bridge.xml', s.sipPort, ['-key', 'rtp_port', String(caller.port)]);
    media.stop();
    expect(r.code, r.out).toBe(0); // SIPp received the BYE and answered it
    await waitFor(() => s.records.length === 1, 5000);
    expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'stream_closed' });
    expect(s.logs.find('SIP call: no RTP for too long, hanging up')).toHaveLength(1);
  });

  it(
    "carries five concurrent calls of SIPp's PCMA recording, each its own session, port and record",
    { timeout: 90_000 },
    async () => {
      const N = 5;
      const s = await sipStack({ ports: N });
      const r = await sipp('uac-pcma-pcap-long.xml', s.sipPort, ['-m', String(N), '-l', String(N), '-r', String(N)]);
      expect(r.code, r.out).toBe(0);
      await waitFor(() => s.records.length === N, 10_000);
      expect(s.records.every((x) => x.transport === 'sip' && x.outcome === 'caller_hangup')).toBe(true);
      expect(new Set(s.records.map((x) => x.callSid)).size).toBe(N);
      expect(s.engine.sessions).toHaveLength(N);
      const turns = s.engine.sessions.filter((x) => x.transcripts.some((t) => t.role === 'user')).length;
      expect(turns).toBe(N);
      await waitFor(() => s.bridge.sip!.rtpPortsFree === N, 2000);
    },
  );

  it(
    'a drain refuses new INVITEs with 503 and ends a live SIP call with BYE once its time is up',
    { timeout: 60_000 },
    async () => {
      const s = await sipStack();
      const caller = await udp();
      const media = callerMedia(caller.socket, { port: s.rtpPort }, false);
      const call = sipp('uac-bye-from-bridge.xml', s.sipPort, ['-key', 'rtp_port', String(caller.port)]);
      await waitFor(() => s.bridge.sip!.activeCalls === 1, 10_000);
      const drained = s.bridge.drain(1000);
      const late = await udp(HOST);
      const got: string[] = [];
      late.socket.on('message', (b) => got.push(b.toString()));
      late.socket.send(invite(s.sipPort, { callId: 'late1', fromPort: late.port }), s.sipPort, HOST);
      await waitFor(() => got.length > 0, 3000);
      expect(got[0]).toMatch(/^SIP\/2\.0 503 Service Unavailable\r\n/);
      expect(got[0]).toMatch(/\r\nRetry-After: 5\r\n/);
      await drained;
      const r = await call;
      media.stop();
      expect(r.code, r.out).toBe(0); // the live call got the bridge's BYE
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'drain' });
    },
  );

  it('answers a CANCEL while it rings with 487, and leaves no engine session open', { timeout: 60_000 }, async () => {
    // an engine that never greets: the agent is never ready, so the INVITE rings until the CANCEL
    const s = await sipStack({ greetingImmediately: false });
    const r = await sipp('uac-cancel.xml', s.sipPort);
    expect(r.code, r.out).toBe(0);
    await waitFor(() => s.records.length === 1, 5000);
    expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
    expect(s.bridge.ctx.registry.size).toBe(0);
    // the engine session opened while it rang (one, however fast the CANCEL), and the bridge closed it
    await sleep(1000);
    expect(s.engine.sessions.length).toBeLessThanOrEqual(1);
    await waitFor(() => s.engine.sessions.every((x) => x.closed !== undefined), 5000);
    expect(s.bridge.sip!.activeCalls).toBe(0);
  });

  it(
    'gives no answer at all to a source outside every trunk or a scanner, counting both; OPTIONS gets 200',
    { timeout: 30_000 },
    async () => {
      const s = await sipStack({ allow: ['127.0.0.1/32'] });
      const stranger = await udp('127.0.0.3');
      const probe = await udp('127.0.0.3');
      const scanner = await udp(HOST);
      const got: string[] = [];
      for (const x of [stranger, scanner]) x.socket.on('message', (b) => got.push(b.toString().split('\r\n')[0]!));
      stranger.socket.send(
        invite(s.sipPort, { callId: 'strange1', fromPort: stranger.port, fromHost: '127.0.0.3' }),
        s.sipPort,
        HOST,
      );
      scanner.socket.send(
        invite(s.sipPort, { callId: 'scan1', fromPort: scanner.port, ua: 'Friendly-Scanner 1.0' }),
        s.sipPort,
        HOST,
      );
      await sleep(1500);
      expect(got).toEqual([]);
      const dropped = await s.bridge.ctx.metrics.sipDropped.get();
      const by = Object.fromEntries(dropped.values.map((v) => [v.labels.reason, v.value]));
      expect(by).toMatchObject({ no_trunk: 1, scanner: 1 });
      expect(s.engine.sessions).toEqual([]);
      expect(s.records).toEqual([]);
      // the port is open to a trunk: OPTIONS is answered
      const options = [
        `OPTIONS sip:bridge@${HOST}:${s.sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP ${HOST}:${scanner.port};branch=z9hG4bK-opt1;rport`,
        `From: <sip:probe@${HOST}>;tag=p1`,
        `To: <sip:bridge@${HOST}>`,
        'Call-ID: opt1',
        'CSeq: 1 OPTIONS',
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      // a stranger's OPTIONS gets nothing either: the port looks closed to it
      probe.socket.on('message', (b) => got.push(`stranger: ${b.toString().split('\r\n')[0]!}`));
      probe.socket.send(options.replace(`${HOST}:${scanner.port}`, `127.0.0.3:${probe.port}`), s.sipPort, HOST);
      scanner.socket.send(options, s.sipPort, HOST);
      await waitFor(() => got.length > 0, 3000);
      await sleep(300);
      expect(got).toEqual(['SIP/2.0 200 OK']);
    },
  );

  it(
    'end_call: the goodbye is heard in full, then the bridge sends BYE; one agent_hangup record',
    { timeout: 60_000 },
    async () => {
      const GOODBYE = 'Thank you for calling, goodbye now.';
      const s = await sipStack({
        steps: [{ say: GOODBYE, no_wait: true }, { wait_ms: 300 }, { verb: 'end_call', call_id: 'e1' }],
      });
      const caller = await udp();
      const media = callerMedia(caller.socket, { port: s.rtpPort }, false);
      const r = await sipp('uac-bye-from-bridge.xml', s.sipPort, ['-key', 'rtp_port', String(caller.port)]);
      media.stop();
      expect(r.code, r.out).toBe(0); // SIPp got the BYE and answered it
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'agent_hangup' });
      const pcm = decodeMulaw(Buffer.concat(media.heard.filter((h) => h.pt === 0).map((h) => h.payload)));
      let goodbyeFrames = 0;
      for (let i = 0; i + 160 <= pcm.length; i += 160) {
        let e = 0;
        for (let j = i; j < i + 160; j++) e += Math.abs(pcm[j]!);
        if (e / 160 > 500 && strongest(pcm, i, i + 160, 8000, [VOICE_HZ.support, OTHER_HZ]) === OTHER_HZ)
          goodbyeFrames++;
      }
      expect(goodbyeFrames * 20).toBeGreaterThanOrEqual(voiceMs(GOODBYE) - 60); // not cut by the BYE
      const session = s.engine.sessions[0]!;
      expect(session.toolResults).toEqual([{ callId: 'e1', name: 'end_call', output: { status: 'ending' } }]);
      await waitFor(() => session.closed !== undefined, 5000);
      expect(s.bridge.sip!.activeCalls).toBe(0);
      await waitFor(() => s.bridge.sip!.rtpPortsFree === 1, 2000);
    },
  );
});

describe.skipIf(!HAVE_SIPP && !process.env.CI)('transfer over SIP (REFER), against SIPp', () => {
  const ANNOUNCE = 'Let me transfer you.';
  const steps = [
    { say: ANNOUNCE },
    { verb: 'transfer_to_human', args: { reason: 'asked for a human' }, call_id: 't1', await_result: true },
  ];

  it(
    'REFERs a number target through the outbound proxy, and BYEs once the NOTIFY says 200',
    { timeout: 60_000 },
    async () => {
      const s = await sipStack({ steps, outboundProxy: 'sip:127.0.0.1:5999' });
      const caller = await udp();
      const media = callerMedia(caller.socket, { port: s.rtpPort }, false);
      const r = await sipp('uac-refer-ok.xml', s.sipPort, ['-key', 'rtp_port', String(caller.port)]);
      media.stop();
      expect(r.code, r.out).toBe(0); // REFER taken, NOTIFY answered, the bridge's BYE received
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'transferred' });
      const results = s.engine.sessions[0]!.toolResults;
      expect(results).toEqual([
        {
          callId: 't1',
          name: 'transfer_to_human',
          output: expect.objectContaining({ status: 'transferring', destination: 'front_desk' }),
        },
      ]);
      const logged = s.logs.find('SIP transfer (REFER) finished');
      expect(logged).toHaveLength(1);
      expect(s.logs.text()).not.toContain('+15550100200'); // the target's number is not logged
    },
  );

  it(
    'keeps the call with the agent when the NOTIFY says 486, and the agent gets the status',
    { timeout: 60_000 },
    async () => {
      const s = await sipStack({ steps, outboundProxy: 'sip:127.0.0.1:5999' });
      const caller = await udp();
      const media = callerMedia(caller.socket, { port: s.rtpPort }, false);
      const r = await sipp('uac-refer-busy.xml', s.sipPort, ['-key', 'rtp_port', String(caller.port)]);
      media.stop();
      expect(r.code, r.out).toBe(0); // the caller's own BYE ended it: the bridge did not hang up
      await waitFor(() => s.records.length === 1, 5000);
      expect(s.records[0]).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });
      expect(s.engine.sessions).toHaveLength(1); // the same engine session all along
      expect(s.engine.sessions[0]!.toolResults).toEqual([
        {
          callId: 't1',
          name: 'transfer_to_human',
          output: { error: expect.stringMatching(/^transfer_failed/), sip_status: 486 },
        },
      ]);
    },
  );
});

describe.skipIf(!HAVE_SIPP && !process.env.CI)('serve with SIP_PORT', () => {
  it(
    'startBridge listens on the free port SIP_PORT=0 picked and names it; OPTIONS 503 while draining; closed on stop',
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sip-serve-'));
      const configPath = join(dir, 'agents.json');
      writeFileSync(
        configPath,
        JSON.stringify({ ...bridgeTestConfig(), sip: { trunks: [{ name: 'loopback', allow: ['127.0.0.1/32'] }] } }),
      );
      const rtpPort = randomEven(30000, 20000);
      const config = loadConfig({
        PORT: '0',
        HOST: HOST,
        PUBLIC_URL: 'http://127.0.0.1:1',
        BRIDGE_CONFIG: configPath,
        SIP_PORT: '0',
        RTP_PORT_MIN: String(rtpPort),
        RTP_PORT_MAX: String(rtpPort + 1),
      });
      const running = await startBridge(config, {
        logger: createLogger({ level: 'error', destination: new LogCapture() }),
      });
      let stopped = false;
      jan.track({ close: () => (stopped ? undefined : running.stop()) });
      try {
        expect(running.sipPort).toBeGreaterThan(0);
        expect(await probe(running.sipPort!)).toBe('SIP/2.0 200 OK');
        const drained = running.bridge.drain(0);
        expect(await probe(running.sipPort!)).toBe('SIP/2.0 503 Service Unavailable');
        await drained;
        await running.stop();
        stopped = true;
        expect(await probe(running.sipPort!, 1000)).toBeUndefined();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
