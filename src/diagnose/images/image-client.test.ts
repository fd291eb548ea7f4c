// The image tools judge a registry's manifests with the gateway's own checks (upstream/manifest-reader.ts):
// a manifest the gateway would refuse is reported as such, not inspected as if it were fine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUpstream } from '../../testing/fake-upstream.js';
import { ImageClient } from './image-client.js';

describe('ImageClient: manifests checked as the gateway checks them', () => {
  let up: FakeUpstream;
  let client: ImageClient;
  before(async () => {
    up = await FakeUpstream.start();
    const host = new URL(up.url).host;
    client = new ImageClient({ endpoint: up.url, registry: host, tool: 'inspect' });
  });
  after(async () => {
    await client?.close();
    await up?.stop();
  });

  it('a good manifest, by tag and by digest: its digest, media type and layers', async () => {
    const img = up.image('app/good', 'v1');
    for (const ref of ['v1', img.digest]) {
      const m = await client.manifest('app/good', ref);
      assert.equal(m.status, 200);
      assert.equal(m.digest, img.digest);
      assert.equal(m.info?.layers.length, 1, `layers of ${ref}`);
    }
  });

  it('bytes that do not hash to the digest asked for: refused with the reason, never parsed as the image', async () => {
    const img = up.image('app/bad', 'v1');
    up.script({ method: 'GET', path: `/v2/app/bad/manifests/${img.digest}`, fault: { wrongBytes: true } });
    await assert.rejects(client.manifest('app/bad', img.digest), /does not match/);
  });

  it('a registry error keeps its status and explanation for the report', async () => {
    const m = await client.manifest('app/none', 'v1');
    assert.equal(m.status, 404);
    assert.ok(
      m.errors?.some((e) => e.code === 'MANIFEST_UNKNOWN'),
      JSON.stringify(m.errors),
    );
  });
});
