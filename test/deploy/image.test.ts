// The Containerfile for regway itself: the rootfs is assembled offline (deploy/build-rootfs.sh),
// built FROM scratch with buildah (vfs storage), run with podman (runc, cgroupfs), and must serve
// the registry API on /v2/ as the unprivileged user, then stop cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPodman } from '../helpers/clients.js';
import { freePort, waitForHttp } from '../helpers/ports.js';
import { makeTempDir, removeTempDir, run } from '../helpers/proc.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('Containerfile: buildah builds the image offline, podman runs it and it serves /v2/', { timeout: 15 * 60_000 }, async () => {
  const out = makeTempDir('image');
  const podman = createPodman({ registriesConf: '' });
  const name = `regway-test-${process.pid}`;
  try {
    const b = await run('sh', [join(ROOT, 'deploy/build-rootfs.sh'), out], { timeoutMs: 10 * 60_000 });
    assert.equal(b.code, 0, `build-rootfs.sh failed:\n${b.stdout}\n${b.stderr}`);
    // buildah writes straight into the podman store of this test (same root, runroot and config).
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: podman.dir, CONTAINERS_CONF: join(podman.dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(podman.dir, 'storage.conf'), TMPDIR: join(podman.dir, 'tmp') };
    const bud = await run('buildah', ['--root', join(podman.dir, 'root'), '--runroot', join(podman.dir, 'runroot'), '--storage-driver', 'vfs',
      'bud', '--isolation', 'chroot', '-f', join(ROOT, 'deploy/Containerfile'), '-t', 'localhost/regway:test', out], { env, timeoutMs: 5 * 60_000 });
    assert.equal(bud.code, 0, `buildah bud failed:\n${bud.stderr}`);
    const inspect = await podman.run(['image', 'inspect', '--format', '{{.Config.User}} {{json .Config.Entrypoint}}', 'localhost/regway:test']);
    assert.equal(inspect.stdout.trim(), '65532:65532 ["/usr/bin/node","/opt/regway/dist/cli/main.js"]');
    const port = await freePort();
    const started = await podman.run(['run', '-d', '--name', name, '--runtime', 'runc', '--network', 'host', 'localhost/regway:test',
      'serve', '--listen', `127.0.0.1:${port}`, '--storage', '/var/lib/regway']);
    assert.equal(started.code, 0, started.stderr);
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, 60_000);
    const res = await fetch(`http://127.0.0.1:${port}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    const uid = await podman.run(['exec', name, '/usr/bin/node', '-e', 'process.stdout.write(String(process.getuid()))']);
    assert.equal(uid.stdout, '65532');
    const stop = await podman.run(['stop', '-t', '30', name]);
    assert.equal(stop.code, 0, stop.stderr);
    const code = await podman.run(['inspect', '--format', '{{.State.ExitCode}}', name]);
    assert.equal(code.stdout.trim(), '0', 'SIGTERM ends the gateway cleanly');
  } finally {
    await podman.run(['rm', '-f', name]).catch(() => undefined);
    await podman.run(['rmi', '-f', 'localhost/regway:test']).catch(() => undefined);
    podman.cleanup();
    removeTempDir(out);
  }
});
