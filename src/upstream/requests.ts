import type { UpstreamRequest } from '../client/upstream-client.js';
import { MANIFEST_TYPES } from '../oci/mediatypes.js';

/**
 * The registry API requests regway sends upstream, defined once: the typed verbs send them
 * through a registry's ordered upstreams (failover, health), and the diagnostics (`inspect`,
 * `warm`, `bench`, the doctor) send the same requests to the one endpoint they examine and report
 * what came back. Paths and Accept sets are spelled nowhere else.
 */
export const UPSTREAM_ACCEPT = MANIFEST_TYPES.join(', ');

type Method = UpstreamRequest['method'];

export function manifestRequest(method: Method, name: string, reference: string, accept = UPSTREAM_ACCEPT, query?: string): UpstreamRequest {
  return { method, name, path: `manifests/${reference}`, headers: { accept }, ...(query ? { query } : {}) };
}

export function blobRequest(method: Method, name: string, digest: string, headers: Record<string, string> = {}, query?: string): UpstreamRequest {
  return { method, name, path: `blobs/${digest}`, headers, ...(query ? { query } : {}) };
}

export function tagsRequest(name: string, query?: string): UpstreamRequest {
  return { method: 'GET', name, path: 'tags/list', ...(query ? { query } : {}) };
}

export function referrersRequest(name: string, subject: string, accept: string, query?: string): UpstreamRequest {
  return { method: 'GET', name, path: `referrers/${subject}`, headers: { accept }, ...(query ? { query } : {}) };
}
