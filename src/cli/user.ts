import type { Command } from 'commander';
import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../config/atomic-write.js';
import { formatHtpasswd, hashPassword, isValidUserName, parseHtpasswd } from '../auth/htpasswd.js';

interface Opts {
  htpasswd: string;
  passwordStdin?: boolean;
  cost?: string;
}

async function readFileOrEmpty(path: string): Promise<string> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/** Replaces the file atomically, 0600: it holds password hashes. */
async function saveHtpasswd(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text, { mode: 0o600 });
}

async function readPassword(o: Opts): Promise<string> {
  if (!o.passwordStdin && process.env.REGWAY_PASSWORD) return process.env.REGWAY_PASSWORD;
  if (!o.passwordStdin && process.stdin.isTTY) throw new Error('give the password on stdin: echo -n "$PW" | regway user add NAME --htpasswd FILE --password-stdin (or set REGWAY_PASSWORD)');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  const pw = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (pw.length < 8) throw new Error('password too short: use at least 8 characters');
  if (pw.length > 72) throw new Error('password too long: bcrypt uses only the first 72 bytes');
  return pw;
}

async function setPassword(name: string, o: Opts, mustExist: boolean): Promise<void> {
  if (!isValidUserName(name)) throw new Error(`"${name}" is not a valid user name (letters, digits, . _ @ -, up to 128)`);
  const { users } = parseHtpasswd(await readFileOrEmpty(o.htpasswd));
  if (mustExist && !users.has(name)) throw new Error(`no user ${name} in ${o.htpasswd}; add it with: regway user add ${name} --htpasswd ${o.htpasswd}`);
  if (!mustExist && users.has(name)) throw new Error(`user ${name} already exists; change the password with: regway user passwd ${name} --htpasswd ${o.htpasswd}`);
  const cost = Number(o.cost ?? 10);
  if (!Number.isInteger(cost) || cost < 4 || cost > 15) throw new Error('--cost must be an integer from 4 to 15');
  users.set(name, await hashPassword(await readPassword(o), cost));
  await saveHtpasswd(o.htpasswd, formatHtpasswd(users));
  process.stdout.write(`regway user: ${mustExist ? 'password changed for' : 'added'} ${name} in ${o.htpasswd}\n`);
}

export function registerUser(program: Command): void {
  const user = program
    .command('user')
    .description('Manage the users of an htpasswd file (bcrypt) that `regway serve --htpasswd` reads; changes apply without a restart')
    .addHelpText(
      'after',
      `
Examples:
  echo -n 's3cret-pass' | regway user add alice --htpasswd /etc/regway/htpasswd --password-stdin
  REGWAY_PASSWORD='n3w-pass!' regway user passwd alice --htpasswd /etc/regway/htpasswd
  regway user list --htpasswd /etc/regway/htpasswd
  regway user del alice --htpasswd /etc/regway/htpasswd`,
    );
  const withFile = (c: Command) => c.requiredOption('--htpasswd <file>', 'htpasswd file (created by `add` if missing, mode 0600)');
  withFile(user.command('add <name>').description('Add a user; the password comes from stdin or REGWAY_PASSWORD'))
    .option('--password-stdin', 'read the password from stdin')
    .option('--cost <n>', 'bcrypt cost (default 10)')
    .addHelpText('after', '\nExample:\n  echo -n "s3cret-pass" | regway user add alice --htpasswd ./htpasswd --password-stdin')
    .action((name: string, o: Opts) => setPassword(name, o, false));
  withFile(user.command('passwd <name>').description("Change a user's password"))
    .option('--password-stdin', 'read the password from stdin')
    .option('--cost <n>', 'bcrypt cost (default 10)')
    .addHelpText('after', '\nExample:\n  echo -n "n3w-pass!" | regway user passwd alice --htpasswd ./htpasswd --password-stdin')
    .action((name: string, o: Opts) => setPassword(name, o, true));
  withFile(user.command('del <name>').description('Remove a user (their tokens stop refreshing at once)'))
    .addHelpText('after', '\nExample:\n  regway user del alice --htpasswd ./htpasswd')
    .action(async (name: string, o: Opts) => {
      const { users } = parseHtpasswd(await readFileOrEmpty(o.htpasswd));
      if (!users.delete(name)) throw new Error(`no user ${name} in ${o.htpasswd}`);
      await saveHtpasswd(o.htpasswd, formatHtpasswd(users));
      process.stdout.write(`regway user: removed ${name} from ${o.htpasswd}\n`);
    });
  withFile(user.command('list').description('List the users (and lines skipped: not bcrypt)'))
    .addHelpText('after', '\nExample:\n  regway user list --htpasswd ./htpasswd')
    .action(async (o: Opts) => {
      const { users, skipped } = parseHtpasswd(await readFileOrEmpty(o.htpasswd));
      for (const u of [...users.keys()].sort()) process.stdout.write(`${u}\n`);
      for (const s of skipped) process.stderr.write(`regway user: skipped "${s}": not a bcrypt entry (re-add it with regway user passwd)\n`);
    });
}
