// `regway config ...`: parses flags, calls src/runtimes/commands.ts, prints. No logic lives here.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { CredentialSources } from '../runtimes/credentials.js';
import { applyCommand, importCommand, planCommand, rollbackCommand, verifyCommand } from '../runtimes/commands.js';
import { EXAMPLE_SPEC } from '../runtimes/example.js';
import { formatPlan } from '../runtimes/plan.js';

const DEFAULT_FILE = 'regway-config.yaml';

interface Opts {
  root: string;
  file: string;
  json?: boolean;
  reload?: boolean;
  kubeconfig?: string;
  output?: string;
  force?: boolean;
  backupDir?: string;
}

/** Reads a line from the terminal; with `secret`, typed characters are not echoed. */
function terminalPrompt(question: string, secret: boolean): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (secret)
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.includes(question)) process.stderr.write(question);
      };
    rl.question(question, (answer) => {
      rl.close();
      if (secret) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

function sources(): CredentialSources {
  return { env: process.env, readFile: (p) => readFileSync(p, 'utf8'), prompt: process.stdin.isTTY ? terminalPrompt : undefined };
}

/** Runs a command body; errors become one message on stderr and exit code 1. */
function run(body: (o: Opts) => Promise<number | void> | number | void) {
  return async (o: Opts): Promise<void> => {
    try {
      process.exitCode = (await body(o)) ?? 0;
    } catch (e) {
      process.stderr.write(`regway config: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

const common = (c: Command): Command =>
  c
    .option('--root <dir>', 'work on the tree under DIR instead of / (a chroot, an image, a test tree)', '/')
    .option('-f, --file <file>', 'the declarative file', DEFAULT_FILE)
    .option('--backup-dir <path>', 'node path of the backup sets', '/var/backups/regway');

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('manage registry settings of Docker, containerd, Podman/CRI-O and Kubernetes from one declarative file');
  config.addHelpText(
    'after',
    `
Examples:
  regway config init                       # write a commented regway-config.yaml
  regway config import > regway-config.yaml  # or start from what this node has
  regway config plan                       # unified diff per file; exit 0 = no change, 2 = changes
  regway config apply --reload             # write atomically with a backup set, then SIGHUP dockerd
  regway config verify                     # what each runtime will really do with its files
  regway config rollback                   # restore the files from the last apply
  regway config plan --root /mnt/node1     # any command works on another tree`,
  );

  config
    .command('init')
    .description('write a commented example declarative file')
    .option('-f, --file <file>', 'where to write it', DEFAULT_FILE)
    .option('--force', 'overwrite an existing file')
    .addHelpText('after', '\nExample:\n  regway config init -f /etc/regway/config.yaml')
    .action(
      run((o) => {
        if (o.file === '-') {
          process.stdout.write(EXAMPLE_SPEC);
          return;
        }
        if (existsSync(o.file) && !o.force) throw new Error(`${o.file} already exists; use --force to overwrite it or -f to pick another name`);
        writeFileSync(o.file, EXAMPLE_SPEC, { mode: 0o644 });
        process.stdout.write(`wrote ${o.file}; edit it, then run \`regway config plan -f ${o.file}\`\n`);
      }),
    );

  common(config.command('plan'))
    .description('show what apply would change, as a unified diff per file (credentials redacted)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExit status: 0 no change, 2 changes, 1 error (for Ansible-style --check runs).\nExample:\n  REGISTRY_PASSWORD=... regway config plan -f site.yaml --root /')
    .action(
      run(async (o) => {
        const { plan } = await planCommand({ root: o.root, file: o.file, sources: sources(), backupDir: o.backupDir });
        if (o.json) process.stdout.write(JSON.stringify({ changes: plan.changes.map(({ before: _b, after: _a, ...c }) => c), unchanged: plan.unchanged, warnings: plan.warnings }, null, 2) + '\n');
        else process.stdout.write(formatPlan(plan, o.root, o.file));
        return plan.changes.length ? 2 : 0;
      }),
    );

  common(config.command('apply'))
    .description('write every changed file atomically, after a timestamped backup of each')
    .option('--reload', 'reload what needs it: SIGHUP dockerd (docker.pidFile); put the pull Secret on the cluster and in the ServiceAccounts (kubectl)')
    .option('--kubeconfig <path>', 'kubeconfig for --reload (overrides kubernetes.kubeconfig)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nA second apply changes nothing. Undo with `regway config rollback`.\nExample:\n  regway config apply -f site.yaml --reload')
    .action(
      run(async (o) => {
        const r = await applyCommand({ root: o.root, file: o.file, sources: sources(), reload: !!o.reload, kubeconfig: o.kubeconfig, backupDir: o.backupDir });
        if (o.json) {
          process.stdout.write(JSON.stringify({ written: r.written, backupSet: r.backupSet, reload: r.steps, reloaded: r.reloaded, warnings: r.plan.warnings }, null, 2) + '\n');
          return;
        }
        for (const w of r.plan.warnings) process.stdout.write(`warning (${w.target}): ${w.message}\n`);
        if (!r.written.length) {
          process.stdout.write('No changes: every managed file already matches.\n');
          return;
        }
        for (const c of r.plan.changes) process.stdout.write(`${c.action}d ${c.path}\n`);
        process.stdout.write(`backup set: ${r.backupSet}\n`);
        for (const s of r.steps) process.stdout.write(`${s.target}: ${s.message}\n`);
        for (const l of r.reloaded) process.stdout.write(`${l}\n`);
        if (!o.reload && r.steps.some((s) => s.action !== 'none')) process.stdout.write('Run again with --reload to do the steps above, or do them by hand.\n');
      }),
    );

  config
    .command('rollback')
    .description('restore the files changed by the last apply (files it created are removed)')
    .option('--root <dir>', 'tree to work on', '/')
    .option('--backup-dir <path>', 'node path of the backup sets', '/var/backups/regway')
    .addHelpText('after', '\nRepeat it to go back one more apply. Reload afterwards as apply tells you.\nExample:\n  regway config rollback --root /')
    .action(
      run((o) => {
        const r = rollbackCommand({ root: o.root, backupDir: o.backupDir });
        for (const p of r.restored) process.stdout.write(`restored ${p}\n`);
        for (const p of r.removed) process.stdout.write(`removed ${p}\n`);
        for (const p of r.removedDirs) process.stdout.write(`removed ${p}/ (created by that apply)\n`);
        process.stdout.write(`from ${r.set}; the replaced state was saved in ${r.safetySet}\n`);
      }),
    );

  config
    .command('verify')
    .description("read every target back with the runtime's own rules and report what it will do")
    .option('--root <dir>', 'tree to work on', '/')
    .option('-f, --file <file>', 'declarative file naming paths and targets (default: every default location)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExit status: 1 when a runtime would reject or ignore a file.\nExample:\n  regway config verify --root /mnt/node1')
    .action(
      run((o) => {
        const findings = verifyCommand({ root: o.root, file: o.file });
        if (o.json) process.stdout.write(JSON.stringify(findings, null, 2) + '\n');
        else for (const f of findings) process.stdout.write(`${f.level.padEnd(5)} ${f.target}: ${f.file}: ${f.message}\n`);
        return findings.some((f) => f.level === 'error') ? 1 : 0;
      }),
    );

  config
    .command('import')
    .description("write a declarative file from this node's current files (v1 registries.conf becomes v2)")
    .option('--root <dir>', 'tree to read', '/')
    .option('-o, --output <file>', 'write here instead of stdout')
    .addHelpText('after', '\nPasswords are never copied: logins become {env: REGWAY_PASSWORD_<HOST>} references.\nExample:\n  regway config import -o regway-config.yaml && regway config plan')
    .action(
      run((o) => {
        const text = importCommand({ root: o.root });
        if (o.output) {
          writeFileSync(o.output, text);
          process.stdout.write(`wrote ${o.output}\n`);
        } else process.stdout.write(text);
      }),
    );
}
