/**
 * `omni-phone-bridge call` shows the agent's side of the call, as the demo does: its words, each
 * tool call with its arguments and result, its verbs, and the caller's DTMF, read from the
 * bridge's console feed with the bridge's ADMIN_TOKEN. A wrong token is said once and the call
 * goes on without that side; numbers stay masked on the terminal.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/sim/engine/index.js';
import { freePort, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { runCallCli, type CliIo } from '../../src/sim/twilio/cli.js';
import { AGENT_NUMBER, CALLER_NUMBER, testConfig, toneVoice } from '../helpers/control.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('call cli admin');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
}, 30_000);

const STEPS = [
  { say: 'Press one for stock.' },
  {
    verb: 'collect',
    args: { field: 'choice', kind: 'dtmf', num_digits: 1, timeout_ms: 8000 },
    call_id: 'c1',
    await_result: true,
  },
  { tool_call: { name: 'stock', arguments: { item: 'bolts', phone: CALLER_NUMBER }, call_id: 't1' } },
  { say: 'We have three left.' },
  { verb: 'end_call', args: { reason: 'done' }, call_id: 'e1' },
];

async function stack(restPort: number): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'opb-call-cli-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'stock.js'), 'export default async (args) => ({ item: args.item, left: 3 });\n');
  const tools = [
    {
      name: 'stock',
      description: 'Says what is in stock.',
      side_effect: 'read',
      parameters: { type: 'object', properties: { item: { type: 'string' }, phone: { type: 'string' } } },
      executor: { kind: 'module', module: './stock.js' },
    },
  ];
  const h = await startHarness({
    configText: JSON.stringify(testConfig({ agent: { tools }, bridge: { call_record_transcript: true } })),
    configDir: dir,
    engine: { scenario: parseScenario({ name: 'cli', steps: STEPS }), tts: toneVoice },
    // call control goes to the CLI's own fake REST API
    env: { ADMIN_TOKEN: ADMIN, TWILIO_API_BASE: `http://127.0.0.1:${restPort}` },
  });
  cleanups.push(() => h.close());
  return h;
}

async function call(h: Harness, restPort: number, adminToken: string | undefined) {
  const out: string[] = [];
  const err: string[] = [];
  const env: NodeJS.ProcessEnv = {
    TWILIO_AUTH_TOKEN: SIM_AUTH_TOKEN,
    ...(adminToken ? { ADMIN_TOKEN: adminToken } : {}),
  };
  const io: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s), env };
  const code = await runCallCli(
    // prettier-ignore
    ['--bridge', h.bridgeUrl, '--public-url', h.bridgeUrl, '--account-sid', SIM_ACCOUNT_SID, '--rest-port', String(restPort),
     '--to', AGENT_NUMBER, '--from', CALLER_NUMBER, '--dtmf', '1', '--dtmf-after-silence', '600', '--max-duration', '20000'],
    io,
  );
  return { code, out: out.join(''), err: err.join('') };
}

describe('omni-phone-bridge call: the agent side', () => {
  it("prints the agent's words, the tool call with its arguments and result, the verbs and the DTMF", async () => {
    const restPort = await freePort();
    const h = await stack(restPort);
    const r = await call(h, restPort, ADMIN);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const agent = r.out.split('\n').filter((l) => /^\d\d:\d\d\.\d{3}  agent /.test(l));
    const text = agent.join('\n');
    expect(text).toContain('says "Press one for stock."');
    expect(text).toContain('collect → ');
    expect(text).toMatch(/tool_call stock \{"item":"bolts","phone":"•••4321"\}/);
    expect(text).toMatch(/← tool_result stock: \{"item":"bolts","left":3\} \[ok\] \(\d+ ms\)/);
    expect(text).toContain('says "We have three left."');
    expect(text).toContain('end_call → ');
    expect(r.out).toMatch(/caller +dtmf 1/);
    // the order of the call: the question, the digit, the tool, the answer
    const at = (s: string) => r.out.indexOf(s);
    expect(at('Press one')).toBeLessThan(at('dtmf 1'));
    expect(at('tool_call stock')).toBeLessThan(at('We have three left'));
    // numbers masked on the terminal as in a log
    expect(r.out).not.toContain(CALLER_NUMBER);
    expect(r.out).not.toContain(CALLER_NUMBER.slice(1));
  }, 60_000);

  it('a wrong ADMIN_TOKEN is said once and the call goes on without the agent side; without one, how to get it', async () => {
    const restPort = await freePort();
    const h = await stack(restPort);
    const wrong = await call(h, restPort, testToken('not the admin'));
    expect(wrong.code).toBe(0);
    expect(wrong.err).toMatch(/^the bridge's console refused the login \(401\)/);
    expect(wrong.err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(wrong.out).not.toContain('tool_call');
    const none = await call(h, restPort, undefined);
    expect(none.code).toBe(0);
    expect(none.out).toContain('set ADMIN_TOKEN');
  }, 90_000);
});
