import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imagesFromKubernetes, looksLikeKubernetes, parseImageLines } from './image-list.js';

test('reference lists skip blanks and comments', () => {
  assert.deepEqual(parseImageLines('# base\nalpine:3.20\n\n ghcr.io/org/app:1 # app\n'), ['alpine:3.20', 'ghcr.io/org/app:1']);
});

test('kubernetes: deployments, cronjobs, pods, lists; init and ephemeral containers; duplicates once', () => {
  const y = `apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers: [{name: init, image: busybox:1.36}]
      containers: [{name: app, image: ghcr.io/org/app:1.2}, {name: side, image: envoyproxy/envoy:v1.30}]
---
apiVersion: batch/v1
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: job, image: ghcr.io/org/app:1.2}]
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    spec:
      containers: [{name: p, image: registry.local:5000/tools/debug@sha256:${'a'.repeat(64)}}]
      ephemeralContainers: [{name: dbg, image: nicolaka/netshoot}]
`;
  assert.ok(looksLikeKubernetes(y));
  assert.deepEqual(imagesFromKubernetes(y), ['busybox:1.36', 'ghcr.io/org/app:1.2', 'envoyproxy/envoy:v1.30', `registry.local:5000/tools/debug@sha256:${'a'.repeat(64)}`, 'nicolaka/netshoot']);
  assert.ok(!looksLikeKubernetes('alpine:3\n'));
});
