import type { Agent } from 'undici';
import { postAgent, postWithRetry } from '../http-post.js';
import type { Alert } from './engine.js';

interface Webhook {
  url: string;
  format: 'json' | 'slack';
  headers: Record<string, string>;
}

/** The generic body: the alert as data, versioned so receivers can evolve. */
function jsonBody(a: Alert): string {
  return JSON.stringify({ version: 1, source: 'regway', status: 'firing', alert: a });
}

/** A Slack incoming-webhook body (also taken by Mattermost, Rocket.Chat and Teams' Slack-compatible hooks). */
function slackBody(a: Alert): string {
  const icon = a.severity === 'critical' ? ':rotating_light:' : ':warning:';
  const text = `${icon} *regway ${a.severity}*: ${a.summary}`;
  return JSON.stringify({
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `rule \`${a.rule}\` · key \`${a.key}\` · ${new Date(a.time).toISOString()}` }] },
    ],
  });
}

/**
 * Delivers alerts to every configured webhook, each with its own bounded queue and retries, off the
 * request path. Alerts are rare (one per rule and key per cooldown), so a small queue is plenty;
 * beyond it they are dropped and counted rather than held.
 */
export class WebhookNotifier {
  delivered = 0;
  failed = 0;
  dropped = 0;
  private readonly agent: Agent;
  private readonly queues: Alert[][];
  private readonly running: (Promise<void> | undefined)[];
  private closing = false;

  constructor(private readonly hooks: Webhook[], private readonly o: { retries: number; timeoutMs: number; backoffMs?: number; queue?: number }) {
    this.agent = postAgent(o.timeoutMs);
    this.queues = hooks.map(() => []);
    this.running = hooks.map(() => undefined);
  }

  send(a: Alert): void {
    this.hooks.forEach((_, i) => {
      const q = this.queues[i]!;
      if (this.closing || q.length >= (this.o.queue ?? 1000)) { this.dropped++; return; }
      q.push(a);
      if (!this.running[i]) this.running[i] = this.pump(i).finally(() => { this.running[i] = undefined; });
    });
  }

  private async pump(i: number): Promise<void> {
    const h = this.hooks[i]!;
    const q = this.queues[i]!;
    while (q.length > 0) {
      const a = q.shift()!;
      const ok = await postWithRetry(this.agent, h.url, h.format === 'slack' ? slackBody(a) : jsonBody(a), 'application/json', {
        retries: this.o.retries, timeoutMs: this.o.timeoutMs, backoffMs: this.o.backoffMs, headers: h.headers, stopped: () => this.closing,
      });
      if (ok) this.delivered++; else this.failed++;
    }
  }

  async close(graceMs = 2_000): Promise<void> {
    const pending = this.running.filter(Boolean);
    if (pending.length) await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.closing = true;
    await this.agent.destroy().catch(() => {});
  }
}
