// containers-auth.json(5) for podman, skopeo, buildah and CRI-O. Same `auth` encoding as Docker, but Docker Hub is
// keyed `docker.io`, and keys may be namespaced (`quay.io/org`), which win over the plain host for their repos.
import { basicAuth } from '../credentials.js';
import { isDockerHub } from '../spec.js';
import { asObject, readJsonObject, writeJson } from './json-file.js';
import type { RenderInput, RenderResult } from './types.js';

const HUB_ALIASES = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'];

function containersAuthKey(host: string): string {
  return isDockerHub(host) ? 'docker.io' : host;
}

function warningsFor(before: Record<string, unknown>, auths: Record<string, unknown>, hosts: string[], path: string): string[] {
  const out: string[] = [];
  const helpers = asObject(before['credHelpers']);
  for (const h of hosts) {
    const key = containersAuthKey(h);
    if (typeof helpers[key] === 'string') out.push(`${path}: credHelpers sends ${key} to containers-auth helper "${helpers[key]}", which is asked before auths; remove that entry`);
    const nested = Object.keys(auths).filter((k) => k.startsWith(`${key}/`));
    if (nested.length) out.push(`${path}: namespaced entries ${nested.join(', ')} win over the ${key} entry for their repositories`);
    if (isDockerHub(h)) {
      const dup = Object.keys(auths).filter((k) => k !== key && HUB_ALIASES.includes(k));
      if (dup.length) out.push(`${path}: ${dup.join(', ')} also name Docker Hub; which one podman uses is not defined — remove them`);
    }
  }
  return out;
}

export function renderAuthJson(input: RenderInput, current: string | undefined): RenderResult {
  const { spec, credentials } = input;
  const path = spec.containers.authFile;
  const before = readJsonObject(current, path, 'podman would fail to read credentials from it');
  const hosts = spec.registries.filter((r) => credentials.has(r.host)).map((r) => r.host);
  if (!hosts.length) return { target: 'containers-auth', files: current === undefined ? [] : [{ path, text: current, mode: 0o600, sensitive: true }], warnings: [] };
  const auths = asObject(before['auths']);
  for (const h of hosts) {
    const key = containersAuthKey(h);
    const entry = asObject(auths[key]);
    delete entry['identitytoken'];
    entry['auth'] = basicAuth(credentials.get(h)!);
    auths[key] = entry;
  }
  const next = { ...before, auths };
  return { target: 'containers-auth', files: [{ path, text: writeJson(current, before, next, '\t'), mode: 0o600, sensitive: true }], warnings: warningsFor(before, auths, hosts, path) };
}
