import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerConfigSource, AuthFileSource, CredentialChain, lookupAuths, type HelperRunner } from './credentials.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dir = mkdtempSync(join(tmpdir(), 'regway-creds-'));

test('Docker Hub credentials are filed under https://index.docker.io/v1/', async () => {
  const p = join(dir, 'hub.json');
  writeFileSync(p, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('alice:s3cr3t') } } }));
  assert.deepEqual(await new DockerConfigSource(p).get('registry-1.docker.io'), { username: 'alice', password: 's3cr3t' });
  assert.deepEqual(await new DockerConfigSource(p).get('docker.io'), { username: 'alice', password: 's3cr3t' });
});

test('keys are normalised to their host, as Docker does', () => {
  const auths = { 'https://registry.example.com/v2/': { auth: b64('u:p') } };
  assert.ok(lookupAuths(auths, 'registry.example.com'));
  assert.equal(lookupAuths(auths, 'other.example.com'), undefined);
});

test('credHelpers and credsStore shadow plain auths', async () => {
  const p = join(dir, 'store.json');
  writeFileSync(p, JSON.stringify({ auths: { 'r.example': { auth: b64('plain:ignored') } }, credsStore: 'pass', credHelpers: { 'h.example': 'ecr-login' } }));
  const calls: string[] = [];
  const fake: HelperRunner = async (helper, url) => { calls.push(`${helper} ${url}`); return { username: 'from', password: helper }; };
  assert.deepEqual(await new DockerConfigSource(p, fake).get('r.example'), { username: 'from', password: 'pass' });
  assert.deepEqual(await new DockerConfigSource(p, fake).get('h.example'), { username: 'from', password: 'ecr-login' });
  assert.deepEqual(calls, ['pass r.example', 'ecr-login h.example']);
});

test('containers auth.json and a chain that caches', async () => {
  const p = join(dir, 'auth.json');
  writeFileSync(p, JSON.stringify({ auths: { 'quay.io/team': { auth: b64('bob:pw') } } }));
  let now = 0;
  const chain = new CredentialChain([new DockerConfigSource(join(dir, 'missing.json')), new AuthFileSource(p)], 1000, () => now);
  assert.deepEqual(await chain.get('quay.io'), { username: 'bob', password: 'pw' });
  writeFileSync(p, '{}');
  assert.ok(await chain.get('quay.io'), 'cached');
  now = 1001;
  assert.equal(await chain.get('quay.io'), undefined);
});
