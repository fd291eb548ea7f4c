import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { ZodError } from 'zod';
import { configSchema, type Config, type ConfigInput } from './schema.js';
import { defaultConfigInput, defaultRegistries } from './defaults.js';

/** A configuration problem, worded for the operator: which field, what is wrong. */
export class ConfigError extends Error {
  constructor(message: string, readonly issues: string[] = []) {
    super(issues.length ? `${message}\n${issues.map((i) => `  - ${i}`).join('\n')}` : message);
    this.name = 'ConfigError';
  }
}

/** Flags from the command line; each one overrides the file. */
interface ConfigOverrides {
  listen?: string;
  storage?: string;
  /** `REGISTRY=URL[,URL...]`, URLs in priority order. */
  upstreams?: string[];
  /** Hosted repository patterns (`--hosted local/**`), added to the file's. */
  hosted?: string[];
  /** htpasswd file: turns client auth on (`--htpasswd`). */
  htpasswd?: string;
  /** Who may pull every pull-through registry with auth on (`--pull-through anonymous`). */
  pullThrough?: 'rules' | 'anonymous' | 'authenticated';
  /** `--default-registries` (true) / `--no-default-registries` (false); undefined: the rule below decides. */
  defaultRegistries?: boolean;
  /** Node mode's advertised URL (`--p2p-advertise`): per node, so a DaemonSet passes it from the pod's environment. */
  p2pAdvertise?: string;
}

/**
 * The one rule for where registries come from. The embedded public registries are a convenience for
 * running with no configuration at all: they are served only when neither a config file nor an
 * `--upstream` flag names a registry. Whatever you name is the whole list (flags add to or replace
 * registries of the file). `defaultRegistries: true` in the file or `--default-registries` adds the
 * public ones back; `--no-default-registries` (or `defaultRegistries: false`) never serves them,
 * even with nothing named (a hosted-only registry). An air-gapped site gets only its own upstreams.
 */
function wantsDefaultRegistries(o: { fromFile: boolean; fileSays?: boolean; flag?: boolean; upstreamFlags: number }): boolean {
  return o.flag ?? o.fileSays ?? (!o.fromFile && o.upstreamFlags === 0);
}

function formatIssues(err: ZodError, source: string): ConfigError {
  const issues = err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  return new ConfigError(`invalid configuration in ${source}; fix these fields:`, issues);
}

function parseUpstreamFlag(flag: string): [string, string[]] {
  const eq = flag.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--upstream "${flag}" must look like REGISTRY=URL[,URL...], e.g. docker.io=https://mirror.example.com,https://registry-1.docker.io`);
  const urls = flag.slice(eq + 1).split(',').map((u) => u.trim()).filter(Boolean);
  if (urls.length === 0) throw new ConfigError(`--upstream "${flag}" names no URL`);
  return [flag.slice(0, eq).trim().toLowerCase(), urls];
}

/** Reads a YAML config file (or the embedded defaults), applies flag overrides and validates. */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): Config {
  let input: ConfigInput;
  let source = 'the embedded defaults';
  if (file) {
    source = file;
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Check the path given to --config.`);
    }
    let doc: unknown;
    try { doc = parseYaml(text) ?? {}; } catch (e) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(e as Error).message}`);
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${file} must hold a YAML mapping at the top level`);
    input = doc as ConfigInput;
  } else {
    input = defaultConfigInput();
  }
  const { defaultRegistries: fileSays, ...rest } = input as ConfigInput & { defaultRegistries?: unknown };
  if (fileSays !== undefined && typeof fileSays !== 'boolean') throw new ConfigError(`${source}: defaultRegistries must be true or false (got ${JSON.stringify(fileSays)})`);
  if (wantsDefaultRegistries({ fromFile: !!file, fileSays, flag: overrides.defaultRegistries, upstreamFlags: overrides.upstreams?.length ?? 0 })) {
    // Yours win over the public defaults of the same name.
    rest.registries = { ...defaultRegistries(), ...(rest.registries ?? {}) };
  }
  return applyOverrides(rest, overrides, source);
}

export function applyOverrides(input: ConfigInput, o: ConfigOverrides, source = 'configuration'): Config {
  const merged: ConfigInput = { ...input, storage: { ...(input.storage ?? {}) }, registries: { ...(input.registries ?? {}) } };
  if (o.listen) merged.listen = o.listen;
  if (o.storage) merged.storage = { ...merged.storage, path: o.storage };
  if (o.hosted?.length) merged.hosted = { ...(input.hosted ?? {}), repositories: [...(input.hosted?.repositories ?? []), ...o.hosted] };
  if (o.htpasswd) merged.auth = { ...(input.auth ?? {}), htpasswd: o.htpasswd };
  if (o.pullThrough) merged.auth = { ...(merged.auth ?? {}), pullThrough: o.pullThrough };
  if (o.p2pAdvertise) {
    if (!input.p2p) throw new Error(`${source}: --p2p-advertise needs a p2p section (node mode: p2p.scheduler and p2p.peerToken)`);
    merged.p2p = { ...input.p2p, advertiseUrl: o.p2pAdvertise };
  }
  for (const flag of o.upstreams ?? []) {
    const [registry, urls] = parseUpstreamFlag(flag);
    merged.registries![registry] = {
      ...(merged.registries![registry] ?? {}),
      upstreams: urls.map((url, i) => ({ url, role: i === urls.length - 1 ? 'origin' : 'mirror' })),
    };
  }
  const r = configSchema.safeParse(merged);
  if (!r.success) throw formatIssues(r.error, source + (o.listen || o.storage || o.upstreams?.length || o.hosted?.length || o.htpasswd || o.pullThrough || o.p2pAdvertise ? ' (with command-line flags)' : ''));
  return r.data;
}
