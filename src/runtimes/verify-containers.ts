// registries.conf as containers/image reads it: the main file, then drop-ins in name order, merged by prefix.
// Reports what podman/skopeo/CRI-O will do and the mistakes they reject (or, worse, silently ignore).
import { parse as parseToml } from 'smol-toml';
import { readV1 } from './render/registries-conf.js';
import type { Spec } from './spec.js';
import type { NodeSnapshot } from './targets.js';
import type { Finding } from './finding.js';

const REGISTRY_KEYS = new Set(['prefix', 'location', 'insecure', 'blocked', 'mirror', 'mirror-by-digest-only']);
const MIRROR_KEYS = new Set(['location', 'insecure', 'pull-from-mirror']);
const TOP_KEYS = new Set(['unqualified-search-registries', 'short-name-mode', 'credential-helpers', 'aliases', 'registry', 'additional-layer-store-auth-helper']);

interface Reg {
  prefix: string;
  location: string;
  insecure?: boolean;
  blocked?: boolean;
  mirror?: Array<Record<string, unknown>>;
  [k: string]: unknown;
}

function checkRegistry(r: Reg, f: (level: Finding['level'], msg: string) => void): void {
  const where = `[[registry]] ${JSON.stringify(r.prefix ?? r.location)}`;
  const unknown = Object.keys(r).filter((k) => !REGISTRY_KEYS.has(k));
  if (unknown.length) f('warn', `${where}: unknown key(s) ${unknown.join(', ')} are ignored silently (typo?)`);
  if ('pull-from-mirror' in r) f('error', `${where}: pull-from-mirror belongs on [[registry.mirror]]; podman refuses the file`);
  for (const loc of [r.location, ...(r.mirror ?? []).map((m) => m['location'])]) {
    if (typeof loc === 'string' && loc.includes('://')) f('error', `${where}: location "${loc}" has a scheme; podman refuses it ("URI schemes are not supported")`);
  }
  for (const m of r.mirror ?? []) {
    const bad = Object.keys(m).filter((k) => !MIRROR_KEYS.has(k));
    if (bad.length) f('warn', `${where} mirror ${String(m['location'])}: unknown key(s) ${bad.join(', ')} are ignored silently`);
    if (m['pull-from-mirror'] && r['mirror-by-digest-only']) f('error', `${where}: mirror-by-digest-only and pull-from-mirror cannot be set together; podman refuses the file`);
  }
}

function describe(r: Reg): string {
  const name = r.prefix ?? r.location;
  if (r.blocked) return `${name}: blocked`;
  const mirrors = (r.mirror ?? []).map(
    (m) => `${String(m['location'])}${m['insecure'] ? ' (insecure)' : ''}${m['pull-from-mirror'] && m['pull-from-mirror'] !== 'all' ? ` (${String(m['pull-from-mirror'])})` : ''}`,
  );
  return `${name}: pulls try ${[...mirrors, `${r.location}${r.insecure ? ' (insecure)' : ''}`].join(', then ')}`;
}

/** One file's registries after its own checks, or undefined when podman would refuse it. */
function loadConf(text: string, file: string, dropIn: boolean, f: (level: Finding['level'], msg: string) => void): Record<string, unknown> | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    f('error', `not valid TOML (${(e as Error).message.split('\n')[0]}); podman refuses to run`);
    return undefined;
  }
  const v1 = readV1(doc);
  const v2 = 'registry' in doc || 'unqualified-search-registries' in doc;
  if (v1 && v2) {
    f('error', 'mixes v1 [registries.*] and v2 keys: podman exits 125 ("mixing sysregistry v1/v2 is not supported"); run `regway config import` and apply to migrate');
    return undefined;
  }
  if (v1 && dropIn) {
    f('error', 'drop-ins must be v2 ("registry must be in v2 format but is in v1")');
    return undefined;
  }
  if (v1) {
    f('warn', 'deprecated v1 format; `regway config import` then `apply` migrates it to v2');
    return {
      'unqualified-search-registries': v1.search ?? [],
      registry: [...v1.insecure.map((h) => ({ prefix: h, location: h, insecure: true })), ...v1.blocked.map((h) => ({ prefix: h, location: h, blocked: true }))],
    };
  }
  const unknown = Object.keys(doc).filter((k) => !TOP_KEYS.has(k));
  if (unknown.length) f('warn', `unknown top-level key(s) ${unknown.join(', ')} are ignored silently`);
  const regs = (doc['registry'] as Reg[] | undefined) ?? [];
  for (const r of regs) checkRegistry(r, f);
  return doc;
}

export function verifyRegistriesConf(spec: Spec, snap: NodeSnapshot): Finding[] {
  const out: Finding[] = [];
  const c = spec.containers;
  const files = [c.registriesConf, ...snap.dropIns.map((n) => `${c.dropInDir}/${n}`)];
  const merged = new Map<string, Reg>();
  let search: unknown;
  for (const [i, file] of files.entries()) {
    const f = (level: Finding['level'], message: string): void => {
      out.push({ target: 'registries-conf', level, file, message });
    };
    const text = snap.files.get(file);
    if (text === undefined) {
      if (i === 0) f('info', 'does not exist; podman uses its built-in defaults');
      continue;
    }
    const doc = loadConf(text, file, i > 0, f);
    if (!doc) continue;
    // Drop-in merge rules: [[registry]] replaced by identical prefix; search list replaced only when present.
    for (const r of (doc['registry'] as Reg[] | undefined) ?? []) merged.set(r.prefix ?? r.location, r);
    if ('unqualified-search-registries' in doc) search = doc['unqualified-search-registries'];
  }
  const byLocation = new Map<string, Reg>();
  for (const r of merged.values()) {
    const prev = byLocation.get(r.location);
    if (prev && (!!prev.insecure !== !!r.insecure || !!prev.blocked !== !!r.blocked)) {
      out.push({
        target: 'registries-conf',
        level: 'error',
        file: c.registriesConf,
        message: `registry '${r.location}' is defined multiple times with conflicting 'insecure'/'blocked' settings; podman refuses the configuration`,
      });
    }
    byLocation.set(r.location, r);
    out.push({ target: 'registries-conf', level: 'info', file: c.registriesConf, message: describe(r) });
  }
  if (Array.isArray(search))
    out.push({ target: 'registries-conf', level: 'info', file: c.registriesConf, message: `short names are searched in: ${search.length ? search.join(', ') : '(nothing: short names fail)'}` });
  return out;
}
