import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastHistogram } from '../../../src/observability/fast-metrics.js';

// The per-frame metrics replace prom-client's classes on the hot path; a scrape must not be able
// to tell the difference.

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1];
const SAMPLES = [0, 0.00005, 0.0001, 0.00011, 0.0003, 0.001, 0.0049, 0.005, 0.02, 0.1, 0.5, 3];

function both() {
  const ref = new Registry();
  const fast = new Registry();
  return {
    ref,
    fast,
    refCounter: new Counter({ name: 'x_frames_total', help: 'frames', labelNames: ['direction'], registers: [ref] }),
    fastCounter: new FastCounter({
      name: 'x_frames_total',
      help: 'frames',
      labelNames: ['direction'],
      registers: [fast],
    }),
    refHist: new Histogram({
      name: 'x_latency_seconds',
      help: 'latency',
      labelNames: ['direction'],
      buckets: BUCKETS,
      registers: [ref],
    }),
    fastHist: new FastHistogram({
      name: 'x_latency_seconds',
      help: 'latency',
      labelNames: ['direction'],
      buckets: BUCKETS,
      registers: [fast],
    }),
  };
}

describe('fast per-frame metrics', () => {
  it('export the same Prometheus text as prom-client for the same observations', async () => {
    const m = both();
    for (const d of ['from_twilio', 'to_twilio', 'from_twilio', 'from_engine']) {
      m.refCounter.inc({ direction: d });
      m.fastCounter.inc({ direction: d });
    }
    m.refCounter.inc({ direction: 'to_twilio' }, 5);
    m.fastCounter.inc({ direction: 'to_twilio' }, 5);
    for (const [i, v] of SAMPLES.entries()) {
      const direction = i % 3 === 0 ? 'outbound' : 'inbound';
      m.refHist.observe({ direction }, v);
      m.fastHist.observe({ direction }, v);
    }
    expect(await m.fast.metrics()).toBe(await m.ref.metrics());
    expect(await m.fast.getMetricsAsJSON()).toEqual(await m.ref.getMetricsAsJSON());
  });

  it('reset empties them, like prom-client', async () => {
    const m = both();
    m.refCounter.inc({ direction: 'a' });
    m.fastCounter.inc({ direction: 'a' });
    m.refHist.observe({ direction: 'a' }, 0.001);
    m.fastHist.observe({ direction: 'a' }, 0.001);
    m.ref.resetMetrics();
    m.fast.resetMetrics();
    expect(await m.fast.metrics()).toBe(await m.ref.metrics());
  });

  it("bound children (labels()) count into the same series as prom-client's, before and after a reset", async () => {
    const m = both();
    const refIn = m.refCounter.labels('from_twilio');
    const fastIn = m.fastCounter.labels('from_twilio');
    const refLat = m.refHist.labels('inbound');
    const fastLat = m.fastHist.labels('inbound');
    expect(await m.fast.metrics()).toBe(await m.ref.metrics()); // no series before the first use
    for (const v of SAMPLES) {
      refIn.inc();
      fastIn.inc();
      refLat.observe(v);
      fastLat.observe(v);
    }
    m.refCounter.inc({ direction: 'from_twilio' }, 2); // the unbound form adds to the same series
    m.fastCounter.inc({ direction: 'from_twilio' }, 2);
    expect(await m.fast.metrics()).toBe(await m.ref.metrics());
    m.ref.resetMetrics();
    m.fast.resetMetrics();
    refIn.inc(3);
    fastIn.inc(3);
    refLat.observe(0.002);
    fastLat.observe(0.002);
    expect(await m.fast.metrics()).toBe(await m.ref.metrics());
    expect(() => fastIn.inc(-1)).toThrow();
    expect(() => fastLat.observe(Number.NaN)).toThrow();
  });

  it('refuse what prom-client refuses', () => {
    const m = both();
    expect(() => m.fastCounter.inc({ direction: 'a' }, -1)).toThrow();
    expect(() => m.fastCounter.inc({ direction: 'a' }, Number.NaN)).toThrow();
    expect(() => m.fastHist.observe({ direction: 'a' }, Number.POSITIVE_INFINITY)).toThrow();
  });
});
