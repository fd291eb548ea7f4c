// Runs the checks in the order a pull meets them, times each, and stops early when nothing after can work (no DNS,
// nothing listening). A check that throws becomes a CHECK_CRASHED finding, never a failed doctor run.
import { checkChallenge } from './auth-challenge.js';
import { checkBlob } from './blob.js';
import { createContext, type DoctorContext, type InternalOptions } from './context.js';
import { checkCredentials } from './credentials.js';
import { checkDns } from './dns.js';
import { finding } from './findings.js';
import { closeAgents } from './http.js';
import { checkScheme } from './http-scheme.js';
import { checkManifest, closeImageClient } from './manifest.js';
import { checkPing } from './ping.js';
import { parseTarget, TargetError } from '../common/target.js';
import { checkTcp } from './tcp.js';
import { checkTls } from './tls.js';
import { checkToken } from './token.js';
import { worstOf, type DoctorOptions, type DoctorReport, type Finding } from './types.js';
import { checkUpload } from './upload.js';

interface Check {
  stage: string;
  run(ctx: DoctorContext): Promise<Finding[]>;
}

const CHECKS: readonly Check[] = [
  { stage: 'dns', run: checkDns },
  { stage: 'tcp', run: checkTcp },
  { stage: 'tls', run: checkTls },
  { stage: 'http-scheme', run: checkScheme },
  { stage: 'ping', run: checkPing },
  { stage: 'auth-challenge', run: checkChallenge },
  { stage: 'credentials', run: checkCredentials },
  { stage: 'token', run: checkToken },
  { stage: 'manifest', run: checkManifest },
  { stage: 'blob', run: checkBlob },
  { stage: 'upload', run: checkUpload },
];

/** Runs `checks` over a context; `onFinding` sees each finding as it is made (for live output). */
export async function runChecks(ctx: DoctorContext, checks: readonly Check[], onFinding?: (f: Finding) => void): Promise<Finding[]> {
  const out: Finding[] = [];
  try {
    for (const c of checks) {
      if (ctx.stop) break;
      const t0 = performance.now();
      let fs: Finding[];
      try {
        fs = await c.run(ctx);
      } catch (e) {
        fs = [finding('CHECK_CRASHED', c.stage, `${c.stage}: ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ') ?? String(e)}`)];
      }
      const ms = performance.now() - t0;
      // The stage's time goes on its first finding when the check did not time a narrower step itself.
      if (fs[0] && fs[0].durationMs === undefined) fs[0] = { ...fs[0], durationMs: Math.round(ms * 10) / 10 };
      for (const f of fs) {
        out.push(f);
        onFinding?.(f);
      }
    }
  } finally {
    await closeImageClient(ctx);
    await closeAgents(ctx);
  }
  return out;
}

/** The doctor: staged checks of one registry or image, each finding with a code, a severity and a fix. */
export async function runDoctor(target: string, opts: DoctorOptions = {}, onFinding?: (f: Finding) => void): Promise<DoctorReport> {
  const t0 = performance.now();
  let ctx: DoctorContext;
  try {
    ctx = createContext(parseTarget(target, opts.via), opts as InternalOptions);
  } catch (e) {
    if (!(e instanceof TargetError) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const f = finding('TARGET_INVALID', 'target', (e as Error).message);
    onFinding?.(f);
    return { target, registry: '', findings: [f], worst: 'error', durationMs: performance.now() - t0 };
  }
  const findings = await runChecks(ctx, CHECKS, onFinding);
  return { target, registry: ctx.target.registry, findings, worst: worstOf(findings), durationMs: Math.round(performance.now() - t0) };
}
