// A minimal image puller for the cold-pull scenario: manifest by tag, then config and layers with
// a few parallel downloads, like containerd (3 by default). Every blob is checked against its
// digest: a gateway that served wrong bytes quickly must not look fast.
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

interface Desc { digest: string; size: number }

export interface PullResult {
  /** Blob bytes received and verified. */
  bytes: number;
  blobs: number;
  /** Failed blob attempts that were retried (dockerd retries a layer up to 5 times). */
  errors: string[];
}

const ATTEMPTS = 3;

/** fetchBlob with retries; every failure is recorded, the last one is thrown. */
async function fetchBlobRetrying(agent: Agent, base: string, name: string, d: Desc, errors: string[]): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchBlob(agent, base, name, d);
    } catch (e) {
      errors.push((e as Error).message.slice(0, 300));
      if (attempt >= ATTEMPTS) throw e;
    }
  }
}

async function fetchBlob(agent: Agent, base: string, name: string, d: Desc): Promise<number> {
  const r = await request(`${base}/v2/${name}/blobs/${d.digest}`, { dispatcher: agent });
  if (r.statusCode !== 200) {
    const text = await r.body.text().catch(() => '');
    throw new Error(`GET blob ${d.digest}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
  }
  const h = createHash('sha256');
  let n = 0;
  for await (const chunk of r.body) { h.update(chunk as Buffer); n += (chunk as Buffer).length; }
  const got = `sha256:${h.digest('hex')}`;
  if (got !== d.digest || n !== d.size) throw new Error(`blob ${d.digest}: received ${n} bytes with digest ${got}`);
  return n;
}

/** Pulls name:tag from base (http://host:port) with its own connection pool. Throws on any mismatch. */
export async function pullImage(base: string, name: string, tag: string, parallel = 3): Promise<PullResult> {
  const agent = new Agent({ connections: parallel + 1, bodyTimeout: 120_000, headersTimeout: 120_000 });
  try {
    const m = await request(`${base}/v2/${name}/manifests/${tag}`, { dispatcher: agent, headers: { accept: MANIFEST_ACCEPT } });
    if (m.statusCode !== 200) throw new Error(`GET manifest ${name}:${tag}: HTTP ${m.statusCode} ${(await m.body.text()).slice(0, 300)}`);
    const manifest = (await m.body.json()) as { config: Desc; layers: Desc[] };
    const queue = [manifest.config, ...manifest.layers];
    let bytes = 0;
    const errors: string[] = [];
    const workers = Array.from({ length: parallel }, async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        const n = await fetchBlobRetrying(agent, base, name, d, errors); // not `bytes += await`: that reads bytes before the await
        bytes += n;
      }
    });
    await Promise.all(workers);
    return { bytes, blobs: 1 + manifest.layers.length, errors };
  } finally {
    await agent.close();
  }
}
