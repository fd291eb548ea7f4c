// containers/image's endpoint order (sysregistriesv2, podman/skopeo/CRI-O/buildah): registries.conf and its
// drop-ins merged by prefix, the longest matching prefix wins, its mirrors in order (minus those restricted to
// digests on a tag pull, or to tags on a digest pull), then its location. The matched prefix is replaced by the
// mirror's location, which may carry a namespace (mirror.example/dockerhub). Blocked registries are refused.
import { parse as parseToml } from 'smol-toml';
import type { ImageRef } from '../../oci/reference.js';
import { readV1 } from '../../runtimes/render/registries-conf.js';
import type { NodeSnapshot } from '../../runtimes/targets.js';
import type { RuntimeTrace, TraceEndpoint } from './types.js';

interface Mirror {
  location: string;
  insecure?: boolean;
  'pull-from-mirror'?: string;
}
interface Reg {
  prefix?: string;
  location?: string;
  insecure?: boolean;
  blocked?: boolean;
  'mirror-by-digest-only'?: boolean;
  mirror?: Mirror[];
}

/** Registries after the drop-in merge (replace by identical prefix), with the file that defined each. */
function mergedRegistries(snap: NodeSnapshot, files: string[], notes: string[]): Array<Reg & { file: string }> {
  const merged = new Map<string, Reg & { file: string }>();
  for (const file of files) {
    const text = snap.files.get(file);
    if (text === undefined) continue;
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      notes.push(`${file} is not valid TOML (${(e as Error).message.split('\n')[0]}): podman refuses to run`);
      continue;
    }
    const v1 = readV1(doc);
    if (v1) {
      for (const h of v1.insecure) merged.set(h, { prefix: h, location: h, insecure: true, file });
      for (const h of v1.blocked) merged.set(h, { prefix: h, location: h, blocked: true, file });
      continue;
    }
    for (const r of (doc['registry'] ?? []) as Reg[]) {
      if (!r.location && !(r.prefix ?? '').startsWith('*.'))
        notes.push(`${file}: [[registry]] prefix "${r.prefix}" has no location: podman refuses the file ("location is unset and prefix is not in the format: *.example.com")`);
      merged.set(r.prefix ?? r.location ?? '', { ...r, file });
    }
  }
  return [...merged.values()];
}

/** Does `prefix` match the reference `full` (host/name[:tag|@digest])? Wildcards are `*.domain` on the host. */
function prefixMatches(prefix: string, full: string): boolean {
  if (prefix.startsWith('*.')) {
    const host = full.split('/')[0]!;
    return host.endsWith(prefix.slice(1));
  }
  if (!full.startsWith(prefix)) return false;
  const next = full.charAt(prefix.length);
  return next === '' || next === '/' || next === ':' || next === '@';
}

function hubHost(loc: string): string {
  return loc.replace(/^docker\.io(?=\/|$)/, 'registry-1.docker.io');
}

function endpoint(location: string, rest: string, ref: ImageRef, insecure: boolean, role: 'mirror' | 'origin', source: string): TraceEndpoint {
  const rewritten = hubHost(location) + rest;
  const slash = rewritten.indexOf('/');
  const host = rewritten.slice(0, slash);
  const name = rewritten.slice(slash + 1);
  return { url: `https://${host}`, role, request: `/v2/${name}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`, insecure, ...(insecure ? { httpFallback: true } : {}), source };
}

export function containersTrace(ref: ImageRef, snap: NodeSnapshot, files: string[]): RuntimeTrace {
  const notes: string[] = [];
  const regs = mergedRegistries(snap, files, notes);
  if (!files.some((f) => snap.files.has(f))) notes.push(`${files[0]} does not exist: podman uses its built-in defaults`);
  const full = `${ref.registry}/${ref.name}`;
  const match = regs
    .filter((r) => {
      const p = r.prefix ?? r.location ?? '';
      return p && prefixMatches(p, full);
    })
    .sort((a, b) => (b.prefix ?? b.location ?? '').length - (a.prefix ?? a.location ?? '').length)[0];
  if (!match) return { runtime: 'podman', notes, endpoints: [endpoint(ref.registry, `/${ref.name}`, ref, false, 'origin', '(default)')] };
  const prefix = match.prefix ?? match.location!;
  const rest = prefix.startsWith('*.') ? full.slice(full.indexOf('/')) : full.slice(prefix.length);
  const byDigest = !!ref.digest;
  const eps: TraceEndpoint[] = [];
  for (const m of match.mirror ?? []) {
    const mode = match['mirror-by-digest-only'] ? 'digest-only' : (m['pull-from-mirror'] ?? 'all');
    const e = endpoint(m.location, prefix.startsWith('*.') ? full.slice(full.indexOf('/')) : rest, ref, !!m.insecure, 'mirror', match.file);
    if (mode === 'digest-only' && !byDigest) e.skipped = 'digest-only mirror: not used to pull a tag';
    if (mode === 'tag-only' && byDigest) e.skipped = 'tag-only mirror: not used to pull a digest';
    eps.push(e);
  }
  const loc = prefix.startsWith('*.') ? ref.registry : (match.location ?? prefix);
  const origin = endpoint(loc, prefix.startsWith('*.') ? `/${ref.name}` : rest, ref, !!match.insecure, 'origin', match.file);
  eps.push(origin);
  if (match.blocked) {
    for (const e of eps) e.skipped = `blocked in ${match.file}: podman refuses the pull ("registry ${prefix} is blocked")`;
  }
  return { runtime: 'podman', notes, endpoints: eps };
}
