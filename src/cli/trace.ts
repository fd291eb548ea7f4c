// `regway trace`: prints, per runtime, the endpoints a pull tries and which one answers.
import type { Command } from 'commander';
import { formatTrace, trace, type RuntimeName } from '../diagnose/trace/index.js';
import { parseDuration } from '../config/units.js';

export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description('show, for Docker, containerd and Podman, which endpoints a pull of an image tries, in which order and with which request, and which answers')
    .argument('<image>', 'image reference (docker.io/library/alpine:3.20, ghcr.io/org/app:1)')
    .option('--root <dir>', 'read the runtime files under DIR instead of /', '/')
    .option('--daemon-json <path>', 'node path of daemon.json', '/etc/docker/daemon.json')
    .option('--certs-dir <path>', "node path of containerd's certs.d", '/etc/containerd/certs.d')
    .option('--registries-conf <path>', 'node path of registries.conf', '/etc/containers/registries.conf')
    .option('--runtime <list>', 'comma-separated: docker,containerd,podman', 'docker,containerd,podman')
    .option('--no-probe', 'only resolve the endpoints; contact nothing')
    .option('--timeout <duration>', 'per endpoint', '10s')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Like \`podman pull --debug\`, for every runtime at once, without pulling.
Examples:
  regway trace docker.io/library/alpine:3.20
  regway trace ghcr.io/org/app:1.4 --runtime containerd --json
  regway trace registry.lab:5000/team/app:2 --root /mnt/node-image --no-probe`,
    )
    .action(async (image: string, o: { root: string; daemonJson: string; certsDir: string; registriesConf: string; runtime: string; probe: boolean; timeout: string; json?: boolean }) => {
      const r = await trace(image, {
        root: o.root,
        daemonJson: o.daemonJson,
        certsDir: o.certsDir,
        registriesConf: o.registriesConf,
        runtimes: o.runtime.split(',').map((s) => s.trim()) as RuntimeName[],
        probe: o.probe,
        timeoutMs: parseDuration(o.timeout),
      });
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : formatTrace(r));
      process.exitCode = o.probe && r.runtimes.some((t) => t.answeredBy === undefined) ? 1 : 0;
    });
}
