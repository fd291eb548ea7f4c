// The doctor's contract as the controller uses it. The types come from the doctor itself
// (src/diagnose/doctor), so the two cannot drift; the controller never calls it directly but receives a `DiagnoseFn`,
// which keeps reconcile pure and lets tests inject one. In production the CLI passes runDoctor.
export type { Finding, DoctorOptions, DoctorReport } from '../diagnose/doctor/index.js';
import type { DoctorOptions, DoctorReport } from '../diagnose/doctor/index.js';

/** What the controller calls to run the doctor against one image (runDoctor in production). */
export type DiagnoseFn = (image: string, opts: DoctorOptions) => Promise<DoctorReport>;
