// containerd's endpoint order (remotes/docker/config/hosts.go): the hosts.toml of the registry's directory under
// certs.d ([host] tables in file order, then `server`), `?ns=<registry>` on every host other than the registry
// itself, hosts without the `resolve` capability skipped for a tag, `override_path` using the URL path as API root.
// A hosts.toml that does not parse is ignored as a whole (containerd logs and pulls from the registry directly).
import { parse as parseToml } from 'smol-toml';
import type { ImageRef } from '../../oci/reference.js';
import { checkConfigPath } from '../../runtimes/render/hosts-toml.js';
import type { NodeSnapshot } from '../../runtimes/targets.js';
import type { RuntimeTrace, TraceEndpoint } from './types.js';
import { apiHost } from '../common/target.js';

const CAPS = ['pull', 'resolve', 'push'];

function defaultServer(registry: string): string {
  return `https://${apiHost(registry)}`;
}

/** Directory names containerd looks for, in order; the first that exists wins. */
function hostDirs(registry: string): string[] {
  const m = /^(.*):(\d+)$/.exec(registry);
  return [...(m ? [`${m[1]}_${m[2]}_`] : []), registry, '_default'];
}

function request(url: string, ref: ImageRef, overridePath: boolean): { base: string; request: string } {
  const u = new URL(url);
  const reference = ref.digest ?? ref.tag ?? 'latest';
  const root = overridePath ? u.pathname.replace(/\/+$/, '') : `${u.pathname.replace(/\/+$/, '')}/v2`;
  const ns = u.host === ref.registry ? '' : `?ns=${encodeURIComponent(ref.registry)}`;
  return { base: `${u.protocol}//${u.host}`, request: `${root}/${ref.name}/manifests/${reference}${ns}` };
}

export function containerdTrace(ref: ImageRef, snap: NodeSnapshot, certsDir: string, configToml: string): RuntimeTrace {
  const notes: string[] = [];
  const cfg = checkConfigPath(snap.files.get(configToml), certsDir);
  if (cfg) notes.push(`${configToml} ${cfg}`);
  const dir = hostDirs(ref.registry).find((d) => snap.certsDirs.has(d));
  const file = dir ? `${certsDir}/${dir}/hosts.toml` : `${certsDir}/${ref.registry}/hosts.toml`;
  const text = dir ? snap.certsDirs.get(dir) : undefined;
  const eps: TraceEndpoint[] = [];
  let server = defaultServer(ref.registry);
  let serverInsecure = false;
  if (text === undefined) {
    notes.push(`${file} does not exist: containerd pulls from ${server} directly (ctr needs --hosts-dir ${certsDir}; ctr --plain-http for http)`);
  } else {
    let doc: Record<string, unknown> | undefined;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      notes.push(`${file} does not parse (${(e as Error).message.split('\n')[0]}): containerd logs "failed to decode hosts.toml" and ignores every mirror`);
    }
    const hosts = (doc?.['host'] ?? {}) as Record<string, Record<string, unknown>>;
    const bad = Object.entries(hosts).find(
      ([, h]) => h['capabilities'] !== undefined && (!Array.isArray(h['capabilities']) || (h['capabilities'] as unknown[]).some((c) => !CAPS.includes(String(c)))),
    );
    if (bad) notes.push(`${file}: [host."${bad[0]}"] has an unknown capability: containerd fails to decode the file and ignores every mirror`);
    const empty = doc && !bad && Object.keys(hosts).length === 0;
    if (empty) notes.push(`${file} has no [host] table: containerd 1.6 fails to decode it ("invalid \`host\` tree") and pulls from ${server} as if it did not exist`);
    if (doc && !bad && !empty) {
      if (typeof doc['server'] === 'string') server = /^https?:\/\//.test(doc['server']) ? doc['server'] : `https://${doc['server']}`;
      serverInsecure = doc['skip_verify'] === true;
      const byTag = !ref.digest;
      for (const [url, h] of Object.entries(hosts)) {
        const caps = (h['capabilities'] as string[] | undefined) ?? CAPS;
        const r = request(/^https?:\/\//.test(url) ? url : `https://${url}`, ref, h['override_path'] === true);
        const skipped = !caps.includes('pull') ? 'no "pull" capability' : byTag && !caps.includes('resolve') ? 'no "resolve" capability: not asked for tags, only for blobs and digests' : undefined;
        // A table for the registry's own host is the registry itself (regway writes one for a plain-HTTP registry).
        eps.push({
          url: r.base,
          role: new URL(r.base).host === ref.registry ? 'origin' : 'mirror',
          request: r.request,
          insecure: h['skip_verify'] === true || r.base.startsWith('http:'),
          source: file,
          ...(skipped ? { skipped } : {}),
        });
      }
    }
  }
  const r = request(server, ref, false);
  eps.push({ url: r.base, role: 'origin', request: r.request, insecure: serverInsecure || r.base.startsWith('http:'), source: text === undefined ? '(default)' : file });
  return { runtime: 'containerd', notes, endpoints: eps };
}
