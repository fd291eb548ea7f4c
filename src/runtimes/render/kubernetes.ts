// Kubernetes pull secret (type kubernetes.io/dockerconfigjson) as YAML for `kubectl apply -f`, byte for byte what
// `kubectl create secret docker-registry --dry-run=client -o yaml` prints, so operators can diff the two and nothing
// churns when both tools are used. The ServiceAccounts that get the secret are listed after it as comments, not as
// objects: a ServiceAccount's imagePullSecrets is an atomic list on the API server (no merge key), so applying a
// ServiceAccount with [regcred] would replace its other pull secrets. `regway config apply --reload` adds the secret to
// each list instead (kube-apply.ts); the comments keep the file's content tied to the list, so a change to it is a
// change to apply.
import { basicAuth, type Credential } from '../credentials.js';
import { dockerAuthKey } from './docker-config.js';
import type { RenderInput, RenderResult } from './types.js';

/**
 * Go's encoding/json escapes <, >, & and U+2028/2029; kubectl's output carries those escapes, so ours must too.
 */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** The `.dockerconfigjson` payload: keys sorted like a Go map, fields in kubectl's order. */
function dockerConfigJson(entries: Array<[string, Credential]>): string {
  const auths: Record<string, unknown> = {};
  for (const [server, c] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    auths[server] = { username: c.username, password: c.password, auth: basicAuth(c) };
  }
  return goJson({ auths });
}

function secretYaml(name: string, namespace: string | undefined, payload: string): string {
  const ns = namespace ? `  namespace: ${namespace}\n` : '';
  return (
    `apiVersion: v1\ndata:\n  .dockerconfigjson: ${Buffer.from(payload).toString('base64')}\nkind: Secret\nmetadata:\n` +
    `  creationTimestamp: null\n  name: ${name}\n${ns}type: kubernetes.io/dockerconfigjson\n`
  );
}

/** The ServiceAccounts that get the secret, as YAML comments (kubectl ignores them). */
function serviceAccountsComment(serviceAccounts: readonly string[], namespace: string | undefined, secret: string): string {
  if (!serviceAccounts.length) return '';
  const where = namespace ? `${namespace}/` : '';
  return (
    `# regway: ServiceAccounts that list imagePullSecret "${secret}" (\`regway config apply --reload\` adds it to each list and\n` +
    '# keeps the others; applying a ServiceAccount object instead would replace the whole list):\n' +
    serviceAccounts.map((sa) => `#   ${where}${sa}\n`).join('')
  );
}

export function renderKubernetes(input: RenderInput, current: string | undefined): RenderResult {
  const { spec, credentials } = input;
  const k = spec.kubernetes;
  const entries = spec.registries.filter((r) => credentials.has(r.host)).map((r): [string, Credential] => [dockerAuthKey(r.host), credentials.get(r.host)!]);
  if (!entries.length) {
    return {
      target: 'kubernetes',
      files: current === undefined ? [] : [{ path: k.output, text: current, mode: 0o600, sensitive: true }],
      warnings: ['kubernetes is a target but no registry has credentials; no pull secret is written'],
    };
  }
  const text = secretYaml(k.secretName, k.namespace, dockerConfigJson(entries)) + serviceAccountsComment(k.serviceAccounts, k.namespace, k.secretName);
  const warnings = k.serviceAccounts.length ? ['ServiceAccount imagePullSecrets reach only pods created after the change, and only pods that set none themselves'] : [];
  return { target: 'kubernetes', files: [{ path: k.output, text, mode: 0o600, sensitive: true }], warnings };
}
