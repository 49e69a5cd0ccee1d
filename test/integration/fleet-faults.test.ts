/**
 * The fleet store's faults and defences: a stream token replayed on another replica, Redis lost
 * in the middle of a call, and a REDIS_URL that does not answer at start-up.
 */
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CALLER, janitor, startBridgeStack, SALES_NUMBER } from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { postVoice, RawStream, tokenOf } from '../helpers/raw-twilio.js';
import { dropPrefix, keysUnder, NO_REDIS, randomPrefix, REDIS_URL } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { BRIDGE_CLI } from '../helpers/process.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { METRICS_AUTH } from '../helpers/tokens.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const j = janitor();
const prefixes: string[] = [];
afterAll(async () => {
  await j.closeAll();
  for (const p of prefixes) await dropPrefix(p);
});

/** A bridge whose Redis connection runs through a proxy the test can cut and restore. */
async function stackBehindProxy(fleet: Record<string, unknown>) {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  const proxy = j.track(await startTcpProxy(Number(new URL(REDIS_URL).port || 6379)));
  const h = j.track(
    await startBridgeStack({
      env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_KEY_PREFIX: prefix },
      bridge: { fleet },
    }),
  );
  return { prefix, proxy, h };
}

/** a test that needs a Redis: skipped only when it did not answer before the run, never under CI=true */
const itRedis = it.skipIf(NO_REDIS);

describe('fleet store faults and defences', () => {
  itRedis(
    'refuses a stream token replayed on another replica while the first stream is live',
    async () => {
      const prefix = randomPrefix();
      prefixes.push(prefix);
      const env = { REDIS_URL, REDIS_KEY_PREFIX: prefix };
      const a = j.track(await startBridgeStack({ env }));
      const b = j.track(await startBridgeStack({ env }));
      const callSid = `CA${'ab'.repeat(16)}`;
      const hook = await postVoice(a.target, { callSid, to: SALES_NUMBER });
      const token = tokenOf(hook.body)!;
      const first = j.track(await RawStream.open(a.target));
      first.startWith(callSid, { token });
      await first.waitFor((m) => m.event === 'media', 10_000);
      const replay = j.track(await RawStream.open(b.target));
      replay.startWith(callSid, { token });
      await replay.closed;
      expect(b.bridge.ctx.registry.get(callSid)).toBeUndefined();
      expect(
        await b.bridge.ctx.metrics.registry.getSingleMetricAsString('bridge_media_streams_refused_total'),
      ).toContain('reason="token_replayed"} 1');
      expect(a.bridge.ctx.registry.get(callSid)?.hasStream).toBe(true);
    },
    40_000,
  );

  itRedis(
    'keeps a call going when Redis is lost mid-call, reports degraded and counts errors, and rejoins when it returns',
    async () => {
      const { prefix, proxy, h } = await stackBehindProxy({ lease_s: 3 });
      const call = h.sim.placeCall({ to: SALES_NUMBER, from: CALLER, maxDurationMs: 14_000 });
      await waitFor(() => h.bridge.ctx.registry.get(call.callSid)?.hasStream === true, 10_000);
      proxy.cut();
      const ready = async () =>
        (await fetch(`${h.bridgeUrl}/readyz`, { headers: METRICS_AUTH }).then((r) => r.json())) as { status: string };
      const t0 = Date.now();
      while ((await ready()).status !== 'degraded' && Date.now() - t0 < 10_000)
        await new Promise((r) => setTimeout(r, 100));
      expect((await ready()).status).toBe('degraded');
      // A renewal (every second here) meets the lost store: counted, and nothing waits on it.
      await waitFor(() => false, 2500).catch(() => undefined);
      expect(await h.bridge.ctx.metrics.registry.getSingleMetricAsString('bridge_store_errors_total')).toMatch(
        /op="renew"} [1-9]/,
      );
      expect(h.bridge.ctx.registry.get(call.callSid)?.hasStream).toBe(true);
      // Redis is emptied meanwhile (a restart): the replica's renewals write its calls back.
      await dropPrefix(prefix);
      proxy.restore();
      const t1 = Date.now();
      while (!(await keysUnder(prefix)).includes(`${prefix}call:${call.callSid}`) && Date.now() - t1 < 15_000)
        await new Promise((r) => setTimeout(r, 100));
      expect(await keysUnder(prefix)).toContain(`${prefix}call:${call.callSid}`);
      expect((await ready()).status).toBe('ready');
      const result = await call.done;
      expect(result.endedBy).toBe('timeout');
      expect(result.streams).toHaveLength(1);
      expect(result.violations).toEqual([]);
    },
    60_000,
  );

  itRedis(
    'answers 504 when the replica holding a call is gone, and 503 when the store is unreachable',
    async () => {
      const { prefix, proxy, h } = await stackBehindProxy({ control_timeout_ms: 500 });
      const ghost = j.track(await RedisStore.connect({ url: REDIS_URL, prefix, replicaId: 'ghost', leaseMs: 15_000 }));
      const callSid = `CA${'cd'.repeat(16)}`;
      await ghost.register({ callSid, replica: 'ghost', agent: 'sales', startedAt: Date.now(), status: 'in-progress' });
      await ghost.close(); // the owner's process is gone; its entry is still under lease
      const gone = await h.bridge.ctx.calls.hangup(callSid);
      expect(gone).toMatchObject({ status: 504, body: { error: 'owner_unavailable', replica: 'ghost' } });
      expect((await h.bridge.ctx.calls.list()).calls.map((c) => c.replica)).toEqual(['ghost']);
      proxy.cut();
      await waitFor(() => h.bridge.ctx.registry.store.health() === 'degraded', 10_000);
      expect(await h.bridge.ctx.calls.transfer(callSid)).toMatchObject({
        status: 503,
        body: { error: 'store_unavailable' },
      });
      expect((await h.bridge.ctx.calls.list()).partial).toBe(true);
    },
    40_000,
  );

  it('exits non-zero at start-up, naming REDIS_URL, when Redis does not answer', async () => {
    const child = spawn(process.execPath, [...BRIDGE_CLI, 'serve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: '0',
        TWILIO_SIGNATURE_VALIDATION: 'off',
        REDIS_URL: 'redis://:hunter2secret@127.0.0.1:1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(out).toContain('REDIS_URL (redis://127.0.0.1:1) is unreachable');
    expect(out).not.toContain('hunter2secret');
  }, 120_000);
});
