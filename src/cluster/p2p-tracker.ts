/**
 * The scheduler's picture of peer-to-peer distribution: per blob, which nodes hold it or are
 * receiving it, how far they are, and who streams to whom (a tree per blob whose root reads from
 * the central gateway). Pure: time comes in through `now`, nothing here does I/O.
 */

export interface NodeRef {
  /** A node's identity: its advertised URL (unique per node). */
  id: string;
  url: string;
  zone?: string;
  /** How many children it streams to at once. */
  maxChildren: number;
}

interface Member {
  node: NodeRef;
  /** Bytes it has received (last report). */
  bytes: number;
  size?: number;
  /** It holds the whole blob (received it all; verification is its own, see the peer endpoint). */
  done: boolean;
  /** Whom it streams from; undefined: the gateway (the root of the tree). */
  parent?: string;
  children: Set<string>;
  /** Its own digest check failed: its bytes explain its children's failures, and it is nobody's parent until done. */
  failedVerify: boolean;
  seen: number;
  /** Join order: between equal reports, who started first is further along. */
  joined: number;
}

export interface TrackerOptions {
  /** How long a parent whose bytes failed verification gets no children (ms). */
  quarantineMs: number;
  /** A receiving node silent this long is gone (ms). */
  staleMs: number;
  /** A node that holds a blob is offered as a parent this long after its last report (ms). */
  holdMs: number;
  now?: () => number;
}

export type Choice = { parent: NodeRef } | { parent: undefined };

export interface TreeView {
  digest: string;
  nodes: { id: string; zone?: string; bytes: number; size?: number; done: boolean; parent?: string; children: string[] }[];
}

export class P2pTracker {
  private readonly blobs = new Map<string, Map<string, Member>>();
  /** Node id -> quarantined until (ms). */
  private readonly quarantined = new Map<string, number>();
  private readonly now: () => number;
  private joins = 0;

  constructor(private readonly opts: TrackerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * A parent for `node`, which has `offset` bytes of `digest`: among the nodes with a free child
   * slot, not excluded, not quarantined and not below `node` in the tree (that would be a loop),
   * same zone first, then whoever holds the blob, then whoever is furthest. None: the gateway.
   * The requester joins the tree under its parent, so later requesters may be handed to it.
   */
  choose(digest: string, node: NodeRef, offset: number, exclude: readonly string[] = []): Choice {
    const members = this.members(digest);
    this.expire(digest, members);
    const self = members.get(node.id) ?? this.join(members, node);
    this.detach(members, self);
    self.node = node;
    self.bytes = offset;
    self.done = false;
    self.seen = this.now();
    const skip = new Set(exclude);
    const candidates = [...members.values()].filter((m) => m !== self && !skip.has(m.node.id) && !this.isQuarantined(m.node.id)
      && !m.failedVerify && m.children.size < m.node.maxChildren && !this.below(members, m, node.id));
    const zone = node.zone;
    candidates.sort((a, b) => rank(b, zone) - rank(a, zone) || Number(b.done) - Number(a.done) || b.bytes - a.bytes || a.joined - b.joined);
    const pick = candidates[0];
    if (!pick) return { parent: undefined };
    self.parent = pick.node.id;
    pick.children.add(node.id);
    return { parent: pick.node };
  }

  /** A node's progress; once it holds the whole blob it stops reading from its parent (the slot frees). */
  progress(digest: string, node: NodeRef, bytes: number, size: number | undefined, done: boolean): void {
    const members = this.members(digest);
    const m = members.get(node.id) ?? this.join(members, node);
    m.bytes = bytes;
    if (size !== undefined) m.size = size;
    m.seen = this.now();
    if (done) {
      m.done = true;
      m.failedVerify = false;
      this.detach(members, m);
    }
  }

  /** A node no longer receives the blob (its fetch failed or it went away). */
  leave(digest: string, nodeId: string): void {
    const members = this.blobs.get(digest);
    const m = members?.get(nodeId);
    if (!members || !m) return;
    this.detach(members, m);
    members.delete(nodeId);
    if (members.size === 0) this.blobs.delete(digest);
  }

  /**
   * `reporter`'s copy of `digest` failed verification; `parents` sent it its bytes. When one of
   * them failed verification itself, that explains it (the bytes were passed on, not made up):
   * nobody is quarantined. Otherwise the parents are quarantined. Returns who was.
   */
  corrupt(digest: string, reporter: NodeRef, parents: readonly string[]): string[] {
    const members = this.members(digest);
    const r = members.get(reporter.id) ?? this.join(members, reporter);
    r.failedVerify = true;
    r.bytes = 0;
    r.done = false;
    this.detach(members, r);
    if (parents.some((p) => members.get(p)?.failedVerify)) return [];
    const until = this.now() + this.opts.quarantineMs;
    for (const p of parents) {
      this.quarantined.set(p, until);
      this.leave(digest, p);
    }
    return [...parents];
  }

  isQuarantined(nodeId: string): boolean {
    const until = this.quarantined.get(nodeId);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.quarantined.delete(nodeId);
    return false;
  }

  /** The trees being distributed now (receiving members), for the status page. */
  trees(): TreeView[] {
    const out: TreeView[] = [];
    for (const [digest, members] of this.blobs) {
      this.expire(digest, members);
      if (![...members.values()].some((m) => !m.done)) continue;
      out.push({ digest, nodes: [...members.values()].map((m) => ({ id: m.node.id, zone: m.node.zone, bytes: m.bytes, size: m.size, done: m.done, parent: m.parent, children: [...m.children] })) });
    }
    return out;
  }

  private members(digest: string): Map<string, Member> {
    let m = this.blobs.get(digest);
    if (!m) { m = new Map(); this.blobs.set(digest, m); }
    return m;
  }

  private join(members: Map<string, Member>, node: NodeRef): Member {
    const m: Member = { node, bytes: 0, done: false, children: new Set(), failedVerify: false, seen: this.now(), joined: this.joins++ };
    members.set(node.id, m);
    return m;
  }

  private detach(members: Map<string, Member>, m: Member): void {
    if (m.parent !== undefined) members.get(m.parent)?.children.delete(m.node.id);
    m.parent = undefined;
  }

  /** Whether `m` is `ancestor` or below it. */
  private below(members: Map<string, Member>, m: Member | undefined, ancestor: string): boolean {
    for (let i = 0; m && i <= members.size; i++) {
      if (m.node.id === ancestor) return true;
      m = m.parent === undefined ? undefined : members.get(m.parent);
    }
    return false;
  }

  private expire(digest: string, members: Map<string, Member>): void {
    const now = this.now();
    for (const m of [...members.values()]) {
      const ttl = m.done ? this.opts.holdMs : this.opts.staleMs;
      if (now - m.seen > ttl) this.leave(digest, m.node.id);
    }
  }
}

function rank(m: Member, zone: string | undefined): number {
  return zone !== undefined && m.node.zone === zone ? 1 : 0;
}
