import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageRef } from '../../oci/reference.js';
import { containerdTrace } from './containerd.js';

const snap = (certs: Record<string, string>) => ({ files: new Map<string, string>(), certsDirs: new Map(Object.entries(certs)), dropIns: [] });

test('a hosts.toml with only server: containerd 1.6 cannot decode it and pulls from the default https endpoint', () => {
  const ref = parseImageRef('10.0.0.5:5000/lab/app:1');
  const t = containerdTrace(ref, snap({ '10.0.0.5:5000': 'server = "http://10.0.0.5:5000"\n' }), '/etc/containerd/certs.d', '/etc/containerd/config.toml');
  assert.ok(
    t.notes.some((n) => /has no \[host\] table: containerd 1\.6 fails to decode it/.test(n)),
    t.notes.join('\n'),
  );
  assert.deepEqual(
    t.endpoints.map((e) => e.url),
    ['https://10.0.0.5:5000'],
  );
  // With the table regway writes, the registry is asked over http.
  const ok = containerdTrace(
    ref,
    snap({ '10.0.0.5:5000': 'server = "http://10.0.0.5:5000"\n\n[host."http://10.0.0.5:5000"]\n  capabilities = ["pull", "resolve"]\n' }),
    '/etc/containerd/certs.d',
    '/etc/containerd/config.toml',
  );
  assert.deepEqual(
    ok.endpoints.map((e) => [e.role, e.url, e.request]),
    [
      ['origin', 'http://10.0.0.5:5000', '/v2/lab/app/manifests/1'],
      ['origin', 'http://10.0.0.5:5000', '/v2/lab/app/manifests/1'],
    ],
  );
});
