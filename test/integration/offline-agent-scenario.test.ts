/**
 * An agent names its offline scenario (`offline: { scenario: FILE }`): with no Omni key, the
 * built-in engine runs that scenario for that agent's calls — here one that calls the agent's own
 * module tool — while another agent's calls keep the default echo agent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/loader.js';
import { createLogger } from '../../src/observability/logger.js';
import { startBridge } from '../../src/serve.js';
import { freePort, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { startTwilioSimulator } from '../../src/sim/twilio/index.js';
import { waitFor } from '../helpers/harness.js';

const cleanups: { what: string; run: () => unknown }[] = [];
afterEach(async () => {
  // Each step has a hang guard that names it: a bridge whose stop hangs is a shutdown defect to see.
  while (cleanups.length) {
    const { what, run } = cleanups.pop()!;
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`cleanup hung for 15 s: ${what}`)), 15_000);
    });
    await Promise.race([Promise.resolve(run()), hung]).finally(() => clearTimeout(timer));
  }
}, 60_000);

function project(scenario: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opb-offline-'));
  cleanups.push({ what: 'remove the project folder', run: () => rmSync(dir, { recursive: true, force: true }) });
  writeFileSync(
    join(dir, 'look_up.js'),
    'export default async (args) => ({ order: String(args.order_id), status: "shipped" });\n',
  );
  writeFileSync(join(dir, 'orders.yaml'), scenario);
  writeFileSync(
    join(dir, 'agents.yaml'),
    `default_agent: orders
agents:
  - id: orders
    persona: You look orders up.
    offline: { scenario: ./orders.yaml }
    tools:
      - name: look_up
        description: Looks an order up.
        side_effect: read
        parameters: { type: object, properties: { order_id: { type: string } }, required: [order_id] }
        executor: { kind: module, module: ./look_up.js }
  - id: other
    persona: You are another agent.
numbers:
  '+15550001111': { agent: orders }
  '+15550002222': { agent: other }
`,
  );
  return dir;
}

const SCENARIO = `name: orders
steps:
  - tool_call: { name: look_up, arguments: { order_id: '77' }, say_template: 'Order {{order}} has {{status}}.' }
  - say: That is all.
`;

async function start(dir: string) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const sim = await startTwilioSimulator({
    bridgeUrl: url,
    publicUrl: url,
    accountSid: SIM_ACCOUNT_SID,
    authToken: SIM_AUTH_TOKEN,
    human: { answer: 'answer', talkMs: 300 },
  });
  cleanups.push({ what: 'close the Twilio simulator', run: () => sim.close() });
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    BRIDGE_CONFIG: join(dir, 'agents.yaml'),
    TWILIO_ACCOUNT_SID: SIM_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: SIM_AUTH_TOKEN,
    TWILIO_API_BASE: sim.restBase,
  });
  const running = await startBridge(config, { logger: createLogger({ level: 'silent' }) });
  cleanups.push({ what: 'stop the bridge and its offline engine', run: () => running.stop() });
  return { sim, running };
}

describe("an agent's own offline scenario", () => {
  it("runs for that agent's calls and calls its tool; another agent's calls get the echo agent", async () => {
    const { sim, running } = await start(project(SCENARIO));
    const engine = running.engine!;
    const call = sim.placeCall({ to: '+15550001111', from: '+15557654321', maxDurationMs: 30_000 });
    await waitFor(() => engine.sessions.some((s) => s.toolResults.length > 0), 30_000);
    const session = engine.sessions.find((s) => s.toolResults.length > 0)!;
    expect(session.toolResults[0]).toMatchObject({ name: 'look_up', output: { order: '77', status: 'shipped' } });
    call.hangup();
    await call.done;

    const other = sim.placeCall({ to: '+15550002222', from: '+15557654321', maxDurationMs: 30_000 });
    await waitFor(() => engine.sessions.length >= 2, 30_000);
    other.hangup();
    await other.done;
    expect(engine.sessions[1]!.toolResults).toEqual([]);
    expect(engine.sessions[1]!.eventsSent.some((e) => String(e.event ?? e.type) === 'tool_call')).toBe(false);
  }, 90_000);

  it('a scenario that does not load stops start-up, naming the agent and the step', async () => {
    const dir = project('steps:\n  - tool_cal: { name: x }\n');
    await expect(start(dir)).rejects.toThrow(ConfigError);
    await expect(start(dir)).rejects.toThrow(/agents\.orders\.offline\.scenario: .*steps\[0\]/);
  });
});
