import type { Registry } from 'prom-client';

/**
 * Metrics for the per-frame path (50 times a second per call per direction). A labelled
 * prom-client inc()/observe() costs about half a microsecond — label hashing, label checks, a
 * closure and objects per call — which showed in the load benchmark's profile. These two keep one
 * label, count with a Map lookup and a few adds (or none: a child bound with `labels()`, which
 * each call holds per direction), allocate nothing per call, and export exactly
 * what prom-client's Counter and Histogram export (same text, same get() shape), registered on
 * the same registry.
 *
 * The registry has no public interface for a foreign metric, so the format is imitated:
 * test/unit/observability/fast-metrics.test.ts compares both exports for the same observations,
 * and so fails on a prom-client upgrade that changes the format.
 */

interface FastMetricConfig<L extends string> {
  name: string;
  help: string;
  /** the single label, e.g. `direction` */
  labelNames: [L];
  registers: Registry[];
}

type Labels<L extends string> = Partial<Record<L, string>>;

abstract class FastMetric<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: [L];
  readonly aggregator = 'sum' as const;
  protected readonly label: L;

  constructor(cfg: FastMetricConfig<L>) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(cfg.name)) throw new Error(`invalid metric name ${cfg.name}`);
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = cfg.labelNames;
    this.label = cfg.labelNames[0];
    // The registry only needs name + get(); its Metric type is nominal, hence the cast.
    for (const r of cfg.registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected key(labels: Labels<L> | undefined): string {
    const v = labels?.[this.label];
    return v === undefined ? '' : String(v);
  }

  protected labelsOf(key: string): Record<string, string> {
    return key === '' ? {} : { [this.label]: key };
  }
}

interface Cell {
  value: number;
  /** dropped by reset(): a bound child looks its series up again */
  dead: boolean;
}

/** A counter bound to one label value, like prom-client's `labels()`: no lookup per inc. */
export interface CounterChild {
  inc(value?: number): void;
}

/** prom-client's own checks and messages */
function checkFinite(value: number): void {
  if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
}

function checkCounterValue(value: number): void {
  checkFinite(value);
  if (value < 0) throw new Error('It is not possible to decrease a counter');
}

export class FastCounter<L extends string> extends FastMetric<L> {
  readonly type = 'counter' as const;
  private values = new Map<string, Cell>();

  inc(labels?: Labels<L>, value = 1): void {
    checkCounterValue(value);
    this.cellFor(this.key(labels)).value += value;
  }

  /** The series of one label value, bound once (the per-frame path holds one per direction). */
  labels(value: string): CounterChild {
    const key = String(value);
    let cell: Cell | undefined; // made on the first inc, as prom-client shows no series before
    return {
      inc: (by = 1) => {
        checkCounterValue(by);
        if (cell === undefined || cell.dead) cell = this.cellFor(key);
        cell.value += by;
      },
    };
  }

  private cellFor(key: string): Cell {
    let c = this.values.get(key);
    if (!c) {
      c = { value: 0, dead: false };
      this.values.set(key, c);
    }
    return c;
  }

  async get() {
    const values = [...this.values].map(([k, c]) => ({ value: c.value, labels: this.labelsOf(k) }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const c of this.values.values()) c.dead = true;
    this.values.clear();
  }
}

interface Series {
  /** per bucket, not cumulative; the last one is +Inf */
  counts: Float64Array;
  sum: number;
  count: number;
  /** dropped by reset(): a bound child looks its series up again */
  dead: boolean;
}

/** A histogram bound to one label value, like prom-client's `labels()`. */
export interface HistogramChild {
  observe(value: number): void;
}

export class FastHistogram<L extends string> extends FastMetric<L> {
  readonly type = 'histogram' as const;
  private readonly bounds: Float64Array;
  private series = new Map<string, Series>();

  constructor(cfg: FastMetricConfig<L> & { buckets: number[] }) {
    super(cfg);
    const sorted = [...cfg.buckets].sort((a, b) => a - b);
    this.bounds = Float64Array.from(sorted);
  }

  observe(labels: Labels<L> | undefined, value: number): void {
    checkFinite(value);
    this.record(this.seriesFor(this.key(labels)), value);
  }

  /** The series of one label value, bound once (the per-frame path holds one per direction). */
  labels(value: string): HistogramChild {
    const key = String(value);
    let series: Series | undefined; // made on the first observation, as with prom-client
    return {
      observe: (v: number) => {
        checkFinite(v);
        if (series === undefined || series.dead) series = this.seriesFor(key);
        this.record(series, v);
      },
    };
  }

  private seriesFor(key: string): Series {
    let s = this.series.get(key);
    if (!s) {
      s = { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0, dead: false };
      this.series.set(key, s);
    }
    return s;
  }

  private record(s: Series, value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  async get() {
    const bucket = `${this.name}_bucket`;
    const values: { value: number; labels: Record<string, string | number>; metricName: string; exemplar?: null }[] =
      [];
    for (const [k, s] of this.series) {
      const own = this.labelsOf(k);
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ value: acc, labels: { le: this.bounds[i]!, ...own }, metricName: bucket, exemplar: null });
      }
      values.push({ value: s.count, labels: { le: '+Inf', ...own }, metricName: bucket, exemplar: null });
      values.push({ value: s.sum, labels: { ...own }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...own }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const x of this.series.values()) x.dead = true;
    this.series.clear();
  }
}
