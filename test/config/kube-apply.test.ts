// `regway config apply --reload --kubeconfig` applies the rendered pull Secret and ServiceAccount
// patch with the real kubectl, against an in-test API server (there is no Kubernetes API server on
// this machine; see fake-kube.ts for what it implements).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeKube } from './fake-kube.js';

test('apply --reload --kubeconfig creates the Secret and adds it to the ServiceAccount, keeping its other pull secrets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regway-kube-'));
  const kube = await startFakeKube(dir);
  kube.objects.set('serviceaccounts/team-a/builder', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: 'team-a' }, imagePullSecrets: [{ name: 'existing' }] });
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, [
    'targets: [kubernetes]',
    'registries:',
    '  - host: registry.example.com:5000',
    '    credentials: {username: ci, password: {env: PW}}',
    'kubernetes: {namespace: team-a, serviceAccounts: [builder], secretName: regcred}',
    '',
  ].join('\n'));
  const root = join(dir, 'root');
  try {
    // A child process: the command runs kubectl synchronously, and this process must stay free to
    // answer kubectl as the API server.
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', 'apply', '--file', spec, '--root', root, '--reload', '--kubeconfig', kube.kubeconfig],
      { env: { ...process.env, PW: 's3cret' }, encoding: 'utf8' });
    assert.match(r.stdout + r.stderr, /secret\/regcred created/);
    const secret = kube.objects.get('secrets/team-a/regcred') as { type: string; data: Record<string, string> } | undefined;
    assert.ok(secret, `the Secret was created: ${kube.requests.join(', ')}`);
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    const cfg = JSON.parse(Buffer.from(secret.data['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(cfg.auths['registry.example.com:5000']!.auth, 'base64').toString(), 'ci:s3cret');
    const sa = kube.objects.get('serviceaccounts/team-a/builder') as unknown as { imagePullSecrets: { name: string }[] };
    assert.deepEqual(sa.imagePullSecrets.map((s) => s.name), ['existing', 'regcred']);
    assert.ok(kube.requests.includes('PATCH /api/v1/namespaces/team-a/serviceaccounts/builder'));
  } finally { await kube.stop(); rmSync(dir, { recursive: true, force: true }); }
});
