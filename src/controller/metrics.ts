// Prometheus metrics of the controller, on their own registry (no process-global state), and the
// small HTTP endpoint that serves them with /healthz and /readyz for the Deployment's probes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly findings = new Counter({ name: 'regway_controller_findings_total', help: 'Pull failures reported as Events, by cause', labelNames: ['cause'] as const, registers: [this.registry] });
  readonly doctorRuns = new Counter({
    name: 'regway_controller_doctor_runs_total',
    help: 'Doctor runs, by registry and worst severity (or "failed" when the doctor itself threw)',
    labelNames: ['registry', 'result'] as const,
    registers: [this.registry],
  });
  readonly apiErrors = new Counter({
    name: 'regway_controller_api_errors_total',
    help: 'Kubernetes API errors, by verb and resource',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [this.registry],
  });
  readonly relists = new Counter({
    name: 'regway_controller_relists_total',
    help: 'Full re-lists, by resource and reason (start, expired = 410 Gone)',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({ name: 'regway_controller_events_written_total', help: 'Events written on Pods, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly remediations = new Counter({ name: 'regway_controller_remediations_total', help: 'Pull-secret attachments, by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly failing = new Gauge({ name: 'regway_controller_failing_containers', help: 'Containers currently failing to pull, by cause', labelNames: ['cause'] as const, registers: [this.registry] });
  readonly leader = new Gauge({ name: 'regway_controller_leader', help: '1 while this replica holds the leader Lease', registers: [this.registry] });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

interface MetricsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Serves /metrics, /healthz (process alive) and /readyz (watches synced, or standby). */
export async function serveMetrics(m: ControllerMetrics, listen: string, ready: () => boolean): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/metrics') {
      m.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': m.registry.contentType });
          res.end(body);
        },
        (e: unknown) => {
          res.writeHead(500);
          res.end(String(e));
        },
      );
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200);
      res.end('ok\n');
      return;
    }
    if (url === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503);
      res.end(ok ? 'ok\n' : 'not ready\n');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(listen.slice(i + 1)), host, resolve);
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
