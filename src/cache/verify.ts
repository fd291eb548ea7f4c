import { hasher, parseDigest, type Digest } from '../oci/digest.js';
import type { RepoKey } from '../oci/repo.js';
import type { StorageDriver } from '../store/driver.js';
import { repoFromTagKey } from '../store/paths.js';

/** One stored blob whose bytes are not what its name says. */
export interface DamagedBlob {
  key: string;
  digest: string;
  /** What its bytes hash to (or why they could not be read). */
  found: string;
  /** Where the bytes were put aside (`quarantine/...`), if they could be read. */
  quarantined?: string;
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

const ROOTS = ['blobs', 'hosted/blobs'] as const;
const ALGS = ['sha256', 'sha512'] as const;
const PROGRESS = 'maintenance/verify-progress.json';

/**
 * Re-hashes every stored blob (cache and hosted), shard by shard (`<root>/<alg>/<xx>`) in a fixed
 * order, so an interrupted run resumes at the next shard. A blob whose bytes do not hash to its
 * name is put aside under `quarantine/` and removed from where it was served; cache blobs are then
 * fetched again for a repository that links them. Reads are paced to `rate` bytes a second so a
 * scheduled run does not starve the gateway of disk.
 */
export async function verifyStore(driver: StorageDriver, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, bytes: 0, damaged: [] };
  const done = opts.resume ? await readProgress(driver) : undefined;
  if (done) report.resumedFrom = done;
  const pace = pacer(opts.rate ?? 0, opts.now ?? Date.now, opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))));
  for (const shard of shards()) {
    if (done && shard <= done) continue;
    for await (const e of driver.list(shard)) {
      const digest = digestOfKey(e.key);
      if (!digest) continue;
      const found = await hashOf(driver, e.key, digest, pace).catch((err: Error) => `unreadable: ${err.message}`);
      report.checked++;
      report.bytes += e.size;
      if (found !== digest.value) report.damaged.push(await putAside(driver, e.key, digest, found));
    }
    await driver.put(PROGRESS, Buffer.from(JSON.stringify({ shard, at: new Date().toISOString() })));
    opts.onShard?.(shard, report);
  }
  await driver.delete(PROGRESS).catch(() => false);
  if (opts.refetch) await refetchAll(driver, report.damaged.filter((d) => d.key.startsWith('blobs/')), opts.refetch);
  return report;
}

/** Every shard prefix, in the order a run walks them (and compares them when resuming). */
function shards(): string[] {
  const out: string[] = [];
  for (const root of ROOTS) for (const alg of ALGS) for (let i = 0; i < 256; i++) out.push(`${root}/${alg}/${i.toString(16).padStart(2, '0')}`);
  return out.sort();
}

function digestOfKey(key: string): Digest | undefined {
  const m = /\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)$/.exec(key);
  try { return m ? parseDigest(`${m[1]}:${m[2]}`) : undefined; } catch { return undefined; }
}

async function hashOf(driver: StorageDriver, key: string, d: Digest, pace: (n: number) => Promise<void>): Promise<string> {
  const h = hasher(d.algorithm);
  for await (const chunk of await driver.read(key) as AsyncIterable<Buffer>) {
    h.update(chunk);
    await pace(chunk.length);
  }
  return `${d.algorithm}:${h.digest('hex')}`;
}

/** Copies the bad bytes to `quarantine/<key>` (for inspection), then removes them from service. */
async function putAside(driver: StorageDriver, key: string, d: Digest, found: string): Promise<DamagedBlob> {
  const target = `quarantine/${key}`;
  let quarantined: string | undefined;
  try {
    const w = await driver.writer(target);
    try {
      for await (const chunk of await driver.read(key) as AsyncIterable<Buffer>) await w.write(chunk);
      await w.commit();
      quarantined = target;
    } catch (e) { await w.abort(); throw e; }
  } catch { /* unreadable: nothing to keep */ }
  await driver.delete(key);
  return { key, digest: d.value, found, refetched: false, ...(quarantined ? { quarantined } : {}) };
}

/** One walk of the repositories finds who links each damaged digest; the first that refetches wins. */
async function refetchAll(driver: StorageDriver, damaged: DamagedBlob[], refetch: NonNullable<VerifyOptions['refetch']>): Promise<void> {
  if (damaged.length === 0) return;
  const wanted = new Map(damaged.map((d) => [d.digest, d]));
  const linkers = new Map<string, RepoKey[]>();
  for await (const e of driver.list('repositories')) {
    const m = /\/_blobs\/(sha256|sha512)\/([0-9a-f]+)$/.exec(e.key);
    const digest = m ? `${m[1]}:${m[2]}` : undefined;
    if (!digest || !wanted.has(digest)) continue;
    const repo = repoFromTagKey(e.key.replace(/\/_blobs\/.*$/, '/_tags/x'));
    if (repo && repo.registry !== '_hosted') linkers.set(digest, [...(linkers.get(digest) ?? []), repo]);
  }
  for (const [digest, d] of wanted) {
    for (const repo of linkers.get(digest) ?? []) {
      if (await refetch(repo, parseDigest(digest)).catch(() => false)) { d.refetched = true; break; }
    }
  }
}

async function readProgress(driver: StorageDriver): Promise<string | undefined> {
  const buf = await driver.get(PROGRESS);
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
