import { Agent, request } from 'undici';

interface PostOptions {
  retries: number;
  timeoutMs: number;
  /** First backoff; doubles per attempt, capped at 30 s. */
  backoffMs?: number;
  headers?: Record<string, string>;
  /** Set when the owner is closing: stop retrying. */
  stopped?: () => boolean;
}

/**
 * POSTs a body, retrying on connection errors, timeouts, 5xx and 429 with exponential backoff.
 * Resolves true on a 2xx, false when it gave up; never throws. Used by the audit forwarder and the
 * alert webhooks, both of which run off the request path.
 */
export async function postWithRetry(agent: Agent, url: string, body: string, contentType: string, o: PostOptions): Promise<boolean> {
  const backoff = o.backoffMs ?? 250;
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    if (attempt > 0) {
      if (o.stopped?.()) return false;
      await new Promise((r) => setTimeout(r, Math.min(30_000, backoff * 2 ** (attempt - 1))).unref());
    }
    try {
      const res = await request(url, {
        method: 'POST', body, dispatcher: agent,
        headers: { 'content-type': contentType, 'user-agent': 'regway/0.1', ...o.headers },
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      await res.body.dump().catch(() => {});
      if (res.statusCode >= 200 && res.statusCode < 300) return true;
      // Other 4xx: the endpoint refuses this body; sending it again will not help.
      if (res.statusCode < 500 && res.statusCode !== 429 && res.statusCode !== 408) return false;
    } catch { /* connection refused, reset, timeout: retry */ }
  }
  return false;
}

export function postAgent(timeoutMs: number): Agent {
  return new Agent({ connect: { timeout: Math.min(timeoutMs, 5_000) }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connections: 2 });
}
