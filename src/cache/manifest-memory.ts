/** Manifest bytes by digest, LRU-bounded by total bytes: warm manifest hits never touch the disk. */
export class ManifestMemory {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;
  /** The digest last moved to the end (most recent): moving it again would change nothing. */
  private newest: string | undefined;

  constructor(private readonly maxBytes: number) {}

  get(digest: string): Buffer | undefined {
    const b = this.map.get(digest);
    // The map lives in V8's old generation, where every rehash allocates there: a delete + set per
    // warm hit grew the heap (peak RSS) by megabytes a second. Most hits are for the newest entry.
    if (b && digest !== this.newest) { this.map.delete(digest); this.map.set(digest, b); this.newest = digest; }
    return b;
  }

  set(digest: string, buf: Buffer): void {
    if (buf.length > this.maxBytes) return;
    const old = this.map.get(digest);
    if (old) { this.map.delete(digest); this.bytes -= old.length; }
    this.map.set(digest, buf);
    this.newest = digest;
    this.bytes += buf.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }
}
