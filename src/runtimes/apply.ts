// The one module that writes. Every target file is replaced atomically (temp file in the same directory, fsync,
// rename, fsync of the directory), so a crash at any instant leaves each file either old or new. Before the first
// write, a backup set holding every file about to change (and a list of the files that did not exist) is made
// durable under <root>/var/backups/regway/<timestamp>/; `rollback` replays it.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fsyncDirSync, removeStaleTempsSync, writeFileAtomicSync } from '../config/atomic-write.js';
import type { FileChange } from './plan.js';
import { underRoot } from './targets.js';

const DEFAULT_BACKUP_DIR = '/var/backups/regway';

interface BackupEntry {
  /** Node path. */
  path: string;
  existed: boolean;
  /** File inside the set holding the old content (when it existed). */
  copy?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

interface BackupManifest {
  version: 1;
  command: 'apply' | 'rollback';
  createdAt: string;
  /** Set once every file was written; a set without it is from an interrupted run (still restorable). */
  completedAt?: string;
  /** Set when `rollback` restored this set; the next rollback goes one set further back. */
  rolledBackAt?: string;
  entries: BackupEntry[];
  /** Node paths of directories that did not exist before (deepest first): rollback removes them when empty. */
  createdDirs?: string[];
}

interface WriteOptions {
  root: string;
  /** Node path of the directory holding backup sets. */
  backupDir?: string;
  now?: () => Date;
  /** Test hook, called after each file is in place. Throwing here simulates a crash between two files. */
  afterFile?: (index: number, path: string) => void;
}

class ApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApplyError';
  }
}

interface Owner {
  mode: number;
  uid?: number;
  gid?: number;
}

/** Writes `data` to `path` so that readers only ever see the old or the new bytes, with exactly the mode and owner given. */
function writeFile(path: string, data: string | Buffer, owner: Owner, dirMode = 0o755): void {
  writeFileAtomicSync(path, data, { mode: owner.mode, exactMode: true, uid: owner.uid, gid: owner.gid, dirMode });
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return;
  }
  fsyncDirSync(dirname(path));
}

function stamp(d: Date): string {
  return d.toISOString().replace(/:/g, '-');
}

function newSetDir(root: string, backupDir: string, now: Date): string {
  const base = underRoot(root, backupDir);
  mkdirSync(base, { recursive: true, mode: 0o700 });
  let dir = join(base, stamp(now));
  for (let n = 1; existsSync(dir); n++) dir = join(base, `${stamp(now)}-${n}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

function writeManifest(setDir: string, m: BackupManifest): void {
  writeFile(join(setDir, 'manifest.json'), JSON.stringify(m, null, 2) + '\n', { mode: 0o600 }, 0o700);
}

/** Copies the current state of `paths` into a new backup set and makes it durable. Returns the set directory. */
function backup(root: string, paths: string[], command: BackupManifest['command'], opts: WriteOptions): { dir: string; manifest: BackupManifest } {
  const now = (opts.now ?? (() => new Date()))();
  const dir = newSetDir(root, opts.backupDir ?? DEFAULT_BACKUP_DIR, now);
  const entries: BackupEntry[] = [];
  for (const path of paths) {
    const real = underRoot(root, path);
    let st;
    try {
      st = statSync(real);
    } catch {
      entries.push({ path, existed: false });
      continue;
    }
    const copy = `files${path}`;
    // Backups hold credentials (config.json, auth.json): private whatever the original mode was.
    writeFile(join(dir, copy), readFileSync(real), { mode: 0o600 }, 0o700);
    entries.push({ path, existed: true, copy, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  }
  const createdDirs = missingDirs(
    root,
    entries.filter((e) => !e.existed).map((e) => e.path),
  );
  const manifest: BackupManifest = { version: 1, command, createdAt: now.toISOString(), entries, ...(createdDirs.length ? { createdDirs } : {}) };
  writeManifest(dir, manifest);
  return { dir, manifest };
}

/** Directories above `paths` that do not exist yet (and that writing the files will create), deepest first. */
function missingDirs(root: string, paths: string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    for (let d = dirname(p); d !== '/' && d !== '.' && !existsSync(underRoot(root, d)); d = dirname(d)) out.add(d);
  }
  return [...out].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
}

/** Removes directories an apply created, when they are empty again (a file someone added there keeps its directory). */
function removeEmptyDirs(root: string, dirs: string[]): string[] {
  const removed: string[] = [];
  for (const d of dirs) {
    try {
      rmdirSync(underRoot(root, d));
      removed.push(d);
    } catch {
      /* not empty, or already gone */
    }
  }
  return removed;
}

function readCurrent(real: string): string | undefined {
  try {
    return readFileSync(real, 'utf8');
  } catch {
    return undefined;
  }
}

/** Writes a plan's changes with a backup set first. Refuses when a file changed since the plan was made. */
export function applyChanges(changes: FileChange[], opts: WriteOptions): { backupSet: string | undefined; written: string[] } {
  if (!changes.length) return { backupSet: undefined, written: [] };
  const { root } = opts;
  for (const c of changes) {
    if (readCurrent(underRoot(root, c.path)) !== c.before) {
      throw new ApplyError(`${underRoot(root, c.path)} changed while regway was planning; nothing was written. Run the command again.`);
    }
  }
  const set = backup(
    root,
    changes.map((c) => c.path),
    'apply',
    opts,
  );
  const written: string[] = [];
  changes.forEach((c, i) => {
    const real = underRoot(root, c.path);
    removeStaleTempsSync(real);
    if (c.after === null) removeFile(real);
    else {
      const old = set.manifest.entries[i]!;
      const owner: Owner = old.existed ? { mode: old.mode!, uid: old.uid, gid: old.gid } : { mode: c.mode };
      writeFile(real, c.after, owner, c.sensitive ? 0o700 : 0o755);
    }
    written.push(c.path);
    opts.afterFile?.(i, c.path);
  });
  writeManifest(set.dir, { ...set.manifest, completedAt: new Date().toISOString() });
  return { backupSet: set.dir, written };
}

function readManifest(dir: string): BackupManifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
  } catch {
    return undefined;
  }
}

/** Backup sets made by `apply`, newest first. */
export function listBackupSets(root: string, backupDir = DEFAULT_BACKUP_DIR): Array<{ dir: string; manifest: BackupManifest }> {
  const base = underRoot(root, backupDir);
  let names: string[] = [];
  try {
    names = readdirSync(base);
  } catch {
    return [];
  }
  return names
    .sort()
    .reverse()
    .map((n) => ({ dir: join(base, n), manifest: readManifest(join(base, n)) }))
    .filter((s): s is { dir: string; manifest: BackupManifest } => s.manifest?.command === 'apply');
}

export interface RollbackResult {
  set: string;
  restored: string[];
  removed: string[];
  removedDirs: string[];
  safetySet: string;
}

/**
 * Restores the newest apply set not yet rolled back. The state being replaced is itself saved first (a `rollback`
 * set), so a rollback can be undone by hand too.
 */
export function rollback(opts: WriteOptions): RollbackResult {
  const { root } = opts;
  const backupDir = opts.backupDir ?? DEFAULT_BACKUP_DIR;
  const set = listBackupSets(root, backupDir).find((s) => !s.manifest.rolledBackAt);
  if (!set) throw new ApplyError(`no backup set to roll back to under ${underRoot(root, backupDir)}; \`regway config apply\` makes one each time it changes files`);
  const safety = backup(
    root,
    set.manifest.entries.map((e) => e.path),
    'rollback',
    opts,
  );
  const restored: string[] = [];
  const removed: string[] = [];
  for (const e of [...set.manifest.entries].reverse()) {
    const real = underRoot(root, e.path);
    if (!e.existed) {
      if (existsSync(real)) {
        removeFile(real);
        removed.push(e.path);
      }
      continue;
    }
    writeFile(real, readFileSync(join(set.dir, e.copy!)), { mode: e.mode!, uid: e.uid, gid: e.gid });
    restored.push(e.path);
  }
  const removedDirs = removeEmptyDirs(root, set.manifest.createdDirs ?? []);
  writeManifest(set.dir, { ...set.manifest, rolledBackAt: new Date().toISOString() });
  return { set: set.dir, restored, removed, removedDirs, safetySet: safety.dir };
}
