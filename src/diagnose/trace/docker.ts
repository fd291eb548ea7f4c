// dockerd's endpoint order (moby registry service): registry-mirrors apply to Docker Hub only and come first, then
// registry-1.docker.io; any other registry is tried over https, then over http when it is insecure
// (insecure-registries, a CIDR it falls in, or the implicit 127.0.0.0/8 and ::1).
import { isIP } from 'node:net';
import type { ImageRef } from '../../oci/reference.js';
import type { RuntimeTrace, TraceEndpoint } from './types.js';

function manifestPath(ref: ImageRef): string {
  return `/v2/${ref.name}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`;
}

function ipv4InCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  if (isIP(ip) !== 4 || isIP(base!) !== 4) return false;
  const n = (s: string): number => s.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (n(ip) & mask) === (n(base!) & mask);
}

/** Whether dockerd treats a registry host as insecure. Names are not resolved here: CIDRs only match IP literals. */
function dockerInsecure(host: string, insecure: string[]): boolean {
  const bare = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  if (bare === '::1' || ipv4InCidr(bare, '127.0.0.0/8')) return true;
  return insecure.some((i) => {
    const v = i.replace(/^https?:\/\//, '');
    return v.includes('/') ? ipv4InCidr(bare, v) : v === host;
  });
}

export function dockerTrace(ref: ImageRef, daemonJsonText: string | undefined, file: string): RuntimeTrace {
  const notes: string[] = [];
  let doc: Record<string, unknown> = {};
  if (daemonJsonText?.trim()) {
    try {
      doc = JSON.parse(daemonJsonText.replace(/^\uFEFF/, '')) as Record<string, unknown>;
    } catch {
      notes.push(`${file} is not valid JSON: dockerd refuses to start`);
    }
  } else notes.push(`${file} does not exist or is empty: no mirrors`);
  const mirrors = Array.isArray(doc['registry-mirrors']) ? (doc['registry-mirrors'] as unknown[]).map((m) => String(m).replace(/\/+$/, '')) : [];
  const insecure = Array.isArray(doc['insecure-registries']) ? (doc['insecure-registries'] as unknown[]).map(String) : [];
  const path = manifestPath(ref);
  const eps: TraceEndpoint[] = [];
  if (ref.registry === 'docker.io') {
    for (const m of mirrors) {
      let host = m;
      try {
        host = new URL(m).host;
      } catch {
        notes.push(`mirror "${m}" has no scheme: dockerd refuses to start`);
        continue;
      }
      eps.push({ url: m, role: 'mirror', request: path, insecure: dockerInsecure(host, insecure), source: file });
    }
    eps.push({ url: 'https://registry-1.docker.io', role: 'origin', request: path, insecure: false, source: file });
  } else {
    if (mirrors.length) notes.push(`registry-mirrors apply to docker.io only; ${ref.registry} is pulled directly`);
    const ins = dockerInsecure(ref.registry, insecure);
    eps.push({ url: `https://${ref.registry}`, role: 'origin', request: path, insecure: ins, source: file });
    if (ins) eps.push({ url: `http://${ref.registry}`, role: 'origin', request: path, insecure: true, source: file });
  }
  return { runtime: 'docker', notes, endpoints: eps };
}
