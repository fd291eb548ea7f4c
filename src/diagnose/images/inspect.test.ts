import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MT } from '../../oci/mediatypes.js';
import { imageFindings, sharing, type ImageReport, type PlatformReport } from './inspect.js';

const layer = (d: string, size: number) => ({ digest: `sha256:${d.repeat(64).slice(0, 64)}`, size, mediaType: MT.ociLayerGzip });
const plat = (platform: string, layers: ReturnType<typeof layer>[]): PlatformReport => ({ platform, digest: 'sha256:x', layers, totalBytes: layers.reduce((n, l) => n + l.size, 0), config: {} });
const codes = (f: { code: string }[]): string[] => f.map((x) => x.code).sort();

test('tags: latest warns, a branch name is unversioned, versions, dates, shas and digests are fine', () => {
  const p = [plat('linux/amd64', [layer('a', 10)]), plat('linux/arm64', [layer('b', 10)])];
  const listed = ['linux/amd64', 'linux/arm64'];
  assert.deepEqual(codes(imageFindings({ reference: 'latest', platforms: p }, listed)), ['TAG_LATEST']);
  assert.deepEqual(codes(imageFindings({ reference: 'main', platforms: p }, listed)), ['TAG_UNVERSIONED']);
  for (const ok of ['1.2.3', 'v2.0.1-rc.1', '3.20', '20240501', '20240501-1', 'a1b2c3d', `sha256:${'f'.repeat(64)}`]) assert.deepEqual(imageFindings({ reference: ok, platforms: p }, listed), [], ok);
});

test('platforms, many layers, one huge layer, schema 1', () => {
  const many = plat(
    'linux/amd64',
    Array.from({ length: 45 }, (_, i) => layer(String(i % 10), 1000)),
  );
  assert.deepEqual(codes(imageFindings({ reference: '1.0', platforms: [many] }, ['linux/amd64'])), ['MANY_LAYERS', 'NO_ARM64']);
  const huge = plat('linux/arm64/v8', [layer('a', 10 * 1024 ** 2), layer('b', 900 * 1024 ** 2)]);
  assert.deepEqual(codes(imageFindings({ reference: '1.0', platforms: [huge] }, ['linux/arm64/v8'])), ['HUGE_LAYER', 'NO_AMD64']);
  const single = { ...plat('unknown', [layer('a', 1)]), config: { os: 'linux', architecture: 'amd64' } };
  assert.deepEqual(codes(imageFindings({ reference: '1.0', platforms: [single] }, [])), ['NO_ARM64']);
  assert.deepEqual(codes(imageFindings({ reference: '1.0', mediaType: MT.dockerSchema1Signed, platforms: [] }, [])), ['SCHEMA1']);
});

test('sharing: a common base counted once per extra image', () => {
  const base = [layer('1', 50_000_000), layer('2', 20_000_000)];
  const img = (ref: string, own: number): ImageReport => ({ ref, registry: 'r', name: 'n', reference: '1', platforms: [plat('linux/amd64', [...base, layer(ref, own)])], findings: [] });
  const s = sharing([img('a', 1_000), img('b', 2_000), img('c', 3_000)], 'linux/amd64');
  assert.equal(s.images, 3);
  assert.equal(s.shared.length, 2);
  assert.equal(s.savedBytes, 2 * 70_000_000);
  assert.equal(s.totalBytes, 3 * 70_000_000 + 6_000);
  assert.equal(s.uniqueBytes, 70_000_000 + 6_000);
  assert.deepEqual(s.shared[0]!.images, ['a', 'b', 'c']);
});
