// A real Kubernetes control plane for the tests: etcd + kube-apiserver (RBAC on, PodSecurity and the
// other default admission plugins on, a service-account signing key so the TokenRequest API works),
// from the k8s-tools bundle next to the repository (REGWAY_K8S_TOOLS overrides where it is; its
// unpack.sh puts the binaries in a cache folder once, start-apiserver.sh DIR starts both on free
// loopback ports, stop-apiserver.sh DIR --purge stops them). No kubelet, scheduler or
// controller-manager: a test plays the kubelet by patching pods/status.
//
// One control plane per test file (`useControlPlane()` registers before/after hooks): start-up is
// about 4 s. The kube-apiserver writes an audit log (every request: user, verb, resource, status),
// which the RBAC tests read to prove what the controller did and that nothing it did was refused.
import { after, before } from 'node:test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubeApiFromConfig, loadKubeConfig, type KubeApi } from '../../src/controller/kube-client.js';
import { makeTempDir, onExit, removeTempDir, run, type RunResult } from './proc.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The k8s-tools bundle (kube-apiserver, etcd, etcdctl, helm and the start/stop scripts). */
export const K8S_TOOLS = process.env.REGWAY_K8S_TOOLS ?? join(ROOT, '..', 'shared', 'k8s-tools');

let binDir: string | undefined;

/** Unpacks the bundle once per machine (under a lock: test files start in parallel) and returns its bin folder. */
export function k8sToolsBin(): string {
  if (binDir) return binDir;
  if (!existsSync(join(K8S_TOOLS, 'unpack.sh'))) {
    throw new Error(`the k8s-tools bundle is not at ${K8S_TOOLS} (unpack.sh missing); set REGWAY_K8S_TOOLS to its folder`);
  }
  const lock = join(tmpdir(), 'regway-k8s-tools-unpack.lock');
  binDir = execFileSync('flock', [lock, join(K8S_TOOLS, 'unpack.sh')], { encoding: 'utf8' }).trim();
  return binDir;
}

/** The real helm v3 of the bundle. */
export function helmBin(): string {
  return join(k8sToolsBin(), 'helm');
}

export interface AuditEvent {
  auditID: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  stage: string;
}

export interface ControlPlane {
  dir: string;
  /** Admin kubeconfig (bearer token, group system:masters). */
  kubeconfig: string;
  url: string;
  startupSeconds: number;
  /** Our REST client with the admin kubeconfig, for setting up objects. */
  api: KubeApi;
  kubectl(args: string[], opts?: { kubeconfig?: string; input?: string }): Promise<RunResult>;
  /** kubectl that must succeed; returns stdout. */
  kubectlOk(args: string[], opts?: { kubeconfig?: string; input?: string }): Promise<string>;
  /** Compacts etcd at its current revision (physically); returns that revision. */
  compact(): Promise<number>;
  /** Mints a token for a ServiceAccount (TokenRequest API) and writes a kubeconfig with it. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  /** Requests from the audit log, one entry each: a watch appears when its response starts, others when complete. */
  audit(): AuditEvent[];
  stop(): Promise<void>;
}

// Metadata level for everything: who did what to which resource, and the answer's status code.
const AUDIT_POLICY = 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Metadata\n';

function readPorts(dir: string): Record<string, string> {
  return Object.fromEntries(readFileSync(join(dir, 'ports.env'), 'utf8').trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
}

/** Starts etcd + kube-apiserver in a private temp dir; `extraArgs` go to kube-apiserver. */
export async function startControlPlane(opts: { extraArgs?: string[] } = {}): Promise<ControlPlane> {
  const bin = k8sToolsBin();
  const dir = join(makeTempDir('k8s'), 'cp');
  mkdirSync(dir);
  writeFileSync(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
  const auditLog = join(dir, 'audit.log');
  const extra = [`--audit-policy-file=${join(dir, 'audit-policy.yaml')}`, `--audit-log-path=${auditLog}`, '--audit-log-format=json', ...(opts.extraArgs ?? [])];
  // If this process dies without after() (a crash, the runner's timeout), the exit hook kills both.
  const unhook = onExit(() => {
    for (const p of ['kube-apiserver', 'etcd']) {
      try { process.kill(Number(readFileSync(join(dir, `${p}.pid`), 'utf8')), 'SIGKILL'); } catch { /* gone */ }
    }
  });
  const env = { ...process.env, K8S_TOOLS_BIN: bin, APISERVER_EXTRA_ARGS: extra.join(' ') };
  const started = await run(join(K8S_TOOLS, 'start-apiserver.sh'), [dir], { env, timeoutMs: 240_000 });
  if (started.code !== 0) {
    const log = existsSync(join(dir, 'kube-apiserver.log')) ? readFileSync(join(dir, 'kube-apiserver.log'), 'utf8').slice(-3000) : '';
    await run(join(K8S_TOOLS, 'stop-apiserver.sh'), [dir]);
    unhook();
    throw new Error(`start-apiserver.sh failed (${started.code}):\n${started.stderr}\n${log}`);
  }
  const kubeconfig = started.stdout.trim();
  const ports = readPorts(dir);
  const kubectl = (args: string[], o: { kubeconfig?: string; input?: string } = {}): Promise<RunResult> =>
    run('kubectl', ['--kubeconfig', o.kubeconfig ?? kubeconfig, ...args], { timeoutMs: 120_000, ...(o.input !== undefined ? { input: o.input } : {}) });
  const kubectlOk = async (args: string[], o: { kubeconfig?: string; input?: string } = {}): Promise<string> => {
    const r = await kubectl(args, o);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const etcdctl = async (args: string[]): Promise<string> => {
    const r = await run(join(bin, 'etcdctl'), [`--endpoints=http://127.0.0.1:${ports.ETCD_CLIENT_PORT}`, ...args], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  let stopped = false;
  return {
    dir, kubeconfig, url: ports.API_URL!,
    startupSeconds: Number(readFileSync(join(dir, 'startup-seconds'), 'utf8')),
    api: kubeApiFromConfig(loadKubeConfig({ kubeconfig }), { userAgent: 'regway-test-setup' }),
    kubectl, kubectlOk,
    async compact() {
      const status = JSON.parse(await etcdctl(['endpoint', 'status', '-w', 'json'])) as Array<{ Status: { header: { revision: number } } }>;
      const rev = status[0]!.Status.header.revision;
      await etcdctl(['compact', String(rev), '--physical']);
      return rev;
    },
    async serviceAccountKubeconfig(namespace, name) {
      const token = (await kubectlOk(['-n', namespace, 'create', 'token', name, '--duration=1h'])).trim();
      const admin = readFileSync(kubeconfig, 'utf8');
      const ca = /certificate-authority-data: (\S+)/.exec(admin)![1]!;
      const file = join(dir, `kubeconfig-${namespace}-${name}`);
      writeFileSync(file, [
        'apiVersion: v1', 'kind: Config', `current-context: ${name}`,
        'clusters:', '- name: local', '  cluster:', `    server: ${ports.API_URL}`, `    certificate-authority-data: ${ca}`,
        'users:', `- name: ${name}`, '  user:', `    token: ${token}`,
        'contexts:', `- name: ${name}`, '  context:', '    cluster: local', `    user: ${name}`, `    namespace: ${namespace}`, '',
      ].join('\n'), { mode: 0o600 });
      return file;
    },
    audit() {
      if (!existsSync(auditLog)) return [];
      const seen = new Set<string>();
      return readFileSync(auditLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent)
        .filter((e) => (e.stage === 'ResponseComplete' || e.stage === 'ResponseStarted') && !seen.has(e.auditID) && !!seen.add(e.auditID));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await run(join(K8S_TOOLS, 'stop-apiserver.sh'), [dir, '--purge'], { timeoutMs: 60_000 });
      unhook();
      removeTempDir(dirname(dir));
    },
  };
}

/**
 * One control plane for the test file: started in before(), stopped and purged in after(). `setup`
 * runs in the same hook (Node 20 starts top-level before() hooks without waiting for earlier ones).
 */
export function useControlPlane(opts: { extraArgs?: string[]; setup?: (cp: ControlPlane) => Promise<void> } = {}): () => ControlPlane {
  let cp: ControlPlane | undefined;
  before(async () => {
    cp = await startControlPlane(opts);
    if (process.env.REGWAY_K8S_TIMING) process.stderr.write(`control plane ready in ${cp.startupSeconds} s\n`);
    await opts.setup?.(cp);
  });
  after(async () => { await cp?.stop(); });
  return () => {
    if (!cp) throw new Error('the control plane is not running (before() failed?)');
    return cp;
  };
}
