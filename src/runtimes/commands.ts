// The verbs behind `regway config ...`, wired from the pieces (spec, credentials, snapshot, renderers, plan, apply,
// verify, import, reload). The CLI calls only these and prints what they return.
import { readFileSync } from 'node:fs';
import { applyChanges, rollback, type RollbackResult } from './apply.js';
import { resolveCredentials, type CredentialSources } from './credentials.js';
import { importSnapshot, importYaml } from './import.js';
import { buildPlan, type Plan } from './plan.js';
import { performReload, reloadSteps, type ReloadStep } from './reload.js';
import { parseSpec, SpecError, validateSpec, type Spec } from './spec.js';
import { readSnapshot, renderAll } from './targets.js';
import { verifySnapshot, type Finding } from './verify.js';

interface CommonOptions {
  root: string;
  /** Path of the declarative file (on this machine, not under root). */
  file: string;
  sources: CredentialSources;
  backupDir?: string;
}

function loadSpecFile(file: string): Spec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SpecError(`cannot read ${file} (${code ?? (e as Error).message}); create one with \`regway config init\` or \`regway config import\`, or pass --file`);
  }
  return parseSpec(text, file);
}

export async function planCommand(o: CommonOptions): Promise<{ spec: Spec; plan: Plan }> {
  const spec = loadSpecFile(o.file);
  const credentials = await resolveCredentials(spec, o.sources);
  const snap = readSnapshot(o.root, spec);
  return { spec, plan: buildPlan(renderAll(spec, credentials, snap), snap) };
}

interface ApplyOutcome {
  plan: Plan;
  backupSet: string | undefined;
  written: string[];
  steps: ReloadStep[];
  reloaded: string[];
}

export async function applyCommand(o: CommonOptions & { reload: boolean; kubeconfig?: string }): Promise<ApplyOutcome> {
  const { spec, plan } = await planCommand(o);
  const { backupSet, written } = applyChanges(plan.changes, { root: o.root, backupDir: o.backupDir });
  const steps = reloadSteps(plan.changes, spec);
  const reloaded = o.reload ? performReload(steps, spec, { root: o.root, kubeconfig: o.kubeconfig }) : [];
  return { plan, backupSet, written, steps, reloaded };
}

export function rollbackCommand(o: { root: string; backupDir?: string }): RollbackResult {
  return rollback({ root: o.root, backupDir: o.backupDir });
}

/** Verify needs the spec only for paths and targets; without a file it checks every default location. */
export function verifyCommand(o: { root: string; file?: string }): Finding[] {
  const spec = o.file ? loadSpecFile(o.file) : validateSpec({ targets: ['docker-daemon', 'docker-config', 'containerd', 'registries-conf', 'containers-auth'] });
  return verifySnapshot(spec, readSnapshot(o.root, spec));
}

export function importCommand(o: { root: string }): string {
  const spec = validateSpec({});
  return importYaml(importSnapshot(spec, readSnapshot(o.root, spec)));
}
