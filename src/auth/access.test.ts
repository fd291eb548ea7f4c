import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessPolicy, DEFAULT_RULES, grant, parseScope } from './access.js';

const policy = new AccessPolicy([
  { repositories: ['team/**'], users: [], groups: ['devs'], anonymous: false, actions: ['pull', 'push'] },
  { repositories: ['team/**'], users: ['lead'], groups: [], anonymous: false, actions: ['delete'] },
  { repositories: ['pub/*'], users: [], groups: [], anonymous: true, actions: ['pull'] },
  { repositories: ['home/{user}/**'], users: ['*'], groups: [], anonymous: false, actions: ['pull', 'push', 'delete'] },
  { repositories: [], users: ['lead'], groups: [], anonymous: false, actions: ['catalog'] },
], { devs: ['ann', 'lead'] });

test('rules grant per user, group, anonymous; anonymous rules also apply to users', () => {
  assert.deepEqual([...policy.actions({ user: 'ann' }, 'team/x')].sort(), ['pull', 'push']);
  assert.deepEqual([...policy.actions({ user: 'lead' }, 'team/x')].sort(), ['delete', 'pull', 'push']);
  assert.deepEqual([...policy.actions({ user: 'zed' }, 'team/x')], []);
  assert.ok(policy.can({}, 'pub/tool', 'pull'));
  assert.ok(!policy.can({}, 'pub/tool', 'push'));
  assert.ok(policy.can({ user: 'zed' }, 'pub/tool', 'pull'));
  assert.ok(policy.can({ user: 'zed' }, 'home/zed/app', 'delete'));
  assert.ok(!policy.can({ user: 'zed' }, 'home/ann/app', 'pull'));
  assert.ok(!policy.can({}, 'home/ann/app', 'pull'), 'no user, no {user} match');
  assert.ok(policy.canCatalog({ user: 'lead' }));
  assert.ok(!policy.canCatalog({ user: 'ann' }));
  assert.ok(!policy.canCatalog({}));
});

test('default rules: signed-in users everything, anonymous nothing', () => {
  const p = new AccessPolicy(DEFAULT_RULES);
  assert.ok(p.can({ user: 'x' }, 'any/thing', 'delete'));
  assert.ok(p.canCatalog({ user: 'x' }));
  assert.ok(!p.can({}, 'any/thing', 'pull'));
});

test('scopes parse, and grants are the intersection of asked and allowed', () => {
  assert.deepEqual(parseScope('repository:a/b:pull,push'), { type: 'repository', name: 'a/b', actions: ['pull', 'push'] });
  assert.deepEqual(parseScope('repository(plugin):a:pull'), { type: 'repository', name: 'a', actions: ['pull'] });
  assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
  assert.equal(parseScope('nonsense'), undefined);
  assert.deepEqual(grant(policy, { user: 'ann' }, [
    { type: 'repository', name: 'team/x', actions: ['pull', 'push', 'delete'] },
    { type: 'repository', name: 'home/ann/y', actions: ['*'] }, // '*' asks for whatever is allowed
    { type: 'registry', name: 'catalog', actions: ['*'] },
    { type: 'weird', name: 'x', actions: ['pull'] },
  ]), [
    { type: 'repository', name: 'team/x', actions: ['pull', 'push'] },
    { type: 'repository', name: 'home/ann/y', actions: ['pull', 'push', 'delete'] },
    { type: 'registry', name: 'catalog', actions: [] },
    { type: 'weird', name: 'x', actions: [] },
  ]);
});

test("'*' in a rule means every action, catalog included", () => {
  const p = new AccessPolicy([{ repositories: ['x/**'], users: ['u'], groups: [], anonymous: false, actions: ['*'] }]);
  assert.deepEqual([...p.actions({ user: 'u' }, 'x/y')].sort(), ['delete', 'pull', 'push']);
  assert.ok(p.canCatalog({ user: 'u' }));
});
