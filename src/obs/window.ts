/**
 * Counts over a sliding time window, per key, in fixed time slots (window / slots each). Memory is
 * bounded twice: by the slot count per key and by `maxKeys` (the least recently touched key goes
 * first), so a scan from a million addresses cannot grow it without limit.
 *
 * The window slides by whole slots: a count leaves the window between `window - slot` and `window`
 * after it was added. With 60 slots that is within 1/60 of the window, which is what rate alerts
 * need and far cheaper than keeping every timestamp.
 */
/** What anomaly rules ask of a counter: this process's (SlidingCounter) or the fleet's (cluster/counter-sync.ts). */
export interface WindowCounter {
  /** Adds `n` to `key` at time `now` and returns the key's total over the window ending at `now`. */
  add(key: string, now: number, n?: number): number;
  /** The key's total over the window ending at `now` (0 for an unknown key). */
  total(key: string, now: number): number;
}

/** A key's slots, their slot numbers, and the slot in which it last moved to the LRU end. */
interface Entry { slots: Float64Array; stamps: Float64Array; moved: number }

export class SlidingCounter implements WindowCounter {
  private readonly slotMs: number;
  private readonly keys = new Map<string, Entry>();

  constructor(readonly windowMs: number, private readonly slots = 60, private readonly maxKeys = 100_000) {
    this.slotMs = Math.max(1, Math.ceil(windowMs / slots));
  }

  /** Adds `n` to `key` at time `now` and returns the key's total over the window ending at `now`. */
  add(key: string, now: number, n = 1): number {
    const slot = Math.floor(now / this.slotMs);
    let k = this.keys.get(key);
    if (!k) {
      k = { slots: new Float64Array(this.slots), stamps: new Float64Array(this.slots).fill(-1), moved: slot };
      if (this.keys.size >= this.maxKeys) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(key, k);
    } else if (k.moved !== slot) {
      // Re-insert (Map order is our LRU order) at most once per slot: a delete + set on every
      // add grew V8's old generation by megabytes a second under load. LRU to the slot is enough.
      k.moved = slot;
      this.keys.delete(key);
      this.keys.set(key, k);
    }
    const i = slot % this.slots;
    if (k.stamps[i] !== slot) { k.stamps[i] = slot; k.slots[i] = 0; }
    k.slots[i]! += n;
    return this.sum(k, slot);
  }

  /** The key's total over the window ending at `now` (0 for an unknown key). */
  total(key: string, now: number): number {
    const k = this.keys.get(key);
    return k ? this.sum(k, Math.floor(now / this.slotMs)) : 0;
  }

  /** Keys with their totals, largest first. */
  top(now: number, n: number): { key: string; count: number }[] {
    const slot = Math.floor(now / this.slotMs);
    const out: { key: string; count: number }[] = [];
    for (const [key, k] of this.keys) {
      const count = this.sum(k, slot);
      if (count > 0) out.push({ key, count });
    }
    return out.sort((a, b) => b.count - a.count || a.key.localeCompare(b.key)).slice(0, n);
  }

  /** Drops keys with nothing left in the window (call now and then; `add` never needs it). */
  prune(now: number): void {
    const slot = Math.floor(now / this.slotMs);
    for (const [key, k] of this.keys) if (this.sum(k, slot) === 0) this.keys.delete(key);
  }

  get size(): number { return this.keys.size; }

  /** What is still inside the window at `now`, as [key, [slot, count, slot, count, ...]]: for saving across restarts. */
  dump(now: number): [string, number[]][] {
    const slot = Math.floor(now / this.slotMs);
    const out: [string, number[]][] = [];
    for (const [key, k] of this.keys) {
      const pairs: number[] = [];
      for (let i = 0; i < this.slots; i++) {
        const s = k.stamps[i]!;
        if (s > slot - this.slots && s <= slot && k.slots[i]! > 0) pairs.push(s, k.slots[i]!);
      }
      if (pairs.length) out.push([key, pairs]);
    }
    return out;
  }

  /** Adds back what `dump` saved (a counter of the same window and slot count); malformed rows are skipped. */
  restore(rows: unknown): void {
    if (!Array.isArray(rows)) return;
    for (const row of rows) {
      if (!Array.isArray(row) || typeof row[0] !== 'string' || !Array.isArray(row[1])) continue;
      const pairs = row[1] as unknown[];
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        const s = pairs[i];
        const n = pairs[i + 1];
        if (Number.isInteger(s) && typeof n === 'number' && Number.isFinite(n) && n > 0) this.add(row[0], (s as number) * this.slotMs, n);
      }
    }
  }

  /** The window and slot layout, so a saved dump is only restored into a counter that reads it the same way. */
  get layout(): string { return `${this.windowMs}/${this.slots}`; }

  private sum(k: Entry, slot: number): number {
    let t = 0;
    for (let i = 0; i < this.slots; i++) {
      const s = k.stamps[i]!;
      if (s > slot - this.slots && s <= slot) t += k.slots[i]!;
    }
    return t;
  }
}
