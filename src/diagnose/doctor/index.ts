// Public surface of the doctor, used by the CLI and the Kubernetes controller: one entry point so neither depends on
// how the checks are laid out behind it.
export type { Severity, Finding, DoctorOptions, DoctorReport } from './types.js';
export { exitCodeFor } from './types.js';
export { FINDINGS_TABLE as FINDINGS } from './findings.js';
export type { FindingSpec } from './findings.js';
export { runDoctor } from './runner.js';
