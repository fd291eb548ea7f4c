// A plain-HTTP lab registry on a non-loopback address (a network namespace, 10.79.x.2), as an
// operator has it on another machine. What the doctor says about it, and whether the hosts.toml
// that `regway config` renders from the doctor's fix makes containerd pull from it: loopback would
// hide the point, since containerd uses http for localhost by itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { applyCommand, planCommand } from '../../src/runtimes/commands.js';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import { ctrImageDigest, ctrPullRaw, startContainerd, type Containerd } from '../helpers/clients.js';
import { REGISTRY_BIN } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { canUseNetns, createNetns, type Netns } from '../helpers/netns.js';
import { waitForHttp } from '../helpers/ports.js';
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon, type Daemon } from '../helpers/proc.js';
import { absent, get, isolated, show } from '../diagnose/fixtures/assert.js';

describe('a plain-HTTP registry on a non-loopback address', { skip: !canUseNetns() && 'needs root and iproute2 (ip netns)' }, () => {
  let ns: Netns;
  let registry: Daemon;
  let ctrd: Containerd;
  let dir: string;
  let reg: string;
  let img: PushedImage;
  const sources = { env: {}, readFile: () => '' };

  before(async () => {
    dir = makeTempDir('netns-reg');
    ns = createNetns();
    reg = `${ns.nsIp}:5000`;
    writeFileSync(join(dir, 'config.yml'), stringify({
      version: 0.1, log: { level: 'warn' }, storage: { filesystem: { rootdirectory: join(dir, 'data') } }, http: { addr: reg },
    }));
    const [cmd, args] = ns.wrap(REGISTRY_BIN, ['serve', join(dir, 'config.yml')]);
    registry = spawnDaemon(cmd, args, { stdoutFile: join(dir, 'registry.log') });
    await waitForHttp(`http://${reg}/v2/`, 15_000);
    img = await pushImage(`http://${reg}`, 'lab/app', '1', { layers: 1, layerSize: 20_000 });
    ctrd = await startContainerd();
  });
  after(async () => {
    await ctrd?.stop();
    if (registry) await stopDaemon(registry, 5_000);
    ns?.stop();
    if (dir) removeTempDir(dir);
  });

  /** Applies a declarative file with one registry entry to a fresh tree; returns the tree and the plan's warnings. */
  async function render(entry: Record<string, unknown>): Promise<{ root: string; certsDir: string; warnings: string[] }> {
    const root = makeTempDir('netns-root');
    const file = join(root, 'spec.yaml');
    writeFileSync(file, stringify({ version: 1, targets: ['containerd'], registries: [{ host: reg, ...entry }] }));
    const { plan } = await planCommand({ root, file, sources });
    await applyCommand({ root, file, sources, reload: false });
    return { root, certsDir: join(root, 'etc/containerd/certs.d'), warnings: plan.warnings.map((w) => w.message) };
  }

  it('doctor: SCHEME_HTTP_ONLY is an error here (exit 2), information with --insecure (exit 0), and names the entry to write', async () => {
    const r = await runDoctor(`${reg}/lab/app:1`, { ...isolated(dir), timeoutMs: 10_000 });
    const f = get(r, 'SCHEME_HTTP_ONLY');
    assert.equal(f.severity, 'error', show(r));
    assert.match(f.fix ?? '', new RegExp(`server: http://${reg.replace(/\./g, '\\.')}`));
    assert.equal(get(r, 'MANIFEST_OK').data?.digest, img.manifestDigest);
    const lab = await runDoctor(`${reg}/lab/app:1`, { ...isolated(dir), timeoutMs: 10_000, insecure: true });
    assert.equal(get(lab, 'SCHEME_HTTP_ONLY').severity, 'info');
    assert.equal(lab.worst, 'info', show(lab));
    absent(lab, 'MANIFEST_FAILED');
  });

  it('the doctor\'s fix (server: http://…, insecure: true), rendered by regway config: ctr pulls over plain HTTP', async () => {
    const t = await render({ server: `http://${reg}`, insecure: true });
    try {
      const toml = readFileSync(join(t.certsDir, reg, 'hosts.toml'), 'utf8');
      const pull = await ctrPullRaw(ctrd, `${reg}/lab/app:1`, t.certsDir, { timeoutMs: 60_000 });
      assert.equal(pull.code, 0, `ctr pull with\n${toml}\n${pull.stderr}`);
      assert.equal(await ctrImageDigest(ctrd, `${reg}/lab/app:1`), img.manifestDigest);
      assert.match(toml, new RegExp(`^server = "http://${reg.replace(/\./g, '\\.')}"$`, 'm'));
      assert.match(toml, new RegExp(`^\\[host\\."http://${reg.replace(/\./g, '\\.')}"\\]$`, 'm'));
      assert.doesNotMatch(toml, /skip_verify/, 'plain HTTP has no certificate to skip');
    } finally { removeTempDir(t.root); }
  });

  it('insecure without a server: the renderer warns, and containerd indeed speaks https to it', async () => {
    const t = await render({ insecure: true });
    try {
      assert.ok(t.warnings.some((w) => w.includes(`add \`server: http://${reg}\``)), t.warnings.join('\n'));
      const r = await ctrPullRaw(ctrd, `${reg}/lab/app:1`, t.certsDir, { timeoutMs: 60_000 });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /server gave HTTP response to HTTPS client/);
    } finally { removeTempDir(t.root); }
  });
});
