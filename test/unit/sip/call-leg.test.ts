import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { LegListener, LegMedia } from '../../../src/call/leg.js';
import { ManualPaceClock } from '../../../src/call/pace-clock.js';
import { encodeAlaw } from '../../../src/audio/alaw.js';
import { decodeMulaw } from '../../../src/audio/mulaw.js';
import { bindRtpSocket, PortPool } from '../../../src/rtp/port-pool.js';
import { buildRtp, parseRtp, type RtpPacket } from '../../../src/rtp/packet.js';
import { planDigit } from '../../../src/rtp/dtmf-plan.js';
import { SipLeg, SipRtpMedia } from '../../../src/sip/call-leg.js';
import type { Negotiated } from '../../../src/sip/sdp.js';

const opened: { close(): unknown }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});

class Heard implements LegListener {
  media: { bytes: Uint8Array; ms: number | undefined }[] = [];
  digits: string[] = [];
  marks: string[] = [];
  onMedia(mulaw: Uint8Array, ms: number | undefined) {
    this.media.push({ bytes: Uint8Array.from(mulaw), ms });
  }
  onDtmf(d: string) {
    this.digits.push(d);
  }
  onMark(n: string) {
    this.marks.push(n);
  }
  onStreamEnded(_m: LegMedia, _why: string) {}
}

async function peer(): Promise<{ socket: Socket; port: number; got: RtpPacket[] }> {
  const socket = createSocket('udp4');
  const got: RtpPacket[] = [];
  socket.on('message', (b) => {
    const p = parseRtp(b);
    if (p) got.push(p);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  opened.push(socket);
  return { socket, port: (socket.address() as { port: number }).port, got };
}

async function rig(codec: 'PCMU' | 'PCMA', te = true) {
  const far = await peer();
  const pool = new PortPool(40000 + Math.floor(Math.random() * 10000) * 2, 65000);
  const sock = (await bindRtpSocket(pool, '127.0.0.1'))!;
  const negotiated: Negotiated = {
    codec: { payload: codec === 'PCMU' ? 0 : 8, name: codec },
    ...(te ? { telephoneEvent: { payload: 101 } } : {}),
    remote: { address: '127.0.0.1', port: far.port },
    offered: 'sendrecv',
    answered: 'sendrecv',
  };
  const clock = new ManualPaceClock();
  const media = new SipRtpMedia({ id: 'sip-test', socket: sock, negotiated, clock });
  opened.push(media);
  const heard = new Heard();
  media.start(heard);
  return { far, media, clock, heard, port: sock.port };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('SIP leg media (RTP)', () => {
  it('sends 20 ms packets on the playout clock and echoes a mark once the audio before it is on the wire', async () => {
    const { far, media, clock, heard } = await rig('PCMU');
    media.sendAudio(new Uint8Array(320).fill(0x11)); // two frames
    media.sendAudio(new Uint8Array(100).fill(0x22)); // a short last frame, padded
    media.sendMark('m1');
    clock.advanceTo(40);
    expect(heard.marks).toEqual([]); // two of three frames sent
    clock.advanceTo(60);
    expect(heard.marks).toEqual(['m1']);
    clock.advanceTo(80); // then silence keeps the stream alive
    await until(() => far.got.length >= 4);
    expect(far.got.map((p) => p.payload.length)).toEqual([160, 160, 160, 160]);
    expect(far.got[2]!.payload.subarray(0, 100).every((b) => b === 0x22)).toBe(true);
    expect(far.got[2]!.payload.subarray(100).every((b) => b === 0xff)).toBe(true);
    expect(far.got[3]!.payload.every((b) => b === 0xff)).toBe(true);
    const seqs = far.got.map((p) => p.sequence);
    expect(seqs[1]! - seqs[0]!).toBe(1);
    expect((far.got[1]!.timestamp - far.got[0]!.timestamp) >>> 0).toBe(160);
  });

  it('drops the queue and its marks on a clear', async () => {
    const { media, clock, heard } = await rig('PCMU');
    media.sendAudio(new Uint8Array(1600).fill(0x11));
    media.sendMark('stale');
    media.sendClear();
    media.sendAudio(new Uint8Array(160).fill(0x33));
    media.sendMark('fresh');
    clock.advanceTo(100);
    expect(heard.marks).toEqual(['fresh']);
  });

  it('reorders caller RTP, turns PCMA into μ-law with media timestamps, and latches on the first source', async () => {
    const { far, media, heard, port } = await rig('PCMA');
    const pcm = Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin(i / 3)));
    const alaw = Buffer.from(encodeAlaw(pcm));
    const pkt = (seq: number) =>
      buildRtp({
        marker: false,
        payloadType: 8,
        sequence: seq,
        timestamp: 1000 + (seq - 10) * 160,
        ssrc: 7,
        payload: alaw,
      });
    // the buffer fixes its start once `depth` (4) packets could have overtaken the first
    for (const s of [10, 12, 11, 13, 15, 14]) far.socket.send(pkt(s), port, '127.0.0.1');
    await until(() => heard.media.length >= 6);
    expect(heard.media.map((m) => m.ms)).toEqual([0, 20, 40, 60, 80, 100]);
    const back = decodeMulaw(heard.media[0]!.bytes);
    const err = back.reduce((e, v, i) => Math.max(e, Math.abs(v - pcm[i]!)), 0);
    expect(err).toBeLessThan(600); // one A-law and one μ-law step at this level
    // a stranger's packet is not taken
    const stranger = await peer();
    stranger.socket.send(pkt(16), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    expect(heard.media).toHaveLength(6);
    expect(media.packetsIn).toBe(6);
  });

  it('reports an RFC 4733 digit once, and sends digits as events when negotiated', async () => {
    const { far, media, clock, heard, port } = await rig('PCMU');
    let seq = 500;
    for (const p of planDigit('5')!)
      far.socket.send(
        buildRtp({
          marker: p.marker,
          payloadType: 101,
          sequence: seq++,
          timestamp: 9000,
          ssrc: 99,
          payload: p.payload,
        }),
        port,
        '127.0.0.1',
      );
    await until(() => heard.digits.length > 0 && media.packetsIn >= planDigit('5')!.length);
    expect(heard.digits).toEqual(['5']);
    const leg = new SipLeg({ hangup: () => {}, refer: () => false, onReferStatus: undefined }, () => media, {
      warn() {},
    } as never);
    expect(await leg.sendDigits('1')).toEqual({ ok: true });
    clock.advanceTo(400);
    await until(() => far.got.filter((p) => p.payloadType === 101).length >= planDigit('1')!.length);
    const events = far.got.filter((p) => p.payloadType === 101);
    expect(events.length).toBe(planDigit('1')!.length);
    expect(new Set(events.map((p) => p.timestamp)).size).toBe(1);
  });

  it('sends in-band tones without telephone-event; hangs up once; refuses transfer clearly', async () => {
    const { media, clock } = await rig('PCMU', false);
    let byes = 0;
    const leg = new SipLeg({ hangup: () => byes++, refer: () => false, onReferStatus: undefined }, () => media, {
      warn() {},
    } as never);
    expect(await leg.sendDigits('12')).toEqual({ ok: true });
    clock.advanceTo(20);
    expect(media.packetsOut).toBe(1);
    await leg.hangup();
    await leg.hangup();
    expect(byes).toBe(1);
    await leg
      .transfer({ name: 'desk', kind: 'queue', value: 'q' } as never)
      .then((t) => expect(t).toMatchObject({ ok: false, message: expect.stringMatching(/cannot be reached/) }));
  });

  it('transfers by REFER: success only on a final 2xx NOTIFY; a 486 NOTIFY or a refused REFER is an error with its status', async () => {
    const log = { warn() {}, info() {} } as never;
    const sent: string[] = [];
    let answerRefer: (status: number | undefined) => void = () => {};
    const dialog = {
      hangup: () => {},
      refer: (uri: string, onFinal: (s: number | undefined) => void) => {
        sent.push(uri);
        answerRefer = onFinal;
        return true;
      },
      onReferStatus: undefined as ((s: number) => void) | undefined,
    };
    const leg = new SipLeg(dialog, () => undefined, log, {
      numberUri: (n) => `sip:${n}@proxy.example.com`,
      transferTimeoutMs: 5000,
    });
    const ok = leg.transfer({ name: 'desk', kind: 'number', value: '+15550100200' });
    answerRefer(202);
    dialog.onReferStatus!(100);
    dialog.onReferStatus!(200);
    expect(await ok).toEqual({ ok: true });
    expect(sent).toEqual(['sip:+15550100200@proxy.example.com']);
    const busy = leg.transfer({ name: 'pbx', kind: 'sip', value: 'sip:desk@pbx.example.com' });
    answerRefer(202);
    dialog.onReferStatus!(486);
    expect(await busy).toEqual({ ok: false, message: expect.any(String), detail: { sip_status: 486 } });
    const refused = leg.transfer({ name: 'pbx', kind: 'sip', value: 'sip:desk@pbx.example.com' });
    answerRefer(403);
    expect(await refused).toMatchObject({ ok: false, detail: { sip_status: 403 } });
    const b2bua = new SipLeg(dialog, () => undefined, log, {
      numberUri: () => undefined,
      transferTimeoutMs: 5000,
      refer: false,
    });
    // `transfer: invite`: never a REFER; a dialog that cannot start a second leg says so
    const refersBefore = sent.length;
    expect(await b2bua.transfer({ name: 'pbx', kind: 'sip', value: 'sip:desk@pbx.example.com' })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/second leg/),
    });
    // one that can is asked for the target, with the context id as a header of the new INVITE
    const bridged: { uri: string; headers: { name: string; value: string }[] }[] = [];
    const joining = new SipLeg(
      {
        ...dialog,
        bridge: (uri: string, headers: { name: string; value: string }[]) => {
          bridged.push({ uri, headers });
          return Promise.resolve({ ok: true as const });
        },
      },
      () => undefined,
      log,
      { numberUri: (n) => `sip:${n}@proxy.example.com`, transferTimeoutMs: 5000, refer: false },
    );
    expect(
      await joining.transfer({ name: 'desk', kind: 'number', value: '+15550100200' }, { contextId: 'ctx-1' }),
    ).toEqual({ ok: true });
    expect(bridged).toEqual([
      { uri: 'sip:+15550100200@proxy.example.com', headers: [{ name: 'X-Context-Id', value: 'ctx-1' }] },
    ]);
    expect(sent.length).toBe(refersBefore);
    // a transfer's context id rides in the Refer-To URI as X-Context-Id (a malformed one is left out)
    const withId = leg.transfer(
      { name: 'pbx', kind: 'sip', value: 'sip:desk@pbx.example.com' },
      { contextId: '3f2b8c1e-9a4d-4e55-8f00-1234567890ab' },
    );
    answerRefer(202);
    dialog.onReferStatus!(200);
    await withId;
    expect(sent.at(-1)).toBe('sip:desk@pbx.example.com?X-Context-Id=3f2b8c1e-9a4d-4e55-8f00-1234567890ab');
    const injected = leg.transfer(
      { name: 'pbx', kind: 'sip', value: 'sip:desk@pbx.example.com' },
      { contextId: 'x>\r\nVia: evil' },
    );
    answerRefer(202);
    dialog.onReferStatus!(200);
    await injected;
    expect(sent.at(-1)).toBe('sip:desk@pbx.example.com');
    const noProxy = new SipLeg(dialog, () => undefined, log, { numberUri: () => undefined, transferTimeoutMs: 5000 });
    expect(await noProxy.transfer({ name: 'desk', kind: 'number', value: '+15550100200' })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/outbound_proxy/),
    });
  });

  it('fills silence for the engine when the caller stops sending, and the next packet carries on after it', async () => {
    const { far, clock, heard, port } = await rig('PCMU');
    clock.advanceTo(1000); // no caller RTP at all: 200 ms grace, then one 20 ms frame per tick
    const filled = heard.media.length;
    expect(filled).toBeGreaterThanOrEqual(35);
    expect(heard.media.every((m) => m.bytes.every((b) => b === 0xff))).toBe(true);
    expect(heard.media.map((m) => m.ms)).toEqual(heard.media.map((_, i) => i * 20));
    const pkt = (seq: number) =>
      buildRtp({
        marker: false,
        payloadType: 0,
        sequence: seq,
        timestamp: 90_000 + seq * 160,
        ssrc: 5,
        payload: Buffer.alloc(160, 0x7f),
      });
    for (let q = 1; q <= 6; q++) far.socket.send(pkt(q), port, '127.0.0.1');
    await until(() => heard.media.length >= filled + 2);
    expect(heard.media[filled]!.ms).toBe(filled * 20); // re-based onto the filled timeline, not late
  });
});
