// trace follows one blob of the image to where its bytes come from: the endpoint itself, or the
// host it redirects to (an object store or a CDN), asked without credentials as clients do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { probeRuntime } from './probe.js';
import { blobLine } from './index.js';
import type { RuntimeTrace } from './types.js';

const LAYER = `sha256:${'b'.repeat(64)}`;
const CHILD = `sha256:${'c'.repeat(64)}`;
const INDEX = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [{ digest: CHILD, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 }],
});
const IMAGE = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: `sha256:${'a'.repeat(64)}` }, layers: [{ digest: LAYER }] });

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A registry whose blob GETs redirect to `target` (or stream themselves when it is undefined); seen: what it was asked. */
async function registry(target: string | undefined, seen: string[]) {
  return listen((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.range ?? ''} ${req.headers.authorization ?? ''}`.trim());
    if (req.url?.startsWith('/v2/team/app/manifests/latest')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': `sha256:${'d'.repeat(64)}` });
      res.end(req.method === 'HEAD' ? undefined : INDEX);
      return;
    }
    if (req.url?.startsWith(`/v2/team/app/manifests/${CHILD}`)) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.end(IMAGE);
      return;
    }
    if (req.url?.startsWith(`/v2/team/app/blobs/${LAYER}`)) {
      if (target) {
        res.writeHead(307, { location: `${target}/bucket/blobs/${LAYER.slice(7)}?X-Amz-Signature=x` });
        res.end();
        return;
      }
      res.writeHead(206, { 'content-range': 'bytes 0-0/10' });
      res.end('x');
      return;
    }
    res.writeHead(404);
    res.end();
  });
}

const runtime = (url: string): RuntimeTrace => ({
  runtime: 'containerd',
  notes: [],
  endpoints: [{ url, role: 'mirror', request: '/v2/team/app/manifests/latest?ns=docker.io', insecure: true, source: 'hosts.toml' }],
});

test('a redirecting gateway: trace names the host the bytes come from and whether it answers, without sending it credentials', async () => {
  const storageSeen: string[] = [];
  const storage = await listen((req, res) => {
    storageSeen.push(`${req.url} ${req.headers.range ?? ''} ${req.headers.authorization ?? 'no-auth'}`);
    res.writeHead(206);
    res.end('x');
  });
  const seen: string[] = [];
  const reg = await registry(storage.url, seen);
  try {
    const t = runtime(reg.url);
    await probeRuntime(t, 5000);
    const b = t.endpoints[0]!.blob!;
    assert.deepEqual({ digest: b.digest, status: b.status, redirectedTo: b.redirectedTo, targetStatus: b.targetStatus }, { digest: LAYER, status: 307, redirectedTo: storage.url, targetStatus: 206 });
    assert.ok(seen.includes(`GET /v2/team/app/blobs/${LAYER}?ns=docker.io bytes=0-0`), seen.join('\n'));
    assert.deepEqual(storageSeen, [`/bucket/blobs/${LAYER.slice(7)}?X-Amz-Signature=x bytes=0-0 no-auth`]);
    assert.match(blobLine(b, reg.url), /redirected \(307\) to http:\/\/127\.0\.0\.1:\d+, which answers 206/);
  } finally {
    reg.server.close();
    storage.server.close();
  }
});

test('a target that refuses or cannot be reached is named as where the pull fails', async () => {
  const storage = await listen((_req, res) => {
    res.writeHead(403);
    res.end();
  });
  const reg = await registry(storage.url, []);
  const closed = await registry('http://127.0.0.1:9', []);
  try {
    const t = runtime(reg.url);
    await probeRuntime(t, 5000);
    assert.match(blobLine(t.endpoints[0]!.blob!, reg.url), /which answers 403: the pull fails there/);
    const u = runtime(closed.url);
    await probeRuntime(u, 5000);
    assert.match(blobLine(u.endpoints[0]!.blob!, closed.url), /to http:\/\/127\.0\.0\.1:9, which fails: .*ECONNREFUSED/);
  } finally {
    reg.server.close();
    storage.server.close();
    closed.server.close();
  }
});

test('a gateway that streams: the bytes come from the endpoint itself', async () => {
  const reg = await registry(undefined, []);
  try {
    const t = runtime(reg.url);
    await probeRuntime(t, 5000);
    assert.deepEqual(t.endpoints[0]!.blob, { digest: LAYER, status: 206 });
    assert.equal(blobLine(t.endpoints[0]!.blob!, reg.url), `blob bytes: from ${reg.url} itself (206 for ${LAYER})`);
  } finally {
    reg.server.close();
  }
});
