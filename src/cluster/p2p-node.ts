import { Agent, request } from 'undici';
import { PEER_AUTH_HEADER, signPeerRequest, trustedPeerOrigin } from './peer-auth.js';
import type { NodeRef } from './p2p-tracker.js';
import type { OpenSource, SourceBody } from '../cache/blob-fetch.js';
import type { Logger } from '../obs/logger.js';

/** A node's counters (metrics and /-/status). */
export class P2pStats {
  /** Blob bytes received, by source: `peer`, or the upstream's id (the central gateway, or the upstream directly). */
  readonly received = new Map<string, number>();
  parentChanges = 0;
  quarantines = 0;
  schedulerErrors = 0;
  add(source: string, n: number): void { this.received.set(source, (this.received.get(source) ?? 0) + n); }
  snapshot() {
    return { received: Object.fromEntries(this.received), parentChanges: this.parentChanges, quarantines: this.quarantines, schedulerErrors: this.schedulerErrors };
  }
}

export interface P2pNodeOptions {
  self: NodeRef;
  /** The scheduler's origin (the central gateway). */
  scheduler: string;
  token: string;
  stallTimeoutMs: number;
  quarantineMs: number;
  peerNetworks: readonly string[];
  log: Logger;
}

const agent = new Agent({ connect: { timeout: 1000 }, keepAliveTimeout: 10_000 });
/** After the scheduler failed, nodes go to the gateway directly for this long before asking again. */
const SCHEDULER_BACKOFF_MS = 5000;
const PROGRESS_EVERY_MS = 500;
/** A busy scheduler answers late rather than never: waiting this long still beats the gateway's N-fold load. */
const SCHEDULER_TIMEOUT_MS = 5000;
/** Parents tried per break before falling back to the gateway. */
const MAX_PARENTS_PER_BREAK = 3;

/**
 * A node's link to the scheduler and its peers: asks for parents, reports progress, keeps a local
 * quarantine of parents whose bytes failed verification.
 */
export class P2pNode {
  readonly stats = new P2pStats();
  private readonly quarantined = new Map<string, number>();
  private schedulerDownUntil = 0;

  constructor(readonly opts: P2pNodeOptions) {}

  /** Signed POST to the scheduler; query values in order (repeated keys allowed). */
  async call(path: string, params: [string, string | number][]): Promise<unknown> {
    const self = this.opts.self;
    const all: [string, string][] = [['node', self.url], ['max', String(self.maxChildren)], ...(self.zone ? [['zone', self.zone] as [string, string]] : []), ...params.map(([k, v]) => [k, String(v)] as [string, string])];
    const url = `${path}?${new URLSearchParams(all).toString()}`;
    const r = await request(`${this.opts.scheduler}${url}`, {
      method: 'POST', dispatcher: agent, headersTimeout: SCHEDULER_TIMEOUT_MS, bodyTimeout: SCHEDULER_TIMEOUT_MS,
      headers: { [PEER_AUTH_HEADER]: signPeerRequest(this.opts.token, url, 0) },
    });
    const text = await r.body.text();
    if (r.statusCode >= 300) throw new Error(`scheduler answered ${r.statusCode}: ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) as unknown : undefined;
  }

  /** Reports that never hold up a download. */
  tell(path: string, params: [string, string | number][]): void {
    if (Date.now() < this.schedulerDownUntil) return;
    this.call(path, params).catch((e: Error) => { this.opts.log.debug({ path, err: e.message }, 'p2p report to the scheduler failed'); });
  }

  /** A parent for `digest` from byte `offset`, or undefined: read from the gateway. */
  async parent(digest: string, offset: number, exclude: Iterable<string>): Promise<NodeRef | undefined> {
    if (Date.now() < this.schedulerDownUntil) return undefined;
    const now = Date.now();
    const skip = [...exclude, ...[...this.quarantined].filter(([, until]) => until > now).map(([id]) => id)];
    try {
      const answer = await this.call('/-/p2p/parent', [['digest', digest], ['offset', offset], ...skip.map((id) => ['exclude', id] as [string, string])]) as { parent?: { id?: unknown; url?: unknown } | null };
      const p = answer?.parent;
      if (!p || typeof p.url !== 'string' || typeof p.id !== 'string') return undefined;
      return { id: p.id, url: p.url, maxChildren: 1 };
    } catch (e) {
      this.stats.schedulerErrors++;
      this.schedulerDownUntil = Date.now() + SCHEDULER_BACKOFF_MS;
      this.opts.log.warn({ digest, scheduler: this.opts.scheduler, err: (e as Error).message }, 'p2p scheduler unreachable: pulling from the gateway directly');
      return undefined;
    }
  }

  quarantine(digest: string, parents: string[]): void {
    const until = Date.now() + this.opts.quarantineMs;
    for (const p of parents) this.quarantined.set(p, until);
    this.stats.quarantines += parents.length;
    this.opts.log.error({ digest, parents }, 'bytes from a parent failed verification: parent quarantined, blob fetched again');
    this.tell('/-/p2p/corrupt', [['digest', digest], ...parents.map((p) => ['parent', p] as [string, string])]);
  }

  /** The parent's stream from `offset`, or undefined when it has nothing to give. */
  async readPeer(parent: NodeRef, digest: string, offset: number): Promise<SourceBody | undefined> {
    const { log, token, peerNetworks, stallTimeoutMs } = this.opts;
    const origin = trustedPeerOrigin(parent.url, peerNetworks);
    if (!origin) {
      log.warn({ digest, parent: parent.url.slice(0, 200), peerNetworks }, 'the scheduler named a parent outside p2p.peerNetworks: not contacted');
      return undefined;
    }
    try {
      const r = await request(`${origin}/-/peer/blobs/${digest}?offset=${offset}`, {
        dispatcher: agent, headers: { [PEER_AUTH_HEADER]: signPeerRequest(token, digest, offset) },
        headersTimeout: Math.max(stallTimeoutMs, 2000), bodyTimeout: stallTimeoutMs,
      });
      const size = Number(r.headers['x-regway-blob-size']);
      if (r.statusCode !== 200 || !Number.isSafeInteger(size) || size < offset) {
        await r.body.dump();
        return undefined;
      }
      return { size: offset === 0 ? size : undefined, body: r.body };
    } catch (e) {
      log.warn({ digest, parent: parent.id, err: (e as Error).message }, 'p2p parent unreachable');
      return undefined;
    }
  }
}

/**
 * Wraps one blob download's source (the registry's upstreams: the central gateway first) with
 * the tree: ask the scheduler for a parent and stream from it; when it breaks or stalls, ask
 * again and resume with a Range at the byte reached; when the bytes fail verification, quarantine
 * the parents that sent them and start over elsewhere; with no parent (or no scheduler), the
 * gateway. Bytes from a peer reach this repository's clients only after `confirm` (the gateway
 * answered for this repository: the pull is authorized and the repository holds the blob).
 */
export function p2pSource(node: P2pNode, digest: string, upstream: OpenSource, onOwner: (release: () => Promise<void>) => void, confirm: () => Promise<void>): OpenSource {
  const log = node.opts.log;
  let parent: NodeRef | undefined;
  let viaOrigin = false;
  const contributors = new Set<string>();
  const failed = new Set<string>();
  let received = 0;
  let size: number | undefined;
  let done = false;
  let confirmed: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const report = () => node.tell('/-/p2p/progress', [['digest', digest], ['bytes', received], ...(size !== undefined ? [['size', size] as [string, number]] : []), ['done', done ? 1 : 0]]);

  /** Counts what a source delivers; a clean end of every byte is reported as done. */
  const track = (src: SourceBody, from: string, offset: number): SourceBody => {
    if (src.size !== undefined) size = src.size;
    received = offset;
    let skip = src.skip ?? 0;
    const counted = async function* () {
      for await (const chunk of src.body) {
        const n = Math.max(0, chunk.length - skip);
        skip = Math.max(0, skip - chunk.length);
        received += n;
        node.stats.add(from === 'origin' ? src.upstream ?? 'upstream' : 'peer', n);
        yield chunk;
      }
      if (size !== undefined && received >= size) { done = true; clearInterval(timer); report(); }
    };
    return { ...src, body: counted() };
  };

  const fromOrigin = async (offset: number, broke?: string, restart?: boolean) => {
    const again = viaOrigin;
    viaOrigin = true;
    parent = undefined;
    // The upstream source charges its current upstream on a second call: only when it is the one that broke.
    return track(await (again ? upstream(offset, broke, restart) : upstream(offset)), 'origin', offset);
  };

  return async (offset, broke, restart) => {
    if (!timer) {
      timer = setInterval(report, PROGRESS_EVERY_MS);
      timer.unref();
      onOwner(async () => { clearInterval(timer); if (!done) node.tell('/-/p2p/leave', [['digest', digest]]); });
    }
    if (restart) {
      const suspects = [...contributors];
      contributors.clear();
      if (suspects.length > 0) node.quarantine(digest, suspects);
      for (const s of suspects) failed.add(s);
      offset = 0;
      if (viaOrigin) return fromOrigin(0, broke, true);
    } else if (parent) {
      node.stats.parentChanges++;
      failed.add(parent.id);
      log.warn({ digest, parent: parent.id, offset, reason: broke }, 'p2p parent stream broke or stalled: asking for another, resuming at the byte reached');
      parent = undefined;
    } else if (viaOrigin) {
      return fromOrigin(offset, broke);
    }
    for (let i = 0; i < MAX_PARENTS_PER_BREAK; i++) {
      const p = await node.parent(digest, offset, failed);
      if (!p) break;
      await (confirmed ??= confirm());
      const got = await node.readPeer(p, digest, offset);
      if (got) {
        parent = p;
        contributors.add(p.id);
        if (i > 0 || offset > 0) log.info({ digest, parent: p.id, offset }, 'p2p: streaming from a new parent');
        return track(got, 'peer', offset);
      }
      failed.add(p.id);
    }
    return fromOrigin(offset);
  };
}
