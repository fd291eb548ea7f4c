/**
 * The conformance suite every FetchCoordinator must pass: SoloCoordinator (src/cluster/coordinator.test.ts)
 * and RedisCoordinator against a real redis-server (test/cluster/redis-coordinator.test.ts).
 * `make` returns a fleet: `join(id)` adds an instance (a coordinator of its own) to it.
 *
 * The contract, as clusterSource (peer.ts) and the alert de-duplication (obs/plugin.ts) use it:
 *  - a claim never leaves two instances fetching one digest upstream while coordinated: of
 *    concurrent claims, one is `owner` and the others `peer` naming it, or all are `solo`
 *    (no coordination: everyone fetches alone, never anyone waiting on nobody);
 *  - an instance is never told to stream from itself;
 *  - release lets the next claimer in; a holder that died (stopped renewing) loses its lease
 *    within the lease TTL, and a takeOver naming it as the dead peer succeeds at once;
 *  - a takeOver naming a peer that does not hold the lease never steals it from the live holder;
 *  - claimOnce: at least one instance gets true for a key (a duplicate alert beats a lost one),
 *    at most one per TTL while coordinated, and the key is free again once the TTL has passed;
 *  - a coordinator with `self` (part of a fleet) that is healthy coordinates: never `solo`.
 * Time: leases and claimOnce keys expire on the backend's clock, so the suite waits for the
 * observable change (waitFor), bounded by a few TTLs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Claim, FetchCoordinator } from './coordinator.js';
import { waitFor } from '../testing/wait.js';

export interface CoordinatedFleet {
  /** A new instance of the fleet, ready (healthy) when it resolves. */
  join(instance: string): Promise<FetchCoordinator>;
  /** The lease TTL the instances were made with (ms). */
  leaseTtlMs: number;
  cleanup(): Promise<void>;
}

const owner = (c: Claim) => c.kind === 'owner';
/** A claim that lets the caller fetch upstream itself (it owns the fetch, or nobody coordinates). */
const mayFetch = (c: Claim) => c.kind === 'owner' || c.kind === 'solo';
const release = async (c: Claim) => {
  if (c.kind === 'owner') await c.release();
};
const coordinated = (c: FetchCoordinator) => c.self !== undefined && c.healthy();

export function coordinatorSuite(name: string, make: () => Promise<CoordinatedFleet>): void {
  describe(`fetch coordinator conformance: ${name}`, () => {
    let fleet: CoordinatedFleet;
    const joined: FetchCoordinator[] = [];
    const join = async (id: string) => {
      const c = await fleet.join(`${id}-${randomUUID().slice(0, 6)}`);
      joined.push(c);
      return c;
    };
    const digest = () => `sha256:${randomUUID().replace(/-/g, '').repeat(2)}`;
    before(async () => {
      fleet = await make();
    });
    after(async () => {
      await Promise.all(joined.map((c) => c.close()));
      await fleet.cleanup();
    });

    it('is healthy once joined, and a member of a fleet knows itself', async () => {
      const a = await join('a');
      assert.equal(a.healthy(), true);
      if (a.self) assert.ok(a.self.instance && a.self.url, `self: ${JSON.stringify(a.self)}`);
    });

    it('concurrent claims: one owner and every other instance told to stream from it, or all solo', async () => {
      const fleetOf = await Promise.all(['a', 'b', 'c', 'd'].map(join));
      const d = digest();
      const claims = await Promise.all(fleetOf.map((c) => c.claim(d)));
      const owners = claims.filter(owner);
      assert.ok(owners.length <= 1, `owners: ${owners.length}`);
      if (owners.length === 0) assert.ok(claims.every((c) => c.kind === 'solo'), `no owner, yet: ${JSON.stringify(claims)}`);
      else {
        const holder = fleetOf[claims.findIndex(owner)]!.self!;
        for (const c of claims) if (!owner(c)) assert.deepEqual(c, { kind: 'peer', peer: holder });
      }
      if (fleetOf.every(coordinated)) assert.equal(owners.length, 1, 'a healthy fleet coordinates');
      await Promise.all(claims.map(release));
    });

    it('an instance is never told to stream from itself', async () => {
      const a = await join('a');
      const d = digest();
      const first = await a.claim(d);
      const again = await a.claim(d);
      assert.ok(mayFetch(first) && mayFetch(again), `${first.kind}, then ${again.kind}`);
      await release(again);
      await release(first);
    });

    it('release lets the next claimer in', async () => {
      const [a, b, c] = await Promise.all([join('a'), join('b'), join('c')]);
      const d = digest();
      const first = await a.claim(d);
      const waiting = await b.claim(d);
      if (owner(first)) assert.equal(waiting.kind, 'peer');
      await release(first);
      const next = await b.claim(d);
      assert.ok(mayFetch(next), `after the release b may fetch: ${next.kind}`);
      const third = await c.claim(d);
      if (owner(next)) assert.deepEqual(third, { kind: 'peer', peer: b.self });
      await release(next);
    });

    it('a holder that died (stopped renewing) loses its lease within the TTL', async () => {
      const [a, b] = await Promise.all([join('a'), join('b')]);
      const d = digest();
      const started = performance.now(); // before the claim: the lease cannot have started earlier
      const held = await a.claim(d);
      await a.close(); // no release, no renewal: as if the process was killed
      const next = await waitFor(async () => {
        const c = await b.claim(d);
        return mayFetch(c) ? c : undefined;
      }, `the dead holder's lease (${held.kind}) to lapse`, fleet.leaseTtlMs * 4 + 2_000);
      if (owner(held)) assert.ok(performance.now() - started >= fleet.leaseTtlMs * 0.9, `the lease of a live-looking holder must not vanish early (${Math.round(performance.now() - started)} ms)`);
      await release(next);
    });

    it('takeOver from the dead peer succeeds at once; naming a peer that does not hold the lease steals nothing', async () => {
      const [a, b, c] = await Promise.all([join('a'), join('b'), join('c')]);
      const d = digest();
      const held = await a.claim(d);
      const ghost = { instance: `ghost-${randomUUID()}`, url: 'http://127.0.0.1:9' };
      const refused = await c.takeOver(d, ghost);
      assert.ok(!(owner(held) && owner(refused)), 'two owners');
      if (owner(held)) assert.deepEqual(refused, { kind: 'peer', peer: a.self });
      if (a.self) {
        const taken = await b.takeOver(d, a.self);
        assert.ok(mayFetch(taken), `b took over from a: ${taken.kind}`);
        const after = await c.claim(d);
        if (owner(taken)) assert.deepEqual(after, { kind: 'peer', peer: b.self }, 'the lease is b\u2019s now');
        await release(taken);
      }
      const free = await c.takeOver(digest(), ghost);
      assert.ok(mayFetch(free), `a takeOver of a digest nobody holds: ${free.kind}`);
      await release(free);
      await release(held);
    });

    it('claimOnce: someone always gets a key, one instance per TTL while coordinated, and the key is free again after it', async () => {
      const fleetOf = await Promise.all(['a', 'b', 'c'].map(join));
      const key = `alert:${randomUUID()}`;
      const ttl = Math.max(300, fleet.leaseTtlMs);
      const first = await Promise.all(fleetOf.map((c) => c.claimOnce(key, ttl)));
      assert.ok(first.some(Boolean), 'nobody got the alert');
      if (fleetOf.every(coordinated)) {
        assert.equal(first.filter(Boolean).length, 1, `claimed by: ${first}`);
        assert.equal(await fleetOf[0]!.claimOnce(key, ttl), false, 'claimed again within the TTL');
        assert.equal(await fleetOf[1]!.claimOnce(`${key}-other`, ttl), true, 'another key is its own');
      }
      await waitFor(() => fleetOf[2]!.claimOnce(key, ttl), 'the key to be free once its TTL passed', ttl * 4 + 2_000);
    });
  });
}
