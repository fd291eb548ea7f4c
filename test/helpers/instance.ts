// A regway instance as its own process (`regway serve --config FILE`), so a test can SIGKILL it.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { request } from 'undici';
import { freePort } from './ports.js';
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon, killTree, type Daemon } from './proc.js';
import { waitFor } from './wait.js';

export interface Instance { url: string; port: number; /** The regway process (setpriv execs into node: same pid), e.g. to read its /proc/<pid>/status. */ pid: number; dir: string; logFile: string; configFile: string; stop(): Promise<void>; kill(): void; signal(sig: NodeJS.Signals): void }

const ROOT = resolve(import.meta.dirname, '..', '..');

/** `config` is a regway YAML config as an object; `listen` is filled in, and `storage.path` unless given (a restart on the same store). */
/** `args`: extra `regway serve` flags after `--config FILE`. */
export async function startInstance(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, port?: number, args: string[] = []): Promise<Instance> {
  const dir = makeTempDir('instance');
  const p = port ?? await freePort();
  const file = join(dir, 'regway.yaml');
  const storage = { path: join(dir, 'data'), ...(config.storage as Record<string, unknown> ?? {}) };
  writeFileSync(file, stringify({ ...config, listen: `127.0.0.1:${p}`, storage }));
  const logFile = join(dir, 'regway.log');
  const d: Daemon = spawnDaemon(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--config', file, ...args], {
    stdoutFile: logFile, cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
  });
  // Up when /healthz says 200; a process that exited ends the wait too.
  const healthy = async () => { const r = await request(`http://127.0.0.1:${p}/healthz`); await r.body.dump(); return r.statusCode === 200; };
  const started = await waitFor(async () => (d.hasExited() ? 'exited' : (await healthy()) && 'up'), 'the regway instance to answer /healthz with 200', 30_000).catch((e: Error) => e.message);
  if (started !== 'up') {
    const { readFileSync } = await import('node:fs');
    killTree(d.pid);
    throw new Error(`regway instance did not start (${started}):\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
  }
  return {
    url: `http://127.0.0.1:${p}`, port: p, pid: d.pid, dir, logFile, configFile: file,
    signal: (sig) => { process.kill(d.pid, sig); },
    stop: async () => { await stopDaemon(d, 5000); removeTempDir(dir); },
    kill: () => killTree(d.pid, 'SIGKILL'),
  };
}
