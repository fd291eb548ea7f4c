// What observability promises operators, end to end against a real registry (CNCF distribution) on loopback:
//   - 150 pulls from one client address fire exactly one pulls-per-hour alert (default threshold 100)
//     to webhook receivers started here (generic JSON and Slack), listed by GET /-/alerts;
//   - the audit log holds one image-pull line per pull, with the right ECS fields and no credentials;
//   - X-Forwarded-For is believed from a trusted proxy only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startObsGateway, scriptedPull, pool, startReceiver, auditLines, type ObsGateway, type Receiver } from './setup.js';
import { waitFor } from '../helpers/wait.js';

const UP_USER = 'puller';
const UP_PASS = 'S3cr3t-upstream-pw';
const CLIENT_AUTH = 'Basic ' + Buffer.from('ci-bot:Cl1ent-pw-42').toString('base64');
const HOOK_TOKEN = 'hook-token-0xdeadbeef';
const CLIENT = '203.0.113.7';

describe('150 pulls from one address: one alert, 150 audit lines, no credentials', () => {
  let up: Distribution;
  let gw: ObsGateway;
  let json: Receiver;
  let slack: Receiver;
  let img: PushedImage;

  before(async () => {
    up = await startDistribution({ htpasswd: { user: UP_USER, password: UP_PASS } });
    img = await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 4096, auth: { user: UP_USER, password: UP_PASS } });
    json = await startReceiver();
    slack = await startReceiver();
    gw = await startObsGateway(
      { 'registry.example.com': { upstreams: [{ url: up.url, role: 'origin', auth: { username: UP_USER, password: UP_PASS } }] } },
      {
        trustedProxies: ['127.0.0.1'],
        // Defaults for the rule under test (threshold 100 per hour, cooldown 1 h): only receivers are set.
        alerts: { webhooks: [{ url: `${json.url}/hook`, format: 'json', headers: { authorization: `Bearer ${HOOK_TOKEN}` } }, { url: `${slack.url}/slack`, format: 'slack' }] },
      },
    );
  });
  after(async () => { await gw?.stop(); await up?.stop(); await json?.stop(); await slack?.stop(); });

  it('fires exactly one pulls-per-client alert to each webhook, and GET /-/alerts lists it', async () => {
    const statuses: number[] = [];
    await pool(150, 8, async () => {
      const r = await scriptedPull(gw.url, 'registry.example.com/team/app', 'v1', { 'x-forwarded-for': CLIENT, authorization: CLIENT_AUTH });
      statuses.push(r.status);
      assert.ok(r.blobsOk, 'every layer served');
    });
    assert.deepEqual(new Set(statuses), new Set([200]));
    await waitFor(() => json.bodies.length >= 1 && slack.bodies.length >= 1, 'webhook deliveries', 10_000);
    // the time is the subject: proving no second alert is sent needs a quiet second after the first
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(json.bodies.length, 1, 'exactly one generic webhook call');
    assert.equal(slack.bodies.length, 1, 'exactly one Slack webhook call');
    const a = JSON.parse(json.bodies[0]!.body);
    assert.equal(a.alert.rule, 'pulls-per-client');
    assert.equal(a.alert.clientIp, CLIENT);
    assert.equal(a.alert.threshold, 100);
    assert.equal(a.alert.value, 101, 'fires on the 101st pull');
    assert.equal(json.bodies[0]!.headers.authorization, `Bearer ${HOOK_TOKEN}`);
    const s = JSON.parse(slack.bodies[0]!.body);
    assert.match(s.text, /203\.0\.113\.7 pulled 101 images/);
    assert.ok(Array.isArray(s.blocks));
    const listed = await (await fetch(`${gw.url}/-/alerts`)).json() as { alerts: { rule: string; key: string }[] };
    assert.deepEqual(listed.alerts.map((x) => [x.rule, x.key]), [['pulls-per-client', CLIENT]]);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /^regway_alerts_fired_total\{rule="pulls-per-client"\} 1$/m);
    assert.match(metrics, /^regway_pulls_total\{registry="registry.example.com",outcome="success"\} 150$/m);
  });

  it('the audit log has one image-pull line per pull, with the right fields', async () => {
    await waitFor(() => auditLines(gw.auditPath).filter((l) => l.event?.action === 'image-pull').length >= 150, 'audit lines', 5_000);
    const lines = auditLines(gw.auditPath);
    const pulls = lines.filter((l) => l.event.action === 'image-pull');
    assert.equal(pulls.length, 150);
    for (const l of pulls) {
      assert.equal(l.client.ip, CLIENT, 'X-Forwarded-For from the trusted proxy');
      assert.equal(l.http.request.method, 'GET');
      assert.equal(l.http.response.status_code, 200);
      assert.equal(l.http.response.body.bytes, img.manifest.length);
      assert.equal(l.container.image.name, 'registry.example.com/team/app');
      assert.deepEqual(l.container.image.tag, ['v1']);
      assert.deepEqual(l.container.image.hash.all, [img.manifestDigest]);
      assert.equal(l.user_agent.original, 'scripted-pull/1.0');
      assert.ok(l.event.duration > 0);
      assert.ok(['hit', 'miss', 'coalesced', 'revalidated'].includes(l.regway.cache), l.regway.cache);
      assert.equal(l.ecs.version, '8.11.0');
      assert.ok(!Number.isNaN(Date.parse(l['@timestamp'])));
    }
    assert.ok(pulls.some((l) => l.regway.cache === 'miss' && l.regway.upstream === up.url), 'the first pull names the upstream it used');
    // Layers are audited as blob reads, never as pulls.
    assert.equal(lines.filter((l) => l.event.action === 'blob-read').length, 150 * 3);
    const alerts = lines.filter((l) => l.event.kind === 'alert');
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.rule.name, 'pulls-per-client');
  });

  it('no credentials anywhere in the audit log', () => {
    const text = readFileSync(gw.auditPath, 'utf8');
    for (const secret of [UP_PASS, 'Cl1ent-pw-42', CLIENT_AUTH.slice(6), Buffer.from(`${UP_USER}:${UP_PASS}`).toString('base64'), HOOK_TOKEN]) {
      assert.ok(!text.includes(secret), `audit log contains a secret: ${secret.slice(0, 4)}…`);
    }
    assert.doesNotMatch(text, /authorization|Basic |Bearer /i);
  });
});

describe('X-Forwarded-For from an untrusted peer is ignored', () => {
  let up: Distribution;
  let gw: ObsGateway;
  before(async () => {
    up = await startDistribution();
    await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 1024 });
    gw = await startObsGateway({ 'registry.example.com': { upstreams: [{ url: up.url, role: 'origin' }] } }, { trustedProxies: ['10.0.0.0/8'] });
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  it('the socket address is audited, not the forged header', async () => {
    const r = await scriptedPull(gw.url, 'registry.example.com/team/app', 'v1', { 'x-forwarded-for': '198.51.100.99' });
    assert.equal(r.status, 200);
    await waitFor(() => auditLines(gw.auditPath).some((l) => l.event.action === 'image-pull'), 'audit line', 5_000);
    const pull = auditLines(gw.auditPath).find((l) => l.event.action === 'image-pull')!;
    assert.equal(pull.client.ip, '127.0.0.1');
  });
});
