// Synthesises a regway cache folder of N blobs and R repositories in regway's real on-disk layout
// (src/store/paths.ts), for the cache-at-scale benchmark (#16). Everything is derived from a seed,
// so a folder damaged by a run (eviction deletes blob files) can be repaired instead of rebuilt:
// writing 1M small files takes minutes, re-deriving and checking them takes seconds.
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../../src/oci/digest.js';
import { blobKey, blobLinkKey, manifestLinkKey, tagKey } from '../../src/store/paths.js';

export const SCALE_REGISTRY = 'upstream.test';
const MARKER = '.cache-scale.json';
const LAYOUT_VERSION = 1;
const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};
// Fixed, so a repaired blob gets the mtime it had; spread over 30 days so LRU order is meaningful.
const MTIME_BASE = Date.UTC(2026, 0, 1) / 1000;
const MTIME_SPREAD = 30 * 86_400;

interface Desc { mediaType: string; digest: string; size: number }
export interface SampleImage { repo: string; tag: string; manifest: Desc; blobs: Desc[] }

/** What the marker file records: enough to measure without re-deriving anything. */
export interface ScaleFolder {
  version: number;
  dir: string;
  blobs: number;
  repos: number;
  tags: number;
  totalBytes: number;
  sample: SampleImage;
  /** Set by runs that deleted or added content; the next run repairs before measuring. */
  dirty?: { extraBlobs: string[]; extraRegistries: string[] };
}

/** mulberry32: tiny, fast, seedable; the shape of the data must not depend on Math.random. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEY = Buffer.alloc(16, 7);
/** Blob i's bytes: an AES-CTR keystream with i as the counter block, so any blob can be re-derived alone. */
function poolBytes(i: number, len: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(i, 12);
  return createCipheriv('aes-128-ctr', KEY, iv).update(Buffer.alloc(len));
}

const hexOf = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const dig = (hex: string): Digest => ({ algorithm: 'sha256', encoded: hex, value: `sha256:${hex}` }) as Digest;
export const repoName = (i: number) => `proj${i % 97}/app-${String(i).padStart(6, '0')}`;

/** Writes (or, repairing, re-writes only when missing) one content file with its fixed mtime. */
class BlobWriter {
  totalBytes = 0;
  written = 0;
  constructor(private readonly dir: string, private readonly repair: boolean, private readonly r: () => number) {
    for (let i = 0; i < 256; i++) mkdirSync(join(dir, 'blobs', 'sha256', i.toString(16).padStart(2, '0')), { recursive: true });
  }

  put(bytes: Buffer): string {
    const hex = hexOf(bytes);
    const file = join(this.dir, blobKey(dig(hex)));
    const mtime = MTIME_BASE + Math.floor(this.r() * MTIME_SPREAD); // drawn either way: the sequence stays the same
    this.totalBytes += bytes.length;
    if (this.repair && existsSync(file)) return hex;
    writeFileSync(file, bytes);
    utimesSync(file, mtime, mtime);
    this.written++;
    return hex;
  }
}

/** Writes repository metadata files, creating each directory once. */
class MetaWriter {
  private readonly made = new Set<string>();
  constructor(private readonly dir: string, private readonly enabled: boolean) {}

  json(key: string, value: unknown): void {
    if (!this.enabled) return;
    const file = join(this.dir, key);
    const parent = file.slice(0, file.lastIndexOf('/'));
    if (!this.made.has(parent)) { mkdirSync(parent, { recursive: true }); this.made.add(parent); }
    writeFileSync(file, JSON.stringify(value));
  }
}

interface Plan { blobs: number; repos: number; tagsPerRepo: Uint8Array; pool: number }

/** How many tags each repository gets (1-3), hence how many manifests, hence how many plain blobs. */
function plan(blobs: number, repos: number): Plan {
  const r = rng(repos * 31 + 1);
  const tagsPerRepo = new Uint8Array(repos);
  let manifests = 0;
  for (let i = 0; i < repos; i++) { tagsPerRepo[i] = 1 + Math.floor(r() * 3); manifests += tagsPerRepo[i]!; }
  const pool = blobs - manifests;
  if (pool < 4) throw new Error(`${blobs} blobs cannot hold ${repos} repositories (${manifests} manifests need at least 4 more blobs)`);
  return { blobs, repos, tagsPerRepo, pool };
}

/** The layers and configs: random sizes 64-512 bytes. Returns their digests and sizes in order. */
function writePool(p: Plan, w: BlobWriter): { hex: string[]; size: Uint16Array } {
  const r = rng(p.blobs * 17 + 3);
  const hex = new Array<string>(p.pool);
  const size = new Uint16Array(p.pool);
  for (let i = 0; i < p.pool; i++) {
    size[i] = 64 + Math.floor(r() * 449);
    hex[i] = w.put(poolBytes(i, size[i]!));
  }
  return { hex, size };
}

/** One repository: its tags, each an OCI image manifest (stored as a blob) over pool blobs it is linked to. */
function writeRepo(i: number, p: Plan, pool: { hex: string[]; size: Uint16Array }, cur: { n: number }, w: BlobWriter, m: MetaWriter, r: () => number): SampleImage {
  const repo = { registry: SCALE_REGISTRY, name: repoName(i) };
  let first: SampleImage | undefined;
  for (let t = 0; t < p.tagsPerRepo[i]!; t++) {
    const pick = (mediaType: string): Desc => { const k = cur.n++ % p.pool; return { mediaType, digest: `sha256:${pool.hex[k]}`, size: pool.size[k]! }; };
    const config = pick(MT.config);
    const layers = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(MT.layer));
    // The annotation makes every manifest distinct even where the pool wraps around.
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config, layers, annotations: { 'org.example.ref': `${repo.name}:v${t + 1}` } }));
    const hex = w.put(body);
    const manifest = { mediaType: MT.manifest, digest: `sha256:${hex}`, size: body.length };
    m.json(tagKey(repo, `v${t + 1}`), { digest: manifest.digest, mediaType: MT.manifest, size: body.length, checkedAt: Date.now() });
    m.json(manifestLinkKey(repo, dig(hex)), { mediaType: MT.manifest, size: body.length });
    for (const b of [config, ...layers]) m.json(blobLinkKey(repo, dig(b.digest.slice(7))), { size: b.size });
    first ??= { repo: repo.name, tag: `v${t + 1}`, manifest, blobs: [config, ...layers] };
  }
  return first!;
}

/** Generates (repair=false) or repairs (repair=true: only missing blob files are written) the folder. */
function synthesise(dir: string, blobs: number, repos: number, repair: boolean): { totalBytes: number; written: number; tags: number; sample: SampleImage } {
  const p = plan(blobs, repos);
  const w = new BlobWriter(dir, repair, rng(blobs * 13 + 5));
  const pool = writePool(p, w);
  const meta = new MetaWriter(dir, !repair);
  const r = rng(repos * 7 + 11);
  const cur = { n: 0 };
  let sample: SampleImage | undefined;
  let tags = 0;
  for (let i = 0; i < repos; i++) {
    const s = writeRepo(i, p, pool, cur, w, meta, r);
    sample ??= s;
    tags += p.tagsPerRepo[i]!;
  }
  return { totalBytes: w.totalBytes, written: w.written, tags, sample: sample! };
}

function readMarker(dir: string): ScaleFolder | undefined {
  try { return JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as ScaleFolder; } catch { return undefined; }
}
export function writeMarker(f: ScaleFolder): void { writeFileSync(join(f.dir, MARKER), JSON.stringify(f, null, 1)); }

/** Undoes what a run added: the eviction scenario's extra registry and the blob it fetched. */
function removeExtras(f: ScaleFolder): void {
  for (const reg of f.dirty?.extraRegistries ?? []) rmSync(join(f.dir, 'repositories', reg), { recursive: true, force: true });
  for (const d of f.dirty?.extraBlobs ?? []) rmSync(join(f.dir, blobKey(dig(d.replace(/^sha256:/, '')))), { force: true });
}

/**
 * A folder ready to measure: reused when its marker matches, repaired when a run left it dirty,
 * otherwise generated from scratch (an unmarked folder is wiped first: it may be half-written).
 */
export function ensureFolder(dir: string, blobs: number, repos: number, say: (m: string) => void): ScaleFolder & { generatedMs: number; action: string } {
  const t0 = performance.now();
  const old = readMarker(dir);
  const same = old && old.version === LAYOUT_VERSION && old.blobs === blobs && old.repos === repos;
  if (same && !old.dirty) return { ...old, generatedMs: 0, action: 'reused' };
  if (same) {
    say(`repairing ${dir} (a previous run evicted from it)`);
    removeExtras(old);
    const s = synthesise(dir, blobs, repos, true);
    const f: ScaleFolder = { ...old, dirty: undefined };
    writeMarker(f);
    return { ...f, generatedMs: performance.now() - t0, action: `repaired (${s.written} blobs rewritten)` };
  }
  say(`generating ${blobs} blobs, ${repos} repositories in ${dir}`);
  if (existsSync(dir) && readdirSync(dir).length) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const s = synthesise(dir, blobs, repos, false);
  const f: ScaleFolder = { version: LAYOUT_VERSION, dir, blobs, repos, tags: s.tags, totalBytes: s.totalBytes, sample: s.sample };
  writeMarker(f);
  return { ...f, generatedMs: performance.now() - t0, action: 'generated' };
}

/** Records that a run is about to change the folder, so the next run repairs it. */
export function markDirty(f: ScaleFolder, extra: { blobs?: string[]; registries?: string[] } = {}): void {
  const d = f.dirty ?? { extraBlobs: [], extraRegistries: [] };
  f.dirty = { extraBlobs: [...d.extraBlobs, ...(extra.blobs ?? [])], extraRegistries: [...d.extraRegistries, ...(extra.registries ?? [])] };
  writeMarker(f);
}

