// deploy/ as files: the options the README promises are really in kustomize's output, the controller's
// RBAC is least-privilege as written, the Helm chart's values and templates agree, and the systemd
// unit passes systemd-analyze verify. Against a real API server and the real helm (server-side dry
// runs, admission, Pod Security, helm lint/template/install, the chart-vs-kustomize diff):
// apiserver.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { helmBin } from '../helpers/kube.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KUSTOMIZE = join(ROOT, 'deploy/kustomize');
const CHART = join(ROOT, 'deploy/helm/regway');
type K8sObj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

function kustomize(path: string): { text: string; objs: K8sObj[] } {
  const text = execFileSync('kubectl', ['kustomize', path], { encoding: 'utf8' });
  return { text, objs: parseAllDocuments(text).map((d) => d.toJS() as K8sObj).filter(Boolean) };
}

const find = (objs: K8sObj[], kind: string, name: string): K8sObj | undefined => objs.find((o) => o.kind === kind && o.metadata.name === name);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

test('kustomize base and every overlay render; every namespaced object lands in regway-system', () => {
  const overlays = readdirSync(join(KUSTOMIZE, 'overlays'));
  assert.deepEqual(overlays.sort(), ['daemonset', 'ha', 'p2p', 'remediation']);
  for (const name of ['base', ...overlays.map((o) => `overlays/${o}`)]) {
    for (const o of kustomize(join(KUSTOMIZE, name)).objs) {
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) assert.equal(o.metadata.namespace, 'regway-system', `${o.kind}/${o.metadata.name}`);
      // Labels and images come from transformers that an overlay must repeat for the resources it adds.
      assert.equal((o.metadata as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/part-of'], 'regway', `${name}: ${o.kind}/${o.metadata.name} labels`);
    }
    assert.doesNotMatch(kustomize(join(KUSTOMIZE, name)).text, /image: regway$/m, `${name}: an image the images transformer did not reach`);
  }
});

test('base: gateway Deployment + PVC + Service + ConfigMap + Secret + PDB + NetworkPolicy; controller with least-privilege RBAC', () => {
  const { objs } = kustomize(join(KUSTOMIZE, 'base'));
  const gw = find(objs, 'Deployment', 'regway-gateway') as Any;
  const pod = gw.spec.template.spec;
  assert.deepEqual(pod.containers[0].args, ['serve', '--config', '/etc/regway/regway.yaml']);
  assert.equal(pod.containers[0].image, 'registry.example.com/regway/regway:0.1.0');
  assert.equal(pod.volumes.find((v: Any) => v.name === 'cache').persistentVolumeClaim.claimName, 'regway-cache');
  assert.equal(pod.volumes.find((v: Any) => v.name === 'credentials').secret.secretName, 'regway-upstream-credentials');
  assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
  assert.ok(find(objs, 'PersistentVolumeClaim', 'regway-cache'));
  assert.ok(find(objs, 'Service', 'regway'));
  assert.ok(find(objs, 'PodDisruptionBudget', 'regway-gateway'));
  assert.ok(find(objs, 'NetworkPolicy', 'regway-gateway'));
  assert.equal((find(objs, 'Secret', 'regway-upstream-credentials') as Any).type, 'kubernetes.io/dockerconfigjson');
  // The ConfigMap is a config the gateway accepts.
  const cfg = parse((find(objs, 'ConfigMap', 'regway-config') as Any).data['regway.yaml']);
  assert.equal(cfg.listen, '0.0.0.0:5000');
  assert.equal(cfg.credentials.dockerConfig, '/etc/regway/credentials/config.json');
  // RBAC: exactly these verbs; nothing on serviceaccounts, secrets or pods writes.
  const rules = (find(objs, 'ClusterRole', 'regway-controller') as Any).rules as Array<{ resources: string[]; verbs: string[] }>;
  const grants = rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`))).sort();
  assert.deepEqual(grants, ['events:create', 'events:list', 'events:patch', 'events:watch', 'nodes:get', 'pods:list', 'pods:watch']);
  const lease = (find(objs, 'Role', 'regway-controller-leader') as Any).rules;
  assert.deepEqual(lease.map((r: Any) => [r.resources, r.verbs, r.resourceNames ?? []]), [[['leases'], ['create'], []], [['leases'], ['get', 'update'], ['regway-controller']]]);
  const ctl = (find(objs, 'Deployment', 'regway-controller') as Any).spec.template.spec;
  assert.equal(ctl.serviceAccountName, 'regway-controller');
  assert.ok(ctl.containers[0].args.includes('controller'));
  assert.ok(ctl.containers[0].args.some((a: string) => a.startsWith('--gateway=http://regway.regway-system.svc:5000')));
  assert.ok(ctl.containers[0].args.includes('--lease-name=regway-controller'), 'the Lease name the Role grants');
  assert.ok(!ctl.containers[0].args.some((a: string) => a.startsWith('--pull-secret')));
  assert.deepEqual(ctl.containers[0].env.map((e: Any) => e.name), ['POD_NAME', 'POD_NAMESPACE']);
});

test('overlays: daemonset on hostPort, ha replicas and PDBs, remediation adds the secret and only then serviceaccounts RBAC', () => {
  const ds = kustomize(join(KUSTOMIZE, 'overlays/daemonset')).objs;
  assert.equal(find(ds, 'Deployment', 'regway-gateway'), undefined);
  assert.equal(find(ds, 'PersistentVolumeClaim', 'regway-cache'), undefined);
  const d = (find(ds, 'DaemonSet', 'regway-gateway') as Any).spec.template.spec;
  assert.equal(d.containers[0].ports[0].hostPort, 5000);
  assert.equal(d.volumes.find((v: Any) => v.name === 'cache').hostPath.path, '/var/lib/regway');
  const ha = kustomize(join(KUSTOMIZE, 'overlays/ha')).objs;
  assert.equal((find(ha, 'Deployment', 'regway-gateway') as Any).spec.replicas, 3);
  assert.equal((find(ha, 'Deployment', 'regway-gateway') as Any).spec.strategy.type, 'RollingUpdate');
  assert.equal((find(ha, 'Deployment', 'regway-controller') as Any).spec.replicas, 2);
  assert.deepEqual((find(ha, 'PersistentVolumeClaim', 'regway-cache') as Any).spec.accessModes, ['ReadWriteMany']);
  assert.deepEqual((find(ha, 'PodDisruptionBudget', 'regway-gateway') as Any).spec, { minAvailable: 2, selector: (find(ha, 'PodDisruptionBudget', 'regway-gateway') as Any).spec.selector });
  assert.ok(find(ha, 'PodDisruptionBudget', 'regway-controller'));
  const rem = kustomize(join(KUSTOMIZE, 'overlays/remediation')).objs;
  assert.ok((find(rem, 'Deployment', 'regway-controller') as Any).spec.template.spec.containers[0].args.includes('--pull-secret=regcred'));
  assert.deepEqual((find(rem, 'ClusterRole', 'regway-controller-remediation') as Any).rules, [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'patch'] }]);
});

test('overlay p2p: the central gateway schedules, a node-mode DaemonSet advertises its node address, both configs are valid', () => {
  const { objs } = kustomize(join(KUSTOMIZE, 'overlays/p2p'));
  const gwCfg = configSchema.parse(parse((find(objs, 'ConfigMap', 'regway-config') as Any).data['regway.yaml']));
  assert.deepEqual(gwCfg.p2p?.peerToken, { env: 'REGWAY_P2P_TOKEN' });
  assert.equal(gwCfg.p2p?.scheduler, undefined, 'the central gateway is the scheduler, not a node');
  const gw = (find(objs, 'Deployment', 'regway-gateway') as Any).spec.template.spec.containers[0];
  assert.equal(gw.env.find((e: Any) => e.name === 'REGWAY_P2P_TOKEN').valueFrom.secretKeyRef.name, 'regway-p2p');
  const node = (find(objs, 'DaemonSet', 'regway-node') as Any).spec.template.spec;
  const c = node.containers[0];
  assert.deepEqual(c.args, ['serve', '--config', '/etc/regway/node.yaml', '--p2p-advertise', 'http://$(NODE_IP):5000']);
  assert.equal(c.env.find((e: Any) => e.name === 'NODE_IP').valueFrom.fieldRef.fieldPath, 'status.hostIP');
  assert.equal(c.ports[0].hostPort, 5000);
  assert.equal(node.volumes.find((v: Any) => v.name === 'cache').hostPath.path, '/var/lib/regway');
  const nodeCfg = configSchema.parse(parse((find(objs, 'ConfigMap', 'regway-node-config') as Any).data['node.yaml']));
  assert.equal(nodeCfg.p2p?.scheduler, 'http://regway.regway-system.svc:5000');
  assert.equal(nodeCfg.registries['docker.io']!.upstreams[0]!.url, 'http://regway.regway-system.svc:5000', 'nodes read from the central gateway first');
});

test('Helm chart p2p: a daemonset release in node mode and a deployment release that schedules render valid configs', (t) => {
  let helm: string;
  try { helm = helmBin(); } catch (e) { t.skip(`no helm: ${(e as Error).message}`); return; }
  const render = (...set: string[]) => parseAllDocuments(execFileSync(helm, ['template', 'r', CHART, ...set.flatMap((x) => ['--set', x])], { encoding: 'utf8' })).map((d) => d.toJS() as K8sObj).filter(Boolean);
  const token = 'gateway.p2p.token=0123456789abcdef0123';
  const node = render('gateway.mode=daemonset', 'gateway.p2p.enabled=true', 'gateway.p2p.scheduler=http://regway.regway-system.svc:5000', token);
  const cfg = configSchema.parse(parse((find(node, 'ConfigMap', 'r-regway-config') as Any).data['regway.yaml']));
  assert.equal(cfg.p2p?.scheduler, 'http://regway.regway-system.svc:5000');
  const c = (find(node, 'DaemonSet', 'r-regway-gateway') as Any).spec.template.spec.containers[0];
  assert.deepEqual(c.args.slice(-2), ['--p2p-advertise', 'http://$(NODE_IP):5000']);
  assert.equal(c.env.find((e: Any) => e.name === 'REGWAY_P2P_TOKEN').valueFrom.secretKeyRef.name, 'r-regway-p2p');
  const central = render('gateway.p2p.enabled=true', token);
  const ccfg = configSchema.parse(parse((find(central, 'ConfigMap', 'r-regway-config') as Any).data['regway.yaml']));
  assert.deepEqual(ccfg.p2p?.peerToken, { env: 'REGWAY_P2P_TOKEN' });
  assert.equal(ccfg.p2p?.scheduler, undefined);
  const off = render();
  assert.equal(configSchema.parse(parse((find(off, 'ConfigMap', 'r-regway-config') as Any).data['regway.yaml'])).p2p, undefined);
});

/** `.Values.a.b.c` references of every template, checked against values.yaml. */
function valuePaths(text: string): string[] {
  return [...text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1]!.slice(1));
}

test('Helm chart: Chart.yaml and values.yaml parse, templates use only existing values and balanced blocks', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.name, 'regway');
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
  const templates = readdirSync(join(CHART, 'templates'));
  assert.ok(templates.length >= 10);
  const used = new Set<string>();
  for (const t of templates) {
    const text = readFileSync(join(CHART, 'templates', t), 'utf8');
    for (const p of valuePaths(text)) {
      used.add(p);
      const v = p.split('.').reduce<Any>((o, k) => (o && typeof o === 'object' && k in o ? o[k] : undefined), values);
      assert.notEqual(v, undefined, `${t}: .Values.${p} is not in values.yaml`);
    }
    const opens = [...text.matchAll(/\{\{-?\s*(?:if|range|with|define)\b/g)].length;
    const ends = [...text.matchAll(/\{\{-?\s*end\s*-?\}\}/g)].length;
    assert.equal(opens, ends, `${t}: ${opens} blocks opened, ${ends} ended`);
  }
  // Every option of the kustomize overlays has a value: daemonset mode, ha replicas/access mode, remediation.
  for (const p of ['gateway.mode', 'gateway.hostPort', 'gateway.replicas', 'gateway.persistence.accessModes', 'gateway.pdb.enabled', 'controller.replicas', 'controller.pullSecret', 'networkPolicy.enabled', 'gateway.credentials.existingSecret']) assert.ok(used.has(p), `${p} unused by the templates`);
});

test('systemd unit passes systemd-analyze verify', (t) => {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) { t.skip('systemd-analyze not installed'); return; }
  const r = spawnSync('systemd-analyze', ['verify', join(ROOT, 'deploy/systemd/regway.service')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', r.stderr);
});
