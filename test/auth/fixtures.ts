// Users, rules and a gateway with auth for the security and interoperability tests.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHtpasswd, hashPassword } from '../../src/auth/htpasswd.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { run, makeTempDir, type RunResult } from '../helpers/proc.js';
import { startHostedGateway, type HostedGateway } from '../hosted/gateway.js';

export const USERS = {
  alice: 'alice-pass-1',
  bob: 'bob-pass-22',
  carol: 'carol-pass-333', // pull-only
} as const;
export type UserName = keyof typeof USERS;

/** Cost 4: tests verify passwords often and bcrypt's cost is not what they test. */
export async function writeHtpasswd(dir: string, users: Record<string, string> = USERS): Promise<string> {
  const m = new Map<string, string>();
  for (const [u, p] of Object.entries(users)) m.set(u, await hashPassword(p, 4));
  const path = join(dir, 'htpasswd');
  writeFileSync(path, formatHtpasswd(m), { mode: 0o600 });
  return path;
}

/** alice and bob may do everything in local/** and public/**, carol (group readers) may only pull there;
 *  everyone has a private users/{user}/**; signed-in users may list the catalog. */
export const RULES: NonNullable<ConfigInput['auth']>['access'] = [
  { repositories: ['local/**', 'public/**'], users: ['alice', 'bob'], actions: ['pull', 'push', 'delete'] },
  { repositories: ['local/**'], groups: ['readers'], actions: ['pull'] },
  { repositories: ['users/{user}/**'], users: ['*'], actions: ['*'] },
  { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
  { repositories: [], users: ['*'], actions: ['catalog'] },
];

export async function startAuthGateway(extra: Partial<ConfigInput> = {}, host?: string): Promise<HostedGateway & { htpasswd: string; dir: string }> {
  const dir = makeTempDir('regway-auth');
  const htpasswd = await writeHtpasswd(dir);
  const gw = await startHostedGateway({
    host,
    config: {
      hosted: { repositories: ['local/**', 'users/**', 'public/**'] },
      ...extra,
      auth: { groups: { readers: ['carol'] }, access: RULES, ...(extra.auth ?? {}), htpasswd },
    },
  });
  return Object.assign(gw, { htpasswd, dir });
}

export const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

/** Runs the regway CLI (tsx) with the commands these tests use registered (see cli.ts). */
export function regway(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', CLI, ...args], { input: opts.input, env: { ...process.env, ...opts.env }, timeoutMs: opts.timeoutMs ?? 60_000 });
}
