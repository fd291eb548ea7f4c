/**
 * Fleet-wide coordination of blob downloads: which instance owns the one upstream fetch of a
 * digest. One instance (no Redis) is the degenerate case: every claim is "solo".
 */
export interface PeerInfo { instance: string; url: string }

export type Claim =
  /** We own the fetch: renew the lease while downloading, release it when done. */
  | { kind: 'owner'; release(): Promise<void> }
  /** Another instance owns it: stream from it (and take over if it dies). */
  | { kind: 'peer'; peer: PeerInfo }
  /** No coordination available (single instance, or Redis down): fetch alone. */
  | { kind: 'solo' };

export interface FetchCoordinator {
  readonly self: PeerInfo | undefined;
  claim(digest: string): Promise<Claim>;
  /** After a peer failed us: claim only if the owner's lease is gone or held by that dead peer. */
  takeOver(digest: string, deadPeer: PeerInfo): Promise<Claim>;
  /** False while the coordination backend is unreachable (instances serve alone, degraded). */
  healthy(): boolean;
  /**
   * True for the first instance of the fleet to claim `key` within `ttlMs` (alert de-duplication);
   * true as well when coordination is unavailable: a duplicate beats a lost alert.
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export class SoloCoordinator implements FetchCoordinator {
  readonly self = undefined;
  async claim(): Promise<Claim> { return { kind: 'solo' }; }
  async takeOver(): Promise<Claim> { return { kind: 'solo' }; }
  healthy(): boolean { return true; }
  async claimOnce(): Promise<boolean> { return true; }
  async close(): Promise<void> {}
}
