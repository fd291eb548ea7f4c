// OCI distribution conformance of the pull side, point by point, against a real CNCF distribution.
// Each test names the section of the OCI Distribution Specification it checks (the spec's own
// headings in quotes; https://github.com/opencontainers/distribution-spec/blob/main/spec.md). Where distribution's answer is the reference behaviour, both are asked.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client, request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, pushIndex, pushReferrer, sha256, MT, type PushedImage, type PushedIndex } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const ALL = [MT.ociIndex, MT.ociManifest, MT.dockerManifest, MT.dockerList].join(', ');

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; json(): any }

async function get(url: string, headers: Record<string, string | string[]> = {}, method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE' | 'PATCH' = 'GET'): Promise<Res> {
  const r = await request(url, { method, headers });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body, json: () => JSON.parse(body.toString()) };
}

const code = (r: Res): string => r.json().errors[0].code;

/** GET with the path sent exactly as written: URL parsing would resolve `..` and `%2e%2e` first. */
async function getRaw(origin: string, path: string, headers: Record<string, string> = {}, method: 'GET' | 'OPTIONS' = 'GET'): Promise<Res> {
  const c = new Client(origin);
  try {
    const r = await c.request({ method, path, headers });
    const body = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, headers: r.headers, body, json: () => JSON.parse(body.toString()) };
  } finally { await c.close(); }
}

/**
 * Sends `first` and then a GET /v2/ on one connection and returns what came back for `first`: its
 * head, and the bytes between its head and the second response. A HEAD answered with a body (or
 * chunked framing) shows up as bytes there; no timing is involved.
 */
async function rawThenPing(port: number, first: string): Promise<{ head: string; between: string }> {
  const sock = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  sock.write(`${first}\r\nHost: 127.0.0.1\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  await new Promise<void>((resolve, reject) => { sock.on('end', resolve); sock.on('error', reject); });
  const text = Buffer.concat(chunks).toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const second = text.indexOf('HTTP/1.1 ', headEnd);
  return { head: text.slice(0, headEnd), between: text.slice(headEnd + 4, second) };
}

function headerOf(head: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head);
  return m?.[1]?.trim();
}

/**
 * A registry that lies or goes down on demand, for what a healthy distribution never does: it
 * serves one OCI manifest under tag v1, announcing a wrong Docker-Content-Digest when `lie` is set,
 * answers a by-digest request with other bytes, and answers 503 when `down` is set.
 */
async function startLiar(): Promise<{ url: string; host: string; manifest: Buffer; other: Buffer; set(m: { lie?: boolean; down?: boolean }): void; stop(): Promise<void> }> {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociEmpty, digest: sha256('{}'), size: 2 }, layers: [] }));
  const other = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociEmpty, digest: sha256('{}'), size: 2 }, layers: [], annotations: { x: 'y' } }));
  let mode: { lie?: boolean; down?: boolean } = {};
  const server: Server = createServer((req, res) => {
    if (req.url === '/v2/') { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return; }
    if (mode.down) { res.writeHead(503).end(); return; }
    const send = (body: Buffer, digest: string) => {
      res.writeHead(200, { 'content-type': MT.ociManifest, 'content-length': body.length, 'docker-content-digest': digest });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.url === '/v2/liar/manifests/v1') return send(manifest, mode.lie ? sha256(other) : sha256(manifest));
    // Asked for `other` by digest, it sends `manifest` (claiming the digest asked for).
    if (req.url === `/v2/liar/manifests/${sha256(other)}`) return send(manifest, sha256(other));
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, manifest, other,
    set: (m) => { mode = m; },
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('OCI distribution conformance (pull side)', () => {
  let up: Distribution;
  let gw: TestGateway;
  let img: PushedImage;
  let idx: PushedIndex;
  let dimg: PushedImage;
  let dlist: PushedIndex;
  let base: string;
  let q: string;

  before(async () => {
    up = await startDistribution();
    img = await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 6000 });
    idx = await pushIndex(up.url, 'team/multi', 'v1', [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], { layers: 1, layerSize: 500 });
    dimg = await pushImage(up.url, 'team/docker', 'v1', { layers: 1, layerSize: 500, format: 'docker' });
    dlist = await pushIndex(up.url, 'team/dlist', 'v1', [{ os: 'linux', architecture: 'amd64' }], { layers: 1, layerSize: 500, format: 'docker' });
    await pushImage(up.url, 'library/alpine', '3.20', { layers: 1, layerSize: 200 });
    for (const t of ['b', 'B', 'a', '_x', '1.0', 'c']) await pushImage(up.url, 'team/tags', t, { layers: 1, layerSize: 100 });
    // docker.io is mapped to the same distribution, so Docker Hub addressing (library/) can be checked.
    gw = await startGateway({ registries: { [up.host]: [up.url], 'docker.io': [up.url] } });
    base = `${gw.url}/v2`;
    q = `ns=${up.host}`;
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  it('"Determining Support" end-1 + §9: /v2/ answers {} and every response, errors too, carries Docker-Distribution-API-Version', async () => {
    const ping = await get(`${base}/`);
    assert.equal(ping.status, 200);
    assert.deepEqual(ping.json(), {});
    for (const r of [ping, await get(`${base}/team/app/manifests/nope?${q}`), await get(`${base}/team/app/manifests/v1?${q}`, {}, 'DELETE')]) {
      assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    }
  });

  it('§10.2 HEAD = GET minus the body: manifest and blob HEADs carry the real Content-Length and no body bytes on the wire', async () => {
    const layer = img.layers[0]!;
    for (const [path, len, digest] of [
      [`/v2/team/app/manifests/v1?${q}`, img.manifest.length, img.manifestDigest],
      [`/v2/team/app/blobs/${layer.digest}?${q}`, layer.size, layer.digest],
    ] as const) {
      const { head, between } = await rawThenPing(gw.port, `HEAD ${path} HTTP/1.1\r\nAccept: ${ALL}`);
      assert.match(head, /^HTTP\/1.1 200 /, head);
      assert.equal(Number(headerOf(head, 'content-length')), len, head);
      assert.equal(headerOf(head, 'docker-content-digest'), digest);
      assert.equal(headerOf(head, 'transfer-encoding'), undefined);
      assert.equal(between, '', 'no body after a HEAD');
    }
  });

  it('"Checking if content exists": HEAD errors are status-only (404, no body bytes)', async () => {
    const { head, between } = await rawThenPing(gw.port, `HEAD /v2/team/app/manifests/nope?${q} HTTP/1.1`);
    assert.match(head, /^HTTP\/1.1 404 /, head);
    assert.equal(between, '');
  });

  it('§3 Accept negotiation: q-values ignored; */*, application/* and no Accept get the stored bytes', async () => {
    for (const accept of [`${MT.dockerManifest};q=0.9, ${MT.ociManifest};q=0.1`, '*/*', `${MT.dockerManifest}, */*`, 'application/*', undefined]) {
      const r = await get(`${base}/team/app/manifests/v1?${q}`, accept === undefined ? {} : { accept });
      assert.equal(r.status, 200, String(accept));
      assert.ok(r.body.equals(img.manifest));
      assert.equal(r.headers['content-type'], MT.ociManifest);
    }
  });

  it('§3 / §9 Accept is read from every header line (containers/image sends one line per type)', async () => {
    const r = await get(`${base}/team/docker/manifests/v1?${q}`, { accept: [MT.ociManifest, MT.dockerManifest] });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(dimg.manifest));
    assert.equal(r.headers['content-type'], MT.dockerManifest);
    assert.equal(r.headers['docker-content-digest'], dimg.manifestDigest);
  });

  it('§3 Accept by tag: a stored type the client does not list is 404 MANIFEST_UNKNOWN, never converted (OCI, schema2, manifest list)', async () => {
    for (const [path, accept] of [
      [`team/app/manifests/v1`, MT.dockerManifest],
      [`team/multi/manifests/v1`, MT.ociManifest],
      [`team/docker/manifests/v1`, MT.ociManifest],
      [`team/dlist/manifests/v1`, `${MT.ociIndex}, ${MT.dockerManifest}`],
    ] as const) {
      const r = await get(`${base}/${path}?${q}`, { accept });
      assert.equal(r.status, 404, path);
      assert.equal(code(r), 'MANIFEST_UNKNOWN');
    }
    const ok = await get(`${base}/team/dlist/manifests/v1?${q}`, { accept: MT.dockerList });
    assert.equal(ok.status, 200);
    assert.ok(ok.body.equals(dlist.manifest));
  });

  it('§3 Accept by digest: the stored bytes are served whatever Accept lists (the digest already pins them)', async () => {
    const r = await get(`${base}/team/multi/manifests/${idx.digest}?${q}`, { accept: MT.dockerManifest });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(idx.manifest));
    assert.equal(r.headers['content-type'], MT.ociIndex);
    assert.equal(r.headers['docker-content-digest'], idx.digest);
    const head = await get(`${base}/team/multi/manifests/${idx.digest}?${q}`, { accept: MT.dockerManifest }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), idx.manifest.length);
  });

  it('§2 a grammar-valid digest of an algorithm we do not support is 404 MANIFEST_UNKNOWN / BLOB_UNKNOWN on GET and HEAD, not 400', async () => {
    const blake3 = `blake3:${'a'.repeat(64)}`;
    const m = await get(`${base}/team/app/manifests/${blake3}?${q}`, { accept: ALL });
    assert.equal(m.status, 404);
    assert.equal(code(m), 'MANIFEST_UNKNOWN');
    const b = await get(`${base}/team/app/blobs/foo+bar:abc?${q}`);
    assert.equal(b.status, 404);
    assert.equal(code(b), 'BLOB_UNKNOWN');
    assert.equal((await get(`${base}/team/app/blobs/${blake3}?${q}`, {}, 'HEAD')).status, 404);
  });

  it('§2 sha512 digests are supported: unknown content is 404 like distribution, not 400', async () => {
    const s512 = `sha512:${'a'.repeat(128)}`;
    for (const [path, expected] of [[`team/app/manifests/${s512}`, 'MANIFEST_UNKNOWN'], [`team/app/blobs/${s512}`, 'BLOB_UNKNOWN']]) {
      const [ours, theirs] = await Promise.all([get(`${base}/${path}?${q}`, { accept: ALL }), get(`${up.url}/v2/${path}`, { accept: ALL })]);
      assert.equal(theirs.status, 404);
      assert.equal(ours.status, 404);
      assert.equal(code(ours), expected);
    }
  });

  it('§2 §10.6 malformed digests are 400 DIGEST_INVALID; a read of a tag outside the grammar is 404 (as the v1.1.1 conformance suite and distribution want); neither reaches the upstream', async () => {
    const before = (await up.accessLog()).length;
    for (const [path, status, expected] of [
      [`team/app/blobs/sha256:abc`, 400, 'DIGEST_INVALID'],
      [`team/app/blobs/sha256:${'A'.repeat(64)}`, 400, 'DIGEST_INVALID'],
      [`team/app/manifests/sha256:${'g'.repeat(64)}`, 400, 'DIGEST_INVALID'],
      [`team/app/referrers/sha256:abc`, 400, 'DIGEST_INVALID'],
      [`team/app/manifests/-bad`, 404, 'MANIFEST_UNKNOWN'],
      [`team/app/manifests/.INVALID_MANIFEST_NAME`, 404, 'MANIFEST_UNKNOWN'],
      [`team/app/manifests/v1/`, 404, 'MANIFEST_UNKNOWN'],
      [`team/app/manifests/${'t'.repeat(129)}`, 404, 'MANIFEST_UNKNOWN'],
    ] as const) {
      for (const method of ['GET', 'HEAD'] as const) {
        const r = await get(`${base}/${path}?${q}`, { accept: ALL }, method);
        assert.equal(r.status, status, `${method} ${path}`);
        if (method === 'GET') assert.equal(code(r), expected, path);
      }
    }
    // distribution answers the same for the conformance suite's own probe.
    const theirs = await get(`${up.url}/v2/team/app/manifests/.INVALID_MANIFEST_NAME`, { accept: ALL });
    assert.equal(theirs.status, 404);
    assert.equal((await up.accessLog()).length, before + 1, 'only our own probe of distribution reached it');
  });

  it('"Pulling blobs" Range: the conformance table, byte for byte and header for header as distribution answers', async () => {
    const layer = img.layers[0]!;
    const L = layer.size;
    const full = await get(`${base}/team/app/blobs/${layer.digest}?${q}`);
    assert.equal(sha256(full.body), layer.digest);
    for (const range of ['bytes=0-', 'bytes=500-1499', 'bytes=500-', 'bytes=-500', `bytes=${L - 100}-${L + 5000}`, `bytes=-${L + 10}`, 'bytes=0-0']) {
      const [ours, theirs] = await Promise.all([get(`${base}/team/app/blobs/${layer.digest}?${q}`, { range }), get(`${up.url}/v2/team/app/blobs/${layer.digest}`, { range })]);
      assert.equal(ours.status, 206, range);
      assert.equal(ours.headers['content-range'], theirs.headers['content-range'], range);
      assert.equal(ours.headers['content-length'], theirs.headers['content-length'], range);
      assert.ok(ours.body.equals(theirs.body), range);
    }
    for (const range of ['bytes=500-0', `bytes=${L}-`, `bytes=${L + 1000}-${L + 2000}`]) {
      const r = await get(`${base}/team/app/blobs/${layer.digest}?${q}`, { range });
      assert.equal(r.status, 416, range);
      assert.equal(r.headers['content-range'], `bytes */${L}`, range);
    }
  });

  it('"Pulling blobs" Range: several ranges get the whole blob (200), the choice the reference asks to pin', async () => {
    const layer = img.layers[0]!;
    const r = await get(`${base}/team/app/blobs/${layer.digest}?${q}`, { range: 'bytes=0-1,5-9' });
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), layer.digest);
  });

  it('RFC 9110 §14.2 (spec "Pulling blobs" SHOULD support Range per RFC 9110): a Range in an unknown unit is ignored: 200 with the whole blob', async () => {
    const layer = img.layers[0]!;
    const r = await get(`${base}/team/app/blobs/${layer.digest}?${q}`, { range: 'items=0-5' });
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), layer.digest);
  });

  it('"Listing Tags" end-8b: byte order, n/last, n=0 without Link, last past the end, Link <…>; rel="next" followed to the end', async () => {
    const all = await get(`${base}/team/tags/tags/list?${q}`);
    assert.deepEqual(all.json(), { name: 'team/tags', tags: ['1.0', 'B', '_x', 'a', 'b', 'c'] });
    const zero = await get(`${base}/team/tags/tags/list?${q}&n=0`);
    assert.deepEqual(zero.json().tags, []);
    assert.equal(zero.headers.link, undefined);
    const past = await get(`${base}/team/tags/tags/list?${q}&last=zzz&n=2`);
    assert.deepEqual(past.json().tags, []);
    assert.equal(past.headers.link, undefined);
    const seen: string[] = [];
    let url: string | undefined = `${base}/team/tags/tags/list?${q}&n=4`;
    for (let i = 0; url && i < 5; i++) {
      const r = await get(url);
      seen.push(...(r.json().tags as string[]));
      const link = r.headers.link as string | undefined;
      if (link) assert.match(link, /^<\/v2\/[^>]+>; rel="next"$/);
      url = link ? `${gw.url}${/^<([^>]+)>/.exec(link)![1]}` : undefined;
    }
    assert.deepEqual(seen, all.json().tags);
    for (const n of ['-1', '1.5', 'abc']) assert.equal((await get(`${base}/team/tags/tags/list?${q}&n=${n}`)).status, 400, n);
  });

  it('"Listing Tags" end-8a: the tags of a repository the upstream does not know are 404 NAME_UNKNOWN, as distribution says', async () => {
    const theirs = await get(`${up.url}/v2/team/nope/tags/list`);
    const ours = await get(`${base}/team/nope/tags/list?${q}`);
    assert.equal(ours.status, 404);
    assert.equal(code(ours), code(theirs));
    assert.equal(code(ours), 'NAME_UNKNOWN');
  });

  it('Docker "Listing Repositories": the catalog pages with n/last and Link until every cached repository was listed', async () => {
    await get(`${base}/team/docker/manifests/v1?${q}`, { accept: ALL });
    const all = (await get(`${base}/_catalog`)).json().repositories as string[];
    assert.ok(all.length >= 3, JSON.stringify(all));
    assert.deepEqual(all, [...all].sort());
    const seen: string[] = [];
    let url: string | undefined = `${base}/_catalog?n=2`;
    for (let i = 0; url && i < 20; i++) {
      const r = await get(url);
      seen.push(...(r.json().repositories as string[]));
      const link = r.headers.link as string | undefined;
      url = link ? `${gw.url}${/^<([^>]+)>; rel="next"$/.exec(link)![1]}` : undefined;
    }
    assert.deepEqual(seen, all);
  });

  it('"Listing Referrers" end-12: no referrers is 200 with an empty index (never 404), no OCI-Filters-Applied unless filtered', async () => {
    const r = await get(`${base}/team/nothere/referrers/sha256:${'5'.repeat(64)}?${q}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], MT.ociIndex);
    assert.deepEqual(r.json(), { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
    assert.equal(r.headers['oci-filters-applied'], undefined);
    const f = await get(`${base}/team/nothere/referrers/sha256:${'5'.repeat(64)}?${q}&artifactType=application/x`);
    assert.equal(f.headers['oci-filters-applied'], 'artifactType');
  });

  it('"Referrers Tag Schema": referrers the upstream keeps under the fallback tag are listed (a client told the API exists never looks at the tag)', async () => {
    const subject = await pushImage(up.url, 'team/signed', 'v1', { layers: 1, layerSize: 100 });
    const sbom = await pushReferrer(up.url, 'team/signed', subject.manifestDigest, 'application/vnd.example.sbom');
    const sig = await pushReferrer(up.url, 'team/signed', subject.manifestDigest, 'application/vnd.example.sig');
    assert.ok(sbom.usedFallbackTag, 'distribution 2.8 has no referrers API: the tag schema is what clients maintain');
    const r = await get(`${base}/team/signed/referrers/${subject.manifestDigest}?${q}`);
    assert.equal(r.status, 200);
    const got = (r.json().manifests as { digest: string; artifactType?: string }[]).map((m) => m.digest).sort();
    assert.deepEqual(got, [sbom.digest, sig.digest].sort());
    const f = await get(`${base}/team/signed/referrers/${subject.manifestDigest}?${q}&artifactType=application/vnd.example.sig`);
    assert.equal(f.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(f.json().manifests.map((m: { digest: string }) => m.digest), [sig.digest]);
  });

  it('"Error Codes" §7: errors are {"errors":[{code,message,detail}]} as application/json', async () => {
    for (const r of [await get(`${base}/team/app/manifests/nope?${q}`, { accept: ALL }), await get(`${base}/Team/app/tags/list?${q}`)]) {
      assert.match(String(r.headers['content-type']), /^application\/json/);
      const body = r.json();
      assert.ok(Array.isArray(body.errors) && body.errors.length >= 1);
      for (const e of body.errors) {
        assert.match(e.code, /^[A-Z_]+$/);
        assert.equal(typeof e.message, 'string');
        assert.ok('detail' in e);
      }
    }
  });

  it('§8 "Registry Proxying" + RFC 9110 §15.5.6: pushes and deletes on a pull-through namespace are 405 UNSUPPORTED with Allow: GET, HEAD', async () => {
    for (const [method, path] of [['DELETE', `team/app/manifests/v1`], ['PUT', `team/app/manifests/v1`], ['DELETE', `team/app/blobs/${img.layers[0]!.digest}`], ['POST', `team/app/blobs/uploads/`]] as const) {
      const r = await get(`${base}/${path}?${q}`, {}, method);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(code(r), 'UNSUPPORTED');
      assert.equal(r.headers.allow, 'GET, HEAD', `${method} ${path}`);
    }
    const options = await getRaw(gw.url, `/v2/team/app/manifests/v1?${q}`, {}, 'OPTIONS');
    assert.equal(options.status, 405, 'OPTIONS is a method we do not support, not an unknown name');
    assert.equal(code(options), 'UNSUPPORTED');
    assert.equal(options.headers.allow, 'GET, HEAD');
  });

  it('§2 repository names: upper case, empty components, "..", encoded "..", over 255 characters are 400 NAME_INVALID and never reach the upstream', async () => {
    const before = (await up.accessLog()).length;
    for (const name of ['Team/app', 'team//app', '/team/app', 'team/app/', 'team/../app', 'team/%2e%2e/app', 'team/%2E%2E/%2E%2E/etc', `a/${'b'.repeat(254)}`]) {
      const r = await getRaw(gw.url, `/v2/${name}/manifests/v1?${q}`, { accept: ALL });
      assert.equal(r.status, 400, name);
      assert.equal(code(r), 'NAME_INVALID', name);
    }
    // 255 characters is still a name.
    assert.equal(code(await get(`${base}/a/${'b'.repeat(253)}/manifests/v1?${q}`, { accept: ALL })), 'MANIFEST_UNKNOWN');
    assert.equal((await up.accessLog()).length, before + 1);
  });

  it('§2 repository names: an encoded slash (%2F) is 400 NAME_INVALID, not silently another repository', async () => {
    for (const path of [`/v2/team%2fapp/manifests/v1?${q}`, `/v2/team%2Fapp/blobs/${img.config.digest}?${q}`]) {
      const r = await getRaw(gw.url, path, { accept: ALL });
      assert.equal(r.status, 400, path);
      assert.equal(code(r), 'NAME_INVALID', path);
    }
    assert.equal((await getRaw(gw.url, `/v2/team/app/manifests/v1?${q}`, { accept: ALL })).status, 200, 'the plain name still works');
  });

  it('RFC 9110 §13.1.2 conditional GET: If-None-Match with the ETag is 304 without a body; another tag or none is 200', async () => {
    const first = await get(`${base}/team/app/manifests/v1?${q}`, { accept: ALL });
    assert.equal(first.status, 200);
    const etag = String(first.headers.etag);
    assert.equal(etag, `"${img.manifestDigest}"`);
    for (const inm of [etag, `W/${etag}`, `"sha256:${'0'.repeat(64)}", ${etag}`, '*']) {
      const r = await get(`${base}/team/app/manifests/v1?${q}`, { accept: ALL, 'if-none-match': inm });
      assert.equal(r.status, 304, inm);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['docker-content-digest'], img.manifestDigest);
      assert.equal(r.headers.etag, etag);
    }
    const other = await get(`${base}/team/app/manifests/v1?${q}`, { accept: ALL, 'if-none-match': `"sha256:${'0'.repeat(64)}"` });
    assert.equal(other.status, 200);
    assert.equal(sha256(other.body), img.manifestDigest);
  });

  it('§8 / §9 addressing: ns with a port (echoed in OCI-Namespace), host as first path segment, Docker Hub library/ and index.docker.io', async () => {
    const byNs = await get(`${base}/team/app/manifests/v1?${q}`, { accept: ALL });
    assert.equal(byNs.headers['oci-namespace'], up.host);
    assert.equal(byNs.headers['docker-content-digest'], img.manifestDigest);
    const byPath = await get(`${base}/${up.host}/team/app/manifests/v1`, { accept: ALL });
    assert.equal(byPath.headers['docker-content-digest'], img.manifestDigest);
    assert.equal(byPath.headers['oci-namespace'], undefined);
    const hub = await get(`${up.url}/v2/library/alpine/manifests/3.20`, { accept: ALL });
    for (const path of ['alpine/manifests/3.20', 'library/alpine/manifests/3.20', 'docker.io/alpine/manifests/3.20', 'index.docker.io/library/alpine/manifests/3.20', 'alpine/manifests/3.20?ns=docker.io']) {
      const r = await get(`${base}/${path}`, { accept: ALL });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['docker-content-digest'], hub.headers['docker-content-digest'], path);
    }
  });

  it('§8 an unconfigured registry is NAME_UNKNOWN (never an open proxy); a malformed ns is NAME_INVALID', async () => {
    for (const path of [`ghcr.io/team/app/manifests/v1`, `localhost:5000/team/app/manifests/v1`, `team/app/manifests/v1?ns=127.0.0.1:1`]) {
      const r = await get(`${base}/${path}`, { accept: ALL });
      assert.equal(r.status, 404, path);
      assert.equal(code(r), 'NAME_UNKNOWN', path);
    }
    for (const ns of ['http://evil.example', '../../x', 'a b']) {
      const r = await get(`${base}/team/app/manifests/v1?ns=${encodeURIComponent(ns)}`, { accept: ALL });
      assert.equal(r.status, 400, ns);
      assert.equal(code(r), 'NAME_INVALID', ns);
    }
  });

  describe('an upstream that lies or goes away', () => {
    let liar: Awaited<ReturnType<typeof startLiar>>;
    let lgw: TestGateway;
    before(async () => {
      liar = await startLiar();
      lgw = await startGateway({ registries: { [liar.host]: { upstreams: [{ url: liar.url }], tagTtl: '0s', negativeTtl: '0s' } } });
    });
    after(async () => { await lgw?.stop(); await liar?.stop(); });

    it('§8 "never serve bytes whose digest mismatches": a manifest unlike its Docker-Content-Digest, or unlike the digest asked for, is refused and not cached', async () => {
      liar.set({ lie: true });
      const byTag = await get(`${lgw.url}/v2/liar/manifests/v1?ns=${liar.host}`, { accept: ALL });
      assert.equal(byTag.status, 502);
      assert.notEqual(byTag.headers['content-type'], MT.ociManifest);
      const byDigest = await get(`${lgw.url}/v2/liar/manifests/${sha256(liar.other)}?ns=${liar.host}`, { accept: ALL });
      assert.equal(byDigest.status, 502);
      liar.set({ down: true });
      assert.equal((await get(`${lgw.url}/v2/liar/manifests/v1?ns=${liar.host}`, { accept: ALL })).status, 502, 'nothing was cached');
    });

    it('"Warnings": a stale answer (upstream down) carries Warning: 299 - "…", the only form the spec allows', async () => {
      liar.set({});
      const fresh = await get(`${lgw.url}/v2/liar/manifests/v1?ns=${liar.host}`, { accept: ALL });
      assert.equal(fresh.status, 200);
      liar.set({ down: true });
      const stale = await get(`${lgw.url}/v2/liar/manifests/v1?ns=${liar.host}`, { accept: ALL });
      assert.equal(stale.status, 200);
      assert.equal(stale.headers['x-regway-cache'], 'stale');
      assert.match(String(stale.headers.warning), /^299 - "[^"]+"$/);
    });
  });
});
