// Docker Engine /etc/docker/daemon.json. dockerd is strict (unknown keys are fatal) and its mirrors only ever apply
// to Docker Hub, so this renderer writes few keys and warns about everything dockerd cannot express.
import { blockedHosts, insecureHosts, isDockerHub, type Spec } from '../spec.js';
import { readJsonObject, writeJson, type JsonObject } from './json-file.js';
import type { RenderResult } from './types.js';

/** Keys that carry credentials: dockerd refuses to start with them ("don't match any configuration option"). */
const CREDENTIAL_KEYS = ['auths', 'auth', 'credsStore', 'credHelpers', 'username', 'password'];

/** `https://mirror.example.com` (dockerd normalises the trailing slash away; writing it bare avoids a diff). */
function mirrorRoot(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

function dockerMirrors(spec: Spec, warnings: string[]): { mirrors: string[]; insecure: string[] } {
  const mirrors: string[] = [];
  const insecure: string[] = [];
  for (const r of spec.registries) {
    if (!r.mirrors.length) continue;
    if (!isDockerHub(r.host)) {
      warnings.push(`dockerd supports mirrors only for Docker Hub: the ${r.mirrors.length} mirror(s) of ${r.host} are not written to daemon.json (containerd and podman get them)`);
      continue;
    }
    for (const m of r.mirrors) {
      const root = mirrorRoot(m.url);
      if (!mirrors.includes(root)) mirrors.push(root);
      // An https mirror with a self-signed certificate needs insecure-registries; http mirrors are used as given.
      if (m.insecure) {
        const h = new URL(m.url).host;
        if (!insecure.includes(h)) insecure.push(h);
      }
      if (!m.resolveTags) warnings.push(`dockerd always resolves tags through its mirrors; resolveTags: false for ${m.url} is not honoured by Docker`);
      if (m.ca) warnings.push(`dockerd reads mirror CAs from /etc/docker/certs.d/${new URL(m.url).host}/ca.crt; copy ${m.ca} there (regway does not manage certificate files)`);
    }
  }
  return { mirrors, insecure };
}

/** Renders daemon.json. `current` is the file's text, undefined when it does not exist. */
export function renderDaemonJson(spec: Spec, current: string | undefined): RenderResult {
  const path = spec.docker.daemonJson;
  const warnings: string[] = [];
  const before = readJsonObject(current, path, 'dockerd would refuse to start with it as well');
  const next: JsonObject = { ...before };
  const { mirrors, insecure } = dockerMirrors(spec, warnings);
  for (const h of insecureHosts(spec)) if (!insecure.includes(h)) insecure.push(h);
  // Always written, even empty: deleting the key would leave the old list active after a SIGHUP reload.
  next['registry-mirrors'] = mirrors;
  next['insecure-registries'] = insecure;
  if (spec.docker.maxConcurrentDownloads !== undefined) next['max-concurrent-downloads'] = spec.docker.maxConcurrentDownloads;
  if (spec.docker.maxDownloadAttempts !== undefined) next['max-download-attempts'] = spec.docker.maxDownloadAttempts;
  for (const k of CREDENTIAL_KEYS) {
    if (k in before)
      warnings.push(`${path} contains "${k}": dockerd refuses to start with it (credentials belong in ~/.docker/config.json); remove it by hand — regway leaves keys it does not manage alone`);
  }
  const blocked = blockedHosts(spec);
  if (blocked.length) warnings.push(`dockerd cannot block registries, so Docker can still pull from ${blocked.join(', ')}`);
  return { target: 'docker-daemon', files: [{ path, text: writeJson(current, before, next, '  '), mode: 0o644 }], warnings };
}
