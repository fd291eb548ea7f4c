import { parseDigest, type Digest } from '../oci/digest.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import type { MutableMetadataStore } from '../store/metadata.js';
import type { HostedContent } from './content.js';
import { HOSTED_REGISTRY } from './repositories.js';

export interface GcResult { repositories: number; manifests: number; kept: number; removed: number; bytesRemoved: number }

/**
 * Mark and sweep over hosted content. Marked: every manifest linked in a hosted repository and
 * everything it references (config, layers, child manifests). Swept: content that is neither
 * marked, nor younger than `graceMs` (an upload whose manifest is not pushed yet), nor used while
 * the mark ran (a push that HEADs an existing blob and PUTs its manifest during GC). Safe to run
 * while the gateway serves; run offline with `regway hosted gc` for the same result.
 */
export async function collectGarbage(meta: MutableMetadataStore, content: HostedContent, opts: { graceMs: number; dryRun?: boolean; now?: () => number }): Promise<GcResult> {
  const now = opts.now ?? Date.now;
  const stopTracking = content.track();
  const marked = new Set<string>();
  const res: GcResult = { repositories: 0, manifests: 0, kept: 0, removed: 0, bytesRemoved: 0 };
  try {
    const repos = (await meta.listRepositories()).filter((r) => r.registry === HOSTED_REGISTRY);
    res.repositories = repos.length;
    for (const repo of repos) {
      for (const m of await meta.listManifestLinks(repo)) {
        res.manifests++;
        marked.add(m);
        const d = safe(m);
        const bytes = d ? await content.get(d) : undefined;
        if (!bytes) continue;
        try {
          const info = parseManifest(bytes);
          const refs = isIndex(info.mediaType) ? info.manifests : [...(info.config ? [info.config] : []), ...info.layers];
          for (const r of refs) marked.add(r.digest);
        } catch { /* content that is not a manifest marks nothing else */ }
      }
    }
    const cutoff = now() - opts.graceMs;
    const doomed: { d: Digest; size: number }[] = [];
    for await (const e of content.list()) {
      const d = safe(e.digest);
      if (!d || marked.has(d.value) || e.mtimeMs > cutoff) { res.kept++; continue; }
      doomed.push({ d, size: e.size });
    }
    for (const { d, size } of doomed) {
      // Checked right before each delete, with tracking still on: a push that began using the
      // blob after the mark keeps it.
      if (content.wasUsed(d.value)) { res.kept++; continue; }
      if (!opts.dryRun && (await content.delete(d))) { res.removed++; res.bytesRemoved += size; }
      else if (opts.dryRun) { res.removed++; res.bytesRemoved += size; }
    }
  } finally {
    stopTracking();
  }
  return res;
}

function safe(s: string): Digest | undefined {
  try { return parseDigest(s); } catch { return undefined; }
}
