// What the doctor was asked about: a registry (host[:port], optionally with a scheme) or an image reference, and the
// endpoint requests go to (the registry itself, Docker Hub's API host, or a gateway given with --via). Pure.
import { isValidHost, looksLikeHost, parseImageRef, type ImageRef } from '../../oci/reference.js';

export interface Target {
  input: string;
  /** The registry as references name it: docker.io, ghcr.io, 127.0.0.1:5000. */
  registry: string;
  /** Base URL requests go to (scheme decided later unless given). */
  endpoint: URL;
  /** The user wrote http:// or https://. */
  explicitScheme: boolean;
  image?: ImageRef;
  /** Requests go through a gateway: they carry `?ns=<registry>`. */
  via: boolean;
}

export class TargetError extends Error {}

/** The host that serves a registry's API: Docker Hub's API is not at docker.io. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/** `ghcr.io`, `https://reg:5000`, `reg:5000/team/app:1`, `alpine` (Docker Hub), `http://127.0.0.1:5000/x@sha256:…`. */
export function parseTarget(input: string, via?: string): Target {
  const m = /^(https?):\/\/(.*)$/i.exec(input.trim());
  const scheme = m ? m[1]!.toLowerCase() : 'https';
  const rest = (m ? m[2]! : input.trim()).replace(/\/+$/, '');
  if (!rest) throw new TargetError('empty target');
  let registry: string;
  let image: ImageRef | undefined;
  if (!rest.includes('/') && (looksLikeHost(rest) || (m && isValidHost(rest)))) {
    registry = rest.toLowerCase();
  } else {
    try {
      image = parseImageRef(rest);
    } catch (e) {
      throw new TargetError(`"${input}" is not an image reference: ${(e as Error).message}`);
    }
    registry = image.registry;
  }
  if (!isValidHost(registry)) throw new TargetError(`"${registry}" is not a registry host`);
  let endpoint = new URL(`${scheme}://${apiHost(registry)}/`);
  if (via) {
    try {
      endpoint = new URL(via.replace(/\/*$/, '/'));
    } catch {
      throw new TargetError(`--via ${via} is not a URL`);
    }
  }
  return { input, registry, endpoint, explicitScheme: !!m || !!via, ...(image ? { image } : {}), via: !!via };
}

/** The manifest reference of an image: digest if pinned, else tag. */
export function imageReference(i: ImageRef): string {
  return i.digest ?? i.tag ?? 'latest';
}

/** Port the endpoint listens on. */
export function endpointPort(u: URL): number {
  return u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
}
