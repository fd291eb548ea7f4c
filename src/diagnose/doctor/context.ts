// State the checks share while the doctor runs: each check reads what earlier ones learnt (the scheme that works,
// whether TLS verified, the challenge, the credentials) and adds its own.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { rootCertificates } from 'node:tls';
import type { Challenge } from '../../auth/challenge.js';
import type { ManifestInfo } from '../../oci/manifest.js';
import type { Target } from '../common/target.js';
import type { DoctorOptions } from './types.js';

interface CredentialSourceInfo {
  /** flag, docker-config, auth-json or helper. */
  kind: 'flag' | 'docker-config' | 'auth-json' | 'helper';
  file?: string;
  key?: string;
  helper?: string;
}

export interface FoundCredentials {
  username: string;
  password: string;
  source: CredentialSourceInfo;
}

interface ChosenImage {
  digest: string;
  mediaType: string;
  /** Platforms an index lists (os/arch[/variant]); empty for a single manifest. */
  platforms: string[];
  manifest?: ManifestInfo;
  totalBytes: number;
}

/** Options the library accepts beyond the public contract: the environment, injected by tests and the CLI. */
export interface InternalOptions extends DoctorOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
}

export interface DoctorContext {
  target: Target;
  opts: Required<Pick<DoctorOptions, 'timeoutMs' | 'sampleBytes' | 'platform'>> & DoctorOptions;
  env: NodeJS.ProcessEnv;
  home: string;
  /** Scheme that works (may change when the server speaks the other one). */
  scheme: 'http' | 'https';
  /** TLS verified with the trusted CAs; later requests skip verification when false, to keep diagnosing. */
  tlsVerified: boolean;
  /** The TLS handshake failed in a way that suggests plain HTTP on the port. */
  tlsFailedRaw?: string;
  addresses: string[];
  pingStatus?: number;
  challenge?: Challenge;
  authScheme: 'none' | 'basic' | 'bearer' | 'unknown';
  creds?: FoundCredentials;
  /** An authentication failure was reported: later checks would only repeat it. */
  authFailed: boolean;
  image?: ChosenImage;
  /** Set by a check when nothing after it can work (no DNS, nothing listening). */
  stop: boolean;
  caPem?: Buffer;
}

export function createContext(target: Target, opts: InternalOptions): DoctorContext {
  return {
    target,
    opts: { ...opts, timeoutMs: opts.timeoutMs ?? 15_000, sampleBytes: opts.sampleBytes ?? 4 * 1024 * 1024, platform: opts.platform ?? 'linux/amd64' },
    env: opts.env ?? process.env,
    home: opts.home ?? homedir(),
    scheme: target.endpoint.protocol === 'http:' ? 'http' : 'https',
    tlsVerified: true,
    addresses: [],
    authScheme: 'unknown',
    authFailed: false,
    stop: false,
    ...(opts.caFile ? { caPem: readFileSync(opts.caFile) } : {}),
  };
}

/** The endpoint with the scheme that currently works. */
export function baseUrl(ctx: DoctorContext): URL {
  const u = new URL(ctx.target.endpoint.href);
  u.protocol = `${ctx.scheme}:`;
  return u;
}

/** System roots plus the --ca-file bundle (passing `ca` alone would replace the system store). */
export function trustedCas(ctx: DoctorContext): (string | Buffer)[] | undefined {
  return ctx.caPem ? [...rootCertificates, ctx.caPem] : undefined;
}

/** "user alice from /x/config.json key "h:5000"" — how findings name the credentials in use. */
export function describeSource(c: FoundCredentials): string {
  const s = c.source;
  const where = s.kind === 'flag' ? 'given on the command line' : s.kind === 'helper' ? `from docker-credential-${s.helper}${s.file ? ` (named in ${s.file})` : ''}` : `from ${s.file} key "${s.key}"`;
  return `user "${c.username}" ${where}`;
}
