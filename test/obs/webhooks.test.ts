// Alert webhooks: retried until the receiver accepts, never thrown at the caller, bounded by the
// retry count when the receiver is dead; generic JSON and Slack bodies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebhookNotifier } from '../../src/obs/alerts/webhooks.js';
import type { Alert } from '../../src/obs/alerts/engine.js';
import { freePort } from '../helpers/ports.js';
import { startReceiver } from './setup.js';
import { waitFor } from '../helpers/wait.js';

const alert: Alert = { id: 'a1', time: Date.UTC(2026, 0, 1), rule: 'failed-logins', key: '10.1.2.3', clientIp: '10.1.2.3', severity: 'critical', summary: '12 failed logins from 10.1.2.3 within 15 min', value: 12, threshold: 10, windowMs: 900_000 };

describe('WebhookNotifier', () => {
  it('retries a failing receiver until it accepts (JSON and Slack bodies)', async () => {
    const rx = await startReceiver();
    rx.failFirst(2);
    const n = new WebhookNotifier([{ url: `${rx.url}/json`, format: 'json', headers: {} }, { url: `${rx.url}/slack`, format: 'slack', headers: {} }], { retries: 4, timeoutMs: 2000, backoffMs: 20 });
    n.send(alert);
    await waitFor(() => n.delivered === 2, 'deliveries', 10_000);
    const json = JSON.parse(rx.bodies.find((b) => b.path === '/json')!.body);
    assert.deepEqual(json, { version: 1, source: 'regway', status: 'firing', alert });
    const slack = JSON.parse(rx.bodies.find((b) => b.path === '/slack')!.body);
    assert.match(slack.text, /^:rotating_light: \*regway critical\*: 12 failed logins from 10\.1\.2\.3/);
    assert.equal(slack.blocks[0].type, 'section');
    assert.equal(n.failed, 0);
    await n.close();
    await rx.stop();
  });

  it('a dead receiver: send() returns at once, the alert is given up after the retries', async () => {
    const n = new WebhookNotifier([{ url: `http://127.0.0.1:${await freePort()}/hook`, format: 'json', headers: {} }], { retries: 2, timeoutMs: 1000, backoffMs: 10 });
    n.send(alert);
    assert.deepEqual([n.delivered, n.failed], [0, 0], 'delivery happens after send() returned, off the caller path');
    await waitFor(() => n.failed === 1, 'give-up', 10_000);
    assert.equal(n.delivered, 0);
    await n.close();
  });
});
