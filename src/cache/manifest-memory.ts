/** Manifest bytes by digest, LRU-bounded by total bytes: warm manifest hits never touch the disk. */
export class ManifestMemory {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(digest: string): Buffer | undefined {
    const b = this.map.get(digest);
    if (b) { this.map.delete(digest); this.map.set(digest, b); }
    return b;
  }

  set(digest: string, buf: Buffer): void {
    if (buf.length > this.maxBytes) return;
    const old = this.map.get(digest);
    if (old) { this.map.delete(digest); this.bytes -= old.length; }
    this.map.set(digest, buf);
    this.bytes += buf.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }
}
