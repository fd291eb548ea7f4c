import type { Command } from 'commander';
import { hostname } from 'node:os';
import { parseDuration } from '../config/units.js';
import { createLogger } from '../obs/logger.js';
import { runDoctor } from '../diagnose/doctor/index.js';
import { Controller } from '../controller/controller.js';
import { kubeApiFromConfig, loadKubeConfig } from '../controller/kube-client.js';
import { ControllerMetrics, serveMetrics } from '../controller/metrics.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface Opts {
  kubeconfig?: string;
  context?: string;
  namespace: string[];
  interval: string;
  gateway?: string;
  gatewayRegistry: string[];
  pullSecret?: string;
  insecureRegistry: string[];
  caFile?: string;
  doctorTimeout: string;
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  identity?: string;
  metricsListen: string;
  logLevel: string;
}

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('Kubernetes controller: explains image-pull failures (ErrImagePull, ImagePullBackOff, InvalidImageName) as Events on the Pod')
    .option('--kubeconfig <file>', 'kubeconfig file (default: in-cluster service account, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('-n, --namespace <ns>', 'namespace to watch; repeatable (default: all namespaces)', collect, [])
    .option('--interval <duration>', 'run the doctor at most once per registry per interval; repeat reports as often', '5m')
    .option('--gateway <url>', 'a regway gateway to diagnose through as well, e.g. http://regway.regway-system:5000')
    .option('--gateway-registry <host>', 'registry the gateway serves; repeatable (default: all)', collect, [])
    .option('--pull-secret <name>', 'remediation: attach this existing Secret to the ServiceAccount of Pods failing on auth (only new Pods pick it up)')
    .option('--insecure-registry <host:port>', 'registry the nodes reach over plain HTTP or unverified TLS; repeatable', collect, [])
    .option('--ca-file <file>', 'extra CA bundle the doctor trusts (mount the same CAs the nodes trust)')
    .option('--doctor-timeout <duration>', 'per-step doctor timeout', '10s')
    .option('--no-leader-elect', 'run without leader election (a single replica only)')
    .option('--lease-namespace <ns>', 'namespace of the leader Lease (default: $POD_NAMESPACE, else default)')
    .option('--lease-name <name>', 'name of the leader Lease', 'regway-controller')
    .option('--lease-duration <duration>', 'how long a standby waits after the last renewal before taking the Lease over', '15s')
    .option('--renew-deadline <duration>', 'the leader stops acting if it could not renew for this long (< --lease-duration)', '10s')
    .option('--retry-period <duration>', 'how often the leader renews and standbys try (< --renew-deadline)', '2s')
    .option('--identity <id>', "this replica's identity in the Lease (default: $POD_NAME, else hostname_pid)")
    .option('--metrics-listen <host:port>', '/metrics, /healthz and /readyz', '0.0.0.0:9464')
    .option('--log-level <level>', 'log level', 'info')
    .addHelpText(
      'after',
      `
Examples:
  regway controller                                          # in a Pod: in-cluster config, all namespaces
  regway controller --kubeconfig ~/.kube/config -n team-a -n team-b --interval 2m
  regway controller --gateway http://regway.regway-system:5000 --gateway-registry docker.io
  regway controller --pull-secret regcred                    # attach regcred to ServiceAccounts of Pods failing on auth
  regway controller --lease-duration 6s --renew-deadline 4s --retry-period 1s   # faster failover, more Lease writes

Each failing Pod gets a Warning Event (reason PullUnauthorized, PullManifestUnknown, PullPlatformMismatch,
PullTLSError, PullTimeout, PullRateLimited, PullConnectionRefused, PullDNSError, PullNameInvalid) naming the
cause, the doctor's finding and the fix:  kubectl describe pod NAME  or  kubectl get events --field-selector reason=PullUnauthorized
RBAC it needs: deploy/kustomize/base/controller-rbac.yaml. SIGTERM stops watching, finishes doctor runs and releases the Lease.`,
    )
    .action(async (o: Opts) => {
      const lease = { leaseDurationMs: parseDuration(o.leaseDuration), renewDeadlineMs: parseDuration(o.renewDeadline), retryPeriodMs: parseDuration(o.retryPeriod) };
      if (!(lease.retryPeriodMs < lease.renewDeadlineMs && lease.renewDeadlineMs < lease.leaseDurationMs)) {
        throw new Error(
          `--retry-period ${o.retryPeriod} < --renew-deadline ${o.renewDeadline} < --lease-duration ${o.leaseDuration} must hold: a leader must stop acting before a standby may take over`,
        );
      }
      const log = createLogger(o.logLevel);
      const kc = loadKubeConfig({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), ...(o.context ? { context: o.context } : {}) });
      const metrics = new ControllerMetrics({ defaultMetrics: true });
      const identity = o.identity ?? process.env.POD_NAME ?? `${hostname()}_${process.pid}`;
      const doctorTimeout = parseDuration(o.doctorTimeout);
      const ctl = new Controller({
        api: kubeApiFromConfig(kc),
        log,
        metrics,
        identity,
        // A small blob sample: the controller asks "can this be pulled", not "how fast".
        diagnose: (image, opts) => runDoctor(image, { sampleBytes: 64 * 1024, ...opts }),
        doctor: { timeoutMs: doctorTimeout, ...(o.caFile ? { caFile: o.caFile } : {}) },
        intervalMs: parseDuration(o.interval),
        namespaces: o.namespace,
        insecureRegistries: o.insecureRegistry,
        ...(o.gateway ? { gatewayUrl: o.gateway, gatewayRegistries: o.gatewayRegistry } : {}),
        ...(o.pullSecret ? { pullSecret: o.pullSecret } : {}),
        leaderElection: o.leaderElect
          ? {
              namespace: o.leaseNamespace ?? process.env.POD_NAMESPACE ?? 'default',
              name: o.leaseName,
              ...lease,
            }
          : false,
      });
      const server = await serveMetrics(metrics, o.metricsListen, () => ctl.ready());
      ctl.start();
      log.info(
        { identity, namespaces: o.namespace.length ? o.namespace : 'all', interval: o.interval, metrics: `${o.metricsListen.replace(/:\d+$/, '')}:${server.port}`, pullSecret: o.pullSecret ?? null },
        'regway controller started',
      );
      let stopping = false;
      const stop = async (signal: string): Promise<void> => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down: finishing doctor runs, releasing the Lease');
        await ctl.stop();
        await server.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
