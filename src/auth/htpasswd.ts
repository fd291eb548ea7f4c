import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import bcrypt from 'bcryptjs';
import { bcryptPool } from './bcrypt-pool.js';

/** Only bcrypt: MD5-crypt and SHA1 htpasswd entries are too weak to accept (distribution agrees). */
const BCRYPT_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const USER_RE = /^[A-Za-z0-9._@-]{1,128}$/;
/** A valid hash of a random password: unknown users cost the same time as known ones. */
const DUMMY_HASH = '$2b$10$CwTycUXWue0Thq9StjUM0uJ8.GsM0Wg6o0YtYV4H8t9g6Pq0bFQ1e';

export function isValidUserName(u: string): boolean { return USER_RE.test(u); }

/** Parses htpasswd text into user -> bcrypt hash; other lines (comments, weak hashes) are reported. */
export function parseHtpasswd(text: string): { users: Map<string, string>; skipped: string[] } {
  const users = new Map<string, string>();
  const skipped: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    const user = line.slice(0, i);
    const hash = line.slice(i + 1);
    if (i <= 0 || !BCRYPT_RE.test(hash)) { skipped.push(i > 0 ? user : line.slice(0, 20)); continue; }
    users.set(user, hash);
  }
  return { users, skipped };
}

export function formatHtpasswd(users: Map<string, string>): string {
  return [...users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([u, h]) => `${u}:${h}\n`).join('');
}

export async function hashPassword(password: string, cost = 10): Promise<string> {
  return bcrypt.hash(password, cost);
}

/**
 * Users from an htpasswd file, re-read when the file changes (so `regway user add` takes effect
 * without a restart). bcrypt is deliberately slow, and clients using Basic send the password on
 * every request, so a successful check is remembered for a short while, keyed by a hash of user,
 * password and stored hash: a password change or a removed user invalidates it at once.
 */
export class Htpasswd {
  private users = new Map<string, string>();
  private mtimeMs = -1;
  private readonly ok = new Map<string, number>();

  /** `compare`: bcrypt verification, on worker threads by default (never on the event loop). */
  constructor(readonly path: string, private readonly cacheMs = 60_000, private readonly now: () => number = Date.now,
    private readonly compare: (password: string, hash: string) => Promise<boolean> = (p, h) => bcryptPool().compare(p, h)) {}

  async load(): Promise<void> {
    const st = await fsp.stat(this.path);
    this.users = parseHtpasswd(await fsp.readFile(this.path, 'utf8')).users;
    this.mtimeMs = st.mtimeMs;
  }

  /** Re-reads the file if its mtime changed; a missing or unreadable file keeps the last good list. */
  private async refresh(): Promise<void> {
    try {
      const st = await fsp.stat(this.path);
      if (st.mtimeMs !== this.mtimeMs) await this.load();
    } catch { /* keep what we have */ }
  }

  async has(user: string): Promise<boolean> { await this.refresh(); return this.users.has(user); }

  async verify(user: string, password: string): Promise<boolean> {
    await this.refresh();
    const hash = this.users.get(user);
    const k = createHash('sha256').update(`${user}\0${password}\0${hash ?? ''}`).digest('base64');
    const until = this.ok.get(k);
    if (hash && until !== undefined && until > this.now()) return true;
    const good = await this.compare(password, hash ?? DUMMY_HASH);
    if (!hash || !good) return false;
    if (this.ok.size > 10_000) this.ok.clear();
    this.ok.set(k, this.now() + this.cacheMs);
    return true;
  }
}
