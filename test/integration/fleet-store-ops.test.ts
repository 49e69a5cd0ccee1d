/**
 * Nothing on the audio path touches the fleet store: a whole call costs the same, small number
 * of store operations whether it lasts one second or four.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis-store.js';
import { CALLER, janitor, startBridgeStack, SUPPORT_NUMBER } from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { dropPrefix, NO_REDIS, randomPrefix, REDIS_URL } from '../helpers/redis.js';

const j = janitor();
const prefix = randomPrefix();
afterAll(async () => {
  await j.closeAll();
  await dropPrefix(prefix);
});

const total = (ops: Map<string, number>) => [...ops.values()].reduce((a, b) => a + b, 0);

// Skipped only when Redis did not answer before the run, and never under CI=true (NO_REDIS).
describe.skipIf(NO_REDIS)('fleet store operations per call', () => {
  it('a call costs a bounded number of store operations, independent of its length (Redis store)', async () => {
    // A lease far longer than the test: no periodic renewal falls inside the measured calls.
    const store = j.track(
      await RedisStore.connect({ url: REDIS_URL, prefix, replicaId: 'ops-test', leaseMs: 300_000 }),
    );
    const h = j.track(await startBridgeStack({ store, bridge: { fleet: { lease_s: 300, max_concurrent_calls: 50 } } }));
    const perCall: number[] = [];
    for (const ms of [1000, 4000]) {
      const before = total(store.ops);
      const n = h.records.length;
      const call = h.sim.placeCall({
        to: SUPPORT_NUMBER,
        from: CALLER,
        maxDurationMs: ms,
        caller: [{ atMs: 200, noiseMs: 300 }],
      });
      await call.done;
      await waitFor(() => h.records.length > n, 10_000);
      // The end's release and the status callback's writes are fire-and-forget: let them land.
      await new Promise((r) => setTimeout(r, 300));
      perCall.push(total(store.ops) - before);
    }
    expect(perCall[0]).toBeGreaterThan(0);
    expect(perCall[0]).toBeLessThanOrEqual(12);
    expect(perCall[1]).toBe(perCall[0]);
    expect(store.ops.get('renew') ?? 0).toBe(0);
  }, 40_000);
});
