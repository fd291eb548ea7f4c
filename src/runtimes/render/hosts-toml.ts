// containerd <certs.d>/<host>/hosts.toml, one file per registry. containerd ignores a file that fails to decode and
// then silently pulls from the registry itself, so the output is written by hand in a fixed, minimal form rather
// than by a generic serialiser, and every key is one containerd 1.6 knows.
import { parse as parseToml } from 'smol-toml';
import { blockedHosts, isDockerHub, type MirrorSpec, type RegistrySpec, type Spec } from '../spec.js';
import type { RenderedFile, RenderResult } from './types.js';

/** First line of every hosts.toml regway writes; how a later run knows it may delete the file. */
const HOSTS_MARKER = '# Managed by regway (regway config apply): edit the declarative file, not this one.';

/** Keys regway writes per [host]; any other key found in an existing table for the same URL is carried over. */
const OWN_HOST_KEYS = new Set(['capabilities', 'skip_verify', 'ca']);

/** The current hosts.toml text of each directory under certs.d, by directory name. */
type CertsDirSnapshot = ReadonlyMap<string, string | undefined>;

const q = (s: string): string => JSON.stringify(s);

/** A table of strings or string arrays, like `header`: safe to write back as a sub-table. */
function isFlatTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => tomlValue(x) !== undefined);
}

function tomlValue(v: unknown): string | undefined {
  if (typeof v === 'string') return q(v);
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `[${v.map((x) => q(x as string)).join(', ')}]`;
  return undefined;
}

function defaultServer(r: RegistrySpec): string {
  if (r.server) return r.server.replace(/\/+$/, '');
  return isDockerHub(r.host) ? 'https://registry-1.docker.io' : `https://${r.host}`;
}

function needsHostsFile(r: RegistrySpec): boolean {
  return r.mirrors.length > 0 || r.insecure || !!r.ca || !!r.server;
}

/** Extra keys (header, client, override_path, dial_timeout...) an operator put on the same mirror URL. */
function carriedKeys(existing: Record<string, unknown> | undefined, url: string, warnings: string[], file: string): string[] {
  const table = existing?.[url];
  if (!table || typeof table !== 'object') return [];
  const lines: string[] = [];
  // Sub-tables such as `header` must come after every plain key of the [host] table.
  const subtables: string[] = [];
  for (const [k, v] of Object.entries(table as Record<string, unknown>)) {
    if (OWN_HOST_KEYS.has(k)) continue;
    const val = tomlValue(v);
    if (val === undefined && isFlatTable(v)) {
      subtables.push(`  [host.${q(url)}.${k}]`, ...Object.entries(v).map(([kk, vv]) => `    ${q(kk)} = ${tomlValue(vv)!}`));
      continue;
    }
    if (val === undefined) {
      warnings.push(`${file}: [host.${q(url)}].${k} is a table or mixed array; regway cannot carry it over and drops it (it is in the backup)`);
      continue;
    }
    lines.push(`  ${k} = ${val}`);
  }
  return [...lines, ...subtables];
}

function hostTable(m: MirrorSpec, existing: Record<string, unknown> | undefined, warnings: string[], file: string): string {
  const url = m.url.replace(/\/+$/, '');
  // Explicit capabilities: omitting them grants push too, and `resolve` is what lets a mirror answer tag lookups.
  const lines = [`[host.${q(url)}]`, `  capabilities = ${m.resolveTags ? '["pull", "resolve"]' : '["pull"]'}`];
  if (m.insecure && url.startsWith('https:')) lines.push('  skip_verify = true');
  if (m.ca) lines.push(`  ca = ${q(m.ca)}`);
  lines.push(...carriedKeys(existing, url, warnings, file));
  return lines.join('\n');
}

function existingHosts(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const doc = parseToml(text) as Record<string, unknown>;
    return (doc['host'] as Record<string, unknown>) ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * The registry itself as an explicit [host] table, after the mirrors. containerd 1.6 cannot decode a
 * hosts.toml without any [host] table ("failed to decode hosts.toml: invalid `host` tree") and then
 * pulls as if the file did not exist: with only `server = "http://10.0.0.5:5000"`, ctr spoke https to
 * it (test/config/hosts-toml-netns.test.ts). So whatever the registry needs (plain HTTP, skip_verify, a
 * CA) also goes in a [host] table.
 */
function needsServerTable(r: RegistrySpec): boolean {
  return !!r.server || r.insecure || !!r.ca;
}

/** The text of one registry's hosts.toml. */
function hostsTomlText(r: RegistrySpec, current: string | undefined, warnings: string[], file: string): string {
  const existing = existingHosts(current);
  const server = defaultServer(r);
  const head = [HOSTS_MARKER, `server = ${q(server)}`];
  if (r.insecure && server.startsWith('https:')) head.push('skip_verify = true');
  if (r.ca) head.push(`ca = ${q(r.ca)}`);
  const tables = r.mirrors.map((m) => hostTable(m, existing, warnings, file));
  if (needsServerTable(r)) tables.push(hostTable({ url: server, insecure: r.insecure, ca: r.ca, resolveTags: true, gateway: false }, existing, warnings, file));
  if (r.insecure && !r.server) {
    warnings.push(
      `${file}: ${r.host} is insecure without a \`server\`, so containerd gets ${server} with skip_verify (TLS without verification). If ${r.host} speaks plain HTTP, add \`server: http://${r.host}\` to it: containerd does not fall back to http by itself (except for localhost)`,
    );
  }
  return [head.join('\n'), ...tables].join('\n\n') + '\n';
}

/** containerd looks for `host_port_` before `host:port`; a stale directory of that form would win over ours. */
function shadowingDir(host: string, dirs: CertsDirSnapshot): string | undefined {
  const m = /^(.*):(\d+)$/.exec(host);
  if (!m) return undefined;
  const alt = `${m[1]}_${m[2]}_`;
  return dirs.has(alt) ? alt : undefined;
}

export function renderHostsToml(spec: Spec, dirs: CertsDirSnapshot, configToml: string | undefined): RenderResult {
  const base = spec.containerd.certsDir;
  const warnings: string[] = [];
  const files: RenderedFile[] = [];
  const managed = new Set<string>();
  for (const r of spec.registries.filter(needsHostsFile)) {
    const path = `${base}/${r.host}/hosts.toml`;
    managed.add(r.host);
    const current = dirs.get(r.host);
    if (current !== undefined && !current.startsWith(HOSTS_MARKER)) warnings.push(`${path} was not written by regway; it is replaced (the old file goes into the backup set)`);
    const alt = shadowingDir(r.host, dirs);
    if (alt) warnings.push(`${base}/${alt}/ exists and containerd reads it before ${base}/${r.host}/; remove it or the mirrors below are not used`);
    files.push({ path, text: hostsTomlText(r, current, warnings, path), mode: 0o644 });
  }
  // Files regway wrote for registries that left the spec are removed, so a removed mirror stops being used.
  for (const [dir, text] of dirs) {
    if (!managed.has(dir) && text?.startsWith(HOSTS_MARKER)) files.push({ path: `${base}/${dir}/hosts.toml`, text: null, mode: 0o644 });
  }
  const blocked = blockedHosts(spec);
  if (blocked.length) warnings.push(`containerd cannot block registries, so it can still pull from ${blocked.join(', ')}`);
  const check = checkConfigPath(configToml, base);
  if (check) warnings.push(`${spec.containerd.configToml}: ${check}`);
  return { target: 'containerd', files, warnings };
}

/**
 * Whether containerd's CRI plugin reads `certsDir`. Returns a problem sentence, or undefined when all is well.
 * Shared with verify, which reports the same thing.
 */
export function checkConfigPath(configToml: string | undefined, certsDir: string): string | undefined {
  const fix = `set config_path = "${certsDir}" under [plugins."io.containerd.grpc.v1.cri".registry] (containerd 1.x) or [plugins."io.containerd.cri.v1.images".registry] (2.x) and restart containerd`;
  if (configToml === undefined) return `does not exist, so the CRI plugin (kubelet) does not read ${certsDir}; ${fix}. ctr needs --hosts-dir ${certsDir}`;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(configToml) as Record<string, unknown>;
  } catch (e) {
    return `is not valid TOML (${(e as Error).message.split('\n')[0]}); containerd will not start with it`;
  }
  const plugins = (doc['plugins'] ?? {}) as Record<string, Record<string, unknown>>;
  const reg = (plugins['io.containerd.grpc.v1.cri']?.['registry'] ?? plugins['io.containerd.cri.v1.images']?.['registry']) as Record<string, unknown> | undefined;
  const cp = reg?.['config_path'];
  if (reg && (reg['mirrors'] || (reg['configs'] && Object.values(reg['configs'] as object).some((c) => (c as Record<string, unknown>)['tls'])))) {
    if (cp)
      return 'sets both config_path and the deprecated registry.mirrors/configs.tls; containerd 1.6 then disables the CRI plugin entirely (kubelet breaks). Remove registry.mirrors and registry.configs.*.tls';
  }
  if (typeof cp !== 'string' || !cp) return `sets no registry config_path, so the CRI plugin (kubelet) ignores ${certsDir}; ${fix}`;
  const dirs = cp.split(':');
  if (!dirs.some((d) => d.replace(/\/+$/, '') === certsDir.replace(/\/+$/, ''))) return `config_path is "${cp}", not ${certsDir}; ${fix}`;
  return undefined;
}
