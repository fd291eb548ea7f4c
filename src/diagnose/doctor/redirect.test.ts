// The doctor's reading of a blob redirect target's answer (docs/redirects.md): which clock is off,
// or whether the URL was simply refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeRedirect, signedWindow, SKEW_TOLERANCE_MS } from './redirect.js';
import { cdnUrl } from '../../cache/redirect.js';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const http = (ms: number) => new Date(ms).toUTCString();
/** A SigV4 presigned URL signed at `signedAt` for `expires` seconds (the signature itself is not checked here). */
const presigned = (signedAt: number, expires = 300) => {
  const d = new Date(signedAt)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return new URL(`http://rgw.example:8080/b/regway/blobs/sha256/ab/abcd?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=${d}&X-Amz-Expires=${expires}&X-Amz-Signature=00`);
};

test('signedWindow reads SigV4 presigned URLs and signed CDN URLs', () => {
  assert.deepEqual(signedWindow(presigned(NOW, 300)), { kind: 'presigned', signedAtMs: NOW, expiresAtMs: NOW + 300_000 });
  const cdn = new URL(cdnUrl('https://cdn.example/', 'regway/blobs/sha256/ab/abcd', 'nginx-secure-link', 'k', NOW / 1000 + 60));
  assert.deepEqual(signedWindow(cdn), { kind: 'cdn', expiresAtMs: NOW + 60_000 });
  assert.deepEqual(signedWindow(new URL('https://cdn.example/x'), 'cdn'), { kind: 'cdn' });
  assert.deepEqual(signedWindow(new URL('https://cdn.example/x?X-Amz-Date=garbage')), { kind: 'unknown' });
});

test('a 2xx from the target: the bytes come from that host', () => {
  const f = judgeRedirect(presigned(NOW), { status: 206 }, NOW);
  assert.equal(f.code, 'BLOB_REDIRECT_OK');
  assert.equal(f.data?.host, 'rgw.example:8080');
  assert.equal(f.data?.kind, 'presigned');
});

test('a connection error: unreachable, naming the host and the error', () => {
  const f = judgeRedirect(new URL('http://127.0.0.1:9/x'), { error: 'connect ECONNREFUSED 127.0.0.1:9' }, NOW, 'cdn');
  assert.equal(f.code, 'BLOB_REDIRECT_UNREACHABLE');
  assert.equal(f.severity, 'error');
  assert.match(f.detail, /127\.0\.0\.1:9.*ECONNREFUSED/);
  assert.match(f.fix ?? '', /exceptNetworks/);
});

test('403 with the target clock far from ours: clock skew, with the direction and size', () => {
  const ahead = judgeRedirect(presigned(NOW - 1000), { status: 403, date: http(NOW + 3600_000) }, NOW);
  assert.equal(ahead.code, 'BLOB_REDIRECT_CLOCK_SKEW');
  assert.match(ahead.detail, /3600 s ahead of this node's/);
  const behind = judgeRedirect(presigned(NOW), { status: 403, date: http(NOW - 2 * SKEW_TOLERANCE_MS) }, NOW);
  assert.equal(behind.code, 'BLOB_REDIRECT_CLOCK_SKEW');
  assert.match(behind.detail, /120 s behind/);
});

test("403 with clocks that agree and a URL already past its expiry: expired (the signer's clock or the expiry)", () => {
  const f = judgeRedirect(presigned(NOW - 3600_000, 300), { status: 403, date: http(NOW) }, NOW);
  assert.equal(f.code, 'BLOB_REDIRECT_EXPIRED');
  assert.match(f.detail, /3300 s past/);
  const cdn = new URL(cdnUrl('https://cdn.example/', 'k', 'hmac-sha256', 'key', NOW / 1000 - 10));
  assert.equal(judgeRedirect(cdn, { status: 403 }, NOW).code, 'BLOB_REDIRECT_EXPIRED', 'no Date header: our clock is used');
  const future = judgeRedirect(presigned(NOW + 3600_000), { status: 403, date: http(NOW) }, NOW);
  assert.equal(future.code, 'BLOB_REDIRECT_EXPIRED');
  assert.match(future.detail, /in the future.*gateway's clock is ahead/);
});

test('403 with a URL in time and clocks that agree: the signature itself is refused', () => {
  const f = judgeRedirect(presigned(NOW - 5000), { status: 403, date: http(NOW + 2000) }, NOW);
  assert.equal(f.code, 'BLOB_REDIRECT_DENIED');
  assert.match(f.fix ?? '', /storage\.s3\.endpoint/);
});

test('other statuses: failed (404 after an eviction, 5xx)', () => {
  assert.equal(judgeRedirect(presigned(NOW), { status: 404 }, NOW).code, 'BLOB_REDIRECT_FAILED');
  assert.equal(judgeRedirect(presigned(NOW), { status: 502 }, NOW).code, 'BLOB_REDIRECT_FAILED');
});
