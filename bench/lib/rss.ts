// Reads a process's resident memory and CPU time from /proc while the benchmark runs.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { descendants } from '../../test/helpers/proc.js';
import type { RssSummary } from './table.js';

let ticksPerSec: number | undefined;
function clockTicks(): number {
  if (ticksPerSec === undefined) {
    try { ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { ticksPerSec = 100; }
  }
  return ticksPerSec;
}

/** utime + stime of a /proc/<pid>/stat line, in clock ticks (fields 14 and 15, counted after the comm). */
export function parseStatTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** CPU seconds used so far by pid and its live descendants (nginx's workers are the master's children). */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try { ticks += parseStatTicks(readFileSync(`/proc/${p}/stat`, 'utf8')); } catch { /* gone */ }
  }
  return ticks / clockTicks();
}

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
  private phasePeak = 0;
  /** Peak VmRSS per phase of the run, in bytes: which scenario drives the peak. */
  readonly phases: Record<string, number> = {};

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
    if (rss !== undefined) { this.peak = Math.max(this.peak, rss); this.phasePeak = Math.max(this.phasePeak, rss); this.samples++; }
    if (hwm !== undefined) this.hwm = Math.max(this.hwm, hwm);
  }

  /** Closes a phase: records the peak seen since the previous phase ended. */
  phase(name: string): void {
    this.sample();
    this.phases[name] = this.phasePeak;
    this.phasePeak = 0;
  }

  /** Current summary; call before the process is stopped (VmHWM vanishes with it). */
  stop(): RssSummary {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return { peakRssBytes: this.peak, hwmBytes: this.hwm, samples: this.samples, phases: { ...this.phases } };
  }
}
