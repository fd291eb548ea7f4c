import type { Agent } from 'undici';
import { postAgent, postWithRetry } from '../http-post.js';

/** Somewhere audit lines go besides the file. `write` must return at once, whatever the endpoint does. */
export interface LineSink {
  readonly name: string;
  write(line: string): void;
  close(): Promise<void>;
  /** Lines dropped because the destination could not keep up or was down. */
  readonly dropped: number;
}

/**
 * Lines to stdout, for a log shipper reading the container's output. Dropped if stdout backs up.
 * Writes to a pipe are asynchronous on POSIX (a container's stdout is one), so `close` waits for
 * the lines still buffered: the gateway exits right after it, and they would be lost.
 */
export class StdoutSink implements LineSink {
  readonly name = 'stdout';
  dropped = 0;
  /** Lines handed to the stream and not yet flushed by it. */
  private unflushed = 0;
  private flushed: (() => void) | undefined;
  constructor(private readonly out: NodeJS.WritableStream & { writableLength?: number } = process.stdout, private readonly maxBuffered = 8 * 1024 * 1024) {}
  write(line: string): void {
    if ((this.out.writableLength ?? 0) > this.maxBuffered) { this.dropped++; return; }
    this.unflushed++;
    this.out.write(line, () => {
      if (--this.unflushed === 0) this.flushed?.();
    });
  }
  /** Waits up to `graceMs` for the buffered lines to reach the stream's destination. */
  async close(graceMs = 2_000): Promise<void> {
    if (this.unflushed === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((r) => { this.flushed = r; }), new Promise<void>((r) => { timer = setTimeout(r, graceMs); timer.unref(); })]);
    clearTimeout(timer);
    this.flushed = undefined;
  }
}

interface HttpSinkOptions {
  url: string;
  headers: Record<string, string>;
  batch: number;
  queue: number;
  retries: number;
  timeoutMs: number;
  backoffMs?: number;
}

/**
 * Lines POSTed as NDJSON batches (Logstash http input, Vector, Fluent Bit, an Elasticsearch ingest
 * proxy). A bounded queue sits between the request path and the network: when the endpoint is slow
 * or down the queue fills and further lines are dropped and counted, so pulls never wait on it.
 * One batch is in flight at a time, which keeps lines in order.
 */
export class HttpSink implements LineSink {
  readonly name = 'http';
  dropped = 0;
  sent = 0;
  failedBatches = 0;
  private readonly q: string[] = [];
  private running: Promise<void> | undefined;
  private closing = false;
  private readonly agent: Agent;

  constructor(private readonly o: HttpSinkOptions) {
    this.agent = postAgent(o.timeoutMs);
  }

  get queued(): number { return this.q.length; }

  write(line: string): void {
    if (this.closing || this.q.length >= this.o.queue) { this.dropped++; return; }
    this.q.push(line);
    // Let a burst of lines gather into one batch before sending.
    if (!this.running) this.running = new Promise<void>((r) => setImmediate(r)).then(() => this.pump()).finally(() => { this.running = undefined; });
  }

  private async pump(): Promise<void> {
    while (this.q.length > 0) {
      const batch = this.q.splice(0, this.o.batch);
      const ok = await postWithRetry(this.agent, this.o.url, batch.join(''), 'application/x-ndjson', {
        retries: this.o.retries, timeoutMs: this.o.timeoutMs, backoffMs: this.o.backoffMs, headers: this.o.headers, stopped: () => this.closing,
      });
      if (ok) this.sent += batch.length;
      else { this.failedBatches++; this.dropped += batch.length; }
    }
  }

  /** Gives queued lines up to `graceMs` to go out, then drops the rest. */
  async close(graceMs = 2_000): Promise<void> {
    const pending = this.running;
    if (pending) await Promise.race([pending, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.closing = true;
    this.dropped += this.q.splice(0).length;
    await this.agent.destroy().catch(() => {});
  }
}
