// Reads every target back with the runtime's own rules and reports what the runtime will actually do: which mirrors
// a pull tries, which credentials win, and the files a runtime rejects or, worse, ignores without a word.
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments } from 'yaml';
import { checkConfigPath } from './render/hosts-toml.js';
import type { Spec, TargetName } from './spec.js';
import { RUN_AUTH_FILE, type NodeSnapshot } from './targets.js';
import { verifyRegistriesConf } from './verify-containers.js';

export type { Finding } from './finding.js';
import type { Finding } from './finding.js';

type Emit = (level: Finding['level'], message: string) => void;

function emitter(out: Finding[], target: TargetName, file: string): Emit {
  return (level, message) => {
    out.push({ target, level, file, message });
  };
}

function parseJson(text: string, f: Emit, consequence: string): Record<string, unknown> | undefined {
  const body = text.replace(/^\uFEFF/, '');
  if (!body.trim()) return {};
  try {
    const v = JSON.parse(body) as unknown;
    if (typeof v === 'object' && v && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  f('error', `not a JSON object; ${consequence}`);
  return undefined;
}

function verifyDaemonJson(spec: Spec, snap: NodeSnapshot, out: Finding[]): void {
  const file = spec.docker.daemonJson;
  const f = emitter(out, 'docker-daemon', file);
  const text = snap.files.get(file);
  if (text === undefined) {
    f('info', 'does not exist: dockerd pulls Docker Hub images from registry-1.docker.io directly');
    return;
  }
  const doc = parseJson(text, f, 'dockerd refuses to start');
  if (!doc) return;
  for (const k of ['auths', 'credsStore', 'credHelpers', 'auth'])
    if (k in doc) f('error', `"${k}" is not a daemon option: dockerd refuses to start ("don't match any configuration option"); credentials belong in ~/.docker/config.json`);
  const mirrors = Array.isArray(doc['registry-mirrors']) ? (doc['registry-mirrors'] as unknown[]).map(String) : undefined;
  for (const m of mirrors ?? []) {
    let u: URL | undefined;
    try {
      u = new URL(m);
    } catch {
      /* below */
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) f('error', `mirror "${m}" has no http:// or https:// scheme; dockerd fails to start ("invalid mirror")`);
    else if (u.pathname !== '/' && u.pathname !== '') f('warn', `mirror "${m}" has a path; Docker documents mirrors as the root of a domain`);
  }
  if (mirrors === undefined) f('warn', 'has no "registry-mirrors" key: a SIGHUP reload keeps whatever mirrors dockerd had before; write "registry-mirrors": [] to clear them');
  f('info', `docker.io pulls try ${[...(mirrors ?? []), 'registry-1.docker.io'].join(', then ')}; mirrors never apply to other registries`);
  const insecure = Array.isArray(doc['insecure-registries']) ? (doc['insecure-registries'] as unknown[]).map(String) : [];
  for (const i of insecure) if (i.includes('://')) f('warn', `insecure registry "${i}" has a scheme; write the bare host[:port]`);
  f('info', `insecure registries: ${[...insecure, '127.0.0.0/8 (implicit)'].join(', ')}`);
  for (const k of ['max-concurrent-downloads', 'max-download-attempts']) {
    const v = doc[k];
    if (v !== undefined && (typeof v !== 'number' || v < 0)) f('error', `${k} must be a non-negative number; dockerd refuses ${JSON.stringify(v)}`);
  }
}

/** Checks `auths` entries the way docker/podman decode them. */
function checkAuths(auths: Record<string, unknown>, f: Emit, consequence: string): string[] {
  const users: string[] = [];
  for (const [key, v] of Object.entries(auths)) {
    const auth = (v as Record<string, unknown> | null)?.['auth'];
    if (typeof auth !== 'string' || !auth) {
      users.push(`${key} (no auth: a credential helper or token)`);
      continue;
    }
    const dec = Buffer.from(auth, 'base64').toString('utf8');
    const colon = dec.indexOf(':');
    if (colon < 0) {
      f('error', `auths["${key}"].auth has no ':' after decoding; ${consequence}`);
      continue;
    }
    users.push(`${key} as ${dec.slice(0, colon)}`);
  }
  return users;
}

function verifyDockerConfig(spec: Spec, snap: NodeSnapshot, out: Finding[]): void {
  const file = spec.docker.configJson;
  const f = emitter(out, 'docker-config', file);
  const text = snap.files.get(file);
  if (text === undefined) {
    f('info', 'does not exist: the docker CLI pulls anonymously');
    return;
  }
  const doc = parseJson(text, f, 'the docker CLI ignores the whole file ("Error loading config file")');
  if (!doc) return;
  const users = checkAuths((doc['auths'] ?? {}) as Record<string, unknown>, f, 'the docker CLI rejects the whole file ("invalid auth configuration file")');
  if (typeof doc['credsStore'] === 'string')
    f('warn', `credsStore "${doc['credsStore']}": every registry's credentials come from docker-credential-${doc['credsStore']}; the auths below are ignored unless the helper has them`);
  for (const [h, helper] of Object.entries((doc['credHelpers'] ?? {}) as Record<string, unknown>)) f('info', `${h}: credentials come from docker-credential-${String(helper)}`);
  if (users.length) f('info', `logins: ${users.join('; ')}`);
}

function verifyContainerd(spec: Spec, snap: NodeSnapshot, out: Finding[]): void {
  const base = spec.containerd.certsDir;
  const check = checkConfigPath(snap.files.get(spec.containerd.configToml), base);
  if (check) out.push({ target: 'containerd', level: 'warn', file: spec.containerd.configToml, message: check });
  if (!snap.certsDirs.size) out.push({ target: 'containerd', level: 'info', file: base, message: 'no host directories: containerd pulls every registry directly' });
  for (const [dir, text] of snap.certsDirs) verifyHostsToml(`${base}/${dir}/hosts.toml`, dir, text, out);
}

const HOST_KEYS = new Set(['capabilities', 'skip_verify', 'ca', 'client', 'header', 'override_path', 'dial_timeout', 'proxy']);
const CAPS = new Set(['pull', 'resolve', 'push']);

function verifyHostsToml(file: string, dir: string, text: string | undefined, out: Finding[]): void {
  const f = emitter(out, 'containerd', file);
  if (text === undefined) {
    f('info', `${dir}: no hosts.toml; containerd only uses *.crt/*.cert/*.key files there`);
    return;
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    f('error', `does not parse (${(e as Error).message.split('\n')[0]}): containerd logs "failed to decode hosts.toml", ignores every mirror for ${dir} and pulls from it directly`);
    return;
  }
  const hosts = (doc['host'] ?? {}) as Record<string, Record<string, unknown>>;
  if (Object.keys(hosts).length === 0) {
    f(
      'error',
      `has no [host] table: containerd 1.6 fails to decode it ("invalid \`host\` tree"), so its server, skip_verify and ca are ignored and ${dir} is pulled as if the file did not exist; add [host."<server>"] with capabilities = ["pull", "resolve"] (regway config writes it)`,
    );
    return;
  }
  const order: string[] = [];
  for (const [url, h] of Object.entries(hosts)) {
    const caps = h['capabilities'];
    if (caps !== undefined && (!Array.isArray(caps) || caps.some((c) => !CAPS.has(String(c))))) {
      f('error', `[host."${url}"] capabilities ${JSON.stringify(caps)} holds an unknown value: containerd fails to decode the file and ignores every mirror for ${dir}`);
      return;
    }
    const unknown = Object.keys(h).filter((k) => !HOST_KEYS.has(k));
    if (unknown.length) f('warn', `[host."${url}"]: unknown key(s) ${unknown.join(', ')} are ignored silently (typo?)`);
    const c = (caps as string[] | undefined) ?? ['pull', 'resolve', 'push'];
    order.push(`${url} (${c.join(',')}${h['skip_verify'] ? ', skip_verify' : ''})`);
    if (caps === undefined) f('warn', `[host."${url}"] has no capabilities: containerd grants pull, resolve and push; a mirror should say ["pull"] or ["pull", "resolve"]`);
  }
  const server = typeof doc['server'] === 'string' ? doc['server'] : `https://${dir === '_default' ? '<registry>' : dir}`;
  f('info', `${dir}: pulls try ${[...order, `${server} (server)`].join(', then ')}; hosts other than ${dir} receive ?ns=${dir}`);
}

function verifyAuthFiles(spec: Spec, snap: NodeSnapshot, out: Finding[]): void {
  for (const file of [RUN_AUTH_FILE, spec.containers.authFile]) {
    const f = emitter(out, 'containers-auth', file);
    const text = snap.files.get(file);
    if (text === undefined) {
      if (file === spec.containers.authFile) f('info', 'does not exist');
      continue;
    }
    const doc = parseJson(text, f, 'podman cannot read credentials from it');
    if (!doc) continue;
    const users = checkAuths((doc['auths'] ?? {}) as Record<string, unknown>, f, 'podman skips that entry ("missing semicolon")');
    const note = file === RUN_AUTH_FILE && file !== spec.containers.authFile ? ` (read before ${spec.containers.authFile}: an entry here for the same registry wins)` : '';
    if (users.length) f('info', `logins${note}: ${users.join('; ')}`);
  }
}

function verifyKubernetes(spec: Spec, snap: NodeSnapshot, out: Finding[]): void {
  const file = spec.kubernetes.output;
  const f = emitter(out, 'kubernetes', file);
  const text = snap.files.get(file);
  if (text === undefined) {
    f('info', 'no manifest written yet');
    return;
  }
  for (const d of parseAllDocuments(text)) {
    const o = d.toJS() as { kind?: string; type?: string; data?: Record<string, string>; metadata?: { name?: string } } | null;
    if (o?.kind !== 'Secret') continue;
    if (o.type !== 'kubernetes.io/dockerconfigjson') f('error', `Secret ${o.metadata?.name} has type ${o.type}; kubelet expects kubernetes.io/dockerconfigjson with .dockerconfigjson`);
    try {
      const cfg = JSON.parse(Buffer.from(o.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8')) as { auths?: Record<string, unknown> };
      f('info', `Secret ${o.metadata?.name} holds credentials for ${Object.keys(cfg.auths ?? {}).join(', ')}`);
    } catch {
      f('error', `Secret ${o.metadata?.name}: .dockerconfigjson is not base64 JSON; the API server rejects it`);
    }
  }
}

/** Every finding for the spec's targets. Pure over the snapshot. */
export function verifySnapshot(spec: Spec, snap: NodeSnapshot): Finding[] {
  const out: Finding[] = [];
  const run: Record<TargetName, () => void> = {
    'docker-daemon': () => verifyDaemonJson(spec, snap, out),
    'docker-config': () => verifyDockerConfig(spec, snap, out),
    containerd: () => verifyContainerd(spec, snap, out),
    'registries-conf': () => {
      out.push(...verifyRegistriesConf(spec, snap));
    },
    'containers-auth': () => verifyAuthFiles(spec, snap, out),
    kubernetes: () => verifyKubernetes(spec, snap, out),
  };
  for (const t of spec.targets) run[t]();
  return out;
}
