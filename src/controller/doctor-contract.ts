// The doctor's public contract (issue 7, src/diagnose/index.ts), copied here so the controller could be
// written before that module existed. Only TYPES live here: the controller never calls the doctor
// directly but receives a `DiagnoseFn`, which keeps reconcile pure and lets tests inject one.
export type Severity = 'ok' | 'info' | 'warn' | 'error';

export interface Finding {
  code: string;
  severity: Severity;
  stage: string;
  title: string;
  detail: string;
  fix?: string;
  durationMs?: number;
  data?: Record<string, unknown>;
}

export interface DoctorOptions {
  insecure?: boolean;
  caFile?: string;
  username?: string;
  password?: string;
  dockerConfig?: string;
  authFile?: string;
  platform?: string;
  timeoutMs?: number;
  sampleBytes?: number;
  via?: string;
}

export interface DoctorReport {
  target: string;
  registry: string;
  findings: Finding[];
  worst: Severity;
  durationMs: number;
}

/** What the controller calls to run the doctor against one image (the real runDoctor in production). */
export type DiagnoseFn = (image: string, opts: DoctorOptions) => Promise<DoctorReport>;
