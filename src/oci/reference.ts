import { RegistryError } from './errors.js';
import { isDigest, parseReadDigest } from './digest.js';

// From the distribution spec: path components of lowercase alphanumerics separated by ., _, __ or -+.
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
/** A registry host: DNS labels or a bracketed IPv6 address, optional port. */
const HOST_RE = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]{1,5})?$`);

/** True for a syntactically valid registry host (`ghcr.io`, `127.0.0.1:5000`, `[::1]:5000`). */
export function isValidHost(s: string): boolean {
  return s.length <= 255 && HOST_RE.test(s);
}

const MAX_NAME_LENGTH = 255;

/** Validates a repository name (`library/alpine`). NAME_INVALID otherwise, before any path is built. */
export function validateName(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME_RE.test(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { name: name.slice(0, 300) });
  }
  return name;
}

function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/**
 * A manifest reference is either a tag or a digest; a bad one is MANIFEST_UNKNOWN-safe to reject as invalid.
 * `read`: a GET/HEAD, where a digest of an algorithm we do not support, or a tag outside the tag
 * grammar, is MANIFEST_UNKNOWN (404), not 400.
 */
export function parseReference(ref: string, opts: { read?: boolean } = {}): { kind: 'tag' | 'digest'; value: string } {
  if (ref.includes(':')) {
    if (opts.read) parseReadDigest(ref, 'MANIFEST_UNKNOWN');
    else if (!isDigest(ref)) throw new RegistryError('DIGEST_INVALID', 'invalid digest reference', { reference: ref.slice(0, 200) });
    return { kind: 'digest', value: ref };
  }
  if (!isValidTag(ref)) {
    // On a read a tag outside the grammar is simply one no repository can have (the conformance
    // suite expects 404 there, as distribution answers); on a write it is the client's error.
    if (opts.read) throw new RegistryError('MANIFEST_UNKNOWN', 'no such tag: it is not a valid tag name', { reference: ref.slice(0, 200) });
    throw new RegistryError('TAG_INVALID', 'invalid tag', { reference: ref.slice(0, 200) });
  }
  return { kind: 'tag', value: ref };
}

/** True when a first path component names a registry host, by the rule docker clients use. */
export function looksLikeHost(component: string): boolean {
  if (component === 'localhost') return true;
  if (!(component.includes('.') || component.includes(':'))) return false;
  return isValidHost(component);
}

/** Normalises registry aliases the way clients do: index.docker.io and registry-1.docker.io mean docker.io. */
export function canonicalRegistry(host: string): string {
  const h = host.toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io') return 'docker.io';
  return h;
}

/** An image reference as users write it: [registry/]name[:tag][@digest]. */
export interface ImageRef {
  registry: string;
  name: string;
  tag?: string;
  digest?: string;
}

/** Parses `alpine`, `ghcr.io/org/app:v1`, `localhost:5000/x@sha256:…` with Docker's normalisation. */
export function parseImageRef(s: string, defaultRegistry = 'docker.io'): ImageRef {
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) { digest = rest.slice(at + 1); rest = rest.slice(0, at); if (!isDigest(digest)) throw new RegistryError('DIGEST_INVALID', `invalid digest in ${s}`); }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) { tag = rest.slice(colon + 1); rest = rest.slice(0, colon); if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', `invalid tag in ${s}`); }
  const parts = rest.split('/');
  let registry = defaultRegistry;
  if (parts.length > 1 && looksLikeHost(parts[0]!)) registry = canonicalRegistry(parts.shift()!);
  let name = parts.join('/');
  if (registry === 'docker.io' && !name.includes('/')) name = `library/${name}`;
  validateName(name);
  if (!tag && !digest) tag = 'latest';
  return { registry, name, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}
