// Hosted uploads under stress: a restart in the middle of an upload, a client that disconnects
// mid-body, a digest that does not match, and hostile names, tags, digests and upload ids.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Client, request } from 'undici';
import { startHostedGateway, type HostedGateway } from './gateway.js';
import { sha256 as sha } from '../helpers/images.js';
import { waitFor } from '../helpers/wait.js';


async function call(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) {
  const r = await request(new URL(path, base), { method: method as 'GET', headers, body });
  const buf = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body: buf };
}

/** Every regular file under dir (recursive), relative. */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p).map((f) => join(e.name, f)));
    else if (statSync(p).isFile()) out.push(e.name);
  }
  return out;
}

/**
 * Sends headers and part of a body announced longer, then drops the connection once `started`
 * holds (the server has begun writing what it got).
 */
async function sendAndVanish(port: number, method: string, path: string, headers: Record<string, string>, part: Buffer, started: () => boolean): Promise<void> {
  const s = connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
    s.on('error', () => {});
    s.write(`${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    s.write(part);
    await waitFor(started, `the server to start writing the partial ${method} body`, 15_000);
  } finally { s.destroy(); }
}

describe('hosted uploads: restarts, disconnects, bad input', () => {
  let gw: HostedGateway;
  const storage = mkdtempSync(join(tmpdir(), 'regway-resil-'));
  before(async () => { gw = await startHostedGateway({ storage }); });
  after(async () => { await gw?.stop(); rmSync(storage, { recursive: true, force: true }); });

  it('an upload in progress survives a restart of the gateway', async () => {
    const bytes = randomBytes(64_000);
    const p = await call(gw.url, 'POST', '/v2/local/restart/blobs/uploads/');
    const a = await call(gw.url, 'PATCH', String(p.headers.location), { 'content-range': '0-31999' }, bytes.subarray(0, 32_000));
    assert.equal(a.status, 202);
    const loc = String(a.headers.location);
    await gw.stop({ keepStorage: true });
    gw = await startHostedGateway({ storage });
    const st = await call(gw.url, 'GET', loc);
    assert.equal(st.status, 204, 'the session is still known after the restart');
    assert.equal(st.headers.range, '0-31999');
    const b = await call(gw.url, 'PATCH', loc, { 'content-range': '32000-63999' }, bytes.subarray(32_000));
    assert.equal(b.status, 202);
    const fin = await call(gw.url, 'PUT', `${loc}?digest=${sha(bytes)}`);
    assert.equal(fin.status, 201);
    assert.ok((await call(gw.url, 'GET', `/v2/local/restart/blobs/${sha(bytes)}`)).body.equals(bytes));
    assert.deepEqual(files(join(storage, 'hosted', 'uploads')), [], 'the finished session left nothing behind');
  });

  it('a client that disconnects mid-chunk leaves no partial chunk and no partial blob', async () => {
    const p = await call(gw.url, 'POST', '/v2/local/cut/blobs/uploads/');
    const loc = String(p.headers.location);
    const id = loc.split('/').pop()!;
    await sendAndVanish(gw.port, 'PATCH', loc, { 'content-length': '100000', 'content-range': '0-99999', 'content-type': 'application/octet-stream' }, randomBytes(40_000), () => files(join(storage, '_tmp')).length > 0);
    await waitFor(() => files(join(storage, '_tmp')).length === 0, 'the aborted chunk to be dropped', 15_000, { seen: () => files(join(storage, '_tmp')) });
    const st = await call(gw.url, 'GET', loc);
    assert.equal(st.status, 204);
    assert.equal(st.headers.range, '0-0', 'the offset did not move');
    assert.deepEqual(files(join(storage, 'hosted', 'uploads', id)), ['state.json'], 'no chunk was kept');
    // Monolithic: the blob must not appear at its digest.
    const whole = randomBytes(80_000);
    await sendAndVanish(gw.port, 'POST', `/v2/local/cut/blobs/uploads/?digest=${sha(whole)}`, { 'content-length': String(whole.length) }, whole.subarray(0, 30_000), () => files(join(storage, '_tmp')).length > 0);
    await waitFor(() => files(join(storage, '_tmp')).length === 0, 'the aborted write to be dropped', 15_000, { seen: () => files(join(storage, '_tmp')) });
    assert.equal((await call(gw.url, 'HEAD', `/v2/local/cut/blobs/${sha(whole)}`)).status, 404);
    assert.ok(!files(join(storage, 'hosted', 'blobs')).some((f) => f.endsWith(sha(whole).slice(7))), 'no partial blob on disk');
    // And the session still accepts the upload afterwards.
    const bytes = randomBytes(1000);
    assert.equal((await call(gw.url, 'PATCH', loc, { 'content-range': '0-999' }, bytes)).status, 202);
    assert.equal((await call(gw.url, 'PUT', `${loc}?digest=${sha(bytes)}`)).status, 201);
  });

  it('an upload whose bytes do not match its digest leaves nothing behind', async () => {
    const bytes = randomBytes(5000);
    const claimed = sha(randomBytes(5000));
    const p = await call(gw.url, 'POST', '/v2/local/mismatch/blobs/uploads/');
    const loc = String(p.headers.location);
    await call(gw.url, 'PATCH', loc, { 'content-range': '0-2499' }, bytes.subarray(0, 2500));
    const fin = await call(gw.url, 'PUT', `${loc}?digest=${claimed}`, { 'content-range': '2500-4999' }, bytes.subarray(2500));
    assert.equal(fin.status, 400);
    assert.equal(JSON.parse(fin.body.toString()).errors[0].code, 'DIGEST_INVALID');
    assert.equal((await call(gw.url, 'HEAD', `/v2/local/mismatch/blobs/${claimed}`)).status, 404);
    assert.equal((await call(gw.url, 'HEAD', `/v2/local/mismatch/blobs/${sha(bytes)}`)).status, 404);
    assert.equal((await call(gw.url, 'GET', loc)).status, 404, 'the session is gone');
    assert.deepEqual(files(join(storage, 'hosted', 'uploads', loc.split('/').pop()!)), []);
    const mono = await call(gw.url, 'POST', `/v2/local/mismatch/blobs/uploads/?digest=${claimed}`, {}, bytes);
    assert.equal(mono.status, 400);
    assert.deepEqual(files(join(storage, '_tmp')), []);
    const all = files(join(storage, 'hosted', 'blobs'));
    assert.ok(!all.some((f) => f.endsWith(claimed.slice(7)) || f.endsWith(sha(bytes).slice(7))));
  });

  it('path traversal through names, tags, digests and upload ids is refused with 4xx', async () => {
    const client = new Client(gw.url);
    const raw = async (method: string, path: string, body?: string) => {
      const r = await client.request({ method: method as 'GET', path, body });
      await r.body.dump();
      return r.statusCode;
    };
    try {
      const before = files(storage).length;
      const cases: [string, string][] = [
        ['GET', '/v2/local/../../etc/manifests/latest'],
        ['GET', '/v2/local/%2e%2e/%2e%2e/etc/manifests/latest'],
        ['POST', '/v2/local/..%2F..%2Fx/blobs/uploads/'],
        ['PUT', '/v2/local/a/manifests/..%2F..%2F..%2Fpasswd'],
        ['PUT', '/v2/local/a/manifests/..'],
        ['GET', '/v2/local/a/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd'],
        ['POST', '/v2/local/a/blobs/uploads/?digest=sha256:../../../../x'],
        ['GET', '/v2/local/a/blobs/uploads/..%2F..%2F..%2Fstate.json'],
        ['PATCH', '/v2/local/a/blobs/uploads/..'],
        ['PUT', '/v2/local/a/blobs/uploads/%2e%2e%2fstate.json?digest=sha256:' + 'a'.repeat(64)],
        ['DELETE', '/v2/local/a/blobs/uploads/../../../hosted'],
        ['POST', '/v2/local/a/blobs/uploads/?mount=sha256:' + 'a'.repeat(64) + '&from=../../etc'],
      ];
      for (const [m, p] of cases) {
        const status = await raw(m, p, m === 'PUT' || m === 'PATCH' ? '{}' : undefined);
        assert.ok(status >= 400 && status < 500 || (p.includes('mount=') && status === 202), `${m} ${p} -> ${status}`);
      }
      assert.equal(files(storage).length, before + 1, 'only the mount fallback session was created');
    } finally { await client.close(); }
  });
});
