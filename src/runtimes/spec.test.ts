import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec, SpecError } from './spec.js';
import { EXAMPLE_SPEC } from './example.js';
import { resolveCredentials } from './credentials.js';

function issues(yaml: string): string[] {
  try {
    parseSpec(yaml);
  } catch (e) {
    assert.ok(e instanceof SpecError);
    return e.issues;
  }
  assert.fail('expected a SpecError');
}

test('the init example is a valid declarative file', () => {
  const s = parseSpec(EXAMPLE_SPEC);
  assert.equal(s.registries[0]!.host, 'docker.io');
  assert.equal(s.registries[0]!.mirrors.length, 2);
  // The one form a regway user needs is the first thing the template shows.
  assert.deepEqual([s.registries[0]!.mirrors[0]!.url, s.registries[0]!.mirrors[0]!.gateway], ['http://regway.internal:5000', true]);
});

test('errors name the field', () => {
  assert.deepEqual(issues('registries:\n  - host: docker.io\n    mirrors:\n      - url: https://ok.example\n      - url: mirror.example\n'), [
    'registries.0.mirrors.1.url: must be a URL like https://mirror.example.com or http://10.0.0.5:5000 (got "mirror.example")',
  ]);
  assert.match(issues('registries:\n  - host: docker.io\n    mirrors: [{url: "https://m.example/dockerhub"}]\n')[0]!, /^registries\.0\.mirrors\.0\.url: must be the root of the mirror/);
  assert.match(issues('registries:\n  - host: https://ghcr.io\n')[0]!, /^registries\.0\.host: must be a registry host/);
  assert.match(issues('insecureRegistries: ["http://10.0.0.1:5000"]\n')[0]!, /^insecureRegistries\.0: .*has a scheme/);
  assert.match(issues('targets: [docker]\n')[0]!, /^targets\.0: /);
  assert.match(issues('docker: {maxConcurrentDownloads: 0}\n')[0]!, /^docker\.maxConcurrentDownloads: must be at least 1/);
  assert.match(issues('registries: [{host: a.io}, {host: a.io}]\n')[0]!, /^registries\.1\.host: a\.io is already listed at registries\.0/);
  assert.match(issues('bogus: 1\n')[0]!, /^\(top level\): Unrecognized key/);
});

test('passwords are never accepted inline', () => {
  assert.deepEqual(issues('registries:\n  - host: r.io\n    credentials: {username: a, password: hunter2}\n'), [
    'registries.0.credentials.password: must not be written inline; use {env: VAR}, {file: PATH} or {prompt: true}',
  ]);
});

test('credential references resolve from env, file and prompt, with field-naming errors', async () => {
  const spec = parseSpec(
    'targets: [docker-config]\nregistries:\n  - host: a.io\n    credentials: {username: {env: U}, password: {file: /pw}}\n  - host: b.io\n    credentials: {username: bob, password: {prompt: true}}\n',
  );
  const asked: string[] = [];
  const creds = await resolveCredentials(spec, {
    env: { U: 'alice' },
    readFile: () => 'pw1\n',
    prompt: async (q) => {
      asked.push(q);
      return 'pw2';
    },
  });
  assert.deepEqual(creds.get('a.io'), { username: 'alice', password: 'pw1' });
  assert.deepEqual(creds.get('b.io'), { username: 'bob', password: 'pw2' });
  assert.deepEqual(asked, ['Password for bob@b.io: ']);
  await assert.rejects(resolveCredentials(spec, { env: {}, readFile: () => 'x' }), /registries\.0\.credentials\.username: environment variable U is not set/);
  await assert.rejects(resolveCredentials(spec, { env: { U: 'a' }, readFile: () => 'x' }), /registries\.1\.credentials\.password: set to \{prompt: true\} but there is no terminal/);
});

test('credentials are not resolved when no target writes them', async () => {
  const spec = parseSpec('targets: [docker-daemon]\nregistries:\n  - host: a.io\n    credentials: {username: a, password: {env: NOPE}}\n');
  assert.equal((await resolveCredentials(spec, { env: {}, readFile: () => '' })).size, 0);
});
