/**
 * Listen-in over the console's WebSocket, from Node (the browser's side is in
 * console-listen-browser.test.ts): what a supervisor receives is the call's audio, both
 * directions, and every way in that is not the supervisor's own session is refused before any
 * socket exists. Offline stack on loopback; every wait is on an event with a generous bound.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CALLER, startBridgeStack, SUPPORT_NUMBER, type BridgeStack } from '../helpers/bridge-stack.js';
import { strongest, tone } from '../helpers/audio.js';
import { consoleLogin, type ConsoleLogin } from '../helpers/console.js';
import { waitFor } from '../helpers/harness.js';
import { testToken } from '../helpers/tokens.js';
import type { CallHandle } from '../../src/sim/twilio/index.js';

const ADMIN = testToken('listen admin');
const CALLER_HZ = 1400;
const AGENT_HZ = 800; // the test voice's pitch for any text but the greetings
const LONG_REPLY = 'This reply is long enough to be heard for a couple of seconds by anyone listening in.';

let h: BridgeStack | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const start = () =>
  startBridgeStack({
    env: { ADMIN_TOKEN: ADMIN },
    steps: [{ wait_for_caller: true, timeout_ms: 20_000 }, { say: LONG_REPLY }, { wait_ms: 60_000 }],
  });

const wsUrl = (base: string, sid: string) => `${base.replace(/^http/, 'ws')}/console/api/calls/${sid}/listen`;

interface Opened {
  ws?: WebSocket;
  status?: number;
}

/** Opens a listen socket; resolves with it once open, or with the HTTP status of a refused upgrade. */
function openListen(
  base: string,
  sid: string,
  o: { cookie?: string; origin?: string; protocols?: string[] },
): Promise<Opened> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl(base, sid), o.protocols ?? ['opb-listen.v1'], {
      headers: { ...(o.cookie ? { cookie: o.cookie } : {}), origin: o.origin ?? base },
    });
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => resolve({ status: -1 }));
  });
}

const listen = (base: string, sid: string, l: ConsoleLogin) =>
  openListen(base, sid, { cookie: l.cookie, protocols: ['opb-listen.v1', `csrf.${l.csrf}`] });

/** The μ-law bytes a listener received per channel, decoded to 16-bit PCM. */
function collect(ws: WebSocket) {
  const pcm: number[][] = [[], []];
  const seqs: number[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data[0] !== 1 || data.length < 6) return;
    seqs.push(data.readUInt16BE(2));
    const c = data.readUInt16BE(4);
    for (let i = 6; i < data.length; i++) pcm[i < 6 + c ? 0 : 1]!.push(ulaw(data[i]!));
  });
  return { pcm, seqs };
}

function ulaw(b: number): number {
  const u = ~b & 0xff;
  const exp = (u >> 4) & 7;
  const mag = ((((u & 0x0f) << 3) + 0x84) << exp) - 0x84;
  return u & 0x80 ? -mag : mag;
}

/** 20 ms windows of `pcm` in which `freq` is the strongest of `freqs` and the audio is not silence. */
function windowsOf(pcm: number[], freq: number, freqs: number[]): number {
  const a = Int16Array.from(pcm);
  let n = 0;
  for (let i = 0; i + 160 <= a.length; i += 160) {
    let e = 0;
    for (let k = i; k < i + 160; k++) e += Math.abs(a[k]!);
    if (e / 160 > 500 && strongest(a, i, i + 160, 8000, freqs) === freq) n++;
  }
  return n;
}

async function liveCall(stack: BridgeStack): Promise<CallHandle> {
  const call = stack.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 60_000 });
  await waitFor(() => stack.bridge.ctx.registry.get(call.callSid)?.hasStream === true, 20_000);
  return call;
}

describe('console listen-in', () => {
  it("carries the caller's tone on channel 0 and the agent's on channel 1, and records who listened", async () => {
    h = await start();
    const login = await consoleLogin(h.bridgeUrl, ADMIN);
    const call = await liveCall(h);
    const { ws } = await listen(h.bridgeUrl, call.callSid, login);
    expect(ws).toBeDefined();
    const got = collect(ws!);
    const freqs = [500, AGENT_HZ, CALLER_HZ];
    call.play(tone(CALLER_HZ, 1500, 8000, 12000));
    await waitFor(() => windowsOf(got.pcm[0]!, CALLER_HZ, freqs) >= 40, 30_000);
    // The scripted engine answers the caller with a long line in the test voice.
    await waitFor(() => windowsOf(got.pcm[1]!, AGENT_HZ, freqs) >= 40, 30_000);
    // What the caller hears never carries the caller's own tone back, and the caller's side is not the agent's.
    expect(windowsOf(got.pcm[1]!, CALLER_HZ, freqs)).toBeLessThan(3);
    expect(windowsOf(got.pcm[0]!, AGENT_HZ, freqs)).toBeLessThan(3);
    // Sequence numbers count every message: no gap on a listener that keeps up.
    expect(got.seqs.every((v, i, s) => i === 0 || v === ((s[i - 1]! + 1) & 0xffff))).toBe(true);

    const feed = h.bridge.ctx.feeds.get(call.callSid)!;
    expect(feed.tap?.listeners).toBe(1);
    ws!.close();
    await waitFor(() => feed.tap === undefined, 10_000); // no listener: the per-frame copy stops
    call.hangup();
    await waitFor(() => h!.records.some((r) => r.callSid === call.callSid), 20_000);
    const rec = h.records.find((r) => r.callSid === call.callSid)!;
    expect(rec.listens).toEqual([
      { by: 'console (admin token)', atMs: expect.any(Number), durationMs: expect.any(Number) },
    ]);
    const timeline = feed.history().filter((e) => e.kind === 'timeline' && e.type === 'listen');
    expect(timeline.map((e) => (e as { result: string }).result)).toEqual(['started', 'stopped']);
  }, 120_000);

  it('refuses the upgrade without a session, from another Origin, without the CSRF token, and for a call not live', async () => {
    h = await start();
    const base = h.bridgeUrl;
    const login = await consoleLogin(base, ADMIN);
    const call = await liveCall(h);
    const sid = call.callSid;
    const good = ['opb-listen.v1', `csrf.${login.csrf}`];
    expect((await openListen(base, sid, { protocols: good })).status).toBe(401);
    expect((await openListen(base, sid, { cookie: 'opb_console=forged', protocols: good })).status).toBe(401);
    expect(
      (await openListen(base, sid, { cookie: login.cookie, protocols: good, origin: 'http://evil.example' })).status,
    ).toBe(403);
    expect((await openListen(base, sid, { cookie: login.cookie, protocols: good, origin: 'null' })).status).toBe(403);
    expect((await openListen(base, sid, { cookie: login.cookie })).status).toBe(403);
    expect(
      (await openListen(base, sid, { cookie: login.cookie, protocols: ['opb-listen.v1', 'csrf.wrong-token'] })).status,
    ).toBe(403);
    expect((await openListen(base, `CA${'0'.repeat(32)}`, { cookie: login.cookie, protocols: good })).status).toBe(404);
    expect((await openListen(base, '../../admin', { cookie: login.cookie, protocols: good })).status).toBe(404);
    expect(h.bridge.ctx.feeds.get(sid)?.tap).toBeUndefined(); // nothing refused ever joined
    call.hangup();
    await waitFor(() => h!.records.some((r) => r.callSid === sid), 20_000);
    expect((await openListen(base, sid, { cookie: login.cookie, protocols: good })).status).toBe(404);
  }, 120_000);

  it('a listener open when the call ends is closed with "call ended"; a flood gets at most 3 on a call, the rest refused', async () => {
    h = await start();
    const base = h.bridgeUrl;
    const login = await consoleLogin(base, ADMIN);
    const call = await liveCall(h);
    const opened = await Promise.all(Array.from({ length: 10 }, () => listen(base, call.callSid, login)));
    const open = opened.filter((o) => o.ws);
    const closedNow = await Promise.all(
      open.map(
        (o) =>
          new Promise<boolean>((resolve) => {
            // An upgrade that raced past the guard is closed at once (1013); the others stay open.
            const t = setTimeout(() => resolve(false), 1500);
            o.ws!.once('close', () => {
              clearTimeout(t);
              resolve(true);
            });
          }),
      ),
    );
    const staying = open.filter((_o, i) => !closedNow[i]);
    expect(staying.length).toBe(3);
    expect(opened.filter((o) => o.status === 429).length + open.length - staying.length).toBe(7);
    expect(h.bridge.ctx.feeds.get(call.callSid)!.tap!.listeners).toBe(3);
    const closes = staying.map(
      (o) => new Promise<string>((resolve) => o.ws!.once('close', (_code, reason) => resolve(reason.toString()))),
    );
    call.hangup();
    expect(await Promise.all(closes)).toEqual(['call ended', 'call ended', 'call ended']);
    await waitFor(() => h!.records.some((r) => r.callSid === call.callSid), 20_000);
    const rec = h.records.find((r) => r.callSid === call.callSid)!;
    expect(rec.listens).toHaveLength(3);
    expect(rec.outcome).toBe('caller_hangup');
  }, 120_000);
});
