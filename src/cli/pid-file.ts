// The gateway's pid file (`regway serve --pid-file FILE`) and what `regway reload` does with it:
// signal exactly this gateway, never "some node process" (`pidof -s node` picks any, and Node exits
// on a SIGHUP it does not handle). Written atomically; removed at shutdown only if it is still ours.
import { readFileSync, unlinkSync } from 'node:fs';
import { writeFileAtomicSync } from '../config/atomic-write.js';

class PidFileError extends Error {}

/** The pid in a pid file's text, or undefined when it holds none. Pure. */
function parsePid(text: string): number | undefined {
  const m = /^\s*(\d+)\s*$/.exec(text);
  const pid = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether that process is a `regway serve` (Linux /proc; elsewhere: cannot tell, so yes). */
function isRegwayServe(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true;
  }
  const args = cmdline.split('\0');
  return args.some((a) => /regway|cli\/main\.[jt]s$/.test(a)) && args.includes('serve');
}

function readPidFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PidFileError(`cannot read the pid file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const pid = parsePid(text);
  if (pid === undefined) throw new PidFileError(`${path} holds no process id (${JSON.stringify(text.slice(0, 40))}); remove it, then start the gateway with --pid-file ${path}`);
  return pid;
}

/** Writes our pid atomically; refuses when another live gateway already owns the file. */
export function writePidFile(path: string, pid = process.pid): void {
  const other = (() => {
    try {
      return readPidFile(path);
    } catch {
      return undefined;
    }
  })();
  if (other !== undefined && other !== pid && isRunning(other) && isRegwayServe(other)) {
    throw new PidFileError(`${path} belongs to a running gateway (pid ${other}); stop it first, or give this one another --pid-file`);
  }
  writeFileAtomicSync(path, `${pid}\n`, { mode: 0o644, dirMode: 0o777 });
}

/** Removes the pid file if it still names us (a newer gateway may have taken it over). */
export function removePidFile(path: string, pid = process.pid): void {
  try {
    if (readPidFile(path) === pid) unlinkSync(path);
  } catch {
    /* gone or unreadable: nothing of ours to remove */
  }
}

/** The gateway `regway reload` should signal, or an error that says what to do next. */
export function gatewayPid(path: string): number {
  const pid = readPidFile(path);
  if (pid === undefined) throw new PidFileError(`no pid file at ${path}: start the gateway with \`regway serve --pid-file ${path}\` (or pass the --pid-file it was started with)`);
  if (!isRunning(pid)) throw new PidFileError(`${path} names pid ${pid}, which is not running (a stale pid file: the gateway stopped without removing it); start the gateway again, or remove ${path}`);
  if (!isRegwayServe(pid))
    throw new PidFileError(`${path} names pid ${pid}, which is not a regway gateway (the pid was reused after the gateway stopped); not signalling it. Remove ${path} and start the gateway again`);
  return pid;
}
