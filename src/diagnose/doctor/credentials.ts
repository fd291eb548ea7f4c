// Stage 7: which stored login a client would use for this registry, and the traps around it: a credsStore that
// shadows the plaintext entry, a helper that is not installed, a malformed entry, docker and podman disagreeing.
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DoctorContext, FoundCredentials } from './context.js';
import { containersKey, decodeEntry, dockerHelper, dockerKey, helperServer, malformedKeys, parseAuthDoc } from './cred-files.js';
import { finding } from './findings.js';
import type { Finding } from './types.js';

const STAGE = 'credentials';

function dockerConfigPath(ctx: DoctorContext): string {
  const given = ctx.opts.dockerConfig;
  if (given) {
    try {
      if (statSync(given).isDirectory()) return join(given, 'config.json');
    } catch {
      /* a file path */
    }
    return given;
  }
  return join(ctx.env.DOCKER_CONFIG ?? join(ctx.home, '.docker'), 'config.json');
}

/** containers-auth.json(5) read order (the docker config.json fallback is checked separately). */
function authFilePaths(ctx: DoctorContext): string[] {
  if (ctx.opts.authFile) return [ctx.opts.authFile];
  if (ctx.env.REGISTRY_AUTH_FILE) return [ctx.env.REGISTRY_AUTH_FILE];
  const run = ctx.env.XDG_RUNTIME_DIR ? join(ctx.env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : `/run/containers/${process.getuid?.() ?? 0}/auth.json`;
  return [run, join(ctx.env.XDG_CONFIG_HOME ?? join(ctx.home, '.config'), 'containers', 'auth.json')];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

type HelperAnswer = { creds: { username: string; password: string } } | { notFound: true } | { missing: true } | { failed: string };

/** docker-credential-<name> get, with the server on stdin (the credential-helper protocol). */
function runHelper(name: string, server: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<HelperAnswer> {
  return new Promise((resolve) => {
    const child = execFile(`docker-credential-${name}`, ['get'], { env, timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          resolve({ missing: true });
          return;
        }
        if (/credentials not found/i.test(`${stdout}${stderr}`)) {
          resolve({ notFound: true });
          return;
        }
        resolve({ failed: `${err.message.split('\n')[0]} ${String(stderr).trim().slice(0, 200)}`.trim() });
        return;
      }
      try {
        const doc = JSON.parse(stdout) as { Username?: string; Secret?: string };
        resolve(doc.Secret ? { creds: { username: doc.Username ?? '', password: doc.Secret } } : { notFound: true });
      } catch {
        resolve({ failed: 'printed no JSON' });
      }
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(server);
  });
}

interface Lookup {
  creds?: FoundCredentials;
  findings: Finding[];
}

async function fromDockerConfig(ctx: DoctorContext, file: string, registry: string): Promise<Lookup> {
  const text = readText(file);
  if (text === undefined) return { findings: [] };
  const doc = parseAuthDoc(text);
  if (!doc) return { findings: [finding('CRED_FILE_INVALID', STAGE, `${file} is not a JSON object: the docker CLI ignores it ("Error loading config file")`, { data: { file } })] };
  const out: Finding[] = [];
  const bad = malformedKeys(doc);
  if (bad.length)
    out.push(
      finding(
        'CRED_MALFORMED',
        STAGE,
        `${file}: auths ${bad.map((k) => `"${k}"`).join(', ')} do not decode to user:password; the docker CLI rejects the whole file ("invalid auth configuration file")`,
        { data: { file, keys: bad } },
      ),
    );
  const key = dockerKey(doc, registry);
  const helper = dockerHelper(doc, registry);
  const entry = key !== undefined ? decodeEntry(doc.auths?.[key]) : undefined;
  if (helper) return { findings: [...out, ...(await viaHelper(ctx, file, key, entry, helper))].filter(Boolean), ...(await helperCreds(ctx, file, helper.helper, registry)) };
  if (entry && typeof entry === 'object' && !bad.length) {
    const creds: FoundCredentials = { ...entry, source: { kind: 'docker-config', file, key: key! } };
    return { creds, findings: out };
  }
  return { findings: out };
}

const helperCache = new WeakMap<DoctorContext, Map<string, Promise<HelperAnswer>>>();
function askHelper(ctx: DoctorContext, helper: string, registry: string): Promise<HelperAnswer> {
  let m = helperCache.get(ctx);
  if (!m) {
    m = new Map();
    helperCache.set(ctx, m);
  }
  let p = m.get(helper);
  if (!p) {
    p = runHelper(helper, helperServer(registry), ctx.env, ctx.opts.timeoutMs);
    m.set(helper, p);
  }
  return p;
}

async function helperCreds(ctx: DoctorContext, file: string, helper: string, registry: string): Promise<{ creds?: FoundCredentials }> {
  const a = await askHelper(ctx, helper, registry);
  return 'creds' in a ? { creds: { ...a.creds, source: { kind: 'helper', helper, file } } } : {};
}

async function viaHelper(ctx: DoctorContext, file: string, key: string | undefined, entry: ReturnType<typeof decodeEntry>, h: { helper: string; via: string }): Promise<Finding[]> {
  const registry = ctx.target.registry;
  const a = await askHelper(ctx, h.helper, registry);
  const out: Finding[] = [];
  const bin = `docker-credential-${h.helper}`;
  const data = { file, helper: h.helper, via: h.via, key };
  if ('missing' in a)
    out.push(finding('CRED_HELPER_MISSING', STAGE, `${file} "${h.via}" names ${h.helper}, but ${bin} is not on PATH: the docker CLI fails with "executable file not found in $PATH"`, { data }));
  else if ('failed' in a) out.push(finding('CRED_HELPER_FAILED', STAGE, `${bin} get for ${helperServer(registry)}: ${a.failed}`, { data }));
  else if ('creds' in a)
    out.push(finding('CRED_HELPER', STAGE, `${bin} (from "${h.via}" in ${file}) has a login for ${helperServer(registry)}: user "${a.creds.username}"`, { data: { ...data, user: a.creds.username } }));
  if (key !== undefined && entry && !('creds' in a)) {
    out.push(
      finding(
        'CRED_SHADOWED',
        STAGE,
        `${file} auths["${key}"] holds a login, but "${h.via}": "${h.helper}" makes docker ask ${bin} instead${'notFound' in a ? ', which has none: docker pulls anonymously' : ''}`,
        { data },
      ),
    );
  }
  return out;
}

function fromAuthFiles(ctx: DoctorContext, registry: string): Lookup {
  const out: Finding[] = [];
  for (const file of authFilePaths(ctx)) {
    const text = readText(file);
    if (text === undefined) continue;
    const doc = parseAuthDoc(text);
    if (!doc) {
      out.push(finding('CRED_FILE_INVALID', STAGE, `${file} is not a JSON object: podman cannot read logins from it`, { data: { file } }));
      continue;
    }
    const key = containersKey(doc, registry, ctx.target.image?.name);
    if (key === undefined) continue;
    const entry = decodeEntry(doc.auths?.[key]);
    if (entry === 'malformed') {
      out.push(finding('CRED_MALFORMED', STAGE, `${file} auths["${key}"] does not decode to user:password; podman skips it ("missing semicolon")`, { data: { file, keys: [key] } }));
      continue;
    }
    if (entry && typeof entry === 'object') return { creds: { ...entry, source: { kind: 'auth-json', file, key } }, findings: out };
  }
  return { findings: out };
}

function found(c: FoundCredentials, client: string): Finding {
  const s = c.source;
  const where = s.kind === 'helper' ? `docker-credential-${s.helper}` : `${s.file} key "${s.key}"`;
  return finding('CRED_FOUND', STAGE, `${client}: user "${c.username}" from ${where}`, { data: { client, user: c.username, file: s.file, key: s.key, helper: s.helper } });
}

export async function checkCredentials(ctx: DoctorContext): Promise<Finding[]> {
  const { username, password } = ctx.opts;
  if (username !== undefined && password !== undefined) {
    ctx.creds = { username, password, source: { kind: 'flag' } };
    return [finding('CRED_FOUND', STAGE, `user "${username}" given on the command line`, { data: { client: 'flags', user: username } })];
  }
  // Through a gateway, the gateway holds the upstream logins; the client side normally has none.
  const registry = ctx.target.via ? ctx.target.endpoint.host : ctx.target.registry;
  const docker = await fromDockerConfig(ctx, dockerConfigPath(ctx), registry);
  const podman = fromAuthFiles(ctx, registry);
  const out = [...docker.findings, ...podman.findings];
  if (docker.creds && docker.creds.source.kind !== 'helper') out.push(found(docker.creds, 'docker'));
  if (podman.creds) out.push(found(podman.creds, 'podman'));
  const d = docker.creds;
  const p = podman.creds;
  if (d && p && (d.username !== p.username || d.password !== p.password)) {
    const what = d.username !== p.username ? `user "${d.username}" for docker, "${p.username}" for podman` : `the same user "${d.username}" with different passwords`;
    out.push(finding('CRED_CONFLICT', STAGE, `${what} (${d.source.file ?? d.source.helper} vs ${p.source.file})`, { data: { docker: d.username, podman: p.username } }));
  }
  ctx.creds = d ?? p;
  if (!ctx.creds && !out.some((f) => f.severity === 'error' || f.code === 'CRED_SHADOWED'))
    out.push(finding('CRED_NONE', STAGE, `no login for ${registry} in ${dockerConfigPath(ctx)} or ${authFilePaths(ctx).join(', ')}`));
  return out;
}
