// The push side of the OCI distribution spec against hosted repositories: "Pushing blobs", "Pushing
// Manifests" (uploads, mount, the manifest PUT checks) and "Content Management" (deletes), one by one over HTTP.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startHostedGateway, type HostedGateway } from './gateway.js';
import { pushImage } from '../helpers/images.js';

const sha = (b: Buffer, alg = 'sha256') => `${alg}:${createHash(alg).update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

type Res = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; json: () => any };

async function call(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Res> {
  const r = await request(new URL(path, base), { method: method as 'GET', headers, body });
  const buf = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body: buf, json: () => JSON.parse(buf.toString()) };
}

function manifestFor(config: { digest: string; size: number; mediaType?: string }, layers: { digest: string; size: number; mediaType?: string }[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: config.mediaType ?? 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    ...extra,
  }));
}

describe('hosted repositories: push side of the distribution spec', () => {
  let gw: HostedGateway;
  let base: string;
  const c = (method: string, path: string, headers?: Record<string, string>, body?: Buffer | string) => call(base, method, path, headers, body);

  async function pushBlob(repo: string, bytes: Buffer): Promise<string> {
    const d = sha(bytes);
    const r = await c('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { 'content-type': 'application/octet-stream' }, bytes);
    assert.equal(r.status, 201, r.body.toString());
    return d;
  }

  before(async () => { gw = await startHostedGateway({ config: { hosted: { repositories: ['local/**', 'team/*'], gcGrace: 0 } } }); base = gw.url; });
  after(async () => { await gw?.stop(); });

  it('monolithic POST ?digest= answers 201 with Location and Docker-Content-Digest, and the blob reads back', async () => {
    const bytes = randomBytes(70_000);
    const d = sha(bytes);
    const r = await c('POST', `/v2/local/a/blobs/uploads/?digest=${d}`, { 'content-type': 'application/octet-stream' }, bytes);
    assert.equal(r.status, 201);
    assert.equal(r.headers.location, `/v2/local/a/blobs/${d}`);
    assert.equal(r.headers['docker-content-digest'], d);
    const g = await c('GET', `/v2/local/a/blobs/${d}`);
    assert.equal(g.status, 200);
    assert.ok(g.body.equals(bytes));
    assert.equal(g.headers['docker-content-digest'], d);
    const h = await c('HEAD', `/v2/local/a/blobs/${d}`);
    assert.equal(Number(h.headers['content-length']), bytes.length);
    const rg = await c('GET', `/v2/local/a/blobs/${d}`, { range: 'bytes=10-19' });
    assert.equal(rg.status, 206);
    assert.ok(rg.body.equals(bytes.subarray(10, 20)));
  });

  it('POST then PUT with the whole body (202, then 201)', async () => {
    const bytes = randomBytes(5000);
    const p = await c('POST', '/v2/local/a/blobs/uploads/');
    assert.equal(p.status, 202);
    assert.match(String(p.headers.location), /^\/v2\/local\/a\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(p.headers.range, '0-0');
    assert.ok(p.headers['docker-upload-uuid']);
    const put = await c('PUT', `${p.headers.location}?digest=${sha(bytes)}`, { 'content-type': 'application/octet-stream' }, bytes);
    assert.equal(put.status, 201);
    assert.equal(put.headers['docker-content-digest'], sha(bytes));
  });

  it('chunked PATCH in order with Content-Range, status GET, 416 out of order, then the final PUT', async () => {
    const bytes = randomBytes(30_000);
    const p = await c('POST', '/v2/local/a/blobs/uploads/', { 'content-length': '0' });
    let loc = String(p.headers.location);
    const a = await c('PATCH', loc, { 'content-type': 'application/octet-stream', 'content-range': '0-9999' }, bytes.subarray(0, 10_000));
    assert.equal(a.status, 202);
    assert.equal(a.headers.range, '0-9999');
    loc = String(a.headers.location);
    const ooo = await c('PATCH', loc, { 'content-range': '20000-29999' }, bytes.subarray(20_000));
    assert.equal(ooo.status, 416);
    assert.equal(ooo.headers.range, '0-9999', 'the 416 tells the client where the upload stands');
    assert.equal(ooo.headers.location, loc);
    const st = await c('GET', loc);
    assert.equal(st.status, 204);
    assert.equal(st.headers.range, '0-9999');
    const b = await c('PATCH', loc, { 'content-range': '10000-19999' }, bytes.subarray(10_000, 20_000));
    assert.equal(b.status, 202);
    assert.equal(b.headers.range, '0-19999');
    const badLen = await c('PATCH', loc, { 'content-range': '20000-29999' }, bytes.subarray(20_000, 25_000));
    assert.equal(badLen.status, 400, 'Content-Length must equal the Content-Range span');
    assert.equal(badLen.json().errors[0].code, 'SIZE_INVALID');
    const fin = await c('PUT', `${loc}?digest=${sha(bytes)}`, { 'content-range': '20000-29999' }, bytes.subarray(20_000));
    assert.equal(fin.status, 201, fin.body.toString());
    const g = await c('GET', `/v2/local/a/blobs/${sha(bytes)}`);
    assert.ok(g.body.equals(bytes));
  });

  it('streamed PATCH without Content-Range (Docker, chunked transfer encoding) appends', async () => {
    const bytes = randomBytes(200_000);
    const p = await c('POST', '/v2/local/a/blobs/uploads/');
    const r = await request(new URL(String(p.headers.location), base), {
      method: 'PATCH', headers: { 'content-type': 'application/octet-stream' },
      // A stream with no length: undici sends it with Transfer-Encoding: chunked.
      body: Readable.from((function* () { for (let i = 0; i < bytes.length; i += 50_000) yield bytes.subarray(i, i + 50_000); })()),
    });
    await r.body.dump();
    assert.equal(r.statusCode, 202);
    assert.equal(r.headers.range, `0-${bytes.length - 1}`);
    const fin = await c('PUT', `${r.headers.location}?digest=${sha(bytes)}`);
    assert.equal(fin.status, 201);
  });

  it('cancel: DELETE on the session answers 204, then the session is unknown (404 BLOB_UPLOAD_UNKNOWN)', async () => {
    const p = await c('POST', '/v2/local/a/blobs/uploads/');
    const loc = String(p.headers.location);
    await c('PATCH', loc, {}, randomBytes(100));
    assert.equal((await c('DELETE', loc)).status, 204);
    const g = await c('GET', loc);
    assert.equal(g.status, 404);
    assert.equal(g.json().errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
    const other = await c('POST', '/v2/local/a/blobs/uploads/');
    const foreign = String(other.headers.location).replace('/local/a/', '/local/b/');
    assert.equal((await c('GET', foreign)).status, 404, 'a session belongs to its repository');
  });

  it('final PUT without digest, or with a wrong one, is 400 DIGEST_INVALID', async () => {
    const p = await c('POST', '/v2/local/a/blobs/uploads/');
    const none = await c('PUT', String(p.headers.location), {}, Buffer.from('x'));
    assert.equal(none.status, 400);
    assert.equal(none.json().errors[0].code, 'DIGEST_INVALID');
    const p2 = await c('POST', '/v2/local/a/blobs/uploads/');
    const wrong = await c('PUT', `${p2.headers.location}?digest=${sha(Buffer.from('y'))}`, {}, Buffer.from('x'));
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json().errors[0].code, 'DIGEST_INVALID');
    assert.equal((await c('HEAD', `/v2/local/a/blobs/${sha(Buffer.from('y'))}`)).status, 404);
    assert.equal((await c('HEAD', `/v2/local/a/blobs/${sha(Buffer.from('x'))}`)).status, 404);
  });

  it('cross-repository mount: 201 from a repository holding the blob, 202 (a new session) otherwise', async () => {
    const d = await pushBlob('local/src', randomBytes(1234));
    const m = await c('POST', `/v2/local/dst/blobs/uploads/?mount=${d}&from=local/src`);
    assert.equal(m.status, 201);
    assert.equal(m.headers.location, `/v2/local/dst/blobs/${d}`);
    assert.equal(m.headers['docker-content-digest'], d);
    assert.equal((await c('HEAD', `/v2/local/dst/blobs/${d}`)).status, 200);
    const missing = await c('POST', `/v2/local/dst/blobs/uploads/?mount=${sha(randomBytes(8))}&from=local/src`);
    assert.equal(missing.status, 202);
    assert.match(String(missing.headers.location), /\/blobs\/uploads\//);
    const notHosted = await c('POST', `/v2/local/dst2/blobs/uploads/?mount=${d}&from=elsewhere/x`);
    assert.equal(notHosted.status, 202);
  });

  it('a blob is only readable from a repository that has it', async () => {
    const d = await pushBlob('local/owner', randomBytes(300));
    assert.equal((await c('HEAD', `/v2/local/owner/blobs/${d}`)).status, 200);
    assert.equal((await c('HEAD', `/v2/local/stranger/blobs/${d}`)).status, 404);
    assert.equal((await c('GET', `/v2/local/stranger/blobs/${d}`)).json().errors[0].code, 'BLOB_UNKNOWN');
  });

  it('manifest PUT by tag: 201 with Location and digest; GET/HEAD return the exact bytes', async () => {
    const cfg = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(4000);
    const cd = await pushBlob('local/img', cfg);
    const ld = await pushBlob('local/img', layer);
    const m = manifestFor({ digest: cd, size: cfg.length }, [{ digest: ld, size: layer.length }]);
    const r = await c('PUT', '/v2/local/img/manifests/v1', { 'content-type': OCI_MANIFEST }, m);
    assert.equal(r.status, 201, r.body.toString());
    assert.equal(r.headers['docker-content-digest'], sha(m));
    assert.equal(r.headers.location, `/v2/local/img/manifests/${sha(m)}`);
    const g = await c('GET', '/v2/local/img/manifests/v1', { accept: OCI_MANIFEST });
    assert.ok(g.body.equals(m));
    assert.equal(g.headers['content-type'], OCI_MANIFEST);
    const h = await c('HEAD', `/v2/local/img/manifests/${sha(m)}`);
    assert.equal(Number(h.headers['content-length']), m.length);
    assert.deepEqual((await c('GET', '/v2/local/img/tags/list')).json(), { name: 'local/img', tags: ['v1'] });
  });

  it('manifest PUT with missing content: 400 with one MANIFEST_BLOB_UNKNOWN per missing digest', async () => {
    const cfg = Buffer.from('{}');
    const cd = await pushBlob('local/miss', cfg);
    const l1 = sha(randomBytes(10));
    const l2 = sha(randomBytes(10));
    const m = manifestFor({ digest: cd, size: 2 }, [{ digest: l1, size: 10 }, { digest: l2, size: 10 }]);
    const r = await c('PUT', '/v2/local/miss/manifests/v1', { 'content-type': OCI_MANIFEST }, m);
    assert.equal(r.status, 400);
    const errs = r.json().errors as { code: string; detail: { digest: string } }[];
    assert.deepEqual(errs.map((e) => e.code), ['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN']);
    assert.deepEqual(errs.map((e) => e.detail.digest).sort(), [l1, l2].sort());
    assert.equal((await c('GET', '/v2/local/miss/manifests/v1')).status, 404, 'nothing was tagged');
  });

  it('foreign / non-distributable layers and descriptors with urls are not required', async () => {
    const cd = await pushBlob('local/win', Buffer.from('{}'));
    const m = manifestFor({ digest: cd, size: 2 }, [
      { digest: sha(randomBytes(5)), size: 5, mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip' },
    ]);
    const r = await c('PUT', '/v2/local/win/manifests/v1', { 'content-type': OCI_MANIFEST }, m);
    assert.equal(r.status, 201, r.body.toString());
  });

  it('manifests over 4 MiB are refused with 413', async () => {
    const cd = await pushBlob('local/big', Buffer.from('{}'));
    const m = manifestFor({ digest: cd, size: 2 }, [], { annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } });
    const r = await c('PUT', '/v2/local/big/manifests/v1', { 'content-type': OCI_MANIFEST }, m);
    assert.equal(r.status, 413);
  });

  it('invalid manifests: digest mismatch, schema1, mediaType vs Content-Type, not JSON', async () => {
    const cd = await pushBlob('local/bad', Buffer.from('{}'));
    const m = manifestFor({ digest: cd, size: 2 }, []);
    const wrongDigest = await c('PUT', `/v2/local/bad/manifests/${sha(Buffer.from('other'))}`, { 'content-type': OCI_MANIFEST }, m);
    assert.equal(wrongDigest.json().errors[0].code, 'DIGEST_INVALID');
    const byDigest = await c('PUT', `/v2/local/bad/manifests/${sha(m)}`, { 'content-type': OCI_MANIFEST }, m);
    assert.equal(byDigest.status, 201);
    const mismatch = await c('PUT', '/v2/local/bad/manifests/x', { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' }, m);
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.json().errors[0].code, 'MANIFEST_INVALID');
    const schema1 = await c('PUT', '/v2/local/bad/manifests/x', { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'x', fsLayers: [] }));
    assert.equal(schema1.json().errors[0].code, 'MANIFEST_INVALID');
    const junk = await c('PUT', '/v2/local/bad/manifests/x', { 'content-type': OCI_MANIFEST }, 'not json');
    assert.equal(junk.json().errors[0].code, 'MANIFEST_INVALID');
  });

  it('subject: OCI-Subject on PUT, the referrer is listed (with artifactType filter), and unlisted after delete', async () => {
    const cd = await pushBlob('local/ref', Buffer.from('{}'));
    const subject = manifestFor({ digest: cd, size: 2 }, []);
    await c('PUT', '/v2/local/ref/manifests/base', { 'content-type': OCI_MANIFEST }, subject);
    const sig = manifestFor(EMPTY, [], { artifactType: 'application/vnd.example.sig', subject: { mediaType: OCI_MANIFEST, digest: sha(subject), size: subject.length }, annotations: { who: 'test' } });
    const put = await c('PUT', `/v2/local/ref/manifests/${sha(sig)}`, { 'content-type': OCI_MANIFEST }, sig);
    assert.equal(put.status, 201);
    assert.equal(put.headers['oci-subject'], sha(subject));
    const list = await c('GET', `/v2/local/ref/referrers/${sha(subject)}`);
    assert.equal(list.headers['content-type'], 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(list.json().manifests, [{ mediaType: OCI_MANIFEST, digest: sha(sig), size: sig.length, artifactType: 'application/vnd.example.sig', annotations: { who: 'test' } }]);
    const filtered = await c('GET', `/v2/local/ref/referrers/${sha(subject)}?artifactType=application/other`);
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(filtered.json().manifests, []);
    const orphan = manifestFor(EMPTY, [], { subject: { mediaType: OCI_MANIFEST, digest: sha(randomBytes(4)), size: 1 } });
    assert.equal((await c('PUT', '/v2/local/ref/manifests/orphan', { 'content-type': OCI_MANIFEST }, orphan)).status, 201, 'the subject need not exist');
    assert.equal((await c('DELETE', `/v2/local/ref/manifests/${sha(sig)}`)).status, 202);
    assert.deepEqual((await c('GET', `/v2/local/ref/referrers/${sha(subject)}`)).json().manifests, []);
    assert.equal((await c('GET', `/v2/local/ref/referrers/${sha(randomBytes(3))}`)).status, 200, 'never 404');
  });

  it('zero-byte blob and the empty JSON blob push and pull normally', async () => {
    const zero = Buffer.alloc(0);
    assert.equal(sha(zero), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    await pushBlob('local/z', zero);
    const p = await c('POST', '/v2/local/z/blobs/uploads/');
    assert.equal((await c('PUT', `${p.headers.location}?digest=${sha(zero)}`, { 'content-length': '0' })).status, 201);
    const g = await c('GET', `/v2/local/z/blobs/${sha(zero)}`);
    assert.equal(g.status, 200);
    assert.equal(g.body.length, 0);
    assert.equal(g.headers['content-length'], '0');
    assert.equal(await pushBlob('local/z', Buffer.from('{}')), EMPTY.digest);
    assert.equal((await c('GET', `/v2/local/z/blobs/${EMPTY.digest}`)).body.toString(), '{}');
  });

  it('sha512: chunked upload whose algorithm only appears at the final PUT, and a manifest by sha512 digest', async () => {
    const bytes = randomBytes(9000);
    const d512 = sha(bytes, 'sha512');
    const p = await c('POST', '/v2/local/s5/blobs/uploads/');
    const a = await c('PATCH', String(p.headers.location), { 'content-range': '0-8999' }, bytes);
    const fin = await c('PUT', `${a.headers.location}?digest=${d512}`);
    assert.equal(fin.status, 201, fin.body.toString());
    assert.equal(fin.headers['docker-content-digest'], d512);
    const g = await c('GET', `/v2/local/s5/blobs/${d512}`);
    assert.ok(g.body.equals(bytes));
    const cd = await pushBlob('local/s5', Buffer.from('{}'));
    const m = manifestFor({ digest: cd, size: 2 }, [{ digest: d512, size: bytes.length }]);
    const put = await c('PUT', `/v2/local/s5/manifests/${sha(m, 'sha512')}`, { 'content-type': OCI_MANIFEST }, m);
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(put.headers['docker-content-digest'], sha(m, 'sha512'));
    const back = await c('GET', `/v2/local/s5/manifests/${sha(m, 'sha512')}`);
    assert.ok(back.body.equals(m));
    assert.equal((await c('POST', '/v2/local/s5/blobs/uploads/?digest-algorithm=md5')).status, 400);
  });

  it('deletes: tag only, manifest by digest with its tags, blob unlink; unknown ones 404', async () => {
    const img = await pushImage(base, 'local/del', 'v1', { layers: 1, layerSize: 1000 });
    await c('PUT', '/v2/local/del/manifests/v2', { 'content-type': img.mediaType }, img.manifest);
    assert.equal((await c('DELETE', '/v2/local/del/manifests/v1')).status, 202);
    assert.equal((await c('GET', '/v2/local/del/manifests/v1')).status, 404);
    assert.equal((await c('GET', `/v2/local/del/manifests/${img.manifestDigest}`)).status, 200, 'deleting a tag keeps the manifest');
    assert.equal((await c('DELETE', `/v2/local/del/manifests/${img.manifestDigest}`)).status, 202);
    assert.equal((await c('GET', '/v2/local/del/manifests/v2')).status, 404, 'tags pointing at a deleted manifest go with it');
    assert.equal((await c('GET', `/v2/local/del/manifests/${img.manifestDigest}`)).status, 404);
    assert.equal((await c('DELETE', `/v2/local/del/manifests/${img.manifestDigest}`)).status, 404);
    assert.equal((await c('DELETE', `/v2/local/del/blobs/${img.layers[0]!.digest}`)).status, 202);
    assert.equal((await c('HEAD', `/v2/local/del/blobs/${img.layers[0]!.digest}`)).status, 404);
    assert.equal((await c('DELETE', `/v2/local/del/blobs/${img.layers[0]!.digest}`)).status, 404);
  });

  it('an index needs its child manifests in the repository', async () => {
    const img = await pushImage(base, 'local/idx', 'child', { layers: 1, layerSize: 100 });
    const child = { mediaType: img.mediaType, digest: img.manifestDigest, size: img.manifest.length, platform: { os: 'linux', architecture: 'amd64' } };
    const missing = { ...child, digest: sha(randomBytes(5)) };
    const idx = (ms: object[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: ms }));
    const bad = await c('PUT', '/v2/local/idx/manifests/multi', { 'content-type': 'application/vnd.oci.image.index.v1+json' }, idx([child, missing]));
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json().errors.map((e: { detail: { digest: string } }) => e.detail.digest), [missing.digest]);
    assert.equal((await c('PUT', '/v2/local/idx/manifests/multi', { 'content-type': 'application/vnd.oci.image.index.v1+json' }, idx([child]))).status, 201);
  });

  it('proxied namespaces refuse pushes and deletes with UNSUPPORTED', async () => {
    for (const [m, p] of [['POST', '/v2/library/alpine/blobs/uploads/'], ['PUT', '/v2/library/alpine/manifests/v1'], ['DELETE', `/v2/library/alpine/blobs/${sha(Buffer.from('a'))}`]] as const) {
      const r = await c(m, p, { 'content-type': OCI_MANIFEST }, m === 'PUT' ? '{}' : undefined);
      assert.equal(r.status, 405, `${m} ${p}`);
      assert.equal(r.json().errors[0].code, 'UNSUPPORTED');
      assert.equal(r.headers['allow'], 'GET, HEAD', 'a 405 says which methods work (RFC 9110 §15.5.6)');
    }
    assert.equal((await c('POST', '/v2/team/a/b/blobs/uploads/')).status, 405, 'team/* is one segment only');
    const patch = await c('PATCH', '/v2/local/allow/manifests/v1');
    assert.equal(patch.status, 405);
    assert.equal(patch.headers['allow'], 'GET, HEAD, PUT, DELETE');
    assert.equal((await c('POST', '/v2/team/a/blobs/uploads/')).status, 202);
  });

  it('catalog lists hosted repositories', async () => {
    const names = (await c('GET', '/v2/_catalog')).json().repositories as string[];
    for (const n of ['local/img', 'local/ref', 'local/s5']) assert.ok(names.includes(n), n);
    assert.ok(!names.some((n) => n.startsWith('_hosted')));
  });

  it('garbage collection removes blobs no manifest references and keeps the rest', async () => {
    const img = await pushImage(base, 'local/gc', 'keep', { layers: 2, layerSize: 500 });
    const lonely = await pushBlob('local/gc', randomBytes(777));
    const r = await gw.secure.gc!();
    assert.ok(r.removed >= 1, JSON.stringify(r));
    assert.equal((await c('HEAD', `/v2/local/gc/blobs/${lonely}`)).status, 404);
    for (const l of img.layers) assert.equal((await c('HEAD', `/v2/local/gc/blobs/${l.digest}`)).status, 200);
    assert.equal((await c('GET', '/v2/local/gc/manifests/keep')).status, 200);
    await c('DELETE', `/v2/local/gc/manifests/${img.manifestDigest}`);
    await gw.secure.gc!();
    for (const l of img.layers) assert.equal((await c('HEAD', `/v2/local/gc/blobs/${l.digest}`)).status, 404, 'unreferenced after the manifest went');
  });
});
