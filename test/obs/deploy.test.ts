// deploy/prometheus/rules.yaml and deploy/grafana/regway-dashboard.json may only use metrics (and
// label names) that a running gateway exposes at /metrics, and recording rules that rules.yaml defines.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startObsGateway, origin, type ObsGateway } from './setup.js';

const root = process.cwd();
interface Rule { record?: string; alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const rules = parse(readFileSync(join(root, 'deploy/prometheus/rules.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/regway-dashboard.json'), 'utf8')) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };

const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
const dashExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));

/** Metric names (and the label names used in their selectors) in a PromQL expression. */
function selectors(expr: string): { metric: string; labels: string[] }[] {
  const out: { metric: string; labels: string[] }[] = [];
  for (const m of expr.matchAll(/\b(regway_[a-z0-9_]+)(\{([^}]*)\})?/g)) {
    const labels = [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((x) => x[1]!);
    out.push({ metric: m[1]!, labels });
  }
  // by (...) / without (...) clauses name labels too.
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    const metric = /\b(regway_[a-z0-9_]+)/.exec(expr.slice(m.index!))?.[1];
    if (metric) out.push({ metric, labels: m[1]!.split(',').map((s) => s.trim()).filter((s) => s && s !== 'le') });
  }
  return out;
}

describe('deploy/: Prometheus rules and Grafana dashboard', () => {
  let gw: ObsGateway;
  let exposed: Map<string, { type: string; labels: string[] }>;
  before(async () => {
    gw = await startObsGateway({ 'registry.example.com': origin('http://127.0.0.1:1') });
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    exposed = new Map();
    for (const m of text.matchAll(/^# TYPE (regway_[a-z0-9_]+) (\w+)$/gm)) {
      const metric = gw.obs.metrics.registry.getSingleMetric(m[1]!) as unknown as { labelNames?: string[] };
      exposed.set(m[1]!, { type: m[2]!, labels: metric?.labelNames ?? [] });
    }
  });
  after(async () => { await gw?.stop(); });

  it('every metric they use exists in /metrics, with the labels they select on', () => {
    const used = [...ruleExprs, ...dashExprs].flatMap(selectors);
    assert.ok(used.length > 30, `found ${used.length} selectors`);
    const missing: string[] = [];
    for (const { metric, labels } of used) {
      const base = metric.replace(/_(bucket|sum|count)$/, '');
      const m = exposed.get(metric) ?? (base !== metric && exposed.get(base)?.type === 'histogram' ? exposed.get(base) : undefined);
      if (!m) { missing.push(metric); continue; }
      for (const l of labels) if (!m.labels.includes(l)) missing.push(`${metric}{${l}}`);
    }
    assert.deepEqual([...new Set(missing)], []);
  });

  it('every recording rule they use is defined; alerts carry severity and a summary', () => {
    for (const e of [...ruleExprs, ...dashExprs]) {
      for (const m of e.matchAll(/\b(regway:[a-z0-9_:]+)/g)) assert.ok(recorded.has(m[1]!), `undefined recording rule ${m[1]}`);
    }
    const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert));
    assert.ok(alerts.length >= 10);
    for (const a of alerts) {
      assert.match(a.labels?.severity ?? '', /^(critical|warning|info)$/, a.alert);
      assert.ok(a.annotations?.summary, `${a.alert} has a summary`);
    }
    for (const want of ['RegwayPullErrorBudgetBurnFast', 'RegwayUpstreamDown', 'RegwayAnomalyPullsPerClient']) assert.ok(alerts.some((a) => a.alert === want), want);
  });

  it('the dashboard is importable: unique panel ids, a datasource input, every panel has a query', () => {
    const d = JSON.parse(readFileSync(join(root, 'deploy/grafana/regway-dashboard.json'), 'utf8'));
    const ids = d.panels.map((p: { id: number }) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(d.__inputs[0].pluginId, 'prometheus');
    for (const p of d.panels) if (p.type !== 'row') assert.ok(p.targets?.length > 0, p.title);
  });
});
