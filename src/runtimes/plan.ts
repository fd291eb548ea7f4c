// The plan: which files change and how, computed from the render results and the snapshot they were rendered
// against. Pure; printing redacts credentials so a plan can be pasted into a ticket or a CI log.
import { createHash } from 'node:crypto';
import { unifiedDiff } from './diff.js';
import type { RenderResult } from './render/types.js';
import type { NodeSnapshot } from './targets.js';
import type { TargetName } from './spec.js';

export interface FileChange {
  target: TargetName;
  path: string;
  action: 'create' | 'update' | 'delete';
  before: string | undefined;
  /** null: delete. */
  after: string | null;
  /** Mode for a created file. */
  mode: number;
  sensitive: boolean;
}

export interface Plan {
  changes: FileChange[];
  /** Files the spec manages that are already as they should be. */
  unchanged: string[];
  warnings: Array<{ target: TargetName; message: string }>;
}

export function buildPlan(results: RenderResult[], snap: NodeSnapshot): Plan {
  const plan: Plan = { changes: [], unchanged: [], warnings: [] };
  for (const r of results) {
    for (const message of r.warnings) plan.warnings.push({ target: r.target, message });
    for (const f of r.files) {
      const before = snap.files.get(f.path);
      if (f.text === null ? before === undefined : before === f.text) {
        if (f.text !== null) plan.unchanged.push(f.path);
        continue;
      }
      const action = f.text === null ? 'delete' : before === undefined ? 'create' : 'update';
      plan.changes.push({ target: r.target, path: f.path, action, before, after: f.text, mode: f.mode, sensitive: !!f.sensitive });
    }
  }
  return plan;
}

const fingerprint = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);

/**
 * Replaces credential values by a short fingerprint: a changed password still shows up as a changed line, but the
 * plan never prints the secret.
 */
export function redact(text: string): string {
  return text
    .replace(/("(?:auth|password|identitytoken|registrytoken)"\s*:\s*)"([^"]*)"/g, (_m, k: string, v: string) => `${k}"<redacted ${fingerprint(v)}>"`)
    .replace(/^(\s*\.dockerconfigjson:\s*)(\S+)$/gm, (_m, k: string, v: string) => `${k}<redacted ${fingerprint(v)}>`);
}

/** The apply command that writes this plan: the same --root and -f, so copying it does what the plan showed. */
export function applyHint(root: string, file: string, defaultFile = 'regway-config.yaml'): string {
  const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  return ['regway config apply', ...(root !== '/' ? [`--root ${quote(root)}`] : []), ...(file !== defaultFile ? [`-f ${quote(file)}`] : [])].join(' ');
}

/** Human-readable plan: a unified diff per file, then the warnings. */
export function formatPlan(plan: Plan, root: string, file = 'regway-config.yaml'): string {
  const out: string[] = [];
  for (const c of plan.changes) {
    const show = (t: string | null | undefined): string | undefined => (t == null ? undefined : c.sensitive ? redact(t) : t);
    out.push(`# ${c.action} ${c.path} (${c.target})${root === '/' ? '' : ` under ${root}`}`);
    out.push(unifiedDiff(show(c.before), show(c.after), c.path));
  }
  if (!plan.changes.length) out.push(`No changes: ${plan.unchanged.length} managed file(s) already match the declarative file.\n`);
  else out.push(`${plan.changes.length} file(s) to change; run \`${applyHint(root, file)}\` to write them.\n`);
  for (const w of plan.warnings) out.push(`warning (${w.target}): ${w.message}`);
  return out.join('\n') + (plan.warnings.length ? '\n' : '');
}
