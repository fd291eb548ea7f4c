// Resolving credential references at the edge. The renderers only ever see resolved values; where the values come
// from (environment, a file, the terminal) is decided here, with the sources injected so tests need no real terminal.
import type { RegistrySpec, SecretRef, Spec, TargetName } from './spec.js';
import { SpecError } from './spec.js';

export interface Credential {
  username: string;
  password: string;
}
/** Resolved credentials by registry host. */
export type CredentialMap = ReadonlyMap<string, Credential>;

export interface CredentialSources {
  env: Readonly<Record<string, string | undefined>>;
  readFile(path: string): string;
  /** Asks the operator; `secret` means do not echo. Absent when there is no terminal. */
  prompt?: (question: string, secret: boolean) => Promise<string>;
}

/** Targets that write credentials; when none is managed, nothing is resolved (and nobody is prompted). */
const CREDENTIAL_TARGETS: TargetName[] = ['docker-config', 'containers-auth', 'kubernetes'];

function needsCredentials(spec: Spec): boolean {
  return spec.targets.some((t) => CREDENTIAL_TARGETS.includes(t)) && spec.registries.some((r) => r.credentials);
}

async function resolveRef(value: string | SecretRef, field: string, what: string, src: CredentialSources): Promise<string> {
  if (typeof value === 'string') return value;
  if ('env' in value) {
    const v = src.env[value.env];
    if (v === undefined || v === '') throw new SpecError(`${field}: environment variable ${value.env} is not set or empty; export it before running regway, or use {file: PATH}`);
    return v;
  }
  if ('file' in value) {
    let text: string;
    try {
      text = src.readFile(value.file);
    } catch (e) {
      throw new SpecError(`${field}: cannot read ${value.file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); create it with mode 0600 or use {env: VAR}`);
    }
    // One trailing newline is what `echo secret > file` leaves; it is never part of the secret.
    const v = text.replace(/\r?\n$/, '');
    if (!v) throw new SpecError(`${field}: ${value.file} is empty`);
    return v;
  }
  if (!src.prompt) throw new SpecError(`${field}: set to {prompt: true} but there is no terminal to ask on; use {env: VAR} or {file: PATH} for unattended runs`);
  const v = await src.prompt(what, field.endsWith('password'));
  if (!v) throw new SpecError(`${field}: nothing was entered`);
  return v;
}

/** Resolves every registry's credentials (in file order, so prompts come in a predictable order). */
export async function resolveCredentials(spec: Spec, src: CredentialSources): Promise<CredentialMap> {
  const out = new Map<string, Credential>();
  if (!needsCredentials(spec)) return out;
  for (const [i, r] of spec.registries.entries()) {
    if (!r.credentials) continue;
    out.set(r.host, await resolveOne(r, i, src));
  }
  return out;
}

async function resolveOne(r: RegistrySpec, i: number, src: CredentialSources): Promise<Credential> {
  const c = r.credentials!;
  const username = await resolveRef(c.username, `registries.${i}.credentials.username`, `Username for ${r.host}: `, src);
  const password = await resolveRef(c.password, `registries.${i}.credentials.password`, `Password for ${username}@${r.host}: `, src);
  // docker's config.json loader rejects an auth without ':' after the user; a ':' inside the user name would split wrongly.
  if (username.includes(':')) throw new SpecError(`registries.${i}.credentials.username: must not contain ':' (docker and podman split user:password at the first ':')`);
  return { username, password };
}

/** base64(user:password), the `auth` field every client format shares. */
export function basicAuth(c: Credential): string {
  return Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}
