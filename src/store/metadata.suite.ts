/**
 * The conformance suites for repository metadata. `metadataStoreSuite` is the contract the pull
 * cache relies on (src/cache: tags with their freshness, manifest and blob links, referrers, the
 * catalog); `mutableMetadataStoreSuite` adds what hosted repositories and garbage collection rely
 * on (src/hosted: deletes and the manifest listing). Implementations: DriverMetadataStore over
 * each driver (src/store/metadata*.test.ts), and the fleet's Redis-tag wrapper over it
 * (test/cluster/metadata-fleet.test.ts). Nothing here knows which one it is testing.
 *
 * The contract, as the callers use it:
 *  - whatever was never written reads as undefined (or false, or an empty list), never throws;
 *  - a write is read back by the next read, whole, and a second write replaces the first, even
 *    after a read that found nothing (an implementation that caches must not cache "absent" past a write);
 *  - everything is per repository: another repository (a sibling, a parent, the same name on
 *    another registry) sees none of it;
 *  - listings name each item once, in no promised order;
 *  - a delete answers whether there was something, and what it deleted reads as never written,
 *    even right after a read that cached it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { MetadataStore, MutableMetadataStore, TagEntry } from './metadata.js';
import type { RepoKey } from './paths.js';
import { digestOf, parseDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';

type Made<S> = { store: S; cleanup: () => Promise<void> };

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const digest = (seed: string): Digest => parseDigest(digestOf(Buffer.from(seed)));
/** A repository no other test (nor an earlier run against a shared backend) has used. */
const freshRepo = (registry = 'registry.suite.test'): RepoKey => ({ registry, name: `team/app-${randomUUID().slice(0, 8)}` });
const entry = (d: Digest, checkedAt = 1_700_000_000_000): TagEntry => ({ digest: d.value, mediaType: MANIFEST, size: 1234, checkedAt });
const descriptor = (d: Digest, artifactType: string): Descriptor => ({ mediaType: MANIFEST, digest: d.value, size: 321, artifactType, annotations: { 'org.example.note': artifactType } });
const byDigest = (a: { digest: string }, b: { digest: string }) => a.digest.localeCompare(b.digest);

export function metadataStoreSuite(name: string, make: () => Promise<Made<MetadataStore>>): void {
  describe(`metadata store conformance: ${name}`, () => {
    let s: MetadataStore;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store: s, cleanup } = await make());
    });
    after(async () => {
      await cleanup();
    });

    it('what was never written reads as undefined, false or empty', async () => {
      const r = freshRepo();
      const d = digest('never');
      assert.equal(await s.getTag(r, 'latest'), undefined);
      assert.deepEqual(await s.listTags(r), []);
      assert.equal(await s.getManifestLink(r, d), undefined);
      assert.equal(await s.hasBlobLink(r, d), false);
      assert.equal(await s.getBlobLink(r, d), undefined);
      assert.deepEqual(await s.listReferrers(r, d), []);
    });

    it('a tag reads back whole, a second put replaces it, and a read that found nothing does not hide a later put', async () => {
      const r = freshRepo();
      const [d1, d2] = [digest('tag-1'), digest('tag-2')];
      assert.equal(await s.getTag(r, 'v1'), undefined, 'read first: a cache must not keep this "absent"');
      // The fleet only trusts a shared tag that points at a manifest the repository links: link them as the cache does.
      await s.putManifestLink(r, d1, { mediaType: MANIFEST, size: 1234 });
      await s.putManifestLink(r, d2, { mediaType: MANIFEST, size: 1234 });
      await s.putTag(r, 'v1', entry(d1, 1000));
      assert.deepEqual(await s.getTag(r, 'v1'), entry(d1, 1000));
      await s.putTag(r, 'v1', entry(d2, 2000));
      assert.deepEqual(await s.getTag(r, 'v1'), entry(d2, 2000), 'the revalidated entry (new digest, new checkedAt) wins');
      await s.putTag(r, 'v1', entry(d2, 3000));
      assert.equal((await s.getTag(r, 'v1'))?.checkedAt, 3000, 'a revalidation with the same digest still moves checkedAt');
    });

    it('listTags names every tag of the repository once, and only its own', async () => {
      const r = freshRepo();
      const d = digest('list');
      await s.putManifestLink(r, d, { mediaType: MANIFEST, size: 1234 });
      for (const t of ['latest', 'v1.2.3', 'v1.2.3-rc_1', 'LATEST']) await s.putTag(r, t, entry(d));
      await s.putTag(r, 'latest', entry(d, 5));
      const child = { registry: r.registry, name: `${r.name}/child` };
      await s.putTag(child, 'only-in-child', entry(d));
      assert.deepEqual((await s.listTags(r)).sort(), ['LATEST', 'latest', 'v1.2.3', 'v1.2.3-rc_1']);
      assert.deepEqual(await s.listTags(child), ['only-in-child']);
      assert.equal(await s.getTag(child, 'latest'), undefined);
    });

    it('everything is per repository: a sibling, a parent, or the same name on another registry sees none of it', async () => {
      const r = freshRepo();
      const [m, b, subject, ref] = [digest('scoped-m'), digest('scoped-b'), digest('scoped-subject'), digest('scoped-ref')];
      await s.putManifestLink(r, m, { mediaType: MANIFEST, size: 10 });
      await s.putTag(r, 'latest', entry(m));
      await s.putBlobLink(r, b, 99);
      await s.addReferrer(r, subject, ref, descriptor(ref, 'application/vnd.example.sbom'));
      const others: RepoKey[] = [
        { registry: 'other.suite.test', name: r.name },
        { registry: r.registry, name: `${r.name}-sibling` },
        { registry: r.registry, name: r.name.split('/')[0]! },
      ];
      for (const o of others) {
        const what = `${o.registry}/${o.name}`;
        assert.equal(await s.getTag(o, 'latest'), undefined, what);
        assert.equal(await s.getManifestLink(o, m), undefined, what);
        assert.equal(await s.hasBlobLink(o, b), false, what);
        assert.equal(await s.getBlobLink(o, b), undefined, what);
        assert.deepEqual(await s.listReferrers(o, subject), [], what);
        assert.deepEqual(await s.listTags(o), [], what);
      }
    });

    it('a manifest link reads back with its media type and size, per digest', async () => {
      const r = freshRepo();
      const [a, b] = [digest('link-a'), digest('link-b')];
      assert.equal(await s.getManifestLink(r, a), undefined, 'read first: a cache must not keep this "absent"');
      await s.putManifestLink(r, a, { mediaType: MANIFEST, size: 527 });
      await s.putManifestLink(r, b, { mediaType: 'application/vnd.oci.image.index.v1+json', size: 1024 });
      assert.deepEqual(await s.getManifestLink(r, a), { mediaType: MANIFEST, size: 527 });
      assert.deepEqual(await s.getManifestLink(r, b), { mediaType: 'application/vnd.oci.image.index.v1+json', size: 1024 });
      assert.equal(await s.getManifestLink(r, digest('link-c')), undefined);
    });

    it('a blob link records the size when one is given, and is a link without one', async () => {
      const r = freshRepo();
      const [sized, unsized] = [digest('blob-sized'), digest('blob-unsized')];
      assert.equal(await s.getBlobLink(r, sized), undefined, 'read first: a cache must not keep this "absent"');
      await s.putBlobLink(r, sized, 4096);
      await s.putBlobLink(r, unsized);
      assert.equal(await s.hasBlobLink(r, sized), true);
      assert.deepEqual(await s.getBlobLink(r, sized), { size: 4096 });
      assert.equal(await s.hasBlobLink(r, unsized), true);
      assert.equal((await s.getBlobLink(r, unsized))?.size, undefined, 'linked, size unknown');
      await s.putBlobLink(r, unsized, 77);
      assert.deepEqual(await s.getBlobLink(r, unsized), { size: 77 }, 'a size learnt later is recorded');
      const big = digest('blob-big');
      await s.putBlobLink(r, big, 5 * 1024 ** 4);
      assert.deepEqual(await s.getBlobLink(r, big), { size: 5 * 1024 ** 4 }, 'sizes beyond 32 bits survive');
    });

    it('referrers: every descriptor added for a subject, once each, whole', async () => {
      const r = freshRepo();
      const [subject, other, sbom, sig] = [digest('subject'), digest('other-subject'), digest('ref-sbom'), digest('ref-sig')];
      await s.addReferrer(r, subject, sbom, descriptor(sbom, 'application/vnd.example.sbom'));
      await s.addReferrer(r, subject, sig, descriptor(sig, 'application/vnd.example.signature'));
      await s.addReferrer(r, subject, sig, descriptor(sig, 'application/vnd.example.signature'));
      await s.addReferrer(r, other, sbom, descriptor(sbom, 'application/vnd.example.sbom'));
      assert.deepEqual((await s.listReferrers(r, subject)).sort(byDigest), [descriptor(sbom, 'application/vnd.example.sbom'), descriptor(sig, 'application/vnd.example.signature')].sort(byDigest));
      assert.deepEqual(await s.listReferrers(r, other), [descriptor(sbom, 'application/vnd.example.sbom')]);
    });

    it('listRepositories names each repository with content once, a registry with a port included', async () => {
      const [r, ported] = [freshRepo(), freshRepo('localhost:5000')];
      const d = digest('catalog');
      for (const repo of [r, ported]) {
        await s.putManifestLink(repo, d, { mediaType: MANIFEST, size: 1 });
        await s.putTag(repo, 'a', entry(d));
        await s.putTag(repo, 'b', entry(d));
      }
      const all = await s.listRepositories();
      for (const repo of [r, ported]) assert.equal(all.filter((x) => x.registry === repo.registry && x.name === repo.name).length, 1, `${repo.registry}/${repo.name} in ${JSON.stringify(all)}`);
    });
  });
}

/** The MetadataStore contract, then deletes and the manifest listing (hosted repositories, GC). */
export function mutableMetadataStoreSuite(name: string, make: () => Promise<Made<MutableMetadataStore>>): void {
  metadataStoreSuite(name, make);
  describe(`mutable metadata store conformance: ${name}`, () => {
    let s: MutableMetadataStore;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store: s, cleanup } = await make());
    });
    after(async () => {
      await cleanup();
    });

    it('deleteTag answers whether the tag existed, and a deleted tag reads as never written, even just after a read', async () => {
      const r = freshRepo();
      const d = digest('del-tag');
      await s.putManifestLink(r, d, { mediaType: MANIFEST, size: 1 });
      await s.putTag(r, 'gone', entry(d));
      await s.putTag(r, 'kept', entry(d));
      assert.ok(await s.getTag(r, 'gone'), 'read (and maybe cached) before the delete');
      assert.equal(await s.deleteTag(r, 'gone'), true);
      assert.equal(await s.getTag(r, 'gone'), undefined);
      assert.deepEqual(await s.listTags(r), ['kept']);
      assert.equal(await s.deleteTag(r, 'gone'), false, 'a second delete finds nothing');
      assert.equal(await s.deleteTag(r, 'never'), false);
      await s.putTag(r, 'gone', entry(d, 42));
      assert.equal((await s.getTag(r, 'gone'))?.checkedAt, 42, 'a tag can be pushed again after a delete');
    });

    it('deleteManifestLink and deleteBlobLink answer whether the link existed, and unlink even just after a read', async () => {
      const r = freshRepo();
      const [m, b] = [digest('del-m'), digest('del-b')];
      await s.putManifestLink(r, m, { mediaType: MANIFEST, size: 1 });
      await s.putBlobLink(r, b, 2);
      assert.ok(await s.getManifestLink(r, m));
      assert.ok(await s.getBlobLink(r, b));
      assert.equal(await s.deleteManifestLink(r, m), true);
      assert.equal(await s.deleteBlobLink(r, b), true);
      assert.equal(await s.getManifestLink(r, m), undefined);
      assert.equal(await s.hasBlobLink(r, b), false);
      assert.equal(await s.getBlobLink(r, b), undefined);
      assert.equal(await s.deleteManifestLink(r, m), false);
      assert.equal(await s.deleteBlobLink(r, b), false);
      await s.putBlobLink(r, b, 3);
      assert.deepEqual(await s.getBlobLink(r, b), { size: 3 }, 'a blob can be linked again after an unlink');
    });

    it('removeReferrer drops one descriptor, and removing a missing one is harmless', async () => {
      const r = freshRepo();
      const [subject, a, b] = [digest('rm-subject'), digest('rm-a'), digest('rm-b')];
      await s.addReferrer(r, subject, a, descriptor(a, 'application/vnd.example.a'));
      await s.addReferrer(r, subject, b, descriptor(b, 'application/vnd.example.b'));
      await s.removeReferrer(r, subject, a);
      assert.deepEqual(await s.listReferrers(r, subject), [descriptor(b, 'application/vnd.example.b')]);
      await s.removeReferrer(r, subject, a);
      await s.removeReferrer(r, digest('rm-no-subject'), a);
      assert.deepEqual(await s.listReferrers(r, subject), [descriptor(b, 'application/vnd.example.b')]);
    });

    it('listManifestLinks names every linked manifest digest once, and only this repository\u2019s', async () => {
      const r = freshRepo();
      assert.deepEqual(await s.listManifestLinks(r), []);
      const [a, b, c] = [digest('lm-a'), digest('lm-b'), digest('lm-c')];
      for (const d of [a, b, c, a]) await s.putManifestLink(r, d, { mediaType: MANIFEST, size: 1 });
      await s.putManifestLink({ registry: r.registry, name: `${r.name}/child` }, digest('lm-child'), { mediaType: MANIFEST, size: 1 });
      await s.deleteManifestLink(r, c);
      assert.deepEqual((await s.listManifestLinks(r)).sort(), [a.value, b.value].sort());
    });
  });
}
