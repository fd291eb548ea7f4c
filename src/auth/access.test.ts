import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessPolicy, DEFAULT_RULES, grant, parseScope, pullThroughPattern } from './access.js';
import { RepoRouter } from '../oci/addressing.js';
import type { RepoKey } from '../oci/repo.js';

// Names as the routing makes them: hosted repositories, and pull-through ones on Docker Hub and ghcr.io.
const router = new RepoRouter('docker.io', ['team/**', 'pub/*', 'home/**']);
const key = (written: string, ns?: string): RepoKey => { const r = router.route(written, ns); return { registry: r.registry, name: r.name }; };
const resolve = (n: string) => router.scopeKey(n);

const policy = new AccessPolicy([
  { repositories: ['team/**'], users: [], groups: ['devs'], anonymous: false, actions: ['pull', 'push'] },
  { repositories: ['team/**'], users: ['lead'], groups: [], anonymous: false, actions: ['delete'] },
  { repositories: ['pub/*'], users: [], groups: [], anonymous: true, actions: ['pull'] },
  { repositories: ['home/{user}/**'], users: ['*'], groups: [], anonymous: false, actions: ['pull', 'push', 'delete'] },
  { repositories: [], users: ['lead'], groups: [], anonymous: false, actions: ['catalog'] },
], { devs: ['ann', 'lead'] }, { defaultRegistry: 'docker.io' });

test('rules grant per user, group, anonymous; anonymous rules also apply to users', () => {
  assert.deepEqual([...policy.actions({ user: 'ann' }, key('team/x'))].sort(), ['pull', 'push']);
  assert.deepEqual([...policy.actions({ user: 'lead' }, key('team/x'))].sort(), ['delete', 'pull', 'push']);
  assert.deepEqual([...policy.actions({ user: 'zed' }, key('team/x'))], []);
  assert.ok(policy.can({}, key('pub/tool'), 'pull'));
  assert.ok(!policy.can({}, key('pub/tool'), 'push'));
  assert.ok(policy.can({ user: 'zed' }, key('pub/tool'), 'pull'));
  assert.ok(policy.can({ user: 'zed' }, key('home/zed/app'), 'delete'));
  assert.ok(!policy.can({ user: 'zed' }, key('home/ann/app'), 'pull'));
  assert.ok(!policy.can({}, key('home/ann/app'), 'pull'), 'no user, no {user} match');
  assert.ok(policy.canCatalog({ user: 'lead' }));
  assert.ok(!policy.canCatalog({ user: 'ann' }));
  assert.ok(!policy.canCatalog({}));
});

test('default rules: signed-in users everything, anonymous nothing', () => {
  const p = new AccessPolicy(DEFAULT_RULES);
  assert.ok(p.can({ user: 'x' }, key('any/thing'), 'delete'));
  assert.ok(p.can({ user: 'x' }, key('org/app', 'ghcr.io'), 'pull'));
  assert.ok(p.canCatalog({ user: 'x' }));
  assert.ok(p.canObserve({ user: 'x' }));
  assert.ok(!p.can({}, key('any/thing'), 'pull'));
  assert.ok(!p.canObserve({}));
});

test('a rule names a pull-through image once, whatever form the request used', () => {
  const p = new AccessPolicy([
    { repositories: ['library/small'], users: [], groups: [], anonymous: true, actions: ['pull'] },
    { repositories: ['ghcr.io/org/**'], users: ['alice'], groups: [], anonymous: false, actions: ['pull'] },
  ], {}, { defaultRegistry: 'docker.io' });
  // dockerd's mirror form, the host path form, containerd's ns form, and the bare official name.
  for (const [w, ns] of [['library/small'], ['small'], ['docker.io/library/small'], ['library/small', 'docker.io'], ['small', 'index.docker.io']] as [string, string?][]) {
    assert.ok(p.can({}, key(w, ns), 'pull'), `${w} ns=${ns}`);
  }
  for (const [w, ns] of [['ghcr.io/org/app'], ['org/app', 'ghcr.io'], ['org/a/b', 'ghcr.io']] as [string, string?][]) {
    assert.ok(p.can({ user: 'alice' }, key(w, ns), 'pull'), `${w} ns=${ns}`);
    assert.ok(!p.can({}, key(w, ns), 'pull'), `anonymous ${w} ns=${ns}`);
  }
  // The same path with another ns is another repository: the rule for Docker Hub does not reach it.
  assert.ok(!p.can({}, key('library/small', 'evil.io'), 'pull'));
  assert.ok(!p.can({}, key('docker.io/library/small', 'evil.io'), 'pull'));
  assert.ok(!p.can({ user: 'alice' }, key('org/app'), 'pull'), 'org/app without ns is docker.io/org/app');
});

test('patterns without a host name the default registry; wildcards at the start match every registry', () => {
  assert.equal(pullThroughPattern('library/small', 'docker.io'), 'docker.io/library/small');
  assert.equal(pullThroughPattern('small', 'docker.io'), 'docker.io/library/small');
  assert.equal(pullThroughPattern('index.docker.io/alpine', 'docker.io'), 'docker.io/library/alpine');
  assert.equal(pullThroughPattern('ghcr.io/org/**', 'docker.io'), 'ghcr.io/org/**');
  assert.equal(pullThroughPattern('localhost:5000/x/*', 'docker.io'), 'localhost:5000/x/*');
  assert.equal(pullThroughPattern('team/*', 'quay.io'), 'quay.io/team/*');
  assert.equal(pullThroughPattern('**', 'docker.io'), '**');
  assert.equal(pullThroughPattern('*/app', 'docker.io'), '*/app');
});

test('pullThrough: anonymous or authenticated pulls of every pull-through repository, never of hosted ones', () => {
  const anon = new AccessPolicy([], {}, { defaultRegistry: 'docker.io', pullThrough: 'anonymous' });
  assert.ok(anon.can({}, key('library/alpine'), 'pull'));
  assert.ok(anon.can({}, key('org/app', 'ghcr.io'), 'pull'));
  assert.ok(!anon.can({}, key('library/alpine'), 'push'));
  assert.ok(!anon.can({}, key('team/app'), 'pull'), 'hosted names stay behind their rules');
  const users = new AccessPolicy([], {}, { defaultRegistry: 'docker.io', pullThrough: 'authenticated' });
  assert.ok(!users.can({}, key('library/alpine'), 'pull'));
  assert.ok(users.can({ user: 'u' }, key('library/alpine'), 'pull'));
});

test('unreachable: pull-through registries no rule lets anyone pull', () => {
  const p = new AccessPolicy([
    { repositories: ['local/**'], users: ['*'], groups: [], anonymous: false, actions: ['push'] },
    { repositories: ['ghcr.io/org/**'], users: [], groups: [], anonymous: true, actions: ['pull'] },
  ], {}, { defaultRegistry: 'docker.io' });
  assert.deepEqual(p.unreachable(['docker.io', 'ghcr.io', 'quay.io']), ['docker.io', 'quay.io']);
  assert.deepEqual(new AccessPolicy(DEFAULT_RULES).unreachable(['docker.io']), []);
  assert.deepEqual(new AccessPolicy([], {}, { defaultRegistry: 'docker.io', pullThrough: 'authenticated' }).unreachable(['quay.io']), []);
});

test('scopes parse, and grants are the intersection of asked and allowed', () => {
  assert.deepEqual(parseScope('repository:a/b:pull,push'), { type: 'repository', name: 'a/b', actions: ['pull', 'push'] });
  assert.deepEqual(parseScope('repository(plugin):a:pull'), { type: 'repository', name: 'a', actions: ['pull'] });
  assert.deepEqual(parseScope('repository:localhost:5000/a:pull'), { type: 'repository', name: 'localhost:5000/a', actions: ['pull'] });
  assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
  assert.equal(parseScope('nonsense'), undefined);
  assert.deepEqual(grant(policy, { user: 'ann' }, [
    { type: 'repository', name: 'team/x', actions: ['pull', 'push', 'delete'] },
    { type: 'repository', name: 'home/ann/y', actions: ['*'] }, // '*' asks for whatever is allowed
    { type: 'registry', name: 'catalog', actions: ['*'] },
    { type: 'weird', name: 'x', actions: ['pull'] },
  ], resolve), [
    { type: 'repository', name: 'team/x', actions: ['pull', 'push'] },
    { type: 'repository', name: 'home/ann/y', actions: ['pull', 'push', 'delete'] },
    { type: 'registry', name: 'catalog', actions: [] },
    { type: 'weird', name: 'x', actions: [] },
  ]);
});

test('a scope whose name is not a valid repository name is granted nothing (no dot-dot escape)', () => {
  const p = new AccessPolicy([{ repositories: ['users/{user}/**'], users: ['*'], groups: [], anonymous: false, actions: ['*'] }], {}, { defaultRegistry: 'docker.io' });
  const r = new RepoRouter('docker.io', ['users/**']);
  const asked = [
    { type: 'repository', name: 'users/bob/../alice/x', actions: ['push'] },
    { type: 'repository', name: 'users/bob/./x', actions: ['push'] },
    { type: 'repository', name: 'users/bob/x', actions: ['push'] },
  ];
  assert.deepEqual(grant(p, { user: 'bob' }, asked, (n) => r.scopeKey(n)).map((e) => e.actions), [[], [], ['push']]);
});

test("'*' in a rule means every repository action and catalog; observe is only ever named", () => {
  const p = new AccessPolicy([{ repositories: ['x/**'], users: ['u'], groups: [], anonymous: false, actions: ['*'] }]);
  assert.deepEqual([...p.actions({ user: 'u' }, key('x/y'))].sort(), ['delete', 'pull', 'push']);
  assert.ok(p.canCatalog({ user: 'u' }));
  assert.ok(!p.canObserve({ user: 'u' }), 'a private space must not open the status page');
  assert.ok(new AccessPolicy([{ repositories: [], users: ['ops'], groups: [], anonymous: false, actions: ['observe'] }]).canObserve({ user: 'ops' }));
});
