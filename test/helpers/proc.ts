// Process plumbing shared by the helpers: run a command to completion, start a daemon, and make
// sure daemons and temp dirs never outlive the test process (even when a test throws or times out).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, openSync, closeSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The 'exit' hook below cannot run when the test process is SIGKILLed (runner timeout, a human
 * killing a hung run), and a detached daemon would then live on, holding ports and temp dirs.
 * `setpriv --pdeathsig KILL` (util-linux) makes the kernel kill the child when we die; the death
 * signal survives the exec into the real program. Skipped if setpriv is unavailable.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
export function withParentDeathSignal(cmd: string, args: string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  input?: string;
}

/** Runs a command to completion, capturing output. Never throws on a non-zero exit: callers assert. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const [c, a] = withParentDeathSignal(cmd, args);
    const child = spawn(c, a, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group so a timeout can kill anything the command forked (podman -> conmon...).
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) trackedPids.add(pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        if (pid !== undefined) killTree(pid, 'SIGKILL');
      }, opts.timeoutMs);
    }
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      if (pid !== undefined) trackedPids.delete(pid);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (pid !== undefined) trackedPids.delete(pid);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
      });
    });
    // A child that exits before reading its stdin makes this write fail with EPIPE; that is not an
    // error of ours (its exit status says what happened), and unhandled it would crash the test file.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run() but throws with the full output when the exit code is not 0. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r;
}

export interface Daemon {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process has exited (immediately if it already has). */
  exited: Promise<void>;
  hasExited(): boolean;
}

/**
 * Starts a long-running process with stdout/stderr appended to files (not pipes: a daemon that
 * logs a lot must never block on a full pipe nobody reads). It gets its own process group, and is
 * tracked so the exit hook can kill it and whatever it forked.
 */
export function spawnDaemon(
  cmd: string,
  args: string[],
  opts: { stdoutFile: string; stderrFile?: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Daemon {
  const outFd = openSync(opts.stdoutFile, 'a');
  const errFd = opts.stderrFile !== undefined ? openSync(opts.stderrFile, 'a') : outFd;
  const [c, a] = withParentDeathSignal(cmd, args);
  const child = spawn(c, a, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', outFd, errFd],
    detached: true,
  });
  // Do not keep the event loop alive: a test that forgets stop() must still let the process exit
  // (the 'exit' hook then kills the daemon) instead of hanging until someone SIGKILLs it.
  child.unref();
  closeSync(outFd);
  if (errFd !== outFd) closeSync(errFd);
  if (child.pid === undefined) throw new Error(`failed to spawn ${cmd}`);
  const pid = child.pid;
  trackedPids.add(pid);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    const finish = (): void => {
      done = true;
      trackedPids.delete(pid);
      resolve();
    };
    child.once('exit', finish);
    child.once('error', finish);
  });
  return { child, pid, exited, hasExited: () => done || child.exitCode !== null || child.signalCode !== null };
}

/** All live descendants of pid (read from /proc), deepest last. Needed because daemons such as
 * dockerd start their containerd in a new session, so a process-group kill would miss it. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // The comm field may contain spaces/parens; ppid is the 2nd field after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(e), Number(rest[1]));
    } catch {
      /* process vanished while scanning */
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, parent] of parentOf) {
      if (parent === p && !out.includes(child)) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** Signals pid, its process group and every descendant. Errors (already gone) are ignored. */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  const kids = descendants(pid);
  for (const p of [pid, ...kids]) {
    try {
      process.kill(p, signal);
    } catch {
      /* gone */
    }
  }
  try {
    process.kill(-pid, signal);
  } catch {
    /* no such group */
  }
}

/**
 * Graceful stop: SIGTERM the tree, wait up to graceMs for the main process, then SIGKILL whatever
 * is left (including descendants that ignored TERM).
 */
export async function stopDaemon(d: Daemon, graceMs = 10_000): Promise<void> {
  const kids = descendants(d.pid);
  d.child.ref(); // keep the loop alive until the exit event arrives (spawnDaemon unref'd it)
  if (!d.hasExited()) {
    killTree(d.pid, 'SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    await Promise.race([d.exited, timer]);
  }
  for (const p of [d.pid, ...kids]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await d.exited;
}

// ---- exit-time cleanup -------------------------------------------------------------------------

const trackedPids = new Set<number>();
const tempDirs = new Set<string>();
const syncCleanups = new Set<() => void>();

/** mkdtemp under the OS temp dir (short path: unix sockets live here, 108-byte limit). The dir is
 * removed by removeTempDir() or, at the latest, when the process exits. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `regway-${prefix}-`));
  tempDirs.add(dir);
  writeFileSync(join(dir, OWNER_FILE), selfIdentity());
  return dir;
}

// ---- sweeping what a SIGKILLed run left behind ----------------------------------------------------
// Daemons die with us (pdeathsig), but their temp dirs — and dockerd's bind mount of its data-root
// onto itself — stay. Each dir records its owner (pid + start time, so a recycled pid is not
// mistaken for the owner); on load we remove dirs whose owner is gone. Dirs without the marker
// (other helpers', other people's) are never touched.
const OWNER_FILE = '.regway-test-owner';

function startTimeOf(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function selfIdentity(): string {
  return `${process.pid} ${startTimeOf('self') ?? '?'}\n`;
}

function sweepStaleTempDirs(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith('regway-'));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = join(tmpdir(), e);
    let owner: string;
    try {
      owner = readFileSync(join(dir, OWNER_FILE), 'utf8').trim();
    } catch {
      continue;
    }
    const [pid, start] = owner.split(' ');
    if (pid && startTimeOf(Number(pid)) === start) continue; // owner alive
    unmountUnder(dir);
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* still busy; next run will retry */
    }
  }
}

/** Removes a temp dir, first lazily unmounting anything a daemon left mounted inside it. */
export function removeTempDir(dir: string): void {
  unmountUnder(dir);
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    /* best effort: a busy mount must not fail the test run */
  }
  tempDirs.delete(dir);
}

/** Lazily unmounts every mount point at or below dir (deepest first). Uses umount(8) synchronously
 * so it also works inside the 'exit' hook. */
export function unmountUnder(dir: string): void {
  let mounts: string[];
  try {
    mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .map((p) => p.replace(/\\040/g, ' '))
      .filter((p) => p === dir || p.startsWith(dir + '/'));
  } catch {
    return;
  }
  mounts.sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    spawnSyncSafe('umount', ['-l', m]);
  }
}

function spawnSyncSafe(cmd: string, args: string[]): void {
  try {
    spawnSync(cmd, args, { stdio: 'ignore', timeout: 5_000 });
  } catch {
    /* ignore */
  }
}

/** Registers a synchronous cleanup to run at process exit; returns an unregister function. */
export function onExit(fn: () => void): () => void {
  syncCleanups.add(fn);
  return () => syncCleanups.delete(fn);
}

let hooked = false;
function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing we can be sure completes.
  process.on('exit', () => {
    for (const fn of syncCleanups) {
      try {
        fn();
      } catch {
        /* keep going */
      }
    }
    for (const pid of trackedPids) killTree(pid, 'SIGKILL');
    for (const dir of tempDirs) removeTempDir(dir);
  });
  // Without these, Ctrl-C / the test runner's SIGTERM would skip the 'exit' event entirely.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}
installExitHook();
sweepStaleTempDirs();
