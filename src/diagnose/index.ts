// Public surface of the diagnostics: the doctor (used by the CLI and the Kubernetes controller), and the image
// tools (inspect, warm, bench) and trace for the CLI.
export type { Severity, Finding, DoctorOptions, DoctorReport } from './types.js';
export { worstOf, exitCodeFor } from './types.js';
export { FINDINGS_TABLE as FINDINGS } from './findings.js';
export type { FindingSpec } from './findings.js';
export { runDoctor } from './runner.js';
