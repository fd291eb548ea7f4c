// `regway doctor`: parse flags, run the checks, print. The exit status is the worst finding (0 ok/info, 1 warn, 2 error).
import type { Command } from 'commander';
import { parseDuration, parseSize } from '../config/units.js';
import { exitCodeFor, runDoctor, type DoctorOptions } from '../diagnose/doctor/index.js';
import { formatFinding, formatSummary } from '../diagnose/doctor/format.js';

interface Opts {
  insecure?: boolean;
  caFile?: string;
  username?: string;
  passwordStdin?: boolean;
  dockerConfig?: string;
  authfile?: string;
  platform: string;
  timeout: string;
  sample: string;
  via?: string;
  json?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check every step of a pull from this node and say what is wrong and how to fix it')
    .argument('<target>', 'registry (host[:port], https://host) or image (host/name:tag)')
    .option('--insecure', 'accept plain HTTP and unverified TLS, as insecure-registries does (labs only)')
    .option('--ca-file <pem>', 'trust this CA bundle too')
    .option('-u, --username <user>', 'check with these credentials instead of the stored ones')
    .option('--password-stdin', 'read the password for --username from stdin (or set REGWAY_PASSWORD)')
    .option('--docker-config <path>', 'Docker config.json or its directory (default $DOCKER_CONFIG, ~/.docker)')
    .option('--authfile <path>', 'containers auth.json (default $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json)')
    .option('--platform <os/arch>', 'platform the pull is for', 'linux/amd64')
    .option('--timeout <duration>', 'per-step timeout; the blob sample ends there too', '15s')
    .option('--sample <size>', 'bytes of the largest layer to download for the throughput check', '4MiB')
    .option('--via <url>', 'check through a regway gateway (requests carry ?ns=<registry>)')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Stages: dns, tcp, tls, http-scheme, ping, auth-challenge, credentials, token, manifest, blob, upload.
Exit status: 0 nothing worse than info, 1 a warning, 2 an error.
Each finding says what it means and, for warnings and errors, the fix. A plain-HTTP registry is an
error, a warning on loopback, and information with --insecure (a lab on purpose: exit 0).
Requests say User-Agent regway-doctor/<version>: a regway gateway does not count them as pulls.

Examples:
  regway doctor ghcr.io/org/app:1.4                 # a full pull check, human output
  regway doctor registry.lab:5000 --ca-file ca.crt  # TLS and login only (no image given)
  regway doctor docker.io/library/alpine:3.20 --via http://regway.internal:5000 --json
  regway doctor 10.0.0.5:5000/lab/app:1 --insecure    # CI gate on a plain-HTTP lab registry
  echo "$PW" | regway doctor -u robot --password-stdin reg.example.com/team/app:2`,
    )
    .action(async (target: string, o: Opts) => {
      const opts: DoctorOptions = {
        platform: o.platform,
        timeoutMs: parseDuration(o.timeout),
        sampleBytes: parseSize(o.sample),
        ...(o.insecure ? { insecure: true } : {}),
        ...(o.caFile ? { caFile: o.caFile } : {}),
        ...(o.dockerConfig ? { dockerConfig: o.dockerConfig } : {}),
        ...(o.authfile ? { authFile: o.authfile } : {}),
        ...(o.via ? { via: o.via } : {}),
      };
      if (o.username) {
        const password = o.passwordStdin ? await readStdin() : process.env.REGWAY_PASSWORD;
        if (password === undefined) throw new Error('--username needs a password: pipe it with --password-stdin or set REGWAY_PASSWORD');
        Object.assign(opts, { username: o.username, password });
      }
      const color = !o.json && process.stdout.isTTY === true;
      if (!o.json) process.stdout.write(`regway doctor ${target}\n`);
      const report = await runDoctor(target, opts, o.json ? undefined : (f) => process.stdout.write(formatFinding(f, color) + '\n'));
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatSummary(report) + '\n');
      process.exitCode = exitCodeFor(report.worst);
    });
}
