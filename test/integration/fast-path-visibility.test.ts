/**
 * The receive fast paths read private fields of Node (src/net/shared-read.ts) and ws
 * (src/net/ws-fast-receive.ts) and fall back silently when those change. The bridge says at
 * start-up whether each is active and keeps it as `bridge_fast_path_active{path}`: on this Node
 * and the pinned ws both read 1, so an upgrade that disables one fails here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeFastPaths, probeFastPaths } from '../../src/net/fast-path-probe.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';

describe('fast path visibility', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('both fast paths are active on this Node and ws: the metric reads 1 for each and the start-up line says so', async () => {
    h = await startHarness();
    expect(await metricValue(h.bridge, 'bridge_fast_path_active', { path: 'shared_read' })).toBe(1);
    expect(await metricValue(h.bridge, 'bridge_fast_path_active', { path: 'ws_fast_receive' })).toBe(1);
    const lines = h.logs.find(/^receive fast paths:/);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toBe('receive fast paths: shared_read active, ws_fast_receive active');
    expect(lines[0]!.level).toBe(30); // info
  });

  it('with bridge.shared_read_buffer false both read 0 and the line says why', async () => {
    h = await startHarness({ tweak: (cfg) => (cfg.file.bridge.shared_read_buffer = false) });
    expect(await metricValue(h.bridge, 'bridge_fast_path_active', { path: 'shared_read' })).toBe(0);
    expect(await metricValue(h.bridge, 'bridge_fast_path_active', { path: 'ws_fast_receive' })).toBe(0);
    const [line] = h.logs.find(/^receive fast paths:/);
    expect(line!.msg).toMatch(/shared_read fell back \(off: bridge\.shared_read_buffer is false\)/);
  });

  it('the probe itself: active with a reason naming what it runs on; a fallback is described with its reason', async () => {
    const report = await probeFastPaths(true);
    expect(report.shared_read).toEqual({ active: true, reason: expect.stringContaining(process.version) });
    expect(report.ws_fast_receive).toEqual({ active: true, reason: expect.stringMatching(/^ws 8\.\d+\.\d+ /) });
    expect(
      describeFastPaths({
        shared_read: { active: true, reason: 'x' },
        ws_fast_receive: { active: false, reason: 'ws Receiver._state is undefined, not number' },
      }),
    ).toBe(
      'receive fast paths: shared_read active, ws_fast_receive fell back (ws Receiver._state is undefined, not number)',
    );
  });
});
