/**
 * CALL_RECORDS_FILE lines go through the same secret scrubber as the log. The attacker's move: get
 * a secret spoken into the conversation (here the agent repeats the admin token, as a prompt
 * injection might make it do), so that it lands in the record's transcript; before the fix the
 * record file had it verbatim while the log showed [redacted].
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/loader.js';
import { parseScenario } from '../../src/sim/engine/index.js';
import { freePort, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { startTwilioSimulator } from '../../src/sim/twilio/index.js';
import { startBridge } from '../../src/serve.js';
import { bridgeTestConfig, CALLER, SUPPORT_NUMBER } from '../helpers/bridge-stack.js';
import { LogCapture, waitFor } from '../helpers/harness.js';
import { createLogger } from '../../src/observability/logger.js';
import { testToken } from '../helpers/tokens.js';

// letters only: the record's digit-run redaction would otherwise split the token before the scrubber sees it
const ADMIN = testToken('records admin').replace(/[0-9]/g, (d) => 'ghijklmnop'[Number(d)]!);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('CALL_RECORDS_FILE', () => {
  it('writes no configured secret: a secret in the transcript is [redacted], as in the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opb-records-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'agents.json');
    const recordsPath = join(dir, 'records.jsonl');
    writeFileSync(configPath, JSON.stringify(bridgeTestConfig({ bridge: { call_record_transcript: true } })));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const sim = await startTwilioSimulator({
      bridgeUrl: url,
      publicUrl: url,
      accountSid: SIM_ACCOUNT_SID,
      authToken: SIM_AUTH_TOKEN,
      human: { answer: 'answer', talkMs: 300 },
    });
    cleanups.push(() => sim.close());
    const config = loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      BRIDGE_CONFIG: configPath,
      TWILIO_ACCOUNT_SID: SIM_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: SIM_AUTH_TOKEN,
      TWILIO_API_BASE: sim.restBase,
      ADMIN_TOKEN: ADMIN,
    });
    const saved = process.env.CALL_RECORDS_FILE;
    process.env.CALL_RECORDS_FILE = recordsPath;
    cleanups.push(() => {
      if (saved === undefined) delete process.env.CALL_RECORDS_FILE;
      else process.env.CALL_RECORDS_FILE = saved;
    });
    const logs = new LogCapture();
    const scenario = parseScenario({
      name: 'leaky agent',
      steps: [{ say: `Sure, the admin token is ${ADMIN} and the Twilio token is ${SIM_AUTH_TOKEN}.` }],
    });
    const running = await startBridge(config, {
      logger: createLogger({ level: 'info', destination: logs, secrets: [ADMIN, SIM_AUTH_TOKEN] }),
      engineOptions: { scenario },
    });
    cleanups.push(() => running.stop());

    const call = sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 15_000 });
    await waitFor(() => (running.engine?.sessions[0]?.transcripts.length ?? 0) > 0, 15_000);
    call.hangup();
    await call.done;
    await waitFor(() => readFileSync(recordsPath, 'utf8').includes('\n'), 10_000);

    const line = readFileSync(recordsPath, 'utf8');
    const record = JSON.parse(line.trim().split('\n')[0]!) as { callSid: string; transcript?: { text: string }[] };
    expect(record.callSid).toBe(call.callSid);
    // the secret really was in the transcript: the record keeps the words around it
    expect(record.transcript?.some((t) => t.text.includes('the admin token is [redacted]'))).toBe(true);
    expect(line).not.toContain(ADMIN);
    expect(line).not.toContain(SIM_AUTH_TOKEN);
    expect(logs.text()).not.toContain(ADMIN);
  }, 60_000);
});
