// Blobs too large to build in memory (hundreds of MB to GBs): generated block by block, pushed to a
// registry as a stream, and read back hashed, so neither the test nor the bench holds one whole.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { request } from 'undici';

const BLOCK = 8 * 1024 * 1024;

/**
 * `size` bytes from one random block, with each block's index stamped at its start: blocks differ,
 * so bytes served from the wrong offset change the digest (plain repetition would hide that).
 */
export function* bigBlobChunks(size: number, seed: Buffer): Generator<Buffer> {
  for (let off = 0, i = 0; off < size; off += BLOCK, i++) {
    const b = Buffer.from(seed.subarray(0, Math.min(BLOCK, size - off)));
    b.writeUInt32BE(i, 0);
    yield b;
  }
}

export interface BigBlob { digest: string; size: number }

/** Pushes a generated blob of `size` bytes (size >= 4) to `name` as one streamed upload. */
export async function pushBigBlob(registryUrl: string, name: string, size: number): Promise<BigBlob> {
  const seed = randomBytes(BLOCK);
  const h = createHash('sha256');
  for (const c of bigBlobChunks(size, seed)) h.update(c);
  const digest = `sha256:${h.digest('hex')}`;
  const post = await request(`${registryUrl}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
  await post.body.dump();
  const location = post.headers.location;
  if (post.statusCode !== 202 || typeof location !== 'string') throw new Error(`POST upload ${name}: HTTP ${post.statusCode}`);
  const put = new URL(location, registryUrl);
  put.searchParams.set('digest', digest);
  const r = await request(put, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: Readable.from(bigBlobChunks(size, seed)),
  });
  const text = await r.body.text();
  if (r.statusCode !== 201) throw new Error(`PUT blob ${digest}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
  return { digest, size };
}

export interface ReadBlob { bytes: number; digest: string; ms: number }

/**
 * GETs a blob, hashing every byte. `onBytes` sees the running count after each chunk and may
 * return a promise to slow the reader down (a slow client: the socket backs up behind it).
 */
export async function readBlob(url: string, onBytes?: (n: number) => Promise<void> | void): Promise<ReadBlob> {
  const t0 = performance.now();
  const r = await request(url, { bodyTimeout: 300_000, headersTimeout: 300_000 });
  if (r.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${r.statusCode} ${(await r.body.text()).slice(0, 200)}`);
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of r.body) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
    await onBytes?.(bytes);
  }
  return { bytes, digest: `sha256:${h.digest('hex')}`, ms: performance.now() - t0 };
}

/** A process's peak resident memory so far (the kernel's VmHWM), in bytes. */
export function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Resident memory now (VmRSS), in bytes. */
export function rssNow(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
