import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repoPattern } from './patterns.js';

test('* matches exactly one segment, ** any number', () => {
  const one = repoPattern('local/*');
  assert.ok(one.matches('local/app'));
  assert.ok(!one.matches('local/team/app'));
  assert.ok(!one.matches('local'));
  assert.ok(!one.matches('other/app'));
  const any = repoPattern('local/**');
  for (const n of ['local', 'local/app', 'local/a/b/c']) assert.ok(any.matches(n), n);
  assert.ok(!any.matches('localx/app'));
  assert.ok(!any.matches('x/local/app'));
});

test('** in the middle and at the start', () => {
  const mid = repoPattern('corp/**/prod');
  assert.ok(mid.matches('corp/prod'));
  assert.ok(mid.matches('corp/a/b/prod'));
  assert.ok(!mid.matches('corp/a/prod/x'));
  const start = repoPattern('**/cache');
  assert.ok(start.matches('cache'));
  assert.ok(start.matches('a/b/cache'));
  assert.ok(repoPattern('**').matches('anything/at/all'));
});

test('partial-segment star and literal dots', () => {
  const p = repoPattern('team/app-*');
  assert.ok(p.matches('team/app-web'));
  assert.ok(!p.matches('team/app-web/x'));
  const dots = repoPattern('registry.corp.example/**');
  assert.ok(dots.matches('registry.corp.example/a'));
  assert.ok(!dots.matches('registryxcorpxexample/a'), 'a dot is literal');
});

test('{user} is substituted literally and needs a user', () => {
  const p = repoPattern('users/{user}/**');
  assert.ok(p.matches('users/alice/app', 'alice'));
  assert.ok(!p.matches('users/bob/app', 'alice'));
  assert.ok(!p.matches('users/alice/app'), 'no user: no match');
  assert.ok(!repoPattern('users/{user}').matches('users/alice', '.*'), 'regex characters in a user name stay literal');
});
