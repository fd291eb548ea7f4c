import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { PlainHistogram, TallyCounter } from './tally.js';

const BUCKETS = [0.001, 0.01, 0.1, 1, 10];
// Values on bucket bounds, between them, below the first and above the last.
const VALUES = [0, 0.0005, 0.001, 0.0011, 0.05, 0.1, 0.99, 1, 7, 10, 11, 300];

describe('PlainHistogram renders what prom-client renders', () => {
  it('same /metrics text and get() for the same observations, series in first-seen order', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const cfg = { name: 'x_seconds', help: 'test histogram', labelNames: ['op'] as const, buckets: BUCKETS };
    const plain = new PlainHistogram({ ...cfg, labelNames: ['op'], registers: [ours] });
    const prom = new Histogram({ ...cfg, labelNames: ['op'], registers: [theirs] });
    VALUES.forEach((v, i) => {
      const op = i % 3 === 0 ? 'blob' : 'manifest';
      plain.observe(plain.seriesFor(op) ?? plain.open(op, { op }), v);
      prom.observe({ op }, v);
    });
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
    assert.deepEqual((ours.getSingleMetric('x_seconds') as unknown as { labelNames: string[] }).labelNames, ['op']);
  });

  it('refuses a value that is not a number, like prom-client', () => {
    const h = new PlainHistogram({ name: 'y', help: 'y', labelNames: [], buckets: BUCKETS, registers: [] });
    assert.throws(() => h.observe(h.open('', {}), Number.NaN), TypeError);
  });

  it('reset() empties it', async () => {
    const r = new Registry();
    const h = new PlainHistogram({ name: 'z', help: 'z', labelNames: ['a'], buckets: BUCKETS, registers: [r] });
    h.observe(h.open('1', { a: '1' }), 1);
    r.resetMetrics();
    assert.doesNotMatch(await r.metrics(), /z_count/);
  });
});

describe('TallyCounter', () => {
  it('matches a prom-client Counter at every scrape, and only adds what changed since the last one', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const tally = new TallyCounter({ name: 'req_total', help: 'requests', labelNames: ['op', 'status'], registers: [ours] });
    const prom = new Counter({ name: 'req_total', help: 'requests', labelNames: ['op', 'status'], registers: [theirs] });
    const count = (op: string, status: number, n = 1) => {
      const k = `${op} ${status}`;
      const c = tally.cell(k);
      if (c) c.n += n; else tally.add(k, { op, status: String(status) }, n);
      prom.inc({ op, status: String(status) }, n);
    };
    count('manifest', 200); count('manifest', 200); count('blob', 404, 3);
    assert.equal(await ours.metrics(), await theirs.metrics());
    count('manifest', 200, 5);
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.equal(await ours.metrics(), await theirs.metrics()); // a scrape with nothing new adds nothing
    assert.match(await ours.metrics(), /^req_total\{op="manifest",status="200"\} 7$/m);
    assert.deepEqual((ours.getSingleMetric('req_total') as unknown as { labelNames: string[] }).labelNames, ['op', 'status']);
  });
});
