// Samples a process's resident memory from /proc/<pid>/status while the benchmark runs.
import { readFileSync } from 'node:fs';
import type { RssSummary } from './table.js';

/** Reads a "Key:   123 kB" field of /proc/<pid>/status in bytes; undefined when the process is gone. */
export function parseStatusField(status: string, field: 'VmRSS' | 'VmHWM'): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

function readStatus(pid: number): string | undefined {
  try { return readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return undefined; }
}

/**
 * Periodic VmRSS samples plus VmHWM (the kernel's exact peak) on stop. The peak reported is the
 * larger of both, so a spike between two samples is not missed.
 */
export class RssSampler {
  private peak = 0;
  private hwm = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number, private readonly everyMs = 100) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
    return this;
  }

  private sample(): void {
    const s = readStatus(this.pid);
    if (!s) return;
    const rss = parseStatusField(s, 'VmRSS');
    const hwm = parseStatusField(s, 'VmHWM');
    if (rss !== undefined) { this.peak = Math.max(this.peak, rss); this.samples++; }
    if (hwm !== undefined) this.hwm = Math.max(this.hwm, hwm);
  }

  /** Current summary; call before the process is stopped (VmHWM vanishes with it). */
  stop(): RssSummary {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return { peakRssBytes: this.peak, hwmBytes: this.hwm, samples: this.samples };
  }
}
