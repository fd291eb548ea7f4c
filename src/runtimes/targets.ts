// Which files each target owns on a node, reading them (the I/O edge), and running the pure renderers over that
// snapshot. Every path in the spec is a node path; `--root DIR` maps it to DIR + path so a test tree, a chroot or a
// mounted image can be managed exactly like /.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CredentialMap } from './credentials.js';
import { renderAuthJson } from './render/auth-json.js';
import { renderDaemonJson } from './render/daemon-json.js';
import { renderDockerConfig } from './render/docker-config.js';
import { renderHostsToml } from './render/hosts-toml.js';
import { renderKubernetes } from './render/kubernetes.js';
import { renderRegistriesConf } from './render/registries-conf.js';
import type { RenderResult } from './render/types.js';
import type { Spec, TargetName } from './spec.js';

/** Where `podman login` run as root stores credentials (containers-auth.json(5)); consulted before authFile. */
export const RUN_AUTH_FILE = '/run/containers/0/auth.json';

/** The current content of every file the spec can touch, read once; renderers and verify work on this. */
export interface NodeSnapshot {
  /** Node path -> text, for files that exist. */
  files: ReadonlyMap<string, string>;
  /** Directory name under containerd's certs dir -> its hosts.toml text (undefined: directory without hosts.toml). */
  certsDirs: ReadonlyMap<string, string | undefined>;
  /** File names in the registries.conf.d directory (*.conf only, sorted as podman loads them). */
  dropIns: string[];
}

export function underRoot(root: string, path: string): string {
  return root === '/' ? path : join(root, path);
}

function readText(root: string, path: string): string | undefined {
  try {
    return readFileSync(underRoot(root, path), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new Error(`cannot read ${underRoot(root, path)}: ${code ?? (e as Error).message}; check permissions (regway usually runs as root)`);
  }
}

function listDir(root: string, dir: string): string[] {
  try {
    return readdirSync(underRoot(root, dir)).sort();
  } catch {
    return [];
  }
}

/** The paths a spec may read or write, by target (certs.d files are added from the directory listing). */
function targetPaths(spec: Spec): Record<TargetName, string[]> {
  const c = spec.containers;
  return {
    'docker-daemon': [spec.docker.daemonJson],
    'docker-config': [spec.docker.configJson],
    containerd: [spec.containerd.configToml],
    'registries-conf': [c.registriesConf, `${c.dropInDir}/${c.dropInName}`],
    // /run/containers/0/auth.json is read-only for regway: podman reads it first, so verify reports what it shadows.
    'containers-auth': [c.authFile, RUN_AUTH_FILE],
    kubernetes: [spec.kubernetes.output],
  };
}

/** Reads everything the spec's targets involve under `root`. */
export function readSnapshot(root: string, spec: Spec): NodeSnapshot {
  const files = new Map<string, string>();
  const c = spec.containers;
  const dropIns = listDir(root, c.dropInDir).filter((n) => n.endsWith('.conf'));
  const paths = [...Object.values(targetPaths(spec)).flat(), ...dropIns.map((n) => `${c.dropInDir}/${n}`)];
  for (const p of paths) {
    const t = readText(root, p);
    if (t !== undefined) files.set(p, t);
  }
  const certsDirs = new Map<string, string | undefined>();
  for (const d of listDir(root, spec.containerd.certsDir)) {
    const dir = `${spec.containerd.certsDir}/${d}`;
    let isDir = false;
    try {
      isDir = statSync(underRoot(root, dir)).isDirectory();
    } catch {
      /* vanished */
    }
    if (!isDir) continue;
    const t = readText(root, `${dir}/hosts.toml`);
    certsDirs.set(d, t);
    if (t !== undefined) files.set(`${dir}/hosts.toml`, t);
  }
  return { files, certsDirs, dropIns };
}

/** Runs the renderer of every managed target, in the spec's target order. Pure. */
export function renderAll(spec: Spec, credentials: CredentialMap, snap: NodeSnapshot): RenderResult[] {
  const f = (p: string): string | undefined => snap.files.get(p);
  const input = { spec, credentials };
  return spec.targets.map((t): RenderResult => {
    switch (t) {
      case 'docker-daemon':
        return renderDaemonJson(spec, f(spec.docker.daemonJson));
      case 'docker-config':
        return renderDockerConfig(input, f(spec.docker.configJson));
      case 'containerd':
        return renderHostsToml(spec, snap.certsDirs, f(spec.containerd.configToml));
      case 'registries-conf':
        return renderRegistriesConf(spec, f(spec.containers.registriesConf));
      case 'containers-auth':
        return renderAuthJson(input, f(spec.containers.authFile));
      case 'kubernetes':
        return renderKubernetes(input, f(spec.kubernetes.output));
    }
  });
}
