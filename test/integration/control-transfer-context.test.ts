import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CallHandle } from '../../src/sim/twilio/index.js';
import { verifyBridgeSignature } from '../../src/tools/signing.js';
import type { TransferContext } from '../../src/control/transfer-context.js';
import {
  AGENT_NUMBER,
  BILLING_SIP,
  CALLER_NUMBER,
  callPath,
  child,
  restTwiml,
  stackJanitor,
  startControlStack,
  waitFor,
  type Harness,
} from '../helpers/control.js';
import { scrapeMetrics } from '../helpers/metrics.js';
import { AUTH_TOKEN } from '../helpers/harness.js';

/**
 * The context webhook end to end, through the simulator: at a transfer the desktop's receiver
 * (a real HTTP server on loopback, allow-listed as a development host) gets the call's context,
 * signed; the same context id goes with the dial (a client's `context_id` parameter, a SIP
 * `X-Context-Id`) and into the call record. A receiver that hangs, is down or fails never holds
 * the transfer up.
 */

const SECRET = 'desk-context-secret-0123456789abcdef';
const ENV_NAME = 'TOOL_SECRET_DESK_CONTEXT';
const CALLER_LINE = 'I have a question about my bill.';

beforeAll(() => {
  // the bridge reads the signing secret from its environment, as a tool's
  process.env[ENV_NAME] = SECRET;
});

const stacks = stackJanitor();
const servers: http.Server[] = [];
afterEach(async () => {
  await stacks.closeAll();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

interface Received {
  body: string;
  signature: string | undefined;
  atMs: number;
}

/** The desktop's receiver: answers with `answer` (a status, or 'hang': never). */
async function desk(
  answer: number | 'hang',
): Promise<{ url: string; got: Received[]; answered: () => number; open: () => number }> {
  const got: Received[] = [];
  let answered = 0;
  let open = 0;
  const server = http.createServer((req, res) => {
    open++;
    req.socket.on('close', () => open--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: req.headers['x-bridge-signature'] as string | undefined,
        atMs: Date.now(),
      });
      if (answer === 'hang') return;
      answered++;
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/context`,
    got,
    answered: () => answered,
    open: () => open,
  };
}

const hook = (url: string, extra: Record<string, unknown> = {}) => ({
  url,
  signing_secret_env: ENV_NAME,
  timeout_ms: 1500,
  retries: 1,
  ...extra,
});

const callerScript = [{ afterAgentSilenceMs: 300, say: CALLER_LINE }];

function transferSteps(args: Record<string, unknown>) {
  return [
    { wait_for_caller: true, expect: CALLER_LINE, timeout_ms: 20_000 },
    { say: 'Please hold.' },
    { verb: 'transfer_to_human', args, call_id: 'x1', await_result: true },
  ];
}

function parsed(r: Received): TransferContext {
  return JSON.parse(r.body) as TransferContext;
}

/** What no delivery may carry: the bridge's secrets, the caller's full number. */
function expectNoSecret(body: string): void {
  expect(body).not.toContain(SECRET);
  expect(body).not.toContain(AUTH_TOKEN);
  expect(body).not.toContain(CALLER_NUMBER.slice(1));
}

async function humanLeg(h: Harness, callerSid: string): Promise<CallHandle> {
  await waitFor(() => [...h.sim.calls.keys()].some((k) => k !== callerSid), 15_000);
  return [...h.sim.calls.values()].find((c) => c.callSid !== callerSid)!;
}

describe('transfer context webhook', () => {
  it('warm, to a client, the receiver hanging: the human is called meanwhile, the context id is in the To, the delivery and the record', async () => {
    const r = await desk('hang');
    const h = stacks.track(
      await startControlStack({
        agent: {
          greeting: 'Hi, Ada here.',
          transfer: {
            targets: [
              {
                name: 'desk_bob',
                kind: 'client',
                value: 'client:bob',
                mode: 'warm',
                whisper: 'Caller {from_masked} about {reason}. Account {account_number}.',
                fields: ['account_number'],
                accept_key: '1',
                ring_timeout_s: 10,
              },
            ],
            default: 'desk_bob',
            // one attempt, held open by the receiver for as long as the bridge allows
            context_webhook: hook(r.url, { timeout_ms: 10_000, retries: 0 }),
          },
        },
        bridge: { tool_allow_hosts: ['127.0.0.1'] },
        steps: transferSteps({ destination: 'desk_bob', reason: 'a billing question', account_number: '482913' }),
        human: { answer: 'answer', ringMs: 400, script: [{ dtmf: '1' }, { say: 'Hello, Bob here.' }] },
      }),
    );
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 40_000,
      caller: callerScript,
    });
    const human = await humanLeg(h, call.callSid);
    // the human's leg was created while the delivery was still unanswered, its connection open
    expect(r.got).toHaveLength(1);
    expect(r.open()).toBe(1);
    const inConference = (c: CallHandle) => c.timeline.some((e) => e.what.startsWith('conference warm-'));
    await waitFor(() => inConference(human) && inConference(call), 30_000).catch((e) => {
      if (process.env.WARM_DEBUG)
        for (const c of h.sim.calls.values())
          console.log(c.callSid + '\n' + c.timeline.map((t) => `${t.atMs} ${t.who} ${t.what}`).join('\n'));
      if (process.env.WARM_DEBUG) console.log(h.logs.lines.filter((l) => /warm|transfer|context/i.test(l)).join('\n'));
      throw e;
    });
    call.hangup();
    await Promise.all([call.done, human.done]);
    await waitFor(() => h.records.length === 1, 5000);

    const create = h.sim.restRequests.find((q) => q.path.endsWith('/Calls.json'))!;
    expect(r.answered()).toBe(0);
    const ctx = parsed(r.got[0]!);
    const to = new URL(String(create.form.To).replace(/^client:/, 'client://'));
    expect(to.host).toBe('bob');
    expect(to.searchParams.get('context_id')).toBe(ctx.context_id);
    // which the human's Voice SDK gets as its customParameters
    expect(human.timeline.some((e) => e.what === `client parameters context_id=${ctx.context_id}`)).toBe(true);
    const rec = h.records[0]!;
    expect(rec.transfer).toMatchObject({ mode: 'warm', result: 'accepted', contextId: ctx.context_id });

    // signed like a tool webhook; verified by the receiver's check
    expect(verifyBridgeSignature({ header: r.got[0]!.signature, rawBody: r.got[0]!.body, secret: SECRET }).ok).toBe(
      true,
    );
    expect(ctx).toMatchObject({
      event: 'transfer',
      call: {
        call_sid: call.callSid,
        from_masked: '•••4321',
        console_url: `${h.bridgeUrl}/console?call=${call.callSid}`,
      },
      agent: { id: 'support' },
      transfer: { mode: 'warm', target: 'desk_bob', kind: 'client', reason: 'a billing question', used_default: false },
      arguments: { account_number: '482913' },
    });
    expect(ctx.transfer.whisper).toMatch(/^Caller ending in 4321 about a billing question\./);
    expect(ctx.transcript.some((t) => t.role === 'user' && t.text.includes('question about my bill'))).toBe(true);
    expectNoSecret(r.got[0]!.body);
    // the attempt is cut at its timeout, in the background: the call never waited for it
    await h.bridge.contextWebhooks.idle();
    expect(r.got).toHaveLength(1);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toContain('bridge_transfer_context_total{agent="support",outcome="failed"} 1');
    expect(metrics).toContain('bridge_warm_transfers_total{target="desk_bob",result="accepted"} 1');
  }, 60_000);

  it('cold, to SIP, the receiver down: the <Sip> URI carries X-Context-Id, the record the same id, the call is transferred', async () => {
    const r = await desk(200);
    const url = r.url;
    for (const s of servers.splice(0)) s.close(); // nothing listens there any more
    const h = stacks.track(
      await startControlStack({
        agent: { transfer: { context_webhook: hook(url, { retries: 2 }) } },
        bridge: { tool_allow_hosts: ['127.0.0.1'] },
        steps: [
          { say: 'Transferring you now.' },
          {
            verb: 'transfer_to_human',
            args: { destination: 'billing', reason: 'asked for billing' },
            call_id: 'x1',
            await_result: true,
          },
        ],
        human: { answer: 'answer', ringMs: 300, talkMs: 400 },
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 15_000 });
    const result = await call.done;
    await waitFor(() => h.records.length === 1, 5000);

    const rec = h.records[0]!;
    expect(rec.outcome).toBe('transferred');
    expect(rec.transfer).toMatchObject({ mode: 'cold', target: 'billing', result: 'started' });
    const id = rec.transfer!.contextId!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const update = h.sim.restRequests.find((q) => q.path === callPath(call.callSid))!;
    expect(child(child(restTwiml(update), 'Dial'), 'Sip').text).toBe(`${BILLING_SIP}?X-Context-Id=${id}`);
    expect(result.dialed).toEqual([{ target: `sip:${BILLING_SIP}?X-Context-Id=${id}`, result: 'completed' }]);
    expect(h.engine.sessions[0]!.toolResults[0]!.output).toMatchObject({ status: 'transferring' });
    await h.bridge.contextWebhooks.idle();
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toContain('bridge_transfer_context_total{agent="support",outcome="failed"} 1');
    expect(metrics).toContain('bridge_transfer_context_retries_total{agent="support"} 2');
    expect(result.violations).toEqual([]);
  }, 60_000);

  it('cold, to a client, a 503 then a 200: the <Client> gets <Parameter context_id>, the delivery arrives on the retry', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(seen.length === 1 ? 503 : 200).end();
      });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/context`;
    const h = stacks.track(
      await startControlStack({
        agent: {
          transfer: {
            targets: [{ name: 'alice', kind: 'client', value: 'alice' }],
            default: 'alice',
            context_webhook: hook(url),
          },
        },
        bridge: { tool_allow_hosts: ['127.0.0.1'] },
        steps: [
          { say: 'Transferring you now.' },
          { verb: 'transfer_to_human', args: { destination: 'alice' }, call_id: 'x1', await_result: true },
        ],
        human: { answer: 'answer', ringMs: 300, talkMs: 400 },
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 15_000 });
    const result = await call.done;
    await waitFor(() => h.records.length === 1, 5000);
    await h.bridge.contextWebhooks.idle();

    const id = h.records[0]!.transfer!.contextId!;
    expect(result.dialed).toEqual([{ target: 'client:alice', result: 'completed', params: { context_id: id } }]);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    expect((JSON.parse(seen[1]!) as TransferContext).context_id).toBe(id);
    expectNoSecret(seen[1]!);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toContain('bridge_transfer_context_total{agent="support",outcome="delivered"} 1');
    expect(result.violations).toEqual([]);
  }, 60_000);

  it('without a context webhook nothing is sent and the dial carries no id (the record still has one)', async () => {
    const h = stacks.track(
      await startControlStack({
        steps: [
          { say: 'Transferring you now.' },
          { verb: 'transfer_to_human', args: { destination: 'billing' }, call_id: 'x1', await_result: true },
        ],
        human: { answer: 'answer', ringMs: 300, talkMs: 400 },
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 15_000 });
    const result = await call.done;
    await waitFor(() => h.records.length === 1, 5000);
    expect(result.dialed).toEqual([{ target: `sip:${BILLING_SIP}`, result: 'completed' }]);
    expect(h.records[0]!.transfer!.contextId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await scrapeMetrics(h.bridgeUrl)).not.toMatch(/bridge_transfer_context_total\{/);
  }, 60_000);
});
