// Pure data of the doctor: what a check reports and what the runner returns. No I/O here.
import type { Severity } from '../common/severity.js';

export type { Severity };

/** One result of one check: a stable `code` from FINDINGS, the stage that produced it, and what to do. */
export interface Finding {
  code: string;
  severity: Severity;
  stage: string;
  title: string;
  /** What the code means in general (the catalogue's text); `detail` is this run's specifics. */
  meaning?: string;
  detail: string;
  fix?: string;
  durationMs?: number;
  data?: Record<string, unknown>;
}

export interface DoctorOptions {
  /** Accept plain HTTP and unverified TLS (what `insecure-registries` does): for labs only. */
  insecure?: boolean;
  /** A CA bundle (PEM) to trust in addition to the system store. */
  caFile?: string;
  username?: string;
  password?: string;
  /** Docker config.json, or the directory holding it (default $DOCKER_CONFIG or ~/.docker). */
  dockerConfig?: string;
  /** containers auth.json (default $REGISTRY_AUTH_FILE, then $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json). */
  authFile?: string;
  /** os/arch[/variant] the pull is for (default linux/amd64). */
  platform?: string;
  /** Per-step timeout; the blob sample also ends there (default 15 s). */
  timeoutMs?: number;
  /** Bytes of one layer to download to measure throughput (default 4 MiB). */
  sampleBytes?: number;
  /** A regway gateway URL to check through: requests go there with `?ns=<registry>`. */
  via?: string;
}

export interface DoctorReport {
  target: string;
  registry: string;
  findings: Finding[];
  worst: Severity;
  durationMs: number;
}

const RANK: Record<Severity, number> = { ok: 0, info: 1, warn: 2, error: 3 };

export function worstOf(findings: readonly Pick<Finding, 'severity'>[]): Severity {
  let w: Severity = 'ok';
  for (const f of findings) if (RANK[f.severity] > RANK[w]) w = f.severity;
  return w;
}

/** Exit status of `regway doctor`: 0 nothing worse than info, 1 a warning, 2 an error. */
export function exitCodeFor(worst: Severity): number {
  return worst === 'error' ? 2 : worst === 'warn' ? 1 : 0;
}
