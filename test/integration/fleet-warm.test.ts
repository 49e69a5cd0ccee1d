import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario, startOfflineEngine, type OfflineEngine } from '../../src/sim/engine/index.js';
import { freePort, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { AGENT_NUMBER, CALLER_NUMBER, FRONT_DESK, testConfig, toneVoice } from '../helpers/control.js';
import { FLEET_PUBLIC_URL, startFleet, until, type Fleet } from '../helpers/fleet.js';
import { NO_REDIS } from '../helpers/redis.js';

/**
 * A warm transfer in a fleet whose balancer sends the human leg's callbacks to another replica
 * than the one holding the caller (a path-routing proxy: `/twilio/warm/*` to r1, everything else
 * to r0). The callback's signature is checked where it lands, and the owner decides over the
 * fleet's control channel: the human still accepts with the key and meets the caller.
 */

/** HTTP and WebSocket upgrades to r0, the warm callbacks to r1. */
async function splitBalancer(urls: string[]): Promise<{ url: string; close(): Promise<void> }> {
  const [owner, other] = urls.map((u) => new URL(u)) as [URL, URL];
  const pick = (path: string | undefined) => (path?.startsWith('/twilio/warm/') ? other : owner);
  const server: Server = createServer((req, res) => {
    const to = pick(req.url);
    const up = request(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (req, socket, head) => {
    const to = pick(req.url);
    const up = connect(Number(to.port), to.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(lines.join('\r\n') + '\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const CALLER_LINE = 'I have a question about my bill.';
let fleet: Fleet;
let engine: OfflineEngine;

beforeAll(async () => {
  if (NO_REDIS) return;
  engine = await startOfflineEngine({
    tts: toneVoice,
    scenario: parseScenario({
      name: 'fleet-warm',
      steps: [
        { wait_for_caller: true, expect: CALLER_LINE, timeout_ms: 20_000 },
        { say: 'Please hold.' },
        {
          verb: 'transfer_to_human',
          args: { destination: 'front_desk', reason: 'billing' },
          call_id: 'x1',
          await_result: true,
        },
      ],
    }),
  });
  fleet = await startFleet({
    n: 2,
    config: testConfig({
      agent: {
        greeting: 'Hi, Ada here.',
        transfer: {
          targets: [
            {
              name: 'front_desk',
              kind: 'number',
              value: FRONT_DESK,
              mode: 'warm',
              whisper: 'A caller about {reason}.',
              accept_key: '1',
              ring_timeout_s: 15,
            },
          ],
          default: 'front_desk',
        },
      },
      bridge: { preconnect: { enabled: false } },
    }),
    env: { PYAI_BASE_URL: engine.url },
    human: { answer: 'answer', ringMs: 400, script: [{ dtmf: '1' }, { say: 'Hello, billing here.' }] },
    balancer: splitBalancer,
  });
}, 180_000);

afterAll(async () => {
  await fleet?.close();
  await engine?.close();
});

describe.skipIf(NO_REDIS)('a warm transfer whose callbacks reach another replica', () => {
  it('the callback is forwarded to the replica holding the caller, and the human accepts and meets the caller', async () => {
    const [owner, other] = fleet.replicas as [Fleet['replicas'][0], Fleet['replicas'][0]];
    const call = fleet.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 40_000,
      caller: [{ afterAgentSilenceMs: 300, say: CALLER_LINE }],
    });
    await until(async () => (await fleet.directory()).get(call.callSid) === owner.id, 30_000, 'the call on r0');
    const humanLeg = () => [...fleet.sim.calls.values()].find((c) => c.callSid !== call.callSid);
    await until(() => humanLeg() !== undefined, 30_000, 'the human leg dialled');
    const human = humanLeg()!;
    // both in the conference: the accept, which r1 received, was taken by r0's attempt
    await until(
      () =>
        call.timeline.some((e) => e.what.startsWith('conference warm-')) &&
        human.timeline.some((e) => e.what.startsWith('conference warm-')),
      30_000,
      'caller and human in the conference',
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- r1\n${other.output().slice(-2000)}\n--- r0\n${owner.output().slice(-2000)}`);
    });
    expect(owner.output()).toContain('call control requested by another replica');
    expect(other.output()).not.toContain('warm-transfer callback refused');

    // a signed callback with a made-up nonce, at the replica that does not hold the call: the
    // owner's attempt refuses it, and nothing joins anyone
    const path = `/twilio/warm/accept?call=${call.callSid}&nonce=${'A'.repeat(22)}`;
    const params = {
      AccountSid: SIM_ACCOUNT_SID,
      CallSid: human.callSid,
      From: CALLER_NUMBER,
      To: FRONT_DESK,
      CallStatus: 'in-progress',
      Direction: 'outbound-api',
      Digits: '1',
    };
    const res = await fetch(`${other.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signTwilioRequest(SIM_AUTH_TOKEN, `${FLEET_PUBLIC_URL}${path}`, params),
      },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain('Conference');
    await until(() => other.output().includes('warm-transfer callback refused'), 10_000, 'the refusal logged');
    call.hangup();
    await call.done;
  }, 90_000);
});
