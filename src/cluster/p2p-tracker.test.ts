import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2pTracker, type NodeRef } from './p2p-tracker.js';

const D = 'sha256:' + 'a'.repeat(64);
const node = (id: string, maxChildren = 2, zone?: string): NodeRef => ({ id, url: `http://${id}:5000`, maxChildren, zone });
function tracker() {
  const clock = { t: 1000 };
  const t = new P2pTracker({ quarantineMs: 60_000, staleMs: 10_000, holdMs: 600_000, now: () => clock.t });
  return { t, clock };
}
const parentOf = (c: { parent?: NodeRef }) => c.parent?.id;

test('the first node of a blob reads from the gateway; the next ones from it until its d slots are taken', () => {
  const { t } = tracker();
  assert.equal(parentOf(t.choose(D, node('a'), 0)), undefined);
  assert.equal(parentOf(t.choose(D, node('b'), 0)), 'a');
  assert.equal(parentOf(t.choose(D, node('c'), 0)), 'a');
  // a has two children: d = 2 is full, the next one goes under a child.
  assert.ok(['b', 'c'].includes(parentOf(t.choose(D, node('d'), 0))!));
});

test('d = 1 makes a chain', () => {
  const { t } = tracker();
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const parents = ids.map((id) => parentOf(t.choose(D, node(id, 1), 0)));
  assert.deepEqual(parents, [undefined, 'a', 'b', 'c', 'd']);
});

test('the parent with a free slot closest to done wins; a node that holds the blob beats one receiving it', () => {
  const { t } = tracker();
  t.choose(D, node('a', 5), 0);
  t.choose(D, node('b', 5), 0);
  t.choose(D, node('c', 5), 0);
  t.progress(D, node('a', 5), 100, 1000, false);
  t.progress(D, node('b', 5), 700, 1000, false);
  t.progress(D, node('c', 5), 400, 1000, false);
  assert.equal(parentOf(t.choose(D, node('x', 5), 0)), 'b');
  t.progress(D, node('c', 5), 1000, 1000, true);
  assert.equal(parentOf(t.choose(D, node('y', 5), 0)), 'c');
});

test('the same zone comes first, even when a node elsewhere is further along', () => {
  const { t } = tracker();
  t.choose(D, node('far', 4, 'z1'), 0);
  t.choose(D, node('near', 4, 'z2'), 0);
  t.progress(D, node('far', 4, 'z1'), 900, 1000, false);
  t.progress(D, node('near', 4, 'z2'), 10, 1000, false);
  assert.equal(parentOf(t.choose(D, node('n', 4, 'z2'), 0)), 'near');
  assert.equal(parentOf(t.choose(D, node('m', 4, 'z3'), 0)), 'far');
});

test('a node that asks again gets no parent below itself (no loops) and frees its old parent\'s slot', () => {
  const { t } = tracker();
  t.choose(D, node('a', 1), 0);
  t.choose(D, node('b', 1), 0); // a -> b
  t.choose(D, node('c', 1), 0); // b -> c
  // b's stream from a broke: a is excluded (it failed), c is below b: only the gateway is left.
  assert.equal(parentOf(t.choose(D, node('b', 1), 500, ['a'])), undefined);
  // a's slot was freed by b's move.
  assert.equal(parentOf(t.choose(D, node('x', 1), 0)), 'a');
});

test('a finished child frees its parent\'s slot', () => {
  const { t } = tracker();
  t.choose(D, node('a', 1), 0);
  t.choose(D, node('b', 1), 0);
  t.progress(D, node('a', 1), 1000, 1000, true);
  t.progress(D, node('b', 1), 1000, 1000, true);
  // b finished: a has its slot back and holds the blob; b holds it too and has no child.
  const p = parentOf(t.choose(D, node('c', 1), 0));
  assert.ok(p === 'a' || p === 'b');
  assert.ok(['a', 'b'].includes(parentOf(t.choose(D, node('d', 1), 0))!));
});

test('a corrupting parent is quarantined for every blob, for a while; a node that passed on bad bytes is not', () => {
  const { t, clock } = tracker();
  const D2 = 'sha256:' + 'b'.repeat(64);
  t.choose(D, node('bad', 1), 0);
  t.choose(D, node('mid', 1), 0); // bad -> mid
  t.choose(D, node('leaf', 1), 0); // mid -> leaf
  assert.deepEqual(t.corrupt(D, node('mid', 1), ['bad']), ['bad']);
  // leaf's bytes came from mid, whose own check failed: that explains them, mid is not to blame.
  assert.deepEqual(t.corrupt(D, node('leaf', 1), ['mid']), []);
  assert.ok(t.isQuarantined('bad'));
  assert.ok(!t.isQuarantined('mid'));
  t.choose(D2, node('bad', 1), 0);
  assert.equal(parentOf(t.choose(D2, node('q', 1), 0)), undefined, 'a quarantined node is nobody\'s parent, for any blob');
  clock.t += 61_000;
  assert.ok(!t.isQuarantined('bad'));
});

test('a receiving node that stops reporting is dropped; one that holds the blob stays offered longer', () => {
  const { t, clock } = tracker();
  t.choose(D, node('a'), 0);
  clock.t += 11_000;
  assert.equal(parentOf(t.choose(D, node('b'), 0)), undefined);
  t.progress(D, node('b'), 10, 10, true);
  clock.t += 60_000;
  assert.equal(parentOf(t.choose(D, node('c'), 0)), 'b');
  assert.deepEqual(t.trees().map((v) => v.digest), [D]);
});
