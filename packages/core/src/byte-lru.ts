/**
 * A map of immutable values bounded by their total size in bytes: past `budget`, the least recently
 * set-or-hit entries go first (a Map's insertion order, refreshed on a hit). A value larger than the
 * whole budget is not kept. For caches of content-addressed data, which never goes stale.
 */
export class ByteLru<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private held = 0;

  constructor(readonly budget: number) {}

  get(key: K): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  set(key: K, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.budget) return;
    while (this.held + bytes > this.budget) {
      const [oldest, e] = this.entries.entries().next().value as [K, { bytes: number }];
      this.entries.delete(oldest);
      this.held -= e.bytes;
    }
    this.entries.set(key, { value, bytes });
    this.held += bytes;
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.held -= e.bytes;
  }

  /** Bytes of the values held (as given to `set`). */
  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }
}
