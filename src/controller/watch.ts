// List-then-watch, the protocol every Kubernetes controller speaks (client-go's Reflector):
// 1. LIST the collection (paged with limit/continue); the list's metadata.resourceVersion is the
//    point in history the snapshot describes.
// 2. WATCH from that resourceVersion with allowWatchBookmarks=true. Each line is one JSON event;
//    ADDED/MODIFIED/DELETED carry the object, BOOKMARK carries only a newer resourceVersion (so a
//    quiet watch can resume from a recent point), ERROR carries a Status.
// 3. When the server ends the stream (its timeoutSeconds), watch again from the last resourceVersion
//    seen: no re-list needed.
// 4. `410 Gone` (Status reason Expired, as a watch ERROR event or as the HTTP status) means that
//    resourceVersion was compacted away: events were lost, so re-LIST and start over.
// 5. Any other API or network error: back off exponentially (with jitter, capped) and retry; the
//    backoff resets after a watch that delivered events.
import { isKubeStatus, KubeApiError, type KubeApi } from './kube-client.js';
import type { ObjectList, ObjectMeta, Status, WatchEvent } from './k8s-types.js';
import { sleep } from './sleep.js';

export interface ReflectorHandlers<T> {
  /** The full current set after a (re-)list: objects not in it are gone. */
  replace(items: T[], resourceVersion: string): void;
  added(obj: T): void;
  modified(obj: T): void;
  deleted(obj: T): void;
}

interface ReflectorOptions {
  api: KubeApi;
  /** Collection path: /api/v1/pods, /api/v1/namespaces/NS/events... */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  pageSize?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Watch requests ask the server to close after a random time in [min, 2*min) seconds. */
  watchTimeoutSeconds?: number;
  onError?(err: unknown, attempt: number, delayMs: number): void;
  onRelist?(why: 'start' | 'expired'): void;
}

/** Exponential backoff with "equal jitter": half fixed, half random, capped. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, rnd = Math.random): number {
  const exp = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * rnd());
}

class Expired extends Error {}

export class Reflector<T extends { metadata: ObjectMeta }> {
  /** The last resourceVersion seen (list, event or bookmark). */
  resourceVersion = '';
  lists = 0;
  watches = 0;

  constructor(
    private readonly opts: ReflectorOptions,
    private readonly h: ReflectorHandlers<T>,
  ) {}

  private selectors(): Record<string, string> {
    return {
      ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
      ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
    };
  }

  private async list(): Promise<void> {
    const items: T[] = [];
    let cont = '';
    let rv = '';
    do {
      const q = new URLSearchParams({ limit: String(this.opts.pageSize ?? 500), ...this.selectors(), ...(cont ? { continue: cont } : {}) });
      const page = await this.opts.api.get<ObjectList<T>>(`${this.opts.path}?${q}`);
      if (!rv) rv = page.metadata.resourceVersion ?? '';
      items.push(...page.items);
      cont = page.metadata.continue ?? '';
    } while (cont);
    this.lists++;
    this.resourceVersion = rv;
    this.h.replace(items, rv);
  }

  /** One watch request; resolves with the number of events when the server closes the stream. */
  private async watchOnce(signal: AbortSignal): Promise<number> {
    const min = this.opts.watchTimeoutSeconds ?? 300;
    const stream = await this.opts.api.watch(
      this.opts.path,
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(min + Math.floor(Math.random() * min)),
        ...this.selectors(),
      },
      signal,
    );
    this.watches++;
    let n = 0;
    for await (const line of stream) {
      let ev: WatchEvent<T>;
      try {
        ev = JSON.parse(line) as WatchEvent<T>;
      } catch {
        continue;
      }
      n++;
      if (ev.type === 'ERROR') {
        const st = ev.object as Status;
        if (st.code === 410) throw new Expired(st.message ?? 'resourceVersion expired');
        throw new KubeApiError(st.code ?? 500, st.reason ?? '', `watch ${this.opts.path}: ${st.message ?? 'error event'}`, 'WATCH', this.opts.path);
      }
      const obj = ev.object as T;
      if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
      if (ev.type === 'ADDED') this.h.added(obj);
      else if (ev.type === 'MODIFIED') this.h.modified(obj);
      else if (ev.type === 'DELETED') this.h.deleted(obj);
      // BOOKMARK: only the resourceVersion matters, recorded above.
    }
    return n;
  }

  /** Runs until the signal aborts. Never throws: errors are reported through onError and retried. */
  async run(signal: AbortSignal): Promise<void> {
    const initial = this.opts.backoffInitialMs ?? 500;
    const max = this.opts.backoffMaxMs ?? 30_000;
    let needList = true;
    let attempt = 0;
    this.opts.onRelist?.('start');
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        const started = Date.now();
        const n = await this.watchOnce(signal);
        // A server that closes every watch at once would otherwise make us spin.
        if (n === 0 && Date.now() - started < 1000) {
          attempt++;
          await sleep(backoffDelay(attempt, initial, max), signal);
        } else attempt = 0;
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof Expired || isKubeStatus(410, e)) {
          needList = true;
          this.opts.onRelist?.('expired');
          continue;
        }
        attempt++;
        const delay = backoffDelay(attempt, initial, max);
        this.opts.onError?.(e, attempt, delay);
        await sleep(delay, signal);
      }
    }
  }
}
