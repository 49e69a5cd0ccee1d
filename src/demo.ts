import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseOrExit } from './cli-args.js';
import { DEMO } from './cli-commands.js';
import { writeWav } from './audio/index.js';
import { loadScenario } from './sim/engine/scenario.js';
import { SIM_AUTH_TOKEN, startStack } from './sim/stack.js';
import { createLogger } from './observability/logger.js';
import { formatTimeline, maskE164 } from './sim/twilio/index.js';
import type { CallRecord } from './call/record.js';
import { startExampleMcpServer } from './sim/mcp-example.js';
import { addDemoCrm, engineSent, unmetExpectations, watchEngine } from './demo-shared.js';
import { runSipDemo } from './demo-sip.js';

export { unmetExpectations } from './demo-shared.js';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * `npm run demo`: the whole product offline. The bridge (signatures on), the offline engine
 * running a contact-center script, and the Twilio simulator placing one call, printed live.
 * With `--sip` the same call comes in over SIP from baresip instead (src/demo-sip.ts).
 */
export async function runDemo(argv: string[]): Promise<number> {
  const args = parseOrExit(DEMO, argv);
  if (args.exit !== undefined) return args.exit;
  const values = {
    json: args.values.json === true,
    out: resolve(typeof args.values.out === 'string' ? args.values.out : join(ROOT, 'recordings', 'demo-call.wav')),
  };
  const human = args.values.human as 'answer' | 'busy' | 'no-answer' | 'failed';
  const scenario = await loadScenario(join(ROOT, 'config', 'demo-scenario.yaml'));
  if (args.values.sip === true) return runSipDemo({ ...values, human, scenario });
  const records: CallRecord[] = [];
  const print = (line: string) => {
    if (!values.json) process.stdout.write(`${line}\n`);
  };

  print('omni-phone-bridge demo — offline: built-in Omni engine + Twilio simulator, no accounts needed\n');
  // The agent's CRM is an MCP server (the SDK's server side, on loopback): its tool is discovered.
  const crm = await startExampleMcpServer();
  const stack = await startStack({
    // With --json, stdout is the JSON alone: the bridge's warnings go to stderr.
    ...(values.json
      ? { logger: createLogger({ level: 'warn', secrets: [SIM_AUTH_TOKEN], destination: process.stderr }) }
      : {}),
    engine: { scenario },
    human: { answer: human, talkMs: 2500, ringMs: 1500 },
    onCallRecord: (r) => records.push(r),
    tweak: (config) => addDemoCrm(config, crm.url),
  }).catch(async (err: unknown) => {
    await crm.close();
    throw err;
  });
  // Only the demo waits for discovery (a real call never does), so its first call has the tool.
  await stack.bridge.mcp.whenSettled(5000);
  print(
    `MCP server crm ${crm.url} · tools ${
      stack.bridge.mcp
        .connection('support', 'crm')
        ?.tools.map((t) => t.exposed)
        .join(', ') || 'none'
    }`,
  );
  print(`bridge ${stack.bridgeUrl} · engine ${stack.engine.url} · fake Twilio REST ${stack.sim.restBase}\n`);
  try {
    const call = stack.sim.placeCall({
      to: '+15550001111',
      from: '+15557654321',
      maxDurationMs: 90_000,
      caller: [
        { afterAgentSilenceMs: 700, say: 'Hi, I would like to know where my order four four one seven is.' },
        // Only once the agent has asked (its collect is open) and finished saying so: digits keyed
        // earlier, in the pause while a tool looks the order up, reach no collect, which times out.
        {
          when: { ready: () => engineSent(stack.engine, 'collect'), what: "the agent's question (its collect)" },
          afterAgentSilenceMs: 700,
          dtmf: '482913#',
        },
      ],
    });
    const placedAt = Date.now();
    call.on('timeline', (e) => print(formatTimeline([e])));
    const engineView = watchEngine(stack.engine, (what) =>
      print(formatTimeline([{ atMs: Date.now() - placedAt, who: 'agent', what }])),
    );
    const result = await call.done;
    clearInterval(engineView);
    // Let the bridge write its call record (it ends on the stream's stop).
    await new Promise((r) => setTimeout(r, 300));
    mkdirSync(join(values.out, '..'), { recursive: true });
    writeFileSync(values.out, writeWav(result.heard, 8000));
    const summary = {
      callSid: result.callSid,
      endedBy: result.endedBy,
      durationMs: result.durationMs,
      streams: result.streams.length,
      restUpdates: result.restUpdates,
      dialed: (result.dialed ?? []).map((d) => ({ ...d, target: maskE164(d.target) })),
      violations: result.violations,
      toolCalls: records.flatMap((r) => r.tools),
      verbs: records.flatMap((r) => r.verbs.filter((v) => v.verb !== 'status')),
      engineViolations: stack.engine.violations,
      recording: values.out,
    };
    if (values.json)
      process.stdout.write(
        `${maskE164(JSON.stringify({ ...summary, unmet: unmetExpectations(summary), timeline: result.timeline }))}\n`,
      );
    else {
      print('\n— summary —');
      print(`call ${summary.callSid} ended by ${summary.endedBy} after ${(summary.durationMs / 1000).toFixed(1)} s`);
      print(
        `tools: ${summary.toolCalls.map((t) => `${t.name}${t.executor === 'mcp' ? ` (MCP ${t.server})` : ''} ${t.outcome} ${t.durationMs} ms`).join(', ') || 'none'}`,
      );
      print(`engine verbs: ${summary.verbs.map((v) => `${v.verb} → ${v.result}`).join(', ') || 'none'}`);
      print(`transfers: ${summary.dialed.map((d) => `${d.target} → ${d.result}`).join(', ') || 'none'}`);
      print(
        `protocol violations: Twilio side ${summary.violations.length}, engine side ${summary.engineViolations.length}`,
      );
      print(`what the caller heard: ${summary.recording}`);
    }
    const unmet = unmetExpectations(summary);
    if (unmet.length) process.stderr.write(`demo: the scripted call did not go as written: ${unmet.join('; ')}\n`);
    const ok = result.violations.length === 0 && stack.engine.violations.length === 0 && unmet.length === 0;
    return ok ? 0 : 1;
  } finally {
    await stack.close();
    await crm.close();
  }
}
