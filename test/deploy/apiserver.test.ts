// deploy/ against a real kube-apiserver (schema, strict field validation, admission incl. Pod Security)
// and the real helm v3:
// - every kustomize base and overlay: `kubectl apply --dry-run=server`, then for real, with no warning;
//   a Pod made from each workload's template is admitted by the namespace's Pod Security level;
// - the Helm chart: `helm lint --strict` for its defaults and main options, `helm template` for each
//   applied with --dry-run=server (and their Pods admitted), a real `helm install` + `helm upgrade`;
// - the chart and the kustomize base describe the same objects for the same options (normalize.ts
//   says what legitimately differs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { helmBin, useControlPlane } from '../helpers/kube.js';
import { run, type RunResult } from '../helpers/proc.js';
import { byKindName, type K8sObject } from './normalize.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KUSTOMIZE = join(ROOT, 'deploy/kustomize');
const CHART = join(ROOT, 'deploy/helm/regway');

/** The Helm options that correspond to each kustomize directory. */
const OPTIONS: Record<string, { dir: string; set: string[] }> = {
  defaults: { dir: 'base', set: [] },
  daemonset: { dir: 'overlays/daemonset', set: ['gateway.mode=daemonset'] },
  ha: { dir: 'overlays/ha', set: ['gateway.replicas=3', 'gateway.persistence.accessModes={ReadWriteMany}', 'gateway.topologySpread=true', 'gateway.pdb.minAvailable=2', 'controller.replicas=2', 'controller.pdb.enabled=true'] },
  remediation: { dir: 'overlays/remediation', set: ['controller.pullSecret=regcred'] },
};
const setArgs = (set: string[]): string[] => set.flatMap((s) => ['--set', s]);

let freshDryRun: RunResult;
const cp = useControlPlane({
  setup: async (c) => {
    // Before anything exists: what a first `kubectl apply --dry-run=server -k` meets.
    freshDryRun = await c.kubectl(['apply', '--dry-run=server', '-k', join(KUSTOMIZE, 'base')]);
    await c.kubectlOk(['apply', '-f', join(KUSTOMIZE, 'base/namespace.yaml')]);
  },
});

const objects = (text: string): K8sObject[] => parseAllDocuments(text).map((d) => d.toJS() as K8sObject).filter(Boolean);
const kustomize = (dir: string): string => execFileSync('kubectl', ['kustomize', join(KUSTOMIZE, dir)], { encoding: 'utf8' });
const helmTemplate = async (release: string, ns: string, set: string[]): Promise<string> => {
  const r = await run(helmBin(), ['template', release, CHART, '--namespace', ns, ...setArgs(set)]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

async function kubectlFile(text: string, args: string[], name: string): Promise<RunResult> {
  const file = join(cp().dir, `${name}.yaml`);
  writeFileSync(file, text);
  return cp().kubectl([...args, '-f', file]);
}

/** A Pod made from each Deployment/DaemonSet template, created with --dry-run=server: Pod Security admission decides. */
async function admitPods(text: string, ns: string, name: string): Promise<string[]> {
  const pods = objects(text).filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet').map((o) => {
    const t = (o.spec as { template: { metadata: object; spec: object } }).template;
    return { apiVersion: 'v1', kind: 'Pod', metadata: { ...t.metadata, name: `${o.metadata.name}-probe`, namespace: ns }, spec: t.spec };
  });
  assert.ok(pods.length >= 2, `${name}: workloads found`);
  const r = await kubectlFile(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }), ['create', '--dry-run=server'], `${name}-pods`);
  assert.equal(r.code, 0, `${name}: a Pod of its workloads was refused:\n${r.stderr}`);
  return r.stdout.trim().split('\n');
}

test('a first server-side dry run of the base fails only on the namespace it has not created yet', () => {
  assert.notEqual(freshDryRun.code, 0);
  const errors = freshDryRun.stderr.trim().split('\n');
  assert.ok(errors.length > 5 && errors.every((l) => /namespaces "regway-system" not found/.test(l)), freshDryRun.stderr);
  assert.match(freshDryRun.stdout, /namespace\/regway-system created \(server dry run\)/);
});

test('the Helm chart and the kustomize base/overlays describe the same objects for the same options', async () => {
  const dry = async (text: string, name: string): Promise<K8sObject[]> => {
    const r = await kubectlFile(text, ['apply', '--dry-run=server', '-n', 'regway-system', '-o', 'json'], name);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const j = JSON.parse(r.stdout) as { items?: K8sObject[] } & K8sObject;
    return j.items ?? [j];
  };
  // Dry runs only, and only the namespace exists: both sides are fresh creations, defaulted by the
  // server the same way, and the four cases are independent (run side by side).
  await Promise.all(Object.entries(OPTIONS).map(async ([name, o]) => {
    const k = byKindName((await dry(kustomize(o.dir), `diff-kustomize-${name}`)).filter((x) => x.kind !== 'Namespace'));
    const h = byKindName(await dry(await helmTemplate('regway', 'regway-system', o.set), `diff-helm-${name}`));
    assert.deepEqual([...h.keys()].sort(), [...k.keys()].sort(), `${name}: the same objects`);
    for (const [key, obj] of k) assert.deepEqual(h.get(key), obj, `${name}: ${key} differs between the chart and kustomize`);
  }));
});

test('kustomize base and every overlay: --dry-run=server then applied for real, no warning, and every workload\'s Pod admitted', async () => {
  // In this order each overlay is applied over the previous one, as an operator switching overlays would.
  for (const dir of ['base', 'overlays/remediation', 'overlays/daemonset', 'overlays/ha']) {
    const text = kustomize(dir);
    const name = dir.replace('/', '-');
    if (dir === 'overlays/ha') {
      // A PersistentVolumeClaim's spec is immutable: ReadWriteOnce (base) cannot become ReadWriteMany (ha) in place.
      const refused = await kubectlFile(text, ['apply', '--dry-run=server'], `${name}-over-base`);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /PersistentVolumeClaim "regway-cache" is invalid: spec: Forbidden: spec is immutable after creation/);
      // So the claim goes first. Its kubernetes.io/pvc-protection finalizer is removed by the
      // controller-manager once no Pod uses it; there is none here, so the test does that part.
      await cp().kubectlOk(['-n', 'regway-system', 'delete', 'pvc', 'regway-cache', '--wait=false']);
      await cp().kubectlOk(['-n', 'regway-system', 'patch', 'pvc', 'regway-cache', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
    const count = objects(text).length;
    const dry = await kubectlFile(text, ['apply', '--dry-run=server'], name);
    assert.equal(dry.code, 0, `${dir}: ${dry.stderr}`);
    if (dir === 'overlays/daemonset') {
      // A dry run does not persist the namespace's new "privileged" label, so the DaemonSet is judged
      // against the live "restricted" one: a warning here, none when applied for real below.
      assert.match(dry.stderr, /^Warning: would violate PodSecurity "restricted:latest": hostPort/);
    } else assert.equal(dry.stderr, '', `${dir}: warnings from the server`);
    const lines = dry.stdout.trim().split('\n');
    assert.equal(lines.length, count);
    assert.ok(lines.every((l) => / \(server dry run\)$/.test(l)), dry.stdout);
    const real = await kubectlFile(text, ['apply'], name);
    assert.equal(real.code, 0, `${dir}: ${real.stderr}`);
    assert.equal(real.stderr, '', `${dir}: warnings from the server`);
    await admitPods(text, 'regway-system', name);
  }
  // Why the daemonset overlay makes the namespace privileged: under the base's "restricted" level its Pods are refused.
  await cp().kubectlOk(['create', 'namespace', 'psa-restricted']);
  await cp().kubectlOk(['label', 'namespace', 'psa-restricted', 'pod-security.kubernetes.io/enforce=restricted']);
  await assert.rejects(admitPods(kustomize('overlays/daemonset'), 'psa-restricted', 'ds-restricted'), /violates PodSecurity "restricted:latest": hostPort .*restricted volume types \(volume "cache" uses restricted volume type "hostPath"\)/s);
  // Strict field validation is on: a misspelled field is an error, not silently dropped.
  const typo = kustomize('base').replace('terminationGracePeriodSeconds: 60', 'terminationGracePeriodSecond: 60');
  const bad = await kubectlFile(typo, ['apply', '--dry-run=server'], 'typo');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown field "spec.template.spec.terminationGracePeriodSecond"/);
});

test('Helm chart: lint --strict is clean, helm template passes --dry-run=server for its defaults and main options, Pods admitted, real install and upgrade', async () => {
  // Each option in its own namespace: independent, run side by side.
  await Promise.all(Object.entries(OPTIONS).map(async ([name, o]) => {
    const lint = await run(helmBin(), ['lint', '--strict', CHART, ...setArgs(o.set)]);
    assert.equal(lint.code, 0, `${name}: ${lint.stdout}${lint.stderr}`);
    assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    // Only [INFO] Chart.yaml: icon is recommended may remain: the project has no icon to point at.
    assert.deepEqual(lint.stdout.split('\n').filter((l) => /^\[(WARNING|ERROR|INFO)\]/.test(l) && !/icon is recommended/.test(l)), [], lint.stdout);
    const ns = `helm-${name}`;
    await cp().kubectlOk(['create', 'namespace', ns]);
    // A chart does not own its namespace; daemonset mode needs a privileged one (hostPort, hostPath).
    await cp().kubectlOk(['label', 'namespace', ns, `pod-security.kubernetes.io/enforce=${name === 'daemonset' ? 'privileged' : 'restricted'}`]);
    const text = await helmTemplate('rw', ns, o.set);
    assert.ok(objects(text).every((x) => ['ClusterRole', 'ClusterRoleBinding'].includes(x.kind) || x.metadata.namespace === ns), `${name}: every namespaced object names the release namespace`);
    const dry = await kubectlFile(text, ['apply', '--dry-run=server'], `helm-${name}`);
    assert.equal(dry.code, 0, `${name}: ${dry.stderr}`);
    assert.equal(dry.stderr, '', `${name}: warnings from the server`);
    assert.equal(dry.stdout.trim().split('\n').length, objects(text).length);
    await admitPods(text, ns, `helm-${name}`);
  }));
  // helm itself against the API server: install with the ha options, upgrade to add remediation.
  // (Release "rel": "regway" would collide with the kustomize objects applied above, ClusterRoles too.)
  const env = { ...process.env, KUBECONFIG: cp().kubeconfig, HELM_CACHE_HOME: join(cp().dir, 'helm-cache'), HELM_CONFIG_HOME: join(cp().dir, 'helm-config'), HELM_DATA_HOME: join(cp().dir, 'helm-data') };
  const helm = (args: string[]): Promise<RunResult> => run(helmBin(), [...args, CHART, '--namespace', 'helm-release'], { env, timeoutMs: 120_000 });
  const install = await helm(['install', 'rel', '--create-namespace', ...setArgs(OPTIONS.ha!.set)]);
  assert.equal(install.code, 0, install.stderr);
  assert.match(install.stdout, /STATUS: deployed/);
  assert.equal(await cp().kubectlOk(['-n', 'helm-release', 'get', 'deployment', 'rel-regway-gateway', '-o', 'jsonpath={.spec.replicas} {.spec.strategy.type}']), '3 RollingUpdate');
  assert.equal(await cp().kubectlOk(['-n', 'helm-release', 'get', 'pdb', 'rel-regway-gateway', '-o', 'jsonpath={.spec.minAvailable}/{.spec.maxUnavailable}']), '2/');
  const upgrade = await helm(['upgrade', 'rel', '--reuse-values', '--set', 'controller.pullSecret=regcred']);
  assert.equal(upgrade.code, 0, upgrade.stderr);
  assert.match(await cp().kubectlOk(['get', 'clusterrole', 'rel-regway-controller-remediation', '-o', 'jsonpath={.rules}']), /"serviceaccounts"/);
  // The same immutability through helm: the cache volume's access mode cannot be changed by an upgrade.
  const rwo = await helm(['upgrade', 'rel', '--reuse-values', '--set', 'gateway.persistence.accessModes={ReadWriteOnce}']);
  assert.notEqual(rwo.code, 0);
  assert.match(rwo.stderr, /spec is immutable after creation/);
});
