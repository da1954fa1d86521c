/**
 * An approximate least-recently-used cache for immutable, hash-keyed values (so entries never go
 * stale). Two generations instead of a reordered list: a hit in the young map costs one Map lookup
 * (true LRU's delete+reinsert on every hit was the hot spot of skip-pointer walks); a hit in the old
 * map promotes the entry; when the young map fills, it becomes the old one and the old is dropped.
 * Holds between capacity/2 and capacity entries once warm.
 */
export class Lru<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(capacity: number) {
    this.half = Math.max(1, Math.floor(capacity / 2));
  }

  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.half && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
