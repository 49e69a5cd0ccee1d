/**
 * Stuck calls on the live view: a call with no audio either way for
 * bridge.console_stuck_after_s (2 s here, 10 by default) is flagged in the event stream and the
 * calls list; audio again clears the flag. The scripted engine greets, then waits for a caller
 * who says nothing: dead air.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CALLER, startBridgeStack, SUPPORT_NUMBER, type BridgeStack } from '../helpers/bridge-stack.js';
import { tone } from '../helpers/audio.js';
import { consoleLogin, readEvents } from '../helpers/console.js';
import { waitFor } from '../helpers/harness.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('stuck admin');
let h: BridgeStack | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('console: stuck calls', () => {
  it('flags a call silent both ways for the configured time, and clears the flag when audio comes back', async () => {
    h = await startBridgeStack({
      env: { ADMIN_TOKEN: ADMIN },
      bridge: { console_stuck_after_s: 2 },
      steps: [{ wait_for_caller: true, timeout_ms: 60_000 }, { say: 'Heard you.' }, { wait_ms: 60_000 }],
    });
    const login = await consoleLogin(h.bridgeUrl, ADMIN);
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 90_000 });
    await waitFor(() => h!.bridge.ctx.registry.get(call.callSid)?.hasStream === true, 20_000);
    const mine = (e: Record<string, unknown>) => e.kind === 'stuck' && e.callSid === call.callSid;
    // One stream throughout: a new watcher starts its count of silence afresh.
    let spoke = false;
    let listed: boolean | undefined;
    const { events } = await readEvents(
      h.bridgeUrl,
      '/console/api/events',
      login.cookie,
      (evs) => {
        const flags = evs.filter(mine);
        if (flags[0]?.stuck === true && !spoke) {
          spoke = true;
          // Flagged: the list says so too; then the caller speaks and the flag must clear.
          void fetch(`${h!.bridgeUrl}/console/api/calls`, { headers: { cookie: login.cookie } })
            .then((r) => r.json())
            .then((j: { calls: { callSid: string; stuck: boolean }[] }) => {
              listed = j.calls.find((c) => c.callSid === call.callSid)?.stuck;
              call.play(tone(1000, 1500, 8000, 12000));
            });
        }
        return flags.length >= 2;
      },
      60_000,
    );
    const flags = events.filter(mine);
    expect(flags[0]).toMatchObject({ stuck: true });
    expect(flags[0]!.silentMs as number).toBeGreaterThanOrEqual(2000);
    expect(listed).toBe(true);
    expect(flags[1]).toMatchObject({ stuck: false });
    call.hangup();
  }, 120_000);
});
