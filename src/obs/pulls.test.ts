import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PullClassifier, isServerFailure } from './pulls.js';
import type { RequestEvent } from './events.js';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);
const D3 = 'sha256:' + '3'.repeat(64);
let clock = 1_000_000;
function ev(p: Partial<RequestEvent>): RequestEvent {
  clock += 10;
  return { time: clock, operation: 'manifest', method: 'GET', status: 200, durationMs: 5, bytes: 100, clientIp: '10.0.0.1', registry: 'docker.io', repository: 'library/app', ...p };
}
const pulls = (c: PullClassifier, evs: RequestEvent[]) => evs.map((e) => c.classify(e)).filter((e) => e.pull).length;

describe('PullClassifier: each client tool pull counts once', () => {
  it('containerd: HEAD tag, GET index by digest, GET child, blobs', () => {
    const c = new PullClassifier();
    assert.equal(pulls(c, [
      ev({ method: 'HEAD', reference: 'v1', digest: D1, bytes: 0 }),
      ev({ reference: D1, digest: D1 }), ev({ reference: D2, digest: D2 }),
      ev({ operation: 'blob', reference: D3, digest: D3 }),
    ]), 1);
  });
  it('dockerd / podman / skopeo: GET tag, GET child by digest', () => {
    const c = new PullClassifier();
    assert.equal(pulls(c, [ev({ reference: 'v1', digest: D1 }), ev({ reference: D2, digest: D2 }), ev({ operation: 'blob', reference: D3 })]), 1);
  });
  it('HEAD tag then GET tag (some docker versions) is one pull', () => {
    const c = new PullClassifier();
    assert.equal(pulls(c, [ev({ method: 'HEAD', reference: 'v1', digest: D1 }), ev({ reference: 'v1', digest: D1 }), ev({ reference: D2, digest: D2 })]), 1);
  });
  it('pull by digest: containerd HEAD+GET, others GET: one pull each', () => {
    assert.equal(pulls(new PullClassifier(), [ev({ method: 'HEAD', reference: D1, digest: D1 }), ev({ reference: D1, digest: D1 })]), 1);
    assert.equal(pulls(new PullClassifier(), [ev({ reference: D1, digest: D1 })]), 1);
  });
  it('a scripted loop counts every iteration, by tag and by digest', () => {
    const c = new PullClassifier();
    assert.equal(pulls(c, Array.from({ length: 5 }, () => ev({ reference: 'v1', digest: D1 }))), 5);
    const d = new PullClassifier();
    assert.equal(pulls(d, Array.from({ length: 5 }, () => ev({ reference: D1, digest: D1 }))), 5);
  });
  it('different clients and repositories are separate pulls; a session ends after silence', () => {
    const c = new PullClassifier(60_000);
    assert.equal(pulls(c, [ev({ reference: D1, digest: D1 }), ev({ reference: D2, digest: D2, clientIp: '10.0.0.2' }), ev({ reference: D2, digest: D2, repository: 'other' })]), 3);
    clock += 61_000;
    assert.equal(pulls(c, [ev({ reference: D2, digest: D2 })]), 1, 'after the session expired, a GET by digest is a new pull');
  });
  it('blobs and tag lists never start a pull; a lone HEAD by digest (containerd re-pull of local content) does', () => {
    const c = new PullClassifier();
    assert.equal(pulls(c, [ev({ operation: 'blob', reference: D1 }), ev({ operation: 'tags', reference: undefined })]), 0);
    assert.equal(pulls(c, [ev({ method: 'HEAD', reference: D1, digest: D1 })]), 1);
    assert.equal(pulls(c, [ev({ reference: D2, digest: D2 })]), 0, 'inside a live pull: continuation');
    assert.equal(pulls(c, [ev({ method: 'HEAD', reference: D2, digest: D2 })]), 1, 'asking again for a digest this pull fetched: a re-pull');
  });
  it('a pull fails once: on its manifest, or on a layer later in the same pull', () => {
    const c = new PullClassifier();
    const out = [
      ev({ reference: 'v1', digest: D1 }),
      ev({ operation: 'blob', reference: D2, status: 502, errorCode: 'UPSTREAM_UNAVAILABLE', durationMs: 5 }),
      ev({ operation: 'blob', reference: D3, status: 502, errorCode: 'UPSTREAM_UNAVAILABLE' }),
      ev({ reference: 'v2', status: 502, errorCode: 'UPSTREAM_UNAVAILABLE' }),
      ev({ reference: 'v3', status: 404, errorCode: 'MANIFEST_UNKNOWN' }),
    ].map((e) => c.classify(e));
    assert.deepEqual(out.map((e) => [!!e.pull, !!e.pullFailed]), [[true, false], [false, true], [false, false], [true, true], [true, false]]);
  });
  it('a long layer download is attributed by its start time', () => {
    const c = new PullClassifier(60_000);
    c.classify(ev({ reference: 'v1', digest: D1 }));
    clock += 300_000;
    const e = c.classify(ev({ operation: 'blob', reference: D2, status: 500, durationMs: 299_000 }));
    assert.equal(e.pullFailed, true);
  });
  it('memory is bounded', () => {
    const c = new PullClassifier(60_000, 100);
    for (let i = 0; i < 1000; i++) c.classify(ev({ reference: 'v1', clientIp: `10.1.${i >> 8}.${i & 255}` }));
    assert.ok(c.size <= 100);
  });
  it('failure definition: 5xx, 429, UPSTREAM_UNAVAILABLE; not 4xx', () => {
    assert.deepEqual([500, 502, 503, 429, 404, 401, 403, 400, 200].map((status) => isServerFailure({ status })), [true, true, true, true, false, false, false, false, false]);
  });
});
