/**
 * Warm against cold transfers (`npm run bench:warm`): the caller's wait from the
 * agent's last word to being connected with the human, p50/p95 over N simulated transfers of
 * each kind, side by side. Offline: engine, bridge and Twilio simulator on loopback.
 *
 *  - cold: the agent's words end, the call is `<Dial>`ed; connected when the human answers.
 *  - warm: the caller waits on the agent's hold audio while the human is called, hears the
 *    whisper, presses the accept key; connected when the caller joins the conference.
 *
 * Both read the caller's own timeline (what it heard, when): the end of the agent's last voiced
 * run before the transfer, and the tick it was connected. Warm also prints the call record's
 * `callerWaitMs` (the bridge's own clock). The human rings RING_MS in both. A context webhook on
 * loopback answers every transfer (the bench shows it costs the caller nothing: it is not waited for).
 *
 * Usage: tsx scripts/bench-warm.ts [transfers=12] [concurrent=3]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import type { CallRecord } from '../src/call/record.js';
import { parseScenario } from '../src/sim/engine/index.js';
import { startStack, type Stack } from '../src/sim/stack.js';
import type { CallResult } from '../src/sim/twilio/index.js';
import { silentLogger } from '../src/observability/logger.js';
import { AGENT_NUMBER, CALLER_NUMBER, FRONT_DESK, testConfig, toneVoice, voiceRuns } from '../test/helpers/control.js';

const N = Math.max(2, Number(process.argv[2] ?? 12));
const CONCURRENT = Math.max(1, Number(process.argv[3] ?? 3));
const RING_MS = 1000;
const LINE = 'I have a question about my bill.';
const SECRET_ENV = 'TOOL_SECRET_BENCH_CONTEXT';
process.env[SECRET_ENV] = 'bench-context-secret-0123456789abcdef';

const steps = [
  { wait_for_caller: true, expect: LINE, timeout_ms: 20_000 },
  { say: 'Please hold.' },
  {
    verb: 'transfer_to_human',
    args: { destination: 'front_desk', reason: 'a billing question', account_number: '482913' },
    call_id: 'x1',
    await_result: true,
  },
];

async function desk(): Promise<{ url: string; close(): void; count(): number }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/context`,
    close: () => server.close(),
    count: () => n,
  };
}

async function stackFor(mode: 'cold' | 'warm', hookUrl: string, records: CallRecord[]): Promise<Stack> {
  const warm = {
    mode: 'warm',
    whisper: 'Caller {from_masked} about {reason}. Account {account_number}.',
    fields: ['account_number'],
    accept_key: '1',
    ring_timeout_s: 15,
  };
  const config = testConfig({
    agent: {
      greeting: 'Hi, Ada here.',
      transfer: {
        targets: [{ name: 'front_desk', kind: 'number', value: FRONT_DESK, ...(mode === 'warm' ? warm : {}) }],
        default: 'front_desk',
        context_webhook: { url: hookUrl, signing_secret_env: SECRET_ENV },
      },
    },
    bridge: { tool_allow_hosts: ['127.0.0.1'] },
  });
  return startStack({
    configText: JSON.stringify(config),
    engine: { scenario: parseScenario({ name: 'bench-warm', steps }), tts: toneVoice },
    human:
      mode === 'warm'
        ? { answer: 'answer', ringMs: RING_MS, script: [{ dtmf: '1' }, { say: 'Hello, this is Bob.' }] }
        : { answer: 'answer', ringMs: RING_MS, talkMs: 1500 },
    logger: silentLogger(),
    onCallRecord: (r) => records.push(r),
  });
}

/** ms from the end of the agent's last voiced run before `connectedTick` to it. */
function waitOf(r: CallResult, connectedTick: number): number {
  const before = voiceRuns(r.heard).filter((v) => v.endMs <= connectedTick);
  const last = before.at(-1);
  if (!last) throw new Error('no agent voice before the connection');
  return connectedTick - last.endMs;
}

async function run(mode: 'cold' | 'warm'): Promise<{ timeline: number[]; record: number[]; deliveries: number }> {
  const hook = await desk();
  const records: CallRecord[] = [];
  const stack = await stackFor(mode, hook.url, records);
  const timeline: number[] = [];
  try {
    let next = 0;
    const one = async (): Promise<void> => {
      while (next < N) {
        next++;
        const call = stack.sim.placeCall({
          to: AGENT_NUMBER,
          from: CALLER_NUMBER,
          maxDurationMs: 40_000,
          caller: [{ afterAgentSilenceMs: 300, say: LINE }],
        });
        const mark = mode === 'warm' ? 'joined conference' : 'answered';
        const who = mode === 'warm' ? 'twilio' : 'human';
        const t0 = Date.now();
        while (!call.timeline.some((e) => e.who === who && e.what.startsWith(mark))) {
          if (Date.now() - t0 > 30_000) throw new Error(`${mode}: no connection within the 30 s hang guard`);
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 300));
        call.hangup();
        const result = await call.done;
        const tick = result.timeline.find((e) => e.who === who && e.what.startsWith(mark))!.tickMs;
        timeline.push(waitOf(result, tick));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT }, one));
    const t0 = Date.now();
    while (records.length < N && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    await stack.bridge.contextWebhooks.idle();
    const record = records.flatMap((r) => (r.transfer?.callerWaitMs !== undefined ? [r.transfer.callerWaitMs] : []));
    return { timeline, record, deliveries: hook.count() };
  } finally {
    await stack.close();
    hook.close();
  }
}

function q(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}
const cell = (xs: number[]) =>
  xs.length ? `${String(q(xs, 0.5)).padStart(6)} ms ${String(q(xs, 0.95)).padStart(6)} ms` : '     –         –';

async function main(): Promise<void> {
  const cold = await run('cold');
  const warm = await run('warm');
  console.log(
    `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores; ${N} transfers each, ${CONCURRENT} at a time; the human rings ${RING_MS} ms`,
  );
  console.log(`caller's wait, agent's last word → connected to the human   p50       p95`);
  console.log(`  cold  (simulator timeline)                               ${cell(cold.timeline)}`);
  console.log(`  warm  (simulator timeline)                               ${cell(warm.timeline)}`);
  console.log(`  warm  (call record callerWaitMs: → the human accepted)   ${cell(warm.record)}`);
  console.log(`context webhook deliveries: cold ${cold.deliveries}/${N}, warm ${warm.deliveries}/${N}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
