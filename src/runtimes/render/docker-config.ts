// Docker client ~/.docker/config.json: writes `auths.<key>.auth` and leaves everything else alone. The docker CLI
// consults credHelpers and credsStore before `auths`, so a written credential can be silently shadowed: we warn.
import { basicAuth } from '../credentials.js';
import { isDockerHub } from '../spec.js';
import { asObject, readJsonObject, writeJson } from './json-file.js';
import type { RenderInput, RenderResult } from './types.js';

const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** The key docker login would use: Docker Hub has a legacy URL key, everything else is host[:port]. */
export function dockerAuthKey(host: string): string {
  return isDockerHub(host) ? DOCKER_HUB_KEY : host;
}

function shadowWarnings(before: Record<string, unknown>, hosts: string[], path: string): string[] {
  const out: string[] = [];
  const helpers = asObject(before['credHelpers']);
  for (const h of hosts) {
    const helper = helpers[h] ?? (isDockerHub(h) ? (helpers['docker.io'] ?? helpers['index.docker.io']) : undefined);
    if (typeof helper === 'string') {
      out.push(`${path}: credHelpers sends ${h} to docker-credential-${helper}, which wins over the auth regway writes; remove that entry or store the credential with \`docker login ${h}\``);
    } else if (typeof before['credsStore'] === 'string' && before['credsStore']) {
      out.push(`${path}: credsStore "${before['credsStore']}" is set, so the docker CLI asks that helper for ${h} and ignores the auth regway writes; remove credsStore or use \`docker login ${h}\``);
    }
  }
  return out;
}

/** Renders config.json. Without credentials to write, a missing file stays missing. */
export function renderDockerConfig(input: RenderInput, current: string | undefined): RenderResult {
  const { spec, credentials } = input;
  const path = spec.docker.configJson;
  const before = readJsonObject(current, path, 'the docker CLI would ignore it ("Error loading config file")');
  const hosts = spec.registries.filter((r) => credentials.has(r.host)).map((r) => r.host);
  if (!hosts.length) return { target: 'docker-config', files: current === undefined ? [] : [{ path, text: current, mode: 0o600, sensitive: true }], warnings: [] };
  const auths = asObject(before['auths']);
  for (const h of hosts) {
    const key = dockerAuthKey(h);
    const entry = asObject(auths[key]);
    // A stored identity or registry token takes precedence over `auth` in dockerd, so it must go with the change.
    for (const k of ['username', 'password', 'identitytoken', 'registrytoken']) delete entry[k];
    entry['auth'] = basicAuth(credentials.get(h)!);
    auths[key] = entry;
  }
  const next = { ...before, auths };
  const warnings = shadowWarnings(before, hosts, path);
  // Tab indentation is what `docker login` writes; matching it keeps a later login from reformatting the file.
  return { target: 'docker-config', files: [{ path, text: writeJson(current, before, next, '\t'), mode: 0o600, sensitive: true }], warnings };
}
