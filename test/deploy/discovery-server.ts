// kubectl's client-side dry run still needs an API server for discovery (which kinds exist, which
// are namespaced: the REST mapping) and answers "not found" for the live object it would patch. There
// is no Kubernetes API server on this machine, so this in-test server serves exactly that: /api,
// /apis and the resource lists of the groups our manifests use (legacy discovery format), and 404
// Status for every object GET. It has no OpenAPI document, so kubectl runs with --validate=false;
// typed decoding still rejects wrong types, and the test adds its own unknown-field check.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Res { name: string; kind: string; namespaced: boolean }

const GROUPS: Record<string, Res[]> = {
  v1: [
    { name: 'namespaces', kind: 'Namespace', namespaced: false },
    { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { name: 'secrets', kind: 'Secret', namespaced: true },
    { name: 'services', kind: 'Service', namespaced: true },
    { name: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
    { name: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
    { name: 'pods', kind: 'Pod', namespaced: true },
    { name: 'events', kind: 'Event', namespaced: true },
    { name: 'nodes', kind: 'Node', namespaced: false },
  ],
  'apps/v1': [
    { name: 'deployments', kind: 'Deployment', namespaced: true },
    { name: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  ],
  'policy/v1': [{ name: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true }],
  'networking.k8s.io/v1': [{ name: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true }],
  'rbac.authorization.k8s.io/v1': [
    { name: 'clusterroles', kind: 'ClusterRole', namespaced: false },
    { name: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
    { name: 'roles', kind: 'Role', namespaced: true },
    { name: 'rolebindings', kind: 'RoleBinding', namespaced: true },
  ],
  'coordination.k8s.io/v1': [{ name: 'leases', kind: 'Lease', namespaced: true }],
};

function resourceList(gv: string): unknown {
  return {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv,
    resources: GROUPS[gv]!.map((r) => ({ name: r.name, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] })),
  };
}

export interface DiscoveryServer { url: string; server: Server; kubeconfig: string; stop(): Promise<void> }

export async function startDiscoveryServer(dir: string): Promise<DiscoveryServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (code: number, body: unknown): void => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    if (path === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
    if (path === '/apis') {
      const groups = Object.keys(GROUPS).filter((g) => g.includes('/')).map((gv) => {
        const [name, version] = gv.split('/') as [string, string];
        return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
      });
      return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
    }
    if (path === '/api/v1') return send(200, resourceList('v1'));
    const g = /^\/apis\/([^/]+\/[^/]+)$/.exec(path);
    if (g && GROUPS[g[1]!]) return send(200, resourceList(g[1]!));
    // Every object is absent: apply's dry run then reports "created (dry run)".
    return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = join(dir, 'kubeconfig-discovery');
  writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\ncurrent-context: d\nclusters:\n- name: d\n  cluster:\n    server: ${url}\nusers:\n- name: d\n  user: {}\ncontexts:\n- name: d\n  context: {cluster: d, user: d}\n`);
  return { url, server, kubeconfig, stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
