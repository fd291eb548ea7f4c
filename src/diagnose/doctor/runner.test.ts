import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createContext } from './context.js';
import { FINDINGS } from './index.js';
import { finding } from './findings.js';
import { runChecks } from './runner.js';
import { parseTarget } from '../common/target.js';
import { exitCodeFor, worstOf } from './types.js';

test('a check that throws becomes CHECK_CRASHED and the next checks still run', async () => {
  const ctx = createContext(parseTarget('reg.example.com/team/app:1'), {});
  const out = await runChecks(ctx, [
    {
      stage: 'boom',
      run: async () => {
        throw new Error('kaputt');
      },
    },
    { stage: 'after', run: async () => [finding('DNS_OK', 'after', 'still ran')] },
  ]);
  assert.deepEqual(
    out.map((f) => f.code),
    ['CHECK_CRASHED', 'DNS_OK'],
  );
  assert.match(out[0]!.detail, /kaputt/);
  assert.equal(worstOf(out), 'error');
});

test('a check that sets stop ends the run; every finding gets a duration', async () => {
  const ctx = createContext(parseTarget('reg.example.com'), {});
  const out = await runChecks(ctx, [
    {
      stage: 'a',
      run: async (c) => {
        c.stop = true;
        return [finding('TCP_REFUSED', 'a', 'x')];
      },
    },
    { stage: 'b', run: async () => [finding('DNS_OK', 'b', 'never')] },
  ]);
  assert.deepEqual(
    out.map((f) => f.code),
    ['TCP_REFUSED'],
  );
  assert.equal(typeof out[0]!.durationMs, 'number');
});

test('targets: registries, images, Docker Hub short names, explicit schemes, gateways', () => {
  assert.deepEqual([parseTarget('ghcr.io').registry, parseTarget('ghcr.io').image], ['ghcr.io', undefined]);
  const hub = parseTarget('alpine:3.20');
  assert.equal(hub.registry, 'docker.io');
  assert.equal(hub.endpoint.host, 'registry-1.docker.io');
  assert.equal(hub.image?.name, 'library/alpine');
  const http = parseTarget('http://127.0.0.1:5000/team/app:1');
  assert.equal(http.endpoint.href, 'http://127.0.0.1:5000/');
  assert.equal(http.explicitScheme, true);
  const via = parseTarget('docker.io/library/alpine:3', 'http://gw:5000');
  assert.equal(via.endpoint.href, 'http://gw:5000/');
  assert.equal(via.registry, 'docker.io');
  assert.throws(() => parseTarget('Not A Ref'));
});

test('catalogue: every finding has a title and meaning, and every warn/error a fix; exit codes follow the worst', () => {
  for (const [code, f] of Object.entries(FINDINGS)) {
    assert.match(code, /^[A-Z0-9_]+$/);
    assert.ok(f.title && f.meaning, code);
    if (f.severity === 'warn' || f.severity === 'error') assert.ok(f.fix, `${code} needs a fix`);
  }
  assert.deepEqual(
    ['ok', 'info', 'warn', 'error'].map((s) => exitCodeFor(s as 'ok')),
    [0, 0, 1, 2],
  );
});
