// Vulnerability reports with real clients (docs/policy.md): the test makes its keys, writes cosign
// vuln attestations (DSSE, in-toto, Trivy JSON result) itself, attaches them as the .att tag or as
// OCI 1.1 referrers in a real distribution, and pulls through regway with skopeo and ctr. A passing
// report is served; a missing, too old, over-threshold or untrusted one is refused with the reason in
// skopeo's stderr. Audit mode serves and counts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, pushIndex, type PushedImage, type PushedIndex } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { skopeoCopy, ociLayoutDigest, startContainerd, writeHostsToml, ctrPull, ctrPullRaw, type Containerd } from '../helpers/clients.js';
import { cosignSign, makeKey, writePublicKey, type TestKey } from '../helpers/cosign.js';
import { cosignAttestVuln } from '../helpers/attest.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import { trace, formatTrace } from '../../src/diagnose/trace/index.js';
import { get, isolated, show } from '../diagnose/fixtures/assert.js';

const PRIVATE = 'registry.example.com';
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY);

describe('pull policy: vulnerability reports, through regway, with real clients', () => {
  let up: Distribution;
  let gw: TestGateway;
  let tmp: string;
  let scanner: TestKey;
  let stranger: TestKey;
  let signer: TestKey;
  const img: Record<string, PushedImage> = {};
  let multi: PushedIndex;
  let half: PushedIndex;

  const attest = (name: string, digest: string, severities: string[], extra: { key?: TestKey; age?: number; mode?: 'tag' | 'referrer' } = {}) =>
    cosignAttestVuln(up.url, name, digest, extra.key ?? scanner, { severities, scanFinishedOn: daysAgo(extra.age ?? 1), mode: extra.mode });

  before(async () => {
    tmp = makeTempDir('policy-vuln');
    scanner = makeKey();
    stranger = makeKey();
    signer = makeKey();
    up = await startDistribution();
    for (const n of ['scanned/clean', 'scanned/refclean', 'scanned/missing', 'scanned/old', 'scanned/over', 'scanned/untrusted', 'scanned/newer', 'audit/over', 'both/ok', 'both/unsigned']) {
      img[n] = await pushImage(up.url, n, 'v1', { layers: 1, layerSize: 32 * 1024 });
    }
    multi = await pushIndex(
      up.url,
      'scanned/multi',
      'v1',
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      { layers: 1, layerSize: 32 * 1024 },
    );
    const d = (n: string) => img[n]!.manifestDigest;
    await attest('scanned/clean', d('scanned/clean'), ['HIGH', 'HIGH', 'MEDIUM', 'LOW']);
    await attest('scanned/refclean', d('scanned/refclean'), ['CRITICAL'], { mode: 'referrer' });
    await attest('scanned/old', d('scanned/old'), [], { age: 10 });
    await attest('scanned/over', d('scanned/over'), ['CRITICAL', 'CRITICAL', 'CRITICAL', 'HIGH']);
    await attest('scanned/untrusted', d('scanned/untrusted'), [], { key: stranger });
    // An old over-threshold report and a newer clean one (as a referrer): the newest counts.
    await attest('scanned/newer', d('scanned/newer'), ['CRITICAL', 'CRITICAL'], { age: 3 });
    await attest('scanned/newer', d('scanned/newer'), ['LOW'], { mode: 'referrer' });
    await attest('audit/over', d('audit/over'), ['CRITICAL', 'CRITICAL']);
    for (const c of multi.children) await attest('scanned/multi', c.manifestDigest, ['MEDIUM']);
    // An index whose amd64 image has no report: the index passes (reports belong to platform images), the image does not.
    half = await pushIndex(
      up.url,
      'scanned/half',
      'v1',
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      { layers: 1, layerSize: 32 * 1024 },
    );
    await attest('scanned/half', half.children[1]!.manifestDigest, []);
    for (const n of ['both/ok', 'both/unsigned']) await attest(n, d(n), []);
    await cosignSign(up.url, 'both/ok', d('both/ok'), signer, { dockerReference: `${PRIVATE}/both/ok` });
    const vulnerabilities = { keys: [{ file: writePublicKey(tmp, 'scanner', scanner) }], maxCritical: 1, maxHigh: 2, maxAge: '7d' };
    gw = await startGateway({
      registries: { [PRIVATE]: [up.url] },
      policies: [
        { name: 'scanned', repositories: [`${PRIVATE}/scanned/**`], require: 'none', vulnerabilities },
        { name: 'audit-scan', repositories: [`${PRIVATE}/audit/**`], mode: 'audit', require: 'none', vulnerabilities },
        { name: 'signed-and-scanned', repositories: [`${PRIVATE}/both/**`], keys: [signer.publicPem], vulnerabilities },
      ],
    });
  });
  after(async () => {
    await gw?.stop();
    await up?.stop();
    if (tmp) removeTempDir(tmp);
  });

  const viaSkopeo = (name: string, multiArch = false) => {
    const dir = join(tmp, name.replace('/', '-'));
    return skopeoCopy(`docker://${gw.host}/${PRIVATE}/${name}:v1`, `oci:${dir}:v1`, multiArch ? { multiArch: 'all' } : {}).then((r) => ({ ...r, dir }));
  };

  it('skopeo: images with a passing report (.att tag, OCI 1.1 referrer, newest of two, per platform image) are served, byte for byte', async () => {
    for (const n of ['scanned/clean', 'scanned/refclean', 'scanned/newer', 'both/ok']) {
      const r = await viaSkopeo(n);
      assert.equal(r.code, 0, `${n}: ${r.stderr}`);
      assert.equal(ociLayoutDigest(r.dir, 'v1'), img[n]!.manifestDigest);
    }
    const r = await viaSkopeo('scanned/multi', true);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ociLayoutDigest(r.dir, 'v1'), multi.digest);
  });

  it("skopeo: missing, too old, over-threshold and untrusted reports are refused, the reason in skopeo's stderr", async () => {
    const expect: Record<string, RegExp> = {
      'scanned/missing': /pull policy scanned refuses sha256:[0-9a-f]{64}: report missing/,
      'scanned/old': /pull policy scanned refuses .*report .*scanned \S+, 10d ago; maxAge is 7d/,
      'scanned/over': /pull policy scanned refuses .*3 critical \(limit 1\) above the limit/,
      'scanned/untrusted': /pull policy scanned refuses .*report untrusted/,
      'both/unsigned': /pull policy signed-and-scanned refuses .*unsigned/,
    };
    for (const [n, re] of Object.entries(expect)) {
      const r = await viaSkopeo(n);
      assert.notEqual(r.code, 0, `${n} must be refused`);
      assert.match(r.stderr, /denied/i, r.stderr);
      assert.match(r.stderr, re, r.stderr);
    }
  });

  it('403 DENIED carries the policy and the reason in detail, by digest too', async () => {
    const reasons: Record<string, string> = {
      'scanned/missing': 'report-missing',
      'scanned/old': 'report-too-old',
      'scanned/over': 'vulnerabilities-above-limit',
      'scanned/untrusted': 'report-untrusted',
    };
    for (const [n, reason] of Object.entries(reasons)) {
      const r = await request(`${gw.url}/v2/${PRIVATE}/${n}/manifests/${img[n]!.manifestDigest}`, { headers: { accept: img[n]!.mediaType } });
      const e = JSON.parse(await r.body.text()).errors[0];
      assert.equal(r.statusCode, 403, n);
      assert.deepEqual({ code: e.code, policy: e.detail.policy, reason: e.detail.reason }, { code: 'DENIED', policy: 'scanned', reason }, n);
    }
  });

  it('audit mode serves the over-threshold image and counts it; verdicts are cached (no more .att fetches)', async () => {
    const r = await viaSkopeo('audit/over');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ociLayoutDigest(r.dir, 'v1'), img['audit/over']!.manifestDigest);
    const metrics = await (await request(`${gw.url}/metrics`)).body.text();
    const count = (labels: string) => Number(new RegExp(`regway_policy_decisions_total\\{${labels}\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    assert.ok(count('policy="audit-scan",decision="would-deny",reason="vulnerabilities-above-limit"') >= 1, metrics);
    assert.equal(count('policy="audit-scan",decision="deny",reason="vulnerabilities-above-limit"'), 0);
    assert.ok(count('policy="scanned",decision="allow",reason="report-passed"') >= 3, metrics);
    assert.ok(count('policy="scanned",decision="deny",reason="report-missing"') >= 1, metrics);
    const attFetches = async () => (await up.accessLog()).filter((l) => l.path.includes(`${img['scanned/clean']!.manifestDigest.replace(':', '-')}.att`)).length;
    const before = await attFetches();
    assert.ok(before >= 1, 'the report was fetched from the upstream once');
    for (let i = 0; i < 20; i++) {
      const m = await request(`${gw.url}/v2/${PRIVATE}/scanned/clean/manifests/v1`, { headers: { accept: img['scanned/clean']!.mediaType } });
      await m.body.dump();
      assert.equal(m.statusCode, 200);
    }
    assert.equal(await attFetches(), before);
  });

  it('regway doctor through the gateway shows the verdict and what would make the image pass', async () => {
    const doctor = (n: string) => runDoctor(`${PRIVATE}/${n}:v1`, { ...isolated(tmp), via: gw.url, timeoutMs: 10_000, platform: 'linux/amd64' });
    const over = await doctor('scanned/over');
    const denied = get(over, 'POLICY_DENIED');
    assert.match(denied.detail, /pull policy scanned: deny \(vulnerabilities-above-limit\): pull policy scanned refuses sha256:\S+: 3 critical \(limit 1\) above the limit/, show(over));
    assert.match(denied.fix ?? '', /fix the vulnerabilities .* attest a new scan, raise maxCritical/);
    assert.equal(over.worst, 'error');
    const half = await doctor('scanned/half');
    assert.match(get(half, 'POLICY_DENIED').detail, /deny \(report-missing\)/, show(half));
    assert.match(get(half, 'POLICY_DENIED').fix ?? '', /cosign attest --key scanner\.key --type vuln/);
    assert.match(get(await doctor('scanned/clean'), 'POLICY_ALLOWED').detail, /pull policy scanned: allow \(report-passed\)/);
    const audit = await doctor('audit/over');
    assert.match(get(audit, 'POLICY_WOULD_DENY').detail, /pull policy audit-scan: would-deny \(vulnerabilities-above-limit\)/, show(audit));
  });

  it('regway trace shows the verdict of the gateway endpoint, with what would make it pass', async () => {
    const root = join(tmp, 'node');
    mkdirSync(join(root, 'etc/containerd/certs.d', PRIVATE), { recursive: true });
    writeFileSync(join(root, 'etc/containerd/certs.d', PRIVATE, 'hosts.toml'), `server = "http://127.0.0.1:1"\n\n[host."${gw.url}"]\n  capabilities = ["pull", "resolve"]\n`);
    const over = await trace(`${PRIVATE}/scanned/over:v1`, { root, runtimes: ['containerd'], timeoutMs: 5_000 });
    const p = over.runtimes[0]!.endpoints[0]!.probe;
    assert.equal(p?.status, 403);
    assert.match(p?.said ?? '', /pull policy scanned: deny \(vulnerabilities-above-limit\): .*3 critical \(limit 1\).*; to pass: fix the vulnerabilities/);
    assert.match(formatTrace(over), /403: pull policy scanned: deny/);
    const clean = await trace(`${PRIVATE}/scanned/clean:v1`, { root, runtimes: ['containerd'], timeoutMs: 5_000 });
    assert.match(clean.runtimes[0]!.endpoints[0]!.probe?.policy ?? '', /^pull policy scanned: allow \(report-passed\)$/);
    assert.match(formatTrace(clean), /pull policy scanned: allow \(report-passed\)/);
  });

  describe('containerd', () => {
    let c: Containerd;
    before(async () => {
      c = await startContainerd();
    });
    after(async () => {
      await c?.stop();
    });

    it('ctr pulls the image with a passing report; the over-threshold one fails with 403; a refused platform image shows the policy', async (t) => {
      const hosts = join(tmp, 'certs.d');
      writeHostsToml(hosts, PRIVATE, { server: 'http://127.0.0.1:1', mirrors: [{ url: gw.url, capabilities: ['pull', 'resolve'] }] });
      assert.equal(await ctrPull(c, `${PRIVATE}/scanned/clean:v1`, hosts), img['scanned/clean']!.manifestDigest);
      const r = await ctrPullRaw(c, `${PRIVATE}/scanned/over:v1`, hosts);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /403|denied/i, r.stderr);
      t.diagnostic(`ctr, refused by HEAD: ${r.stderr.trim()}`);
      // containerd fetches a platform image by GET and quotes the error body ("Server message: …").
      const h = await ctrPullRaw(c, `${PRIVATE}/scanned/half:v1`, hosts);
      assert.notEqual(h.code, 0);
      assert.match(h.stderr, /Server message: denied: pull policy scanned refuses sha256:[0-9a-f]{64}: report missing/, h.stderr);
      t.diagnostic(`ctr, refused platform image: ${h.stderr.trim()}`);
    });
  });
});
