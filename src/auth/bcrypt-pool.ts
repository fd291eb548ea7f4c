import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';

/**
 * The worker, as code: the same in a checkout (tsx) and compiled, and bcryptjs by absolute path
 * (its CommonJS build), so the worker needs no loader and no particular working directory.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', (m) => {
  let ok = false;
  try { ok = bcrypt.compareSync(m.password, m.hash); } catch { ok = false; }
  parentPort.postMessage({ id: m.id, ok });
});`;

/**
 * bcrypt comparisons on worker threads. bcrypt is slow on purpose (tens of ms each); on the one JS
 * thread, a burst of logins with random user names stalled every other request (/healthz took
 * seconds). Workers start on first use and do not keep the process alive.
 */
class BcryptPool {
  private readonly workers: { w: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, (ok: boolean) => void>();
  private next = 1;

  constructor(private readonly size = Math.max(1, Math.min(2, availableParallelism() - 1))) {}

  compare(password: string, hash: string): Promise<boolean> {
    const slot = this.pick();
    const id = this.next++;
    // Referenced only while it has work: an idle pool never keeps the process alive.
    if (slot.busy++ === 0) slot.w.ref();
    return new Promise<boolean>((resolve) => {
      this.pending.set(id, (ok) => { if (--slot.busy === 0) slot.w.unref(); resolve(ok); });
      slot.w.postMessage({ id, password, hash });
    });
  }

  private pick(): { w: Worker; busy: number } {
    const idle = this.workers.find((s) => s.busy === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.spawn();
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  private spawn(): { w: Worker; busy: number } {
    const w = new Worker(WORKER, { eval: true, workerData: { bcrypt: createRequire(import.meta.url).resolve('bcryptjs') } });
    const slot = { w, busy: 0 };
    w.on('message', (m: { id: number; ok: boolean }) => { const done = this.pending.get(m.id); this.pending.delete(m.id); done?.(m.ok); });
    w.on('error', () => this.drop(slot));
    w.on('exit', () => this.drop(slot));
    w.unref(); // after the listeners: adding a 'message' listener references the worker again
    this.workers.push(slot);
    return slot;
  }

  /** A dead worker fails its pending checks closed (false), and a new one is started on next use. */
  private drop(slot: { w: Worker; busy: number }): void {
    const i = this.workers.indexOf(slot);
    if (i >= 0) this.workers.splice(i, 1);
    if (this.workers.length === 0) for (const [id, done] of this.pending) { this.pending.delete(id); done(false); }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((s) => s.w.terminate()));
  }
}

let shared: BcryptPool | undefined;
/** The process's pool (htpasswd files share it). */
export function bcryptPool(): BcryptPool {
  shared ??= new BcryptPool();
  return shared;
}
