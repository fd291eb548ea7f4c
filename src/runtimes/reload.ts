// What each runtime needs after its files changed, and doing it on --reload. Most runtimes re-read their files on
// every operation; only dockerd holds its registry settings in memory until SIGHUP, and the cluster needs kubectl.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { applyToCluster } from './kube-apply.js';
import type { FileChange } from './plan.js';
import type { Spec, TargetName } from './spec.js';
import { underRoot } from './targets.js';

export interface ReloadStep {
  target: TargetName;
  /** signal: SIGHUP dockerd; kubectl: apply the Secret, add it to the ServiceAccounts; none: the runtime re-reads on its own. */
  action: 'signal' | 'kubectl' | 'none';
  message: string;
}

const MESSAGES: Record<TargetName, (spec: Spec) => Omit<ReloadStep, 'target'>> = {
  'docker-daemon': (s) => ({
    action: 'signal',
    message: `dockerd keeps registry settings in memory: send SIGHUP (systemctl reload docker, or kill -HUP $(cat ${s.docker.pidFile})). SIGHUP reloads registry-mirrors, insecure-registries, max-concurrent-downloads and max-download-attempts; dockerd logs "Reloaded configuration" on success. Other daemon.json keys need a restart.`,
  }),
  'docker-config': () => ({ action: 'none', message: 'the docker CLI reads config.json on every command; nothing to reload.' }),
  containerd: (s) => ({
    action: 'none',
    message: `containerd re-reads ${s.containerd.certsDir}/<host>/hosts.toml on every pull; nothing to reload (only a config.toml change needs systemctl restart containerd, and regway does not edit config.toml).`,
  }),
  'registries-conf': () => ({ action: 'none', message: 'podman, skopeo and buildah read registries.conf on every run; CRI-O re-reads it on SIGHUP (systemctl reload crio).' }),
  'containers-auth': () => ({ action: 'none', message: 'podman, skopeo, buildah and CRI-O read auth.json on every pull; nothing to reload.' }),
  kubernetes: (s) => ({
    action: 'kubectl',
    message: `apply it to the cluster: kubectl${s.kubernetes.kubeconfig ? ` --kubeconfig ${s.kubernetes.kubeconfig}` : ''} apply --server-side -f ${s.kubernetes.output}${s.kubernetes.serviceAccounts.length ? `, then add "${s.kubernetes.secretName}" to the imagePullSecrets of ${s.kubernetes.serviceAccounts.join(', ')} (--reload does both; a ServiceAccount's list is replaced, not merged, by kubectl apply)` : ''}. Running pods keep the pull secrets they started with.`,
  }),
};

/** One step per target whose files changed. Pure. */
export function reloadSteps(changes: FileChange[], spec: Spec): ReloadStep[] {
  const targets = [...new Set(changes.map((c) => c.target))];
  return targets.map((t) => ({ target: t, ...MESSAGES[t](spec) }));
}

interface ReloadEnv {
  root: string;
  /** Overrides kubernetes.kubeconfig. */
  kubeconfig?: string;
  kill?: (pid: number, signal: NodeJS.Signals) => void;
  run?: (cmd: string, args: string[], input?: string) => { status: number | null; stdout: string; stderr: string };
}

const defaultRun: NonNullable<ReloadEnv['run']> = (cmd, args, input) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { status: r.error ? null : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
};

/** Carries out the steps that need an action. Returns one line per step; throws with a next step on failure. */
export function performReload(steps: ReloadStep[], spec: Spec, env: ReloadEnv): string[] {
  const out: string[] = [];
  for (const s of steps) {
    if (s.action === 'signal') out.push(signalDockerd(spec, env));
    else if (s.action === 'kubectl') out.push(...kubectlApply(spec, env));
  }
  return out;
}

function signalDockerd(spec: Spec, env: ReloadEnv): string {
  const pidFile = underRoot(env.root, spec.docker.pidFile);
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    throw new Error(`cannot read dockerd's pidfile ${pidFile}; if dockerd runs, reload it with \`systemctl reload docker\` (or set docker.pidFile)`);
  }
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${pidFile} does not hold a process id; reload dockerd with \`systemctl reload docker\``);
  try {
    (env.kill ?? process.kill)(pid, 'SIGHUP');
  } catch (e) {
    throw new Error(`could not signal dockerd (pid ${pid} from ${pidFile}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; is it running?`);
  }
  return `sent SIGHUP to dockerd (pid ${pid}); check its log for "Reloaded configuration"`;
}

function kubectlApply(spec: Spec, env: ReloadEnv): string[] {
  const kubeconfig = env.kubeconfig ?? spec.kubernetes.kubeconfig;
  const file = underRoot(env.root, spec.kubernetes.output);
  if (!kubeconfig) return [`kubernetes: not applied (no kubeconfig); set kubernetes.kubeconfig or pass --kubeconfig, or run kubectl apply --server-side -f ${file}`];
  const run = env.run ?? defaultRun;
  return applyToCluster(spec, file, kubeconfig, (args, input) => run('kubectl', args, input)).map((l) => `kubernetes: ${l}`);
}
