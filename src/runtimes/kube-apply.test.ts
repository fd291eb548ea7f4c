import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyToCluster, pullSecretPatch, type KubectlResult } from './kube-apply.js';
import { validateSpec } from './spec.js';

test('pullSecretPatch keeps the list and guards it with the resourceVersion; nothing when already listed', () => {
  assert.deepEqual(pullSecretPatch({ metadata: { resourceVersion: '7' }, imagePullSecrets: [{ name: 'a' }] }, 'regcred'), {
    metadata: { resourceVersion: '7' },
    imagePullSecrets: [{ name: 'a' }, { name: 'regcred' }],
  });
  assert.deepEqual(pullSecretPatch({ metadata: { resourceVersion: '1' } }, 'regcred'), { metadata: { resourceVersion: '1' }, imagePullSecrets: [{ name: 'regcred' }] });
  assert.equal(pullSecretPatch({ imagePullSecrets: [{ name: 'regcred' }, { name: 'b' }] }, 'regcred'), undefined);
});

test('applyToCluster: server-side apply of the file, then read-compare-write per ServiceAccount, retrying a 409', () => {
  const spec = validateSpec({ targets: ['kubernetes'], kubernetes: { namespace: 'ci', serviceAccounts: ['builder', 'new'] } });
  const calls: string[] = [];
  let patches = 0;
  const answers: Array<[RegExp, () => KubectlResult]> = [
    [/get secret regcred/, () => ({ status: 0, stdout: '', stderr: '' })],
    [/apply --server-side --force-conflicts --field-manager=regway -n ci -f \/etc\/x.yaml/, () => ({ status: 0, stdout: '41', stderr: '' })],
    [/get serviceaccount builder/, () => ({ status: 0, stdout: JSON.stringify({ metadata: { resourceVersion: String(10 + patches) }, imagePullSecrets: [{ name: 'other' }] }), stderr: '' })],
    [
      /patch serviceaccount builder/,
      () =>
        ++patches === 1
          ? { status: 1, stdout: '', stderr: 'Error from server (Conflict): Operation cannot be fulfilled on serviceaccounts "builder": the object has been modified' }
          : { status: 0, stdout: 'serviceaccount/builder patched', stderr: '' },
    ],
    [/get serviceaccount new/, () => ({ status: 0, stdout: '', stderr: '' })],
    [/create -n ci -f -/, () => ({ status: 0, stdout: 'serviceaccount/new created', stderr: '' })],
  ];
  const out = applyToCluster(spec, '/etc/x.yaml', '/k', (args, input) => {
    const line = args.join(' ') + (input ? ` <<< ${input}` : '');
    calls.push(line);
    assert.equal(args[0], '--kubeconfig');
    const a = answers.find(([re]) => re.test(line));
    assert.ok(a, `unexpected kubectl ${line}`);
    return a[1]();
  });
  assert.deepEqual(out, ['secret/regcred created (server-side apply)', 'serviceaccount/builder: imagePullSecrets other, regcred', 'serviceaccount/new created with imagePullSecrets regcred']);
  const patchesSent = calls.filter((c) => c.includes('patch serviceaccount builder'));
  assert.equal(patchesSent.length, 2, 'a 409 is retried after a fresh read');
  assert.match(patchesSent[1]!, /"resourceVersion":"11"/, 'the retry carries the re-read resourceVersion');
  assert.match(
    calls.find((c) => c.includes('create -n ci'))!,
    /"imagePullSecrets":\[\{"name":"regcred"\}\]/,
  );
});

test('applyToCluster: kubectl errors become one message with the next step', () => {
  const spec = validateSpec({ targets: ['kubernetes'] });
  assert.throws(
    () => applyToCluster(spec, '/f', '/k', () => ({ status: 1, stdout: '', stderr: 'error: You must be logged in to the server (Unauthorized)' })),
    /kubectl get secret regcred failed: error: You must be logged in to the server \(Unauthorized\); check the kubeconfig \/k/,
  );
});
