import { Counter, type Metric, type Registry } from 'prom-client';

/**
 * Request metrics counted in plain numbers on the request path and handed to prom-client only when
 * Prometheus scrapes. prom-client validates and hashes a label object (sorting its keys), builds a
 * closure and an object, and looks a bucket up by a number-to-string key on every `inc` and
 * `observe`: at thousands of warm hits a second that cost more CPU than serving them.
 */

type Labels<L extends string> = Record<L, string>;

/** One counter series: `n` counted so far, `seen` of it already handed to prom-client. */
interface CounterCell { n: number; seen: number; readonly labels: Record<string, string> }

/** Series are looked up by a short key the caller builds from its label values. */
const MAX_SERIES = 10_000;

/**
 * A prom-client Counter (so /metrics, label names and `getSingleMetric` are unchanged) whose
 * per-request increments go to plain cells; `collect()` adds what each cell gained since the last
 * scrape. Past MAX_SERIES distinct keys, increments go straight to prom-client (still counted).
 */
export class TallyCounter<L extends string> {
  readonly metric: Counter<L>;
  private readonly cells = new Map<string, CounterCell>();

  constructor(cfg: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }) {
    const cells = this.cells;
    this.metric = new Counter<L>({
      ...cfg,
      collect() {
        for (const c of cells.values()) {
          if (c.n > c.seen) { this.inc(c.labels as Labels<L>, c.n - c.seen); c.seen = c.n; }
        }
      },
    });
  }

  /** The cell counting `key`, once `add` made it. Split from `add` so a hit allocates nothing. */
  cell(key: string): CounterCell | undefined { return this.cells.get(key); }

  /** Counts `n` for a key without a cell yet (its first time, or past the series cap). */
  add(key: string, labels: Labels<L>, n = 1): void {
    if (this.cells.size >= MAX_SERIES) { this.metric.inc(labels, n); return; }
    this.cells.set(key, { n, seen: 0, labels });
  }
}

/** One histogram series: per-bucket counts (the last slot is above every bound), sum and count. */
interface HistogramSeries { readonly labels: Record<string, string>; readonly counts: Float64Array; sum: number; count: number }

/**
 * A Prometheus histogram kept in typed arrays, registered as a prom-client metric: it renders the
 * same exposition text as prom-client's Histogram (a test holds them equal) and answers the same
 * `get()`, `labelNames` and `reset()`.
 */
export class PlainHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  private readonly bounds: readonly number[];
  private series = new Map<string, HistogramSeries>();

  constructor(cfg: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registers: Registry[] }) {
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = cfg.labelNames;
    this.bounds = [...cfg.buckets].sort((a, b) => a - b);
    for (const r of cfg.registers) r.registerMetric(this as unknown as Metric);
  }

  /** The series for `key`, once `open` made it. */
  seriesFor(key: string): HistogramSeries | undefined { return this.series.get(key); }

  /** Makes the series for `key` (past the cap, a throwaway one: bounded memory wins). */
  open(key: string, labels: Labels<L>): HistogramSeries {
    const s = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
    if (this.series.size < MAX_SERIES) this.series.set(key, s);
    return s;
  }

  observe(s: HistogramSeries, v: number): void {
    if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${v}`);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    s.counts[i]!++;
    s.sum += v;
    s.count++;
  }

  /** What prom-client's Histogram returns, in the same order: buckets, +Inf, sum, count per series. */
  getForPromString(): { name: string; help: string; type: string; values: unknown[]; aggregator: string } {
    const values: unknown[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.bounds[i] }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** As prom-client's `get()`: series labels merged into each value's labels. */
  async get(): Promise<{ name: string; help: string; type: string; values: unknown[]; aggregator: string }> {
    const data = this.getForPromString();
    data.values = data.values.map((v) => {
      const { sharedLabels, labels, ...rest } = v as { sharedLabels: Record<string, string>; labels: Record<string, unknown> };
      return { ...rest, labels: { ...labels, ...sharedLabels } };
    });
    return data;
  }

  reset(): void { this.series = new Map(); }
}
