// The documented scale-out deployment is checked, not just written: kustomize renders it, every
// regway config in it passes regway's own validation, and nginx accepts the load-balancer config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { applyOverrides } from '../../src/config/load.js';

const DIR = 'deploy/scale-out';

test('kustomize renders the fleet: 3 replicas, Redis, S3 credentials from a Secret', () => {
  const out = execFileSync('kubectl', ['kustomize', join(DIR, 'kubernetes')], { encoding: 'utf8' });
  const docs = parseAllDocuments(out).map((d) => d.toJSON() as { kind: string; metadata: { name: string }; spec?: Record<string, unknown>; stringData?: Record<string, string>; data?: Record<string, string> });
  const byKind = (k: string) => docs.filter((d) => d.kind === k);
  const fleet = byKind('Deployment').find((d) => d.metadata.name === 'regway-fleet')!;
  assert.equal((fleet.spec as { replicas: number }).replicas, 3);
  const redisDeploy = byKind('Deployment').find((d) => d.metadata.name === 'regway-redis')!;
  assert.ok(redisDeploy);
  // Redis ships with a password and a NetworkPolicy letting only the instances in.
  assert.match(JSON.stringify(redisDeploy.spec), /--requirepass/);
  const policy = byKind('NetworkPolicy').find((d) => d.metadata.name === 'regway-redis') as unknown as { spec: { podSelector: { matchLabels: Record<string, string> }; ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[] } } | undefined;
  assert.ok(policy, 'a NetworkPolicy for Redis');
  assert.equal(policy.spec.podSelector.matchLabels['app.kubernetes.io/name'], 'regway-redis');
  assert.equal(policy.spec.ingress[0]!.from[0]!.podSelector.matchLabels['app.kubernetes.io/name'], 'regway');
  assert.ok(byKind('PodDisruptionBudget').length === 1);
  const secret = byKind('Secret')[0]!;
  const containers = (fleet.spec as { template: { spec: { containers: { env: { valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[] } } }).template.spec.containers;
  for (const e of containers[0]!.env) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) { assert.equal(ref.name, secret.metadata.name); assert.ok(ref.key in secret.stringData!, `secret key ${ref.key}`); }
  }
  const cm = byKind('ConfigMap')[0]!;
  const cfg = parse(cm.data!['regway.yaml']!.replace('${POD_IP}', '10.1.2.3'));
  const env = { REGWAY_S3_ACCESS_KEY: 'a', REGWAY_S3_SECRET_KEY: 'b', REGWAY_PEER_TOKEN: 'c'.repeat(32), REGWAY_REDIS_PASSWORD: 'd' };
  Object.assign(process.env, env);
  const config = applyOverrides(cfg, {});
  assert.equal(config.cluster?.advertiseUrl, 'http://10.1.2.3:5000');
  assert.deepEqual(config.cluster?.redisPassword, { env: 'REGWAY_REDIS_PASSWORD' });
  assert.ok(config.cluster?.peerNetworks?.length, 'peer networks are set');
  assert.equal(config.storage.driver, 's3');
});

test('the per-instance config passes validation', () => {
  const config = applyOverrides(parse(readFileSync(join(DIR, 'regway-instance.yaml'), 'utf8')), {});
  assert.equal(config.cluster?.instanceId, 'regway-1');
});

test('nginx accepts the load-balancer config (nginx -t)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'regway-lb-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=x', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'fullchain.pem')], { stdio: 'ignore' });
    const conf = readFileSync(join(DIR, 'nginx.conf'), 'utf8')
      .replaceAll('/etc/ssl/regway/', `${dir}/`)
      .replace('listen 443', 'listen 127.0.0.1:8443')
      .replace('events {', `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {`)
      .replace('http {', `http {\n  access_log off;\n  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};`);
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const r = execFileSync('nginx', ['-t', '-c', join(dir, 'nginx.conf'), '-p', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    void r;
  } catch (e) {
    assert.fail(`nginx -t failed: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
