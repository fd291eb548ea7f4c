// Node mode end to end, as root: a bridge, four node namespaces each running `regway serve` in
// node mode on its own disk, a central regway (the scheduler) in a fifth, every link shaped with
// tc tbf, a real distribution upstream, skopeo and curl inside the node namespaces. Without root
// (or tc) the tests are skipped with the reason.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { canShape, curlBlobDigest, p2pStatus, pullOnNode, startCluster, startRegwayIn, PEER_TOKEN, type Cluster } from '../helpers/p2p-cluster.js';
import { waitFor } from '../helpers/wait.js';
import { signPeerRequest, PEER_AUTH_HEADER } from '../../src/cluster/peer-auth.js';

const skip = canShape() ? false : 'needs root, iproute2 and tc (network namespaces with tbf-shaped links)';
const MB = 1024 * 1024;

interface Tree { digest: string; nodes: { id: string; bytes: number; done: boolean; parent?: string }[] }
async function trees(c: Cluster): Promise<Tree[]> {
  const r = await request(`${c.gateway.url}/-/status`);
  return ((await r.body.json()) as { p2p: { trees: Tree[] } }).p2p.trees;
}
const member = async (c: Cluster, digest: string, url: string) => (await trees(c)).find((t) => t.digest === digest)?.nodes.find((n) => n.id === url);

describe('p2p node mode in a simulated cluster', { skip, timeout: 600_000 }, () => {
  let c: Cluster;
  const images: Record<string, PushedImage> = {};
  // A proxy on the bridge in front of node 3's peer endpoint that flips one byte of every blob it passes on.
  let corrupter: Server | undefined;
  let corrupterUrl = '';

  before(async () => {
    c = await startCluster({ nodes: 4, rateMbit: 40, maxChildren: 2, directUpstream: true, stallTimeout: '3s', advertiseFor: (i) => (i === 3 ? corrupterUrl : undefined) }, async (dist) => {
      for (const [name, layers, size] of [['app', 3, 6 * MB], ['kill', 1, 24 * MB], ['bad', 1, 4 * MB], ['solo', 1, 2 * MB], ['guarded', 1, 1 * MB]] as const) {
        images[name] = await pushImage(dist.url, name, 'v1', { layers, layerSize: size });
      }
      // The corrupting proxy listens on the bridge (reachable from every namespace, inside the peer networks).
      const bridgeIp = new URL(dist.url).hostname;
      corrupter = createServer((req, res) => {
        const target = `http://${bridgeIp.split('.').slice(0, 3).join('.')}.14:5000${req.url}`;
        void request(target, { headers: { [PEER_AUTH_HEADER]: String(req.headers[PEER_AUTH_HEADER] ?? '') } }).then(async (up) => {
          const headers = Object.fromEntries(Object.entries(up.headers).filter(([k]) => ['content-length', 'x-regway-blob-size', 'content-type'].includes(k))) as Record<string, string>;
          res.writeHead(up.statusCode, headers);
          let flipped = false;
          for await (const chunk of up.body) {
            const b = Buffer.from(chunk as Uint8Array);
            if (!flipped && b.length > 0) { b[0] = b[0]! ^ 0xff; flipped = true; }
            res.write(b);
          }
          res.end();
        }, () => { res.writeHead(502).end(); });
      });
      await new Promise<void>((r) => corrupter!.listen(0, bridgeIp, r));
      corrupterUrl = `http://${bridgeIp}:${(corrupter.address() as { port: number }).port}`;
    });
  });
  after(async () => {
    corrupter?.close();
    await c?.stop();
  });

  it('every node gets the exact image, mostly from its peers; the gateway sends each blob about once', async () => {
    const img = images.app!;
    const imageBytes = img.layers.reduce((n, l) => n + l.size, 0) + img.config.size;
    const before = c.gateway.ns.txBytes();
    const digests = await Promise.all(c.nodes.slice(0, 3).map((n) => pullOnNode(n.ns, 'app:v1')));
    for (const d of digests) assert.equal(d, img.manifestDigest);
    for (const l of img.layers) assert.equal(await curlBlobDigest(c.nodes[1]!.ns, 'app', l.digest), l.digest);
    const sent = c.gateway.ns.txBytes() - before;
    const stats = await Promise.all(c.nodes.slice(0, 3).map((n) => p2pStatus(n.url)));
    const fromPeers = stats.reduce((n, s) => n + (s.received.peer ?? 0), 0);
    assert.ok(sent / imageBytes <= 1.5, `the gateway sent ${sent} bytes for a ${imageBytes}-byte image to 3 nodes (${(sent / imageBytes).toFixed(2)}x)`);
    assert.ok(fromPeers >= imageBytes, `nodes received ${fromPeers} bytes from peers (image: ${imageBytes})`);
  });

  it('a parent SIGKILLed mid-blob: its children resume elsewhere and finish with exact bytes', async () => {
    const layer = images.kill!.layers[0]!;
    const [n0, n1, n2] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]];
    const first = curlBlobDigest(n0.ns, 'kill', layer.digest).catch((e: Error) => e.message);
    await waitFor(async () => ((await member(c, layer.digest, n0.url))?.bytes ?? 0) > 2 * MB, 'node 0 to have 2 MB of the blob', 30_000, { interval: 50 });
    const children = [curlBlobDigest(n1.ns, 'kill', layer.digest), curlBlobDigest(n2.ns, 'kill', layer.digest)];
    await waitFor(async () => {
      const t = (await trees(c)).find((x) => x.digest === layer.digest);
      return t?.nodes.filter((n) => n.parent === n0.url && n.bytes > 1 * MB).length === 2;
    }, 'both children to stream from node 0', 30_000, { interval: 50 });
    n0.kill();
    assert.deepEqual(await Promise.all(children), [layer.digest, layer.digest]);
    await first;
    for (const n of [n1, n2]) assert.ok((await p2pStatus(n.url)).parentChanges >= 1, `${n.url} changed parent`);
    // Node 0 comes back on its disk for the next tests (its partial download was never committed).
    c.nodes[0] = await startRegwayIn(n0.ns, JSON.parse(JSON.stringify((await import('yaml')).parse((await import('node:fs')).readFileSync(n0.configFile, 'utf8')))) as Record<string, unknown>);
  });

  it('a parent that sends corrupt bytes is detected by digest, quarantined, and the blob comes exact from elsewhere', async () => {
    const layer = images.bad!.layers[0]!;
    const [, n1, , n3] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]];
    // Node 3 (advertised through the corrupting proxy) holds the blob first...
    assert.equal(await curlBlobDigest(n3.ns, 'bad', layer.digest), layer.digest);
    // ...so the scheduler hands it to node 1 as its parent (it joined the blob's tree when it asked
    // for its own parent, and holds every byte), and node 1 gets the flipped byte.
    // The client reading along when the check fails is cut off one byte short (never handed a
    // clean end of wrong bytes: the last byte waits for the digest); the node fetches the blob again
    // elsewhere, so the client's retry gets it exact.
    const first = await curlBlobDigest(n1.ns, 'bad', layer.digest).catch((e: Error) => e.message);
    assert.ok(first === layer.digest || /curl: \(18\)/.test(first), `first read: exact or cut short, got ${first}`);
    assert.equal(await curlBlobDigest(n1.ns, 'bad', layer.digest), layer.digest);
    const s = await p2pStatus(n1.url);
    assert.ok(s.quarantines >= 1, 'node 1 quarantined the corrupting parent');
    assert.match(c.gateway.log(), /failed verification: their sender is quarantined/);
    assert.match(n1.log(), /parent quarantined/);
  });

  it('a peer without the token is refused; so is an unsigned scheduler request', async () => {
    const layer = images.app!.layers[0]!;
    const url = c.nodes[1]!.url;
    const plain = await request(`${url}/-/peer/blobs/${layer.digest}?offset=0`);
    await plain.body.dump();
    assert.equal(plain.statusCode, 403);
    const wrong = await request(`${url}/-/peer/blobs/${layer.digest}?offset=0`, { headers: { [PEER_AUTH_HEADER]: signPeerRequest('another-cluster-token-xyz', layer.digest, 0) } });
    await wrong.body.dump();
    assert.equal(wrong.statusCode, 403);
    const right = await request(`${url}/-/peer/blobs/${layer.digest}?offset=0`, { headers: { [PEER_AUTH_HEADER]: signPeerRequest(PEER_TOKEN, layer.digest, 0) } });
    await right.body.dump();
    assert.equal(right.statusCode, 200, 'the same request signed with the cluster token is served (the refusals are the token\'s doing)');
    const sched = await request(`${c.gateway.url}/-/p2p/parent?node=http://10.0.0.1:5000&digest=${layer.digest}`, { method: 'POST' });
    await sched.body.dump();
    assert.equal(sched.statusCode, 403);
  });

  it('scheduler and gateway down: nodes fall back to the upstream directly and still pull exact bytes', async () => {
    const img = images.solo!;
    c.gateway.kill();
    const n2 = c.nodes[2]!;
    assert.equal(await pullOnNode(n2.ns, 'solo:v1'), img.manifestDigest);
    const s = await p2pStatus(n2.url);
    assert.ok(s.schedulerErrors >= 1, 'the scheduler was unreachable');
    assert.ok(Object.keys(s.received).some((k) => k.includes(new URL(c.dist.url).host)), `bytes came from the upstream directly: ${JSON.stringify(s.received)}`);
  });
});
