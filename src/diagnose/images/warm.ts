// `regway warm`: pulls images through a gateway so its cache holds them before the nodes ask (a rollout, a new
// node pool, a registry maintenance window). Every blob of the chosen platforms is read once, in full, with a
// concurrency limit; the gateway's x-regway-cache header tells what it already had.
import { drain } from '../../client/upstream-client.js';
import { parseImageRef, type ImageRef } from '../../oci/reference.js';
import { isIndex } from '../../oci/manifest.js';
import { blobsOf, firstHeader, ImageClient, platformMatches, platformString } from './image-client.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import { pool } from './stats.js';
import { errorText } from '../common/http.js';

interface WarmOptions {
  /** Gateway base URL, e.g. http://regway.internal:5000. */
  gateway: string;
  /** os/arch[/variant] list, or ['all']; default linux/amd64. */
  platforms?: string[];
  /** Blobs fetched at once (default 4). */
  concurrency?: number;
  insecure?: boolean;
  caFile?: string;
  timeoutMs?: number;
  progress?: Progress;
}

interface WarmedImage {
  ref: string;
  digest?: string;
  platforms: string[];
  blobs: number;
  bytes: number;
  /** Count of blob answers by x-regway-cache value (hit, miss, coalesced, ...). */
  cache: Record<string, number>;
  error?: string;
}

interface WarmResult {
  images: WarmedImage[];
  blobs: number;
  bytes: number;
  durationMs: number;
  failed: number;
}

interface Job {
  image: WarmedImage;
  client: ImageClient;
  name: string;
  digest: string;
  size: number;
}

async function plan(ref: string, o: WarmOptions, clients: Map<string, ImageClient>): Promise<{ image: WarmedImage; jobs: Job[] }> {
  const image: WarmedImage = { ref, platforms: [], blobs: 0, bytes: 0, cache: {} };
  let parsed: ImageRef;
  try {
    parsed = parseImageRef(ref);
  } catch (e) {
    image.error = (e as Error).message;
    return { image, jobs: [] };
  }
  let client = clients.get(parsed.registry);
  if (!client) {
    client = new ImageClient({ endpoint: o.gateway, registry: parsed.registry, insecure: !!o.insecure, ...(o.caFile ? { caFile: o.caFile } : {}), timeoutMs: o.timeoutMs ?? 60_000, tool: 'warm' });
    clients.set(parsed.registry, client);
  }
  try {
    const r = await client.resolve(parsed);
    image.digest = r.top.digest;
    const want = o.platforms ?? ['linux/amd64'];
    const children = isIndex(r.top.info!.mediaType) ? r.children.filter((c) => want.includes('all') || want.some((p) => platformMatches(p, c))) : [];
    if (isIndex(r.top.info!.mediaType) && !children.length) throw new Error(`no manifest for ${want.join(', ')}; the image has ${r.platforms.join(', ')}`);
    const manifests = children.length
      ? await Promise.all(children.map(async (c) => ({ p: platformString(c.platform), m: await client!.forPlatform(parsed, r, platformString(c.platform)) })))
      : [{ p: 'single', m: await client.forPlatform(parsed, r, undefined) }];
    const jobs: Job[] = [];
    for (const { p, m } of manifests) {
      image.platforms.push(p);
      for (const b of blobsOf(m!.info)) jobs.push({ image, client, name: parsed.name, digest: b.digest, size: b.size });
    }
    return { image, jobs };
  } catch (e) {
    image.error = errorText(e);
    return { image, jobs: [] };
  }
}

async function fetchBlob(j: Job, progress: Progress): Promise<void> {
  const res = await j.client.blob(j.name, j.digest);
  if (res.status !== 200) {
    await drain(res);
    throw new Error(`blob ${j.digest} answered ${res.status}`);
  }
  const cache = firstHeader(res.headers, 'x-regway-cache') ?? 'unknown';
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    progress.add((c as Buffer).length);
  }
  progress.add(0, 1);
  j.image.cache[cache] = (j.image.cache[cache] ?? 0) + 1;
  j.image.blobs++;
  j.image.bytes += n;
}

/** Warms every image; one image's failure is reported and the others go on. */
export async function warm(refs: string[], o: WarmOptions): Promise<WarmResult> {
  const t0 = performance.now();
  const progress = o.progress ?? NO_PROGRESS;
  const clients = new Map<string, ImageClient>();
  try {
    const plans = await pool(refs, 4, (r) => plan(r, o, clients));
    // A blob shared by several images (a common base) is fetched once.
    const seen = new Set<string>();
    const jobs = plans
      .flatMap((p) => p.jobs)
      .filter((j) => {
        const first = !seen.has(j.digest);
        seen.add(j.digest);
        return first;
      });
    progress.addTotal(
      jobs.reduce((n, j) => n + j.size, 0),
      jobs.length,
    );
    await pool(jobs, o.concurrency ?? 4, async (j) => {
      try {
        await fetchBlob(j, progress);
      } catch (e) {
        j.image.error ??= errorText(e);
      }
    });
    progress.done();
    const images = plans.map((p) => p.image);
    return {
      images,
      blobs: images.reduce((n, i) => n + i.blobs, 0),
      bytes: images.reduce((n, i) => n + i.bytes, 0),
      durationMs: Math.round(performance.now() - t0),
      failed: images.filter((i) => i.error).length,
    };
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)));
  }
}
