// containers-registries.conf(5) v2 for podman, CRI-O, buildah and skopeo. Two modes: edit registries.conf in place
// (comments and unmanaged tables kept byte for byte), or own a drop-in under registries.conf.d/. A v1 file is
// migrated to v2, because adding v2 tables to it would make podman refuse the whole file ("mixing sysregistry v1/v2").
import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { blockedHosts, insecureHosts, isCidr, type Spec } from '../spec.js';
import { groupSections, setTopLevelKey, splitSections, type Section } from './toml-sections.js';
import { RenderError, type RenderResult } from './types.js';

/** Comment line directly above each [[registry]] regway writes; how a later run recognises its own tables. */
const REGISTRY_MARKER = '# regway:managed - `regway config apply` rewrites this table; edit the declarative file instead';
const MIGRATED = '# migrated from the v1 [registries.*] tables by regway';
const DROPIN_HEAD = '# Managed by regway (regway config apply): edit the declarative file, not this one.\n';

interface MirrorTable {
  location: string;
  insecure?: boolean;
  'pull-from-mirror'?: string;
}
interface RegistryTable {
  prefix: string;
  location: string;
  insecure?: boolean;
  blocked?: boolean;
  mirror?: MirrorTable[];
}

const hostOf = (url: string): string => new URL(url).host;

/** The [[registry]] tables the spec asks for, in spec order. */
function managedTables(spec: Spec, warnings: string[]): RegistryTable[] {
  const tables: RegistryTable[] = [];
  const insecure = insecureHosts(spec);
  const blocked = blockedHosts(spec);
  for (const r of spec.registries) {
    const t: RegistryTable = { prefix: r.host, location: r.server ? hostOf(r.server) : r.host };
    if (insecure.includes(r.host) || r.server?.startsWith('http:')) t.insecure = true;
    if (blocked.includes(r.host)) t.blocked = true;
    if (r.mirrors.length) {
      t.mirror = r.mirrors.map((m) => {
        const mt: MirrorTable = { location: m.gateway ? `${hostOf(m.url)}/${r.host}` : hostOf(m.url) };
        if (m.insecure || m.url.startsWith('http:')) mt.insecure = true;
        // pull-from-mirror belongs on the mirror table only; on [[registry]] it is an error.
        if (!m.resolveTags) mt['pull-from-mirror'] = 'digest-only';
        if (m.ca) warnings.push(`podman reads CAs for ${mt.location} from /etc/containers/certs.d/${mt.location}/*.crt; copy ${m.ca} there (regway does not manage certificate files)`);
        return mt;
      });
    }
    if (r.ca) warnings.push(`podman reads CAs for ${r.host} from /etc/containers/certs.d/${r.host}/*.crt; copy ${r.ca} there`);
    if (t.insecure || t.blocked || t.mirror || t.location !== t.prefix) tables.push(t);
  }
  const listed = new Set(tables.map((t) => t.prefix));
  for (const h of [...insecure, ...blocked]) {
    if (listed.has(h)) continue;
    if (isCidr(h)) {
      warnings.push(`registries.conf has no CIDR form; insecure range ${h} only reaches dockerd`);
      continue;
    }
    tables.push({ prefix: h, location: h, ...(insecure.includes(h) ? { insecure: true } : {}), ...(blocked.includes(h) ? { blocked: true } : {}) });
    listed.add(h);
  }
  return tables;
}

const q = (s: string): string => JSON.stringify(s);

function tableText(t: RegistryTable, comment = REGISTRY_MARKER): string {
  const lines = [comment, '[[registry]]', `prefix = ${q(t.prefix)}`, `location = ${q(t.location)}`];
  if (t.insecure) lines.push('insecure = true');
  if (t.blocked) lines.push('blocked = true');
  for (const m of t.mirror ?? []) {
    lines.push('', '[[registry.mirror]]', `location = ${q(m.location)}`);
    if (m.insecure) lines.push('insecure = true');
    if (m['pull-from-mirror']) lines.push(`pull-from-mirror = ${q(m['pull-from-mirror'])}`);
  }
  return lines.join('\n');
}

function searchLine(hosts: string[]): string {
  return `unqualified-search-registries = [${hosts.map(q).join(', ')}]`;
}

/** What a v1 file says, in v2 terms. */
interface V1Settings {
  search?: string[];
  insecure: string[];
  blocked: string[];
}

export function readV1(doc: Record<string, unknown>): V1Settings | undefined {
  const v1 = doc['registries'];
  if (!v1 || typeof v1 !== 'object' || Array.isArray(v1)) return undefined;
  const list = (k: string): string[] | undefined => {
    const t = (v1 as Record<string, { registries?: unknown }>)[k];
    return Array.isArray(t?.registries) ? t.registries.filter((x): x is string => typeof x === 'string') : undefined;
  };
  return { search: list('search'), insecure: list('insecure') ?? [], blocked: list('block') ?? [] };
}

function parseConf(text: string, path: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new RenderError(`${path} is not valid TOML (${(e as Error).message.split('\n')[0]}); podman refuses it as well. Fix it by hand, then run the command again.`);
  }
}

export function renderRegistriesConf(spec: Spec, current: string | undefined): RenderResult {
  const warnings: string[] = [];
  const tables = managedTables(spec, warnings);
  const search = spec.unqualifiedSearchRegistries;
  if (spec.containers.dropIn) {
    const body = [search ? searchLine(search) : '', ...tables.map((t) => tableText(t))].filter(Boolean).join('\n\n');
    const path = `${spec.containers.dropInDir}/${spec.containers.dropInName}`;
    return { target: 'registries-conf', files: [{ path, text: DROPIN_HEAD + (body ? '\n' + body + '\n' : ''), mode: 0o644 }], warnings };
  }
  const path = spec.containers.registriesConf;
  const text = editInPlace(current ?? '', path, tables, search, warnings);
  return { target: 'registries-conf', files: [{ path, text, mode: 0o644 }], warnings };
}

interface Plan {
  keep: Section[][];
  managedPrefixes: Set<string>;
  v1?: V1Settings;
  doc: Record<string, unknown>;
}

function groupPrefix(group: Section[]): string | undefined {
  try {
    const doc = parseToml(group.flatMap((s) => s.lines).join('\n')) as { registry?: Array<{ prefix?: string; location?: string }> };
    const r = doc.registry?.[0];
    return r?.prefix ?? r?.location;
  } catch {
    return undefined;
  }
}

/** Sorts the existing sections into kept ones and dropped ones (managed by regway, or v1 tables being migrated). */
function classify(text: string, path: string, tables: RegistryTable[]): Plan {
  const doc = parseConf(text, path);
  const want = new Set(tables.map((t) => t.prefix));
  const groups = groupSections(splitSections(text), 'registry');
  const keep: Section[][] = [];
  const managedPrefixes = new Set<string>();
  for (const g of groups) {
    const head = g[0]!;
    if (head.name === 'registries' || head.name?.startsWith('registries.')) continue; // v1, migrated below
    if (head.name === 'registry' && head.array) {
      const prefix = groupPrefix(g);
      if (head.lines.includes(REGISTRY_MARKER) || (prefix !== undefined && want.has(prefix))) {
        if (prefix) managedPrefixes.add(prefix);
        continue;
      }
    }
    keep.push(g);
  }
  return { keep, managedPrefixes, v1: readV1(doc), doc };
}

/** What the edited file must parse to; used to prove the text edit did what was meant. */
function expectedDoc(p: Plan, migrated: RegistryTable[], tables: RegistryTable[], search: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { ...p.doc };
  delete out['registries'];
  const kept = ((p.doc['registry'] as RegistryTable[] | undefined) ?? []).filter((r) => !p.managedPrefixes.has(r.prefix ?? r.location));
  if (search) out['unqualified-search-registries'] = search;
  const all = [...kept, ...migrated, ...tables];
  if (all.length) out['registry'] = all;
  else delete out['registry'];
  return out;
}

const plain = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

function migrate(v1: V1Settings | undefined, tables: RegistryTable[], warnings: string[], path: string): RegistryTable[] {
  if (!v1) return [];
  warnings.push(`${path} is in the deprecated v1 format; it is migrated to v2 ([registries.search/insecure/block] become unqualified-search-registries and [[registry]] tables)`);
  const taken = new Set(tables.map((t) => t.prefix));
  const out: RegistryTable[] = [];
  for (const h of [...v1.insecure, ...v1.blocked]) {
    if (taken.has(h)) continue;
    taken.add(h);
    out.push({ prefix: h, location: h, ...(v1.insecure.includes(h) ? { insecure: true } : {}), ...(v1.blocked.includes(h) ? { blocked: true } : {}) });
  }
  return out;
}

function editInPlace(text: string, path: string, tables: RegistryTable[], search: string[] | undefined, warnings: string[]): string {
  const p = classify(text, path, tables);
  const migrated = migrate(p.v1, tables, warnings, path);
  const effSearch = search ?? p.v1?.search;
  // splitSections always yields the preamble (lines before the first table) first, and classify never drops it.
  let pre = p.keep[0]![0]!.lines;
  const rest = p.keep.slice(1);
  if (effSearch) pre = setTopLevelKey(pre, 'unqualified-search-registries', searchLine(effSearch));
  const kept = [pre.join('\n'), ...rest.map((g) => g.flatMap((s) => s.lines).join('\n'))].join('\n').trimEnd();
  const added = [...migrated.map((t) => tableText(t, MIGRATED)), ...tables.map((t) => tableText(t))];
  const out = [kept, ...added].filter(Boolean).join('\n\n') + '\n';
  const want = expectedDoc(p, migrated, tables, effSearch);
  let got: unknown;
  try {
    got = parseToml(out);
  } catch {
    got = undefined;
  }
  // smol-toml builds null-prototype objects; compare plain data.
  if (isDeepStrictEqual(plain(got), plain(want))) return out;
  // The line edit could not be proven right (unusual layout): write the meaning instead and say comments were lost.
  warnings.push(`${path}: could not edit the file in place safely; it is rewritten from its parsed content and its comments are dropped (the old file is in the backup set)`);
  return DROPIN_HEAD + stringifyToml(want) + '\n';
}
