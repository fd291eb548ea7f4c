// `regway config apply --reload --kubeconfig` against a real kube-apiserver (with the real kubectl):
// the Secret on the server is what `kubectl create secret docker-registry` makes, the
// ServiceAccount keeps the pull secrets it had, a second apply changes nothing on the server, and the
// credentials are not copied into a last-applied-configuration annotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useControlPlane } from '../helpers/kube.js';
import { run } from '../helpers/proc.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
interface Obj { metadata: { resourceVersion: string; annotations?: Record<string, string> }; type?: string; data?: Record<string, string>; imagePullSecrets?: Array<{ name: string }> }

const cp = useControlPlane({
  setup: async ({ api }) => {
    await api.post('/api/v1/namespaces', { metadata: { name: 'team-a' } });
    // A ServiceAccount that already pulls from another registry: that must keep working.
    await api.post('/api/v1/namespaces/team-a/serviceaccounts', { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'existing' }] });
  },
});

const get = async (path: string): Promise<Obj> => JSON.parse(await cp().kubectlOk(['get', '--raw', path])) as Obj;

async function regwayApply(spec: string, root: string, password: string): Promise<{ code: number | null; out: string }> {
  const r = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', 'apply', '--file', spec, '--root', root, '--reload', '--kubeconfig', cp().kubeconfig],
    { cwd: ROOT, env: { ...process.env, PW: password }, timeoutMs: 120_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

test('apply --reload --kubeconfig: the Secret as kubectl makes it, the ServiceAccounts keep their pull secrets, a re-apply changes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regway-kube-'));
  try {
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, [
      'targets: [kubernetes]',
      'registries:',
      '  - host: registry.example.com:5000',
      '    credentials: {username: ci, password: {env: PW}}',
      'kubernetes: {namespace: team-a, serviceAccounts: [builder, deployer], secretName: regcred}',
      '',
    ].join('\n'));
    const first = await regwayApply(spec, join(dir, 'root1'), 's3cret');
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /secret\/regcred created/);
    assert.match(first.out, /serviceaccount\/builder: imagePullSecrets existing, regcred/);
    assert.match(first.out, /serviceaccount\/deployer created/);
    // The file's Secret is byte for byte kubectl's own; the server holds the same data.
    const kubectl = await cp().kubectlOk(['create', 'secret', 'docker-registry', 'regcred', '-n', 'team-a', '--docker-server=registry.example.com:5000',
      '--docker-username=ci', '--docker-password=s3cret', '--dry-run=client', '-o', 'yaml']);
    const file = readFileSync(join(dir, 'root1/etc/regway/kubernetes/pull-secret.yaml'), 'utf8');
    assert.equal(file.slice(0, kubectl.length), kubectl);
    const secret = await get('/api/v1/namespaces/team-a/secrets/regcred');
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    assert.equal(secret.data!['.dockerconfigjson'], /\.dockerconfigjson: (\S+)/.exec(kubectl)![1]);
    // Client-side `kubectl apply` would store the whole Secret, credentials included, in this annotation.
    assert.equal(secret.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined);
    // imagePullSecrets is an atomic list on the real server: "existing" must survive the merge.
    const builder = await get('/api/v1/namespaces/team-a/serviceaccounts/builder');
    assert.deepEqual(builder.imagePullSecrets, [{ name: 'existing' }, { name: 'regcred' }]);
    assert.deepEqual((await get('/api/v1/namespaces/team-a/serviceaccounts/deployer')).imagePullSecrets, [{ name: 'regcred' }]);
    // The same apply from another node (a fresh --root: the file is written again and kubectl runs
    // again): the server compares and writes nothing, so no resourceVersion moves.
    const rvs = async (): Promise<string[]> => Promise.all(['secrets/regcred', 'serviceaccounts/builder', 'serviceaccounts/deployer'].map(async (p) => (await get(`/api/v1/namespaces/team-a/${p}`)).metadata.resourceVersion));
    const before = await rvs();
    const again = await regwayApply(spec, join(dir, 'root2'), 's3cret');
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /secret\/regcred unchanged/);
    assert.match(again.out, /serviceaccount\/builder unchanged/);
    assert.deepEqual(await rvs(), before);
    // On the same node a second apply has nothing to write, so nothing to reload.
    const same = await regwayApply(spec, join(dir, 'root2'), 's3cret');
    assert.match(same.out, /No changes/);
    // A new password is a changed Secret, applied over the previous owner's value; the lists stay as they are.
    const rotated = await regwayApply(spec, join(dir, 'root2'), 'n3w-pass');
    assert.equal(rotated.code, 0, rotated.out);
    assert.match(rotated.out, /secret\/regcred configured/);
    const cfg = JSON.parse(Buffer.from((await get('/api/v1/namespaces/team-a/secrets/regcred')).data!['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { password: string }> };
    assert.equal(cfg.auths['registry.example.com:5000']!.password, 'n3w-pass');
    assert.deepEqual((await get('/api/v1/namespaces/team-a/serviceaccounts/builder')).imagePullSecrets, [{ name: 'existing' }, { name: 'regcred' }]);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('apply --reload with a kubeconfig that may not write Secrets fails with kubectl\'s error and what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regway-kube-'));
  try {
    await cp().kubectlOk(['-n', 'team-a', 'create', 'serviceaccount', 'nobody']);
    const kubeconfig = await cp().serviceAccountKubeconfig('team-a', 'nobody');
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, 'targets: [kubernetes]\nregistries:\n  - host: r.example.com\n    credentials: {username: ci, password: {env: PW}}\nkubernetes: {namespace: team-a, secretName: other}\n');
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', 'apply', '--file', spec, '--root', join(dir, 'root'), '--reload', '--kubeconfig', kubeconfig],
      { cwd: ROOT, env: { ...process.env, PW: 'x' }, timeoutMs: 120_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /regway config: .*forbidden.*cannot (get|patch) resource "secrets"/s);
    assert.match(r.stderr, /check the kubeconfig/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
