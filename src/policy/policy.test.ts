import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { checkSignature, signatureTag, simpleSigningPayload } from './cosign.js';
import { isArtifact } from './evaluate.js';
import { compilePolicies, policyFor } from './rules.js';
import { parseManifest } from '../oci/manifest.js';

const D = `sha256:${'a'.repeat(64)}`;
const E = `sha256:${'b'.repeat(64)}`;
const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

test('a cosign signature is valid only by a trusted key and only for the digest it names', () => {
  const k = keyPair();
  const other = keyPair();
  const payload = simpleSigningPayload('registry.example.com/app', D);
  const sig = sign('sha256', payload, k.privateKey).toString('base64');
  assert.equal(checkSignature(payload, sig, [k.publicKey], D), 'valid');
  assert.equal(checkSignature(payload, sig, [other.publicKey], D), 'unknown-key');
  assert.equal(checkSignature(payload, sig, [other.publicKey, k.publicKey], E), 'wrong-digest');
  const tampered = Buffer.from(payload.toString().replace(D, E));
  assert.equal(checkSignature(tampered, sig, [k.publicKey], E), 'unknown-key', 'a payload changed after signing verifies with no key');
  assert.equal(checkSignature(payload, 'not base64 at all', [k.publicKey], D), 'unknown-key');
  assert.equal(signatureTag(D), `sha256-${'a'.repeat(64)}.sig`);
});

test('only manifests without a filesystem layer are artifacts', () => {
  const m = (layers: string[], config = 'application/vnd.oci.image.config.v1+json') =>
    parseManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: config, digest: D, size: 1 },
          layers: layers.map((mediaType) => ({ mediaType, digest: D, size: 1 })),
        }),
      ),
    );
  assert.equal(isArtifact(m(['application/vnd.dev.cosign.simplesigning.v1+json'])), true);
  assert.equal(isArtifact(m(['application/vnd.oci.image.layer.v1.tar+gzip'])), false);
  assert.equal(isArtifact(m(['application/octet-stream'])), false, 'a layer of an unknown type may be a tarball: policed');
  assert.equal(isArtifact(m(['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/json'])), false, 'one runnable layer makes it an image');
  assert.equal(isArtifact(m([])), false, 'an image config with no layer is still an image');
  assert.equal(isArtifact(m([], 'application/vnd.oci.empty.v1+json')), true);
  const idx = (manifests: object[]) => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests })));
  assert.equal(isArtifact(idx([{ mediaType: 'x', digest: D, size: 1, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' }])), true);
  assert.equal(isArtifact(idx([{ mediaType: 'x', digest: D, size: 1, platform: { os: 'linux', architecture: 'amd64' } }])), false);
});

test("the first policy whose pattern matches the access name is the repository's", () => {
  const pem = keyPair().publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const set = compilePolicies([
    { name: 'a', repositories: ['ghcr.io/acme/**'], mode: 'enforce', require: 'signed', keys: [pem], allowDigests: [] },
    { name: 'b', repositories: ['ghcr.io/**', 'local/*'], mode: 'audit', require: 'none', keys: [], allowDigests: [] },
  ]);
  assert.equal(policyFor(set, { registry: 'ghcr.io', name: 'acme/x/y' })?.name, 'a');
  assert.equal(policyFor(set, { registry: 'ghcr.io', name: 'other/x' })?.name, 'b');
  assert.equal(policyFor(set, { registry: '_hosted', name: 'local/app' })?.name, 'b');
  assert.equal(policyFor(set, { registry: 'docker.io', name: 'library/alpine' }), undefined);
  assert.throws(
    () => compilePolicies([{ name: 'bad', repositories: ['x/**'], mode: 'enforce', require: 'signed', keys: [{ file: '/nonexistent.pub' }], allowDigests: [] }]),
    /policy bad: \/nonexistent.pub/,
  );
});
