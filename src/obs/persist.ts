// Saving observability state (SLO buckets, status-page counters) so a restart keeps it. A crash in
// the middle of a save must leave the previous file whole: temp file, fsync, rename, fsync the dir.
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  // The rename itself is only durable once the directory entry is.
  const d = await open(dir, 'r');
  try { await d.sync(); } finally { await d.close(); }
}

/** The file's text, or undefined when it does not exist or cannot be read. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try { return await readFile(path, 'utf8'); } catch { return undefined; }
}
