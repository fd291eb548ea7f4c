import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from './metrics.js';

test('regway_cluster_coordination_up: absent on a single instance, 1 or 0 in a fleet', async () => {
  // prom-client would print an unset unlabelled gauge as 0, which reads as "degraded" to an alert.
  const single = await new Metrics({}, { defaultMetrics: false }).text();
  assert.doesNotMatch(single, /regway_cluster_coordination_up/);
  let healthy = true;
  const fleet = new Metrics({ coordination: () => (healthy ? 1 : 0) }, { defaultMetrics: false });
  assert.match(await fleet.text(), /^regway_cluster_coordination_up 1$/m);
  healthy = false;
  assert.match(await fleet.text(), /^regway_cluster_coordination_up 0$/m);
});

test('tool requests are counted by tool and operation, and nowhere else', async () => {
  const m = new Metrics({}, { defaultMetrics: false });
  m.tool('bench', 'manifest'); m.tool('bench', 'manifest'); m.tool('doctor', 'ping');
  const text = await m.text();
  assert.match(text, /^regway_tool_requests_total\{tool="bench",operation="manifest"\} 2$/m);
  assert.match(text, /^regway_tool_requests_total\{tool="doctor",operation="ping"\} 1$/m);
  assert.doesNotMatch(text, /^regway_http_requests_total\{/m);
  assert.doesNotMatch(text, /^regway_pulls_total\{/m);
});
