// Table-driven: real kubelet/containerd/dockerd message shapes (collected from public issue threads,
// names and hosts kept as reported) -> the cause the controller must name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, hasCauseDetail, imageFromMessage, policyRefusal, renderFix, CAUSES, type PullCause } from './classify.js';

// containerd's own words for a platform manifest regway's policy refused (captured by
// test/policy/vuln-pulls.test.ts from ctr), wrapped as the kubelet wraps CRI errors.
const POLICY_MESSAGE =
  'Failed to pull image "registry.example.com/scanned/half:v1": rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/scanned/half:v1": failed to copy: httpReadSeeker: failed open: unexpected status code http://127.0.0.1:44057/v2/scanned/half/manifests/sha256:%D?ns=registry.example.com: 403 Forbidden - Server message: denied: pull policy scanned refuses sha256:%D: report missing: no vulnerability report (cosign vuln attestation, neither the sha256-<hex>.att tag nor a referrer); scan it and attest the result with a trusted key'.replaceAll(
    '%D',
    '9caa903ad5aae70f81d94f81a214a9f823efb3ec70deab72fc9d6cf8dc8d28c3',
  );

const CASES: Array<[PullCause, string, string?]> = [
  // a regway pull policy's 403 DENIED (body quoted by containerd's GET, by dockerd and skopeo)
  ['policy', POLICY_MESSAGE],
  [
    'policy',
    'Back-off pulling image "registry.example.com/team/app:v1": ErrImagePull: Error response from daemon: denied: pull policy team-signed refuses sha256:9caa903ad5aae70f81d94f81a214a9f823efb3ec70deab72fc9d6cf8dc8d28c3: 3 critical (limit 0) above the limit: fix them and scan again, or add the digest to allowDigests',
  ],
  // ... but a refused HEAD has no body: containerd says only 403 Forbidden
  [
    'unauthorized',
    'Failed to pull image "registry.example.com/scanned/over:v1": rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/scanned/over:v1": failed to resolve reference "registry.example.com/scanned/over:v1": pulling from host 127.0.0.1:44057 failed with status code [manifests v1]: 403 Forbidden',
  ],
  // unauthorized / missing pull secret
  [
    'unauthorized',
    'Failed to pull image "registry.app.xxx.net/XXXXX/partsgo42:GitActionsNew-2e7e78f": rpc error: code = Unknown desc = failed to pull and unpack image "registry.app.xxx.net/spm2fog/partsgo42:GitActionsNew-2e7e78f": failed to resolve reference "registry.app.xxx.net/spm2fog/partsgo42:GitActionsNew-2e7e78f": pulling from host registry.app.xxx.net failed with status code [manifests GitActionsNew-2e7e78f]: 401 Unauthorized',
  ],
  [
    'unauthorized',
    'Failed to pull image "proxy.replicated.com/proxy/gitpod/busybox:1": rpc error: code = Unknown desc = failed to pull and unpack image "proxy.replicated.com/proxy/gitpod/busybox:1": failed to resolve reference "proxy.replicated.com/proxy/gitpod/busybox:1": failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
  ],
  [
    'unauthorized',
    'Failed to pull image "ugsampleacr.azurecr.io/mssampleaksapplication:v1": [rpc error: code = Unknown desc = Error response from daemon: Get https://ugsampleacr.azurecr.io/v2/mssampleaksapplication/manifests/v1: unauthorized: authentication required]',
  ],
  [
    'unauthorized',
    'Failed to pull image "local/dummy": rpc error: code = Unknown desc = Error response from daemon: pull access denied for local/dummy, repository does not exist or may require \'docker login\': denied: requested access to the resource is denied',
  ],
  [
    'unauthorized',
    'Failed to pull image "kubernetes/redis-slave:v2": rpc error: code = Unknown desc = failed to resolve image "docker.io/kubernetes/redis-slave:v2": server message: insufficient_scope: authorization failed',
  ],
  [
    'unauthorized',
    'Failed to pull image "docker.io/hystax/gemini_data_worker:2026030201-public": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/hystax/gemini_data_worker:2026030201-public": failed to resolve reference "docker.io/hystax/gemini_data_worker:2026030201-public": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed',
  ],
  // manifest unknown / missing tag
  [
    'manifest-unknown',
    'Failed to pull image "oamdev/vela-core:0.3.1": rpc error: code = Unknown desc = Error response from daemon: manifest for oamdev/vela-core:0.3.1 not found: manifest unknown: manifest unknown',
  ],
  [
    'manifest-unknown',
    'Failed to pull image "docker.io/library/nginx:nope": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:nope": failed to resolve reference "docker.io/library/nginx:nope": docker.io/library/nginx:nope: not found',
  ],
  [
    'manifest-unknown',
    'Back-off pulling image "127.0.0.1:5000/app:missing": ErrImagePull: failed to pull and unpack image "127.0.0.1:5000/app:missing": failed to resolve reference "127.0.0.1:5000/app:missing": 127.0.0.1:5000/app:missing: not found',
  ],
  // no manifest for the node's platform
  [
    'platform-mismatch',
    'Failed to pull image "ghcr.io/kubewarden/kubewarden-controller:latest": rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/kubewarden/kubewarden-controller:latest": no match for platform in manifest: not found',
  ],
  [
    'platform-mismatch',
    'Failed to pull image "foundationdb/fdb-kubernetes-operator:v2.6.0": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/foundationdb/fdb-kubernetes-operator:v2.6.0": no match for platform in manifest: not found',
  ],
  [
    'platform-mismatch',
    'Failed to pull image "ghcr.io/kubewarden/kubewarden-controller:latest": rpc error: code = Unknown desc = Error response from daemon: no matching manifest for linux/amd64 in the manifest list entries',
  ],
  // timeouts
  [
    'timeout',
    'Failed to pull image "registry.k8s.io/ingress-nginx/controller:v1.11.2": rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "registry.k8s.io/ingress-nginx/controller:v1.11.2": failed to resolve reference "registry.k8s.io/ingress-nginx/controller:v1.11.2": failed to do request: Head "https://us-west2-docker.pkg.dev/v2/k8s-artifacts-prod/images/ingress-nginx/controller/manifests/v1.11.2": dial tcp 74.125.203.82:443: i/o timeout',
  ],
  [
    'timeout',
    'Failed to pull image "msoap/shell2http:1.16.0": failed to pull and unpack image "docker.io/msoap/shell2http:1.16.0": failed to resolve reference "docker.io/msoap/shell2http:1.16.0": failed to do request: Head "https://registry-1.docker.io/v2/msoap/shell2http/manifests/1.16.0": dial tcp 31.13.94.49:443: connect: connection timed out',
  ],
  [
    'timeout',
    'Failed to pull image "fedora": rpc error: code = Unknown desc = Error response from daemon: Get https://registry-1.docker.io/v2/library/fedora/manifests/latest: Get https://auth.docker.io/token?scope=repository%3Alibrary%2Ffedora%3Apull&service=registry.docker.io: net/http: request canceled (Client.Timeout exceeded while awaiting headers)',
  ],
  [
    'timeout',
    'Failed to pull image "quay.io/x/y:1": rpc error: code = Unknown desc = failed to pull and unpack image "quay.io/x/y:1": failed to resolve reference "quay.io/x/y:1": failed to do request: Head "https://quay.io/v2/x/y/manifests/1": net/http: TLS handshake timeout',
  ],
  // TLS / x509
  [
    'tls',
    'Failed to pull image "bi.docker.oraclecorp.com/app:1": rpc error: code = Unknown desc = Error response from daemon: Get https://bi.docker.oraclecorp.com/v2/: x509: certificate signed by unknown authority',
  ],
  [
    'tls',
    'Failed to pull image "registry.suse.de/x:1": rpc error: code = Unknown desc = failed to pull and unpack image "registry.suse.de/x:1": failed to resolve reference "registry.suse.de/x:1": failed to do request: Head "https://registry.suse.de/v2/x/manifests/1": tls: failed to verify certificate: x509: certificate signed by unknown authority',
  ],
  [
    'tls',
    'Failed to pull image "10.0.0.5:5000/app:1": rpc error: code = Unknown desc = failed to pull and unpack image "10.0.0.5:5000/app:1": failed to resolve reference "10.0.0.5:5000/app:1": failed to do request: Head "https://10.0.0.5:5000/v2/app/manifests/1": http: server gave HTTP response to HTTPS client',
  ],
  [
    'tls',
    'Failed to pull image "r.example.com/app:1": rpc error: code = Unknown desc = failed to pull and unpack image "r.example.com/app:1": failed to resolve reference "r.example.com/app:1": failed to do request: Head "https://r.example.com/v2/app/manifests/1": x509: certificate has expired or is not yet valid: current time 2024-01-01T00:00:00Z is after 2023-12-01T00:00:00Z',
  ],
  // rate limits
  [
    'rate-limited',
    'Failed to pull image "busybox": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/busybox:latest": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/busybox/manifests/sha256:50aa4698fa6262977cff89181b2664b99d8a56dbca847bf62f2ef04854597cf8: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit',
  ],
  [
    'rate-limited',
    'Failed to pull image "obsidiandynamics/kafdrop:latest": rpc error: code = Unknown desc = Error reading manifest latest in docker.io/obsidiandynamics/kafdrop: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit',
  ],
  // invalid names: the kubelet's own InspectFailed message, and the waiting reason alone
  [
    'name-invalid',
    'Failed to apply default image tag "/cloudfoundry/75f129a0-d8c9-415a-9a8a-f514002f1459:a28a05709747": couldn\'t parse image reference "/cloudfoundry/75f129a0-d8c9-415a-9a8a-f514002f1459:a28a05709747": invalid reference format',
  ],
  ['name-invalid', 'Failed to apply default image tag "None:None": couldn\'t parse image reference "None:None": invalid reference format: repository name must be lowercase'],
  [
    'name-invalid',
    'Failed to apply default image tag "https://harbor.k8s.mybank/release/name:1.1.0": couldn\'t parse image reference "https://harbor.k8s.mybank/release/name:1.1.0": invalid reference format',
  ],
  ['name-invalid', '', 'InvalidImageName'],
  // dead port / unreachable
  [
    'connection-refused',
    'Failed to pull image "registry.k8s.io/cluster-autoscaler:v1.32.1": rpc error: code = Unknown desc = failed to pull and unpack image "registry.k8s.io/cluster-autoscaler:v1.32.1": failed to resolve reference "registry.k8s.io/cluster-autoscaler:v1.32.1": failed to do request: Head "https://registry.k8s.io/v2/cluster-autoscaler/manifests/v1.32.1": dial tcp 34.96.108.209:443: connect: connection refused',
  ],
  [
    'connection-refused',
    'Failed to pull image "nginx": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/nginx:latest": failed to copy: httpReadSeeker: failed open: failed to do request: Get "https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/45/455c/data": dial tcp 104.18.124.25:443: connect: connection refused',
  ],
  // DNS
  [
    'dns',
    'Pull image "k8s.gcr.io/echoserver:1.4" failed: rpc error: code = Unknown desc = Error response from daemon: Get https://k8s.gcr.io/v2/: dial tcp: lookup k8s.gcr.io on 192.168.49.1:53: read udp 192.168.49.2:48049->192.168.49.1:53: i/o timeout',
  ],
  [
    'dns',
    'Failed to pull image "regsitry.example.com/app:1": rpc error: code = Unknown desc = failed to pull and unpack image "regsitry.example.com/app:1": failed to resolve reference "regsitry.example.com/app:1": failed to do request: Head "https://regsitry.example.com/v2/app/manifests/1": dial tcp: lookup regsitry.example.com on 10.96.0.10:53: no such host',
  ],
  // nothing to go on
  ['unknown', 'Failed to pull image "x/y:1": rpc error: code = Unknown desc = something odd happened'],
];

test('classify: every real message shape maps to its cause', () => {
  for (const [want, message, reason] of CASES) {
    assert.equal(classify({ message, reason: reason ?? 'ErrImagePull' }), want, message.slice(0, 160));
  }
});

test('classify: every cause of the catalogue is reachable from the table', () => {
  const seen = new Set(CASES.map(([c]) => c));
  for (const c of Object.keys(CAUSES)) assert.ok(seen.has(c as PullCause), `no example for ${c}`);
});

test('imageFromMessage and hasCauseDetail', () => {
  assert.equal(imageFromMessage(CASES.find(([, m]) => m.includes('partsgo42'))![1]), 'registry.app.xxx.net/XXXXX/partsgo42:GitActionsNew-2e7e78f');
  assert.equal(imageFromMessage('Back-off pulling image "127.0.0.1:5000/a:b"'), '127.0.0.1:5000/a:b');
  assert.equal(imageFromMessage('no image here'), undefined);
  assert.equal(hasCauseDetail('Back-off pulling image "127.0.0.1:5000/a:b"'), false);
  assert.equal(hasCauseDetail('Back-off pulling image "a:b": ErrImagePull: 401 Unauthorized'), true);
  assert.equal(hasCauseDetail(undefined), false);
});

test('a policy refusal names the policy, the digest and the reason, and the fix says them', () => {
  const r = policyRefusal(POLICY_MESSAGE);
  assert.deepEqual(r && { policy: r.policy, digest: r.digest }, { policy: 'scanned', digest: 'sha256:9caa903ad5aae70f81d94f81a214a9f823efb3ec70deab72fc9d6cf8dc8d28c3' });
  assert.match(r!.why, /^report missing: no vulnerability report .*trusted key$/);
  const fix = renderFix('policy', { policy: r!.policy, why: r!.why, image: 'registry.example.com/scanned/half:v1' });
  assert.match(fix, /^pull policy scanned refuses it: report missing: /);
  assert.match(fix, /regway policy check registry\.example\.com\/scanned\/half:v1/);
  assert.equal(policyRefusal('pulling from host x failed with status code [manifests v1]: 403 Forbidden'), undefined);
});

test('renderFix fills placeholders and marks the missing ones', () => {
  const fix = renderFix('unauthorized', { namespace: 'team-a', registry: 'r.example:5000', serviceAccount: 'default' });
  assert.match(fix, /kubectl -n team-a create secret docker-registry <secret> --docker-server=r\.example:5000/);
  assert.match(fix, /ServiceAccount default/);
  assert.doesNotMatch(fix, /\{\w+\}/);
});
