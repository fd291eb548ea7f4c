/**
 * A bounded memory of answers keyed by two strings, kept as a map of maps so no pair of keys can
 * collide through a separator (a name containing "\0" must never find another name's answer).
 * Full: forgotten at once and filled again (the hot keys come back first).
 */
export class PairMemo<V> {
  private readonly maps = new Map<string, Map<string, V>>();
  private count = 0;

  constructor(private readonly max = 10_000) {}

  get(a: string, b: string): V | undefined {
    return this.maps.get(a)?.get(b);
  }

  set(a: string, b: string, v: V): void {
    if (this.count >= this.max) { this.maps.clear(); this.count = 0; }
    let m = this.maps.get(a);
    if (!m) this.maps.set(a, (m = new Map()));
    if (!m.has(b)) this.count++;
    m.set(b, v);
  }
}
