import { afterEach, describe, expect, it } from 'vitest';
import { bridgeTestConfig, CALLER, SUPPORT_NUMBER } from '../helpers/bridge-stack.js';
import { adminCalls, eventually, startBridgeProcess, type BridgeProcess } from '../helpers/bridge-process.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('reload admin');
const NEW_NUMBER = '+15550003333';
const SIGHUP_NUMBER = '+15550004444';

let b: BridgeProcess | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

/** Support and sales agents; only the support number is routed at first. */
function config(numbers: Record<string, { agent: string }>) {
  return { ...bridgeTestConfig(), numbers };
}

describe('configuration reload in a running process', () => {
  it('adds a number while a call is in progress (the call goes on; a new call reaches its agent), refuses an invalid file naming the field, and reloads on SIGHUP', async () => {
    b = await startBridgeProcess({ config: config({ [SUPPORT_NUMBER]: { agent: 'support' } }), adminToken: ADMIN });
    const bridge = b;
    const first = bridge.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 120_000 });
    let firstEnded = false;
    void first.done.then(() => (firstEnded = true));
    await eventually(
      async () => (await adminCalls(bridge)).get(first.callSid) === 'support',
      30_000,
      'first call listed',
    );

    // Before the reload the new number is not routed: it goes to the default agent (support).
    bridge.writeConfig(config({ [SUPPORT_NUMBER]: { agent: 'support' }, [NEW_NUMBER]: { agent: 'sales' } }));
    const r = await bridge.admin('/admin/config/reload', 'POST');
    expect(r.status).toBe(200);
    expect(r.json.ok).toBe(true);
    expect((r.json.changes as { numbers: { added: string[] } }).numbers.added).toEqual([NEW_NUMBER]);
    expect(bridge.output()).toContain('configuration reloaded: numbers added: +15550003333');

    const second = bridge.sim.placeCall({ to: NEW_NUMBER, from: CALLER, maxDurationMs: 120_000 });
    await eventually(
      async () => (await adminCalls(bridge)).get(second.callSid) === 'sales',
      30_000,
      'call to the new number reaches sales',
    );
    const during = await adminCalls(bridge);
    expect(during.get(first.callSid)).toBe('support'); // the call in progress was not touched

    // An invalid file: refused with the field named, and the configuration in force stays.
    const bad = {
      ...config({ [SUPPORT_NUMBER]: { agent: 'support' } }),
      agents: [{ id: 'support', persona: 'x', transfer: { timeout_s: 2 } }],
    };
    bridge.writeConfig(bad);
    const refused = await bridge.admin('/admin/config/reload', 'POST');
    expect(refused.status).toBe(422);
    expect(refused.json.ok).toBe(false);
    expect(String(refused.json.error)).toContain('agents.0.transfer.timeout_s');
    const third = bridge.sim.placeCall({ to: NEW_NUMBER, from: CALLER, maxDurationMs: 120_000 });
    await eventually(
      async () => (await adminCalls(bridge)).get(third.callSid) === 'sales',
      30_000,
      'the old configuration still routes',
    );

    // SIGHUP: the same reload from the signal.
    bridge.writeConfig(
      config({
        [SUPPORT_NUMBER]: { agent: 'support' },
        [NEW_NUMBER]: { agent: 'sales' },
        [SIGHUP_NUMBER]: { agent: 'sales' },
      }),
    );
    bridge.child.kill('SIGHUP');
    await eventually(
      () => bridge.output().includes('configuration reloaded: numbers added: +15550004444'),
      30_000,
      'SIGHUP reload logged',
    );
    const fourth = bridge.sim.placeCall({ to: SIGHUP_NUMBER, from: CALLER, maxDurationMs: 120_000 });
    await eventually(
      async () => (await adminCalls(bridge)).get(fourth.callSid) === 'sales',
      30_000,
      'call to the SIGHUP number reaches sales',
    );

    if (firstEnded)
      console.log(
        JSON.stringify((await first.done).endedBy),
        first.timeline.map((e) => JSON.stringify(e).slice(0, 200)).join('\n'),
        bridge.output().slice(0, 6000),
      );
    expect(firstEnded).toBe(false); // still running: ended by the caller below, not by any reload
    for (const c of [second, third, fourth]) c.hangup();
    first.hangup();
    const done = await first.done;
    expect(done.endedBy).toBe('caller');
    expect(bridge.child.exitCode).toBeNull();
  }, 240_000);
});
