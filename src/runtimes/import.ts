// Builds a declarative file from what a node has today, so adopting regway starts from the current behaviour and
// the first plan shows no surprise. Secrets are never copied: each login becomes a reference to an environment
// variable the operator fills in. A v1 registries.conf comes out as v2 settings; `apply` then rewrites the file.
import { parse as parseToml } from 'smol-toml';
import { stringify as stringifyYaml } from 'yaml';
import { readV1 } from './render/registries-conf.js';
import { DEFAULT_TARGETS, isDockerHub, type Spec, type SpecInput, type TargetName } from './spec.js';
import type { NodeSnapshot } from './targets.js';

type MirrorIn = { url: string; insecure?: boolean; ca?: string; resolveTags?: boolean; gateway?: boolean };
type RegIn = { host: string; server?: string; insecure?: boolean; blocked?: boolean; ca?: string; mirrors?: MirrorIn[]; credentials?: { username: string; password: { env: string } } };

interface ImportResult {
  spec: SpecInput;
  warnings: string[];
}

function json(text: string | undefined): Record<string, unknown> {
  if (!text?.trim()) return {};
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function toml(text: string | undefined, warnings: string[], file: string): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (e) {
    warnings.push(`${file} does not parse and was not imported: ${(e as Error).message.split('\n')[0]}`);
    return {};
  }
}

const HOST_RE = /^[a-z0-9.-]+(:\d+)?$/;

class Builder {
  readonly regs = new Map<string, RegIn>();
  readonly mirrorSource = new Map<string, string>();
  constructor(readonly warnings: string[]) {}
  reg(host: string): RegIn {
    const h = host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
    let r = this.regs.get(h);
    if (!r) {
      r = { host: h };
      this.regs.set(h, r);
    }
    return r;
  }
  /** The first runtime that names mirrors for a registry wins; a different list elsewhere is reported. */
  mirrors(host: string, list: MirrorIn[], source: string): void {
    if (!list.length) return;
    const r = this.reg(host);
    if (!r.mirrors) {
      r.mirrors = list;
      this.mirrorSource.set(r.host, source);
      return;
    }
    const a = r.mirrors.map((m) => new URL(m.url).host).join(',');
    const b = list.map((m) => new URL(m.url).host).join(',');
    if (a !== b) this.warnings.push(`${r.host}: mirrors differ between ${this.mirrorSource.get(r.host)} (${a}) and ${source} (${b}); imported the first — check before applying`);
    // Only registries.conf shows that a mirror is a multi-registry gateway (containerd's file looks the same).
    else
      r.mirrors.forEach((m, i) => {
        if (list[i]!.gateway) m.gateway = true;
      });
  }
}

function fromHostsToml(b: Builder, snap: NodeSnapshot, certsDir: string): void {
  for (const [dir, text] of snap.certsDirs) {
    if (text === undefined) continue;
    if (dir === '_default') {
      b.warnings.push(`${certsDir}/_default/hosts.toml applies to every registry; regway has no equivalent, it stays as it is`);
      continue;
    }
    const host = dir.replace(/^(.*)_(\d+)_$/, '$1:$2');
    const doc = toml(text, b.warnings, `${certsDir}/${dir}/hosts.toml`);
    const hosts = (doc['host'] ?? {}) as Record<string, Record<string, unknown>>;
    const server = typeof doc['server'] === 'string' ? doc['server'].replace(/\/+$/, '') : undefined;
    // A [host] table for the server itself is how the registry's own settings reach containerd (render/hosts-toml.ts): not a mirror.
    const list = Object.entries(hosts)
      .filter(([url]) => url.replace(/\/+$/, '') !== server)
      .map(([url, h]): MirrorIn => {
        const m: MirrorIn = { url: url.replace(/\/v2\/?$/, '') };
        if (h['skip_verify'] === true) m.insecure = true;
        if (typeof h['ca'] === 'string') m.ca = h['ca'];
        const caps = h['capabilities'];
        if (Array.isArray(caps) && !caps.includes('resolve')) m.resolveTags = false;
        return m;
      });
    b.mirrors(host, list, 'containerd');
    const dflt = isDockerHub(host) ? 'https://registry-1.docker.io' : `https://${host}`;
    if (server !== undefined && server !== dflt) b.reg(host).server = server;
    if (doc['skip_verify'] === true) b.reg(host).insecure = true;
    if (typeof doc['ca'] === 'string') b.reg(host).ca = doc['ca'];
  }
}

function fromRegistriesConf(b: Builder, text: string | undefined, file: string, out: SpecInput, schemes: Map<string, string>): void {
  const doc = toml(text, b.warnings, file);
  const v1 = readV1(doc);
  const search = v1?.search ?? doc['unqualified-search-registries'];
  if (Array.isArray(search)) out.unqualifiedSearchRegistries = search.map(String);
  if (v1) {
    b.warnings.push(`${file} is v1; imported as v2 settings. \`regway config apply\` rewrites it in v2`);
    for (const h of v1.insecure) b.reg(h).insecure = true;
    for (const h of v1.blocked) b.reg(h).blocked = true;
    return;
  }
  for (const r of (doc['registry'] ?? []) as Array<Record<string, unknown>>) {
    const prefix = String(r['prefix'] ?? r['location'] ?? '');
    if (!HOST_RE.test(prefix)) {
      b.warnings.push(`${file}: [[registry]] prefix "${prefix}" is not a plain host; it is left in the file as an unmanaged table`);
      continue;
    }
    const reg = b.reg(prefix);
    if (r['insecure'] === true) reg.insecure = true;
    if (r['blocked'] === true) reg.blocked = true;
    const list = ((r['mirror'] ?? []) as Array<Record<string, unknown>>).map((m): MirrorIn => {
      const loc = String(m['location']);
      const host = loc.split('/')[0]!;
      // <gateway>/<this registry> is a multi-registry gateway (regway) addressed by host path segment.
      const gateway = loc === `${host}/${prefix}`;
      if (loc.includes('/') && !gateway) b.warnings.push(`${file}: mirror ${loc} has a namespace path; regway mirrors are registry roots, imported as ${host}`);
      // registries.conf has no scheme; take the one another runtime uses for that host, else guess from insecure.
      const scheme = schemes.get(host) ?? (m['insecure'] === true ? 'http' : 'https');
      const mi: MirrorIn = { url: `${scheme}://${host}` };
      if (m['insecure'] === true && scheme === 'https') mi.insecure = true;
      if (m['pull-from-mirror'] === 'digest-only' || r['mirror-by-digest-only'] === true) mi.resolveTags = false;
      if (gateway) mi.gateway = true;
      return mi;
    });
    b.mirrors(prefix, list, 'registries.conf');
  }
}

function fromDaemonJson(b: Builder, text: string | undefined, out: SpecInput): void {
  const doc = json(text);
  const mirrors = Array.isArray(doc['registry-mirrors']) ? (doc['registry-mirrors'] as string[]) : [];
  b.mirrors(
    'docker.io',
    mirrors.map((u) => ({ url: u.replace(/\/+$/, '') })),
    'daemon.json',
  );
  const insecure = Array.isArray(doc['insecure-registries']) ? (doc['insecure-registries'] as string[]).map((s) => s.replace(/^https?:\/\//, '')) : [];
  const mirrorHosts = new Set(
    mirrors.map((m) => {
      try {
        return new URL(m).host;
      } catch {
        return m;
      }
    }),
  );
  // Mirror hosts and insecure registries are listed by the renderer itself: re-importing them as
  // insecureRegistries too would make the next plan differ from the file it came from.
  const extra = insecure.filter((h) => !mirrorHosts.has(h) && !b.regs.get(h)?.insecure);
  if (extra.length) out.insecureRegistries = extra;
  // daemon.json lists a Docker Hub mirror as insecure exactly when the declarative file said so (http or https).
  for (const m of b.regs.get('docker.io')?.mirrors ?? []) if (insecure.includes(new URL(m.url).host)) m.insecure = true;
  const docker: NonNullable<SpecInput['docker']> = {};
  if (typeof doc['max-concurrent-downloads'] === 'number') docker.maxConcurrentDownloads = doc['max-concurrent-downloads'];
  if (typeof doc['max-download-attempts'] === 'number') docker.maxDownloadAttempts = doc['max-download-attempts'];
  if (Object.keys(docker).length) out.docker = docker;
}

function fromAuths(b: Builder, text: string | undefined): void {
  const auths = (json(text)['auths'] ?? {}) as Record<string, { auth?: string }>;
  for (const [key, v] of Object.entries(auths)) {
    const host = key.replace(/^https?:\/\//, '').split('/')[0]!;
    if (!v?.auth || !HOST_RE.test(host)) continue;
    const dec = Buffer.from(v.auth, 'base64').toString('utf8');
    if (!dec.includes(':')) continue;
    const reg = b.reg(host);
    if (reg.credentials) continue;
    const env = `REGWAY_PASSWORD_${reg.host.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
    reg.credentials = { username: dec.slice(0, dec.indexOf(':')), password: { env } };
  }
}

/** Reads the node's files (as named by `spec`, usually the defaults) into a declarative file. */
export function importSnapshot(spec: Spec, snap: NodeSnapshot): ImportResult {
  const warnings: string[] = [];
  const b = new Builder(warnings);
  const out: SpecInput = { version: 1 };
  fromHostsToml(b, snap, spec.containerd.certsDir);
  const schemes = new Map<string, string>();
  for (const r of b.regs.values())
    for (const m of r.mirrors ?? []) {
      const u = new URL(m.url);
      schemes.set(u.host, u.protocol.slice(0, -1));
    }
  const confs = [spec.containers.registriesConf, ...snap.dropIns.map((n) => `${spec.containers.dropInDir}/${n}`)];
  for (const f of confs) fromRegistriesConf(b, snap.files.get(f), f, out, schemes);
  fromDaemonJson(b, snap.files.get(spec.docker.daemonJson), out);
  fromAuths(b, snap.files.get(spec.docker.configJson));
  fromAuths(b, snap.files.get(spec.containers.authFile));
  out.registries = [...b.regs.values()];
  const present: Record<TargetName, boolean> = {
    'docker-daemon': snap.files.has(spec.docker.daemonJson),
    'docker-config': snap.files.has(spec.docker.configJson),
    containerd: snap.certsDirs.size > 0 || snap.files.has(spec.containerd.configToml),
    'registries-conf': confs.some((f) => snap.files.has(f)),
    'containers-auth': snap.files.has(spec.containers.authFile),
    kubernetes: false,
  };
  const targets = DEFAULT_TARGETS.filter((t) => present[t]);
  // Field order of the emitted YAML: what the operator reads first.
  const { version, registries, ...rest } = out;
  return { spec: { version, targets: targets.length ? targets : DEFAULT_TARGETS, registries, ...rest }, warnings };
}

export function importYaml(r: ImportResult): string {
  const head = ["# Imported by `regway config import` from this node's current files.", '# Review it, export the REGWAY_PASSWORD_* variables it references, then run `regway config plan`.'];
  for (const w of r.warnings) head.push(`# note: ${w}`);
  return head.join('\n') + '\n' + stringifyYaml(r.spec);
}
