import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../obs/logger.js';
import type { StorageDriver } from '../store/driver.js';
import type { IndexCompleteness } from '../store/indexed-metadata.js';
import type { IndexProgress } from '../store/index-rebuild.js';
import { repoFromTagKey, type RepoKey } from '../store/paths.js';
import { RELEASE, RENEW } from './redis-coordinator.js';

/** The fleet's index keys, all under the fleet's `{namespace}` (one Redis Cluster slot, so the scripts may touch several). */
export interface IndexKeys {
  /** Hash digest -> size. */
  sizes: string;
  /** Sorted set digest -> last use (microseconds): the LRU order. */
  lru: string;
  /** Hash {blobs, bytes}, kept by the same scripts that change `sizes`. */
  totals: string;
  /** Sorted set, all scores 0, of `<display>\0<registry>\0<name>`: the catalog in display order. */
  catalog: string;
  /** Present when the index describes the whole bucket; FLUSHALL (or a new Redis) removes it. */
  complete: string;
  /** The build under way (its token): the marker is set only if no FLUSHALL came in the middle. */
  building: string;
  /** The leader lease: the one instance that evicts and builds. */
  leader: string;
}

export function indexKeys(prefix: string): IndexKeys {
  const k = (s: string) => `${prefix}idx:${s}`;
  return { sizes: k('sizes'), lru: k('lru'), totals: k('totals'), catalog: k('catalog'), complete: k('complete'), building: k('building'), leader: k('leader') };
}

/**
 * Indexes a blob (KEYS sizes, lru, totals; ARGV digest, size, last use, "1" to leave a known blob's
 * size alone): size, recency and totals change together, so the totals never drift from the rows.
 */
export const ADD_BLOB = `
local old = redis.call('hget', KEYS[1], ARGV[1])
redis.call('zadd', KEYS[2], 'GT', ARGV[3], ARGV[1])
if old and ARGV[4] == '1' then return 0 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
if old then redis.call('hincrby', KEYS[3], 'bytes', tonumber(ARGV[2]) - tonumber(old))
else redis.call('hincrby', KEYS[3], 'blobs', 1) redis.call('hincrby', KEYS[3], 'bytes', ARGV[2]) end
return 1`;

/** Marks the build complete only if its token still stands (a FLUSHALL during the build removed it: the build saw half). */
const FINISH_BUILD = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) redis.call('set', KEYS[2], ARGV[2]) return 1 else return 0 end`;

const BATCH = 1000;

/** How often each instance checks the marker and the lease; the lease lives three times that. */
export interface SharedIndexTiming { checkEveryMs: number; leaseMs: number }
const TIMING: SharedIndexTiming = { checkEveryMs: 2000, leaseMs: 6000 };

/**
 * The fleet's shared index as a whole: whether it is complete (the marker), which instance leads
 * (a SET NX PX lease renewed at each check, the RedisCoordinator's compare-and-act scripts), and
 * the leader's background build from the bucket when the marker is missing (a new or flushed
 * Redis). Starting costs two Redis calls and no LIST of the bucket; only a leader that finds the
 * marker gone lists `blobs/` and `repositories/`, while every instance serves.
 */
export class SharedIndex implements IndexCompleteness {
  readonly progress: IndexProgress = { phase: 'ready', scanned: 0 };
  private isComplete = false;
  private leaderUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly redis: Redis,
    readonly keys: IndexKeys,
    private readonly self: string,
    private readonly driver: StorageDriver,
    /** The catalog member of a repository (cluster/redis-catalog.ts). */
    private readonly member: (r: RepoKey) => string,
    private readonly log: Logger,
    private readonly timing: SharedIndexTiming = TIMING,
  ) {}

  complete(): boolean { return this.isComplete; }
  leading(): boolean { return Date.now() < this.leaderUntil; }

  /** One check now (never a build awaited), then one every checkEveryMs. */
  async start(): Promise<void> {
    // The fleet's connection queues nothing: checked before it is up, the index would read as
    // incomplete (catalog from the bucket) until the next check.
    await connected(this.redis, 1000);
    await this.check();
    this.timer = setInterval(() => void this.check(), this.timing.checkEveryMs);
    this.timer.unref();
  }

  /** Reads the marker and takes or renews the lease; the leader starts a build when the marker is missing. */
  async check(): Promise<void> {
    try {
      const marker = await this.redis.get(this.keys.complete);
      if (!marker && this.isComplete) this.log.warn('shared index: the completeness marker is gone (Redis lost its data?): the catalog reads the bucket and eviction waits until the leader has rebuilt it');
      this.isComplete = marker !== null;
      await this.lead();
      if (!this.isComplete && this.leading() && !this.running) void this.build('the marker is missing (a new or flushed Redis)');
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'shared index: check failed (Redis unreachable?)');
    }
  }

  /** True while this instance holds the leader lease (taken if free, renewed if ours). */
  async lead(): Promise<boolean> {
    const until = Date.now() + this.timing.leaseMs;
    const ttl = String(this.timing.leaseMs);
    const got = (await this.redis.set(this.keys.leader, this.self, 'PX', this.timing.leaseMs, 'NX')) === 'OK'
      || (await this.redis.eval(RENEW, 1, this.keys.leader, this.self, ttl)) === 1;
    // A margin under the TTL: by the time another instance can take it, this one has stopped acting.
    this.leaderUntil = got ? until - this.timing.checkEveryMs / 2 : 0;
    return got;
  }

  /** Rebuilds from the bucket now, unless a build runs (the admin asking, or tests). */
  rebuild(reason = 'asked for'): Promise<void> { return this.running ?? this.build(reason); }

  async settled(): Promise<void> { await this.running; }

  private build(reason: string): Promise<void> {
    const token = randomUUID();
    Object.assign(this.progress, { phase: 'rebuilding', reason, scanned: 0, startedAt: Date.now(), finishedAt: undefined, error: undefined });
    this.log.info({ reason }, 'shared index: building from the bucket in the background (this instance leads; the fleet serves meanwhile)');
    this.running = this.scan(token).then((done) => {
      Object.assign(this.progress, { phase: 'ready', finishedAt: Date.now() });
      this.isComplete = done;
      this.log.info({ scanned: this.progress.scanned, ms: Date.now() - this.progress.startedAt!, done }, done ? 'shared index: complete' : 'shared index: build overtaken (Redis flushed meanwhile); the next check starts again');
    }, (e: Error) => {
      Object.assign(this.progress, { phase: 'ready', error: e.message });
      if (!this.stopping) this.log.error({ err: e.message }, 'shared index: build failed; the next check starts again');
    }).finally(() => { this.running = undefined; });
    return this.running;
  }

  /** Adds what the bucket holds without overwriting what instances wrote meanwhile (sizes stay, recency only grows). */
  private async scan(token: string): Promise<boolean> {
    await this.redis.set(this.keys.building, token, 'PX', 24 * 3600_000);
    await this.scanBlobs();
    await this.scanRepositories();
    return (await this.redis.eval(FINISH_BUILD, 2, this.keys.building, this.keys.complete, token, String(Date.now()))) === 1;
  }

  private async scanBlobs(): Promise<void> {
    let p = this.redis.pipeline();
    const k = this.keys;
    for await (const e of this.driver.list('blobs')) {
      const m = /^blobs\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)$/.exec(e.key);
      if (m) p.eval(ADD_BLOB, 3, k.sizes, k.lru, k.totals, `${m[1]}:${m[2]}`, String(e.size), String(Math.round(e.mtimeMs * 1000)), '1');
      if (++this.progress.scanned % BATCH === 0) { await this.send(p); p = this.redis.pipeline(); }
    }
    await this.send(p);
  }

  private async scanRepositories(): Promise<void> {
    let p = this.redis.pipeline();
    let last = '';
    for await (const e of this.driver.list('repositories')) {
      const r = repoFromTagKey(e.key);
      const member = r && this.member(r);
      if (member && member !== last) p.zadd(this.keys.catalog, 0, member);
      last = member || last;
      if (++this.progress.scanned % BATCH === 0) { await this.send(p); p = this.redis.pipeline(); }
    }
    await this.send(p);
  }

  /** One pipeline per batch; stops at shutdown and when the lease was lost (another leader builds). */
  private async send(p: ReturnType<Redis['pipeline']>): Promise<void> {
    const results = (await p.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0]!;
    if (this.stopping) throw new Error('stopped: the process is shutting down');
    if (!this.leading()) throw new Error('lost the leader lease: the next leader builds');
  }

  async close(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => {});
    if (this.leading()) await this.redis.eval(RELEASE, 1, this.keys.leader, this.self).catch(() => {});
    this.leaderUntil = 0;
  }
}

/** Resolves once the connection is ready, or after `ms` (Redis down: the instance serves degraded, the checks retry). */
function connected(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(finish, ms);
    function finish() { clearTimeout(timer); redis.off('ready', finish); done(); }
    redis.once('ready', finish);
  });
}
