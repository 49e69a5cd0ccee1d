/** Reading a bridge's Prometheus metrics in tests (each bridge owns its registry). */
import type { Bridge } from '../../src/bridge.js';
import { METRICS_AUTH } from './tokens.js';

/** GET /metrics over HTTP as a scraper does, with the harness's METRICS_TOKEN (or `token`). */
export async function scrapeMetrics(baseUrl: string, token?: string): Promise<string> {
  const headers = token ? { authorization: `Bearer ${token}` } : METRICS_AUTH;
  const res = await fetch(`${baseUrl}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  return res.text();
}

type Labels = Record<string, string>;

function matches(have: Record<string, unknown>, want: Labels): boolean {
  return Object.entries(want).every(([k, v]) => String(have[k]) === v);
}

/** Sum of a counter/gauge's values whose labels include `labels`. */
export async function metricValue(bridge: Bridge, name: string, labels: Labels = {}): Promise<number> {
  const m = bridge.ctx.metrics.registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values.filter((v) => matches(v.labels, labels)).reduce((s, v) => s + v.value, 0);
}

/** Every (labels → value) of a metric, for failure messages. */
export async function metricDump(bridge: Bridge, name: string): Promise<string> {
  return bridge.ctx.metrics.registry.getSingleMetricAsString(name);
}

export interface HistogramSummary {
  count: number;
  /** upper-bound estimates (seconds) by linear interpolation inside the bucket */
  p50: number;
  p99: number;
}

/** Quantiles of a histogram (one label set), interpolated from its buckets. */
export async function histogramQuantiles(bridge: Bridge, name: string, labels: Labels = {}): Promise<HistogramSummary> {
  const m = bridge.ctx.metrics.registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = (await m.get()) as {
    values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
  };
  const buckets = values
    .filter((v) => v.metricName === `${name}_bucket` && matches(v.labels, labels))
    .map((v) => ({ le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), n: v.value }))
    .sort((a, b) => a.le - b.le);
  const count = buckets.at(-1)?.n ?? 0;
  const q = (p: number): number => {
    const target = p * count;
    let prevLe = 0;
    let prevN = 0;
    for (const b of buckets) {
      if (b.n >= target) {
        if (!Number.isFinite(b.le)) return prevLe;
        const share = b.n === prevN ? 1 : (target - prevN) / (b.n - prevN);
        return prevLe + share * (b.le - prevLe);
      }
      prevLe = b.le;
      prevN = b.n;
    }
    return prevLe;
  };
  return { count, p50: q(0.5), p99: q(0.99) };
}

/** A metric's value (summed over matching label sets) as a bridge process serves it on /metrics. */
export async function scrapedValue(baseUrl: string, name: string, labels: Labels = {}): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: METRICS_AUTH, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === String(v))) sum += Number(m[3]);
  }
  return sum;
}
