// Saving observability state (SLO buckets, status-page counters) so a restart keeps it. A crash in
// the middle of a save must leave the previous file whole, hence the atomic write.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../config/atomic-write.js';

/** Saves `text` at `path`, private to the gateway's user, creating the state directory when missing. */
export async function saveState(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text, { mode: 0o600, dirMode: 0o777 });
}

/** The file's text, or undefined when it does not exist or cannot be read. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try { return await readFile(path, 'utf8'); } catch { return undefined; }
}
