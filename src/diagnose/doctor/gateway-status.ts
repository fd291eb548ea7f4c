// Through a regway gateway (--via), the gateway's own status (`GET /-/status`) says which of its
// upstreams for a registry are failing, since when and why: what "served stale" or "502" comes down
// to. Best effort: the endpoint may be firewalled off, and then the findings simply say less.
import type { DoctorContext } from './context.js';
import { rawRequest } from './http.js';

interface GatewayUpstream {
  upstream: string;
  state?: string;
  lastError?: string;
  failingSince?: string;
}

/** The gateway's upstreams of `registry` that are not up, or [] when the status cannot be read. */
export async function failingUpstreams(ctx: DoctorContext): Promise<GatewayUpstream[]> {
  try {
    const r = await rawRequest(ctx, new URL('-/status', ctx.target.endpoint), { cap: 512 * 1024 });
    if (r.status !== 200) return [];
    const doc = JSON.parse(r.body.toString('utf8')) as { upstreams?: Array<GatewayUpstream & { registry?: string; up?: boolean }> };
    return (doc.upstreams ?? [])
      .filter((u) => u.registry === ctx.target.registry && (u.state ? u.state !== 'up' : u.up === false))
      .map((u) => ({ upstream: u.upstream, ...(u.state ? { state: u.state } : {}), ...(u.lastError ? { lastError: u.lastError } : {}), ...(u.failingSince ? { failingSince: u.failingSince } : {}) }));
  } catch {
    return [];
  }
}

/** "http://u (down since 2026-12-03T10:00:00.000Z: connect ECONNREFUSED …)". Pure. */
export function describeUpstreams(list: readonly GatewayUpstream[]): string {
  return list
    .map((u) => {
      const since = u.failingSince ? ` since ${u.failingSince}` : '';
      return `${u.upstream} (${u.state ?? 'down'}${since}${u.lastError ? `: ${u.lastError}` : ''})`;
    })
    .join(', ');
}
