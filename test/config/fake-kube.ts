// There is no Kubernetes API server on this machine. This in-test server implements just what
// `kubectl apply` needs for the objects `regway config` renders (a Secret, a ServiceAccount): version,
// discovery, a minimal OpenAPI v3 document (kubectl validates against it), GET, POST (create) and
// PATCH (strategic merge of imagePullSecrets by name, as the real API server does).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string } };

const GVK = (kind: string) => ({ 'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind }] });
const loose = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
// kubectl validates on the server (?fieldValidation=Strict) when the OpenAPI v3 document shows the
// parameter on the object's paths; otherwise it asks for OpenAPI v2 in protobuf.
const fv = { parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string' } }] };
const op = (kind: string) => ({ ...fv, 'x-kubernetes-group-version-kind': { group: '', version: 'v1', kind }, responses: { 200: { description: 'OK' } } });
const paths = Object.fromEntries(([['secrets', 'Secret'], ['serviceaccounts', 'ServiceAccount']] as const).flatMap(([r, k]) => [
  [`/api/v1/namespaces/{namespace}/${r}`, { post: op(k) }],
  [`/api/v1/namespaces/{namespace}/${r}/{name}`, { get: op(k), patch: op(k), put: op(k) }],
]));
const OPENAPI = {
  openapi: '3.0.0', info: { title: 'fake', version: 'v1' }, paths,
  components: {
    schemas: {
      'io.k8s.api.core.v1.Secret': { type: 'object', ...GVK('Secret'), properties: {
        apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: loose, type: { type: 'string' },
        data: { type: 'object', additionalProperties: { type: 'string', format: 'byte' } }, stringData: { type: 'object', additionalProperties: { type: 'string' } } } },
      'io.k8s.api.core.v1.ServiceAccount': { type: 'object', ...GVK('ServiceAccount'), properties: {
        apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: loose,
        imagePullSecrets: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } }, 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' },
        secrets: { type: 'array', items: loose }, automountServiceAccountToken: { type: 'boolean' } } },
    },
  },
};

export interface FakeKube { url: string; kubeconfig: string; objects: Map<string, Obj>; requests: string[]; stop(): Promise<void> }

export async function startFakeKube(dir: string): Promise<FakeKube> {
  const objects = new Map<string, Obj>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${u.pathname}`);
      const send = (code: number, b: unknown) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(b)); };
      const notFound = () => send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${u.pathname} not found` });
      const p = u.pathname;
      if (p === '/version') return send(200, { major: '1', minor: '32', gitVersion: 'v1.32.0' });
      if (p === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
      if (p === '/apis') return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
      if (p === '/api/v1') return send(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1', resources: [
        { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['create', 'get', 'list', 'patch', 'update'] },
        { name: 'serviceaccounts', singularName: 'serviceaccount', namespaced: true, kind: 'ServiceAccount', verbs: ['create', 'get', 'list', 'patch', 'update'] }] });
      if (p === '/openapi/v3') return send(200, { paths: { 'api/v1': { serverRelativeURL: '/openapi/v3/api/v1?hash=1' } } });
      if (p === '/openapi/v3/api/v1') return send(200, OPENAPI);
      if (p === '/openapi/v2') return send(200, { swagger: '2.0', info: OPENAPI.info, paths: {}, definitions: OPENAPI.components.schemas });
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|serviceaccounts)(?:\/([^/]+))?$/.exec(p);
      if (!m) return notFound();
      const [, ns, res_, name] = m;
      const key = `${res_}/${ns}/${name ?? ''}`;
      if (req.method === 'GET') { const o = objects.get(key); return o ? send(200, o) : notFound(); }
      if (req.method === 'POST') {
        const o = JSON.parse(body) as Obj;
        o.metadata = { ...o.metadata, namespace: ns, resourceVersion: '1', uid: `uid-${objects.size + 1}` } as Obj['metadata'];
        objects.set(`${res_}/${ns}/${o.metadata.name}`, o);
        return send(201, o);
      }
      if (req.method === 'PATCH') {
        const o = objects.get(key);
        if (!o) return notFound();
        const patch = JSON.parse(body) as Record<string, unknown>;
        for (const [k, v] of Object.entries(patch)) {
          if (k === 'imagePullSecrets' && Array.isArray(v)) {
            const cur = (o.imagePullSecrets as { name: string }[] | undefined) ?? [];
            for (const s of v as { name: string }[]) if (!cur.some((c) => c.name === s.name)) cur.push(s);
            o.imagePullSecrets = cur;
          } else if (k === 'metadata' && typeof v === 'object') o.metadata = { ...o.metadata, ...(v as object) } as Obj['metadata'];
          else o[k] = v;
        }
        return send(200, o);
      }
      return send(405, { kind: 'Status', code: 405 });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\ncurrent-context: f\nclusters:\n- name: f\n  cluster:\n    server: ${url}\nusers:\n- name: f\n  user: {}\ncontexts:\n- name: f\n  context: {cluster: f, user: f, namespace: default}\n`);
  return { url, kubeconfig, objects, requests, stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
