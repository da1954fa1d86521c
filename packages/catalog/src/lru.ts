/**
 * An approximate least-recently-used cache for immutable, hash-keyed values (so entries never go
 * stale). Two generations instead of a reordered list: a hit in the young map costs one Map lookup
 * (true LRU's delete+reinsert on every hit was the hot spot of skip-pointer walks); a hit in the old
 * map promotes the entry; when the young map holds `capacity` entries, it becomes the old one and the
 * old one is dropped.
 *
 * So the `capacity` most recently used entries always stay, and up to twice as many are held. The
 * generations used to turn over at half the capacity, which kept memory under `capacity` but made a
 * working set between half and all of it churn: 30,000 commits looked up at random in a 50,000-commit
 * cache missed ~15% of the time, each miss a chunk read and a JSON parse (commit@{t} at 30,000 versions
 * cost 2.8x its cost at 10).
 */
export class Lru<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`cache capacity must be >= 1, got ${capacity}`);
  }

  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.capacity && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
