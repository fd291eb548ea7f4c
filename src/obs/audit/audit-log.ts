import type { ObservedEvent } from '../pulls.js';
import type { Operation } from '../events.js';
import { ecsLine, ECS_VERSION } from './ecs.js';
import { RotatingFile } from './rotating-file.js';
import type { LineSink } from './forwarders.js';
import type { Alert } from '../alerts/engine.js';

/** Operations worth an audit line; pings, /metrics scrapes and the status page are not. */
const AUDITED = new Set<Operation>(['manifest', 'blob', 'tags', 'catalog', 'referrers', 'upload', 'manifest_put', 'delete', 'token']);

interface AuditLogOptions {
  file?: RotatingFile;
  sinks: LineSink[];
  blobs: boolean;
}

/** The audit trail: one ECS JSON line per request that matters, and one per alert. */
export class AuditLog {
  lines = 0;
  constructor(private readonly o: AuditLogOptions) {}

  record(e: ObservedEvent): void {
    if (!AUDITED.has(e.operation)) return;
    if (e.operation === 'blob' && !this.o.blobs && !e.pullFailed) return;
    this.emit(ecsLine(e) + '\n');
  }

  alert(a: Alert): void {
    this.emit(JSON.stringify({
      '@timestamp': new Date(a.time).toISOString(),
      ecs: { version: ECS_VERSION },
      event: { kind: 'alert', category: ['intrusion_detection'], type: ['indicator'], dataset: 'regway.audit', module: 'regway', action: `anomaly-${a.rule}`, severity: a.severity === 'critical' ? 73 : 47, id: a.id },
      rule: { name: a.rule, description: a.summary },
      message: a.summary,
      ...(a.clientIp ? { client: { ip: a.clientIp }, source: { ip: a.clientIp } } : {}),
      service: { name: 'regway', type: 'registry' },
      regway: { alert: { key: a.key, value: a.value, threshold: a.threshold, window_ms: a.windowMs } },
    }) + '\n');
  }

  private emit(line: string): void {
    this.lines++;
    this.o.file?.write(line);
    for (const s of this.o.sinks) s.write(line);
  }

  /** The forwarders (stdout, HTTP), for their counters. */
  get sinks(): readonly LineSink[] { return this.o.sinks; }

  get dropped(): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.o.file) out.file = this.o.file.dropped;
    for (const s of this.o.sinks) out[s.name] = s.dropped;
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([this.o.file?.close(), ...this.o.sinks.map((s) => s.close())]);
  }
}
