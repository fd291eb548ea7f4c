import { hasher, parseDigest, type Digest } from '../oci/digest.js';
import type { RepoKey } from '../oci/repo.js';
import type { StorageDriver } from './driver.js';
import { BlobStore, type BlobNamespace } from './blob-store.js';
import { VERIFY_PROGRESS_KEY } from './paths.js';
import type { DriverMetadataStore } from './metadata.js';

/** One stored blob whose bytes are not what its name says. */
export interface DamagedBlob {
  digest: string;
  /** What its bytes hash to (or why they could not be read). */
  found: string;
  /** Where the bytes were put aside (`quarantine/...`), if they could be read. */
  quarantined?: string;
  namespace: BlobNamespace;
  /** The cache fetched it again from an upstream; hosted content cannot be refetched. */
  refetched: boolean;
}

export interface VerifyReport { checked: number; bytes: number; damaged: DamagedBlob[]; resumedFrom?: string }

export interface VerifyOptions {
  /** Bytes per second to read at most (0 = as fast as the store gives them). */
  rate?: number;
  /** Continue after the last finished shard of an earlier, interrupted run. */
  resume?: boolean;
  /** Fetches a cache blob again for one of the repositories that link it; true when it worked. */
  refetch?: (repo: RepoKey, digest: Digest) => Promise<boolean>;
  /** Called after each shard (progress). */
  onShard?: (shard: string, report: VerifyReport) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const NAMESPACES: BlobNamespace[] = ['cache', 'hosted'];
const ALGS = ['sha256', 'sha512'] as const;

/**
 * Re-hashes every stored blob (cache and hosted), shard by shard (`<namespace>/<alg>/<xx>`) in a fixed
 * order, so an interrupted run resumes at the next shard. A blob whose bytes do not hash to its
 * name is put aside under `quarantine/` and removed from where it was served; cache blobs are then
 * fetched again for a repository that links them. Reads are paced to `rate` bytes a second so a
 * scheduled run does not starve the gateway of disk.
 */
export async function verifyStore(driver: StorageDriver, meta: Pick<DriverMetadataStore, 'blobLinks'>, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, bytes: 0, damaged: [] };
  const done = opts.resume ? await readProgress(driver) : undefined;
  if (done) report.resumedFrom = done;
  const pace = pacer(opts.rate ?? 0, opts.now ?? Date.now, opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))));
  const stores = new Map(NAMESPACES.map((ns) => [ns, new BlobStore(driver, ns)]));
  for (const { namespace, shard, name } of shards()) {
    if (done && name <= done) continue;
    const store = stores.get(namespace)!;
    for await (const e of store.list(shard)) {
      const digest = parseDigest(e.digest);
      const found = await hashOf(store, digest, pace).catch((err: Error) => `unreadable: ${err.message}`);
      report.checked++;
      report.bytes += e.size;
      if (found === digest.value) continue;
      const quarantined = await store.quarantine(digest);
      report.damaged.push({ digest: digest.value, found, namespace, refetched: false, ...(quarantined ? { quarantined } : {}) });
    }
    await driver.put(VERIFY_PROGRESS_KEY, Buffer.from(JSON.stringify({ shard: name, at: new Date().toISOString() })));
    opts.onShard?.(name, report);
  }
  await driver.delete(VERIFY_PROGRESS_KEY).catch(() => false);
  if (opts.refetch) await refetchAll(meta, report.damaged.filter((d) => d.namespace === 'cache'), opts.refetch);
  return report;
}

/** Every shard, in the order a run walks them (and compares them by name when resuming). */
function shards(): { namespace: BlobNamespace; shard: string; name: string }[] {
  const out: { namespace: BlobNamespace; shard: string; name: string }[] = [];
  for (const namespace of NAMESPACES) for (const alg of ALGS) {
    for (let i = 0; i < 256; i++) {
      const shard = `${alg}/${i.toString(16).padStart(2, '0')}`;
      out.push({ namespace, shard, name: `${namespace}/${shard}` });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function hashOf(store: BlobStore, d: Digest, pace: (n: number) => Promise<void>): Promise<string> {
  const h = hasher(d.algorithm);
  for await (const chunk of await store.open(d) as AsyncIterable<Buffer>) {
    h.update(chunk);
    await pace(chunk.length);
  }
  return `${d.algorithm}:${h.digest('hex')}`;
}

/** The repositories that link each damaged digest; for each, the first that refetches wins. */
async function refetchAll(meta: Pick<DriverMetadataStore, 'blobLinks'>, damaged: DamagedBlob[], refetch: NonNullable<VerifyOptions['refetch']>): Promise<void> {
  if (damaged.length === 0) return;
  const linkers = await meta.blobLinks(new Set(damaged.map((d) => d.digest)));
  for (const d of damaged) {
    for (const repo of (linkers.get(d.digest) ?? []).filter((r) => r.registry !== '_hosted')) {
      if (await refetch(repo, parseDigest(d.digest)).catch(() => false)) { d.refetched = true; break; }
    }
  }
}

async function readProgress(driver: StorageDriver): Promise<string | undefined> {
  const buf = await driver.get(VERIFY_PROGRESS_KEY);
  try { return buf ? (JSON.parse(buf.toString('utf8')) as { shard?: string }).shard : undefined; } catch { return undefined; }
}

/** Sleeps as needed so that bytes read stay at or under `rate` per second. */
function pacer(rate: number, now: () => number, sleep: (ms: number) => Promise<void>): (n: number) => Promise<void> {
  if (rate <= 0) return async () => {};
  const start = now();
  let total = 0;
  return async (n) => {
    total += n;
    const ahead = (total / rate) * 1000 - (now() - start);
    if (ahead > 5) await sleep(ahead);
  };
}
