import type { Hash } from '@armillaria/core';
import type { LogRecord } from './fs-ref-log-format.js';
import type { ReflogValue } from './ref-store.js';
import { expiryOf } from './reflog-expiry.js';

/** Distinct values remembered for sharing (see RefIndex.recent). */
const RECENT_VALUES = 1024;

/** Which reflog records survive an expiry, and what it removes. */
export interface ExpiryPlan {
  /** File offsets of the reflog entries kept (of every ref, the prefix's and the others'), ascending. */
  keep: number[];
  entriesRemoved: number;
  refsForgotten: number;
}

/**
 * Where one ref's reflog entries sit in the log file, oldest first, with their (non-decreasing) times and
 * the values they gave the ref (null: deleted), so a lookup by time (`ref@{time}`) reads no file.
 */
interface RefHistory {
  offsets: number[];
  times: number[];
  /** The first entry's value: the same string as the ref's current value while that entry is its only one. */
  first: Hash | null;
  /**
   * Every entry's value once there are two or more. Most refs (the commit index: one per commit) never get
   * a second entry, and a one-slot array would cost them ~56 bytes each.
   */
  values?: (Hash | null)[];
}

/**
 * The state the ref log describes, kept in memory and advanced record by record: current values, the
 * existing names in sorted order (prefix listing is a binary search) and, per ref, the file offsets, times
 * and values of its reflog entries (a lookup by time is a binary search; a whole entry, with its message
 * and author, is one read at its offset).
 */
export class RefIndex {
  private readonly values = new Map<string, Hash>();
  /** Existing names, sorted, except those in `unsorted`. */
  private names: string[] = [];
  /**
   * Names created since the last list(), merged into `names` by the next one. Inserting each into the
   * sorted array cost O(refs) per new ref: reading a log of 100,000 commit-index refs took 3.6 s, quadratic
   * in the refs; a sort and one merge per list keep opening a store O(n log n).
   */
  private readonly unsorted = new Set<string>();
  private readonly histories = new Map<string, RefHistory>();
  /**
   * Values of the records applied last, by content, so equal values share one string: a commit is indexed
   * (its own ref) just before a branch moves to it, and reflog values would otherwise each hold a copy
   * parsed from their own record (~80 bytes an entry). Cleared when full.
   */
  private recent = new Map<Hash, Hash>();

  get(name: string): Hash | undefined {
    return this.values.get(name);
  }

  lastTime(name: string): number | undefined {
    const h = this.histories.get(name);
    return h?.times[h.times.length - 1];
  }

  /** Applies one record found at `offset` of the log. */
  apply(r: LogRecord, offset: number): void {
    const v = this.shared(r.v);
    if (r.k !== 'log') this.setValue(r.n, v);
    if (r.k === 'set') return;
    const h = this.histories.get(r.n);
    if (!h) {
      // Arrays of exactly one: most refs (the commit index: one per commit) never get a second entry, and
      // `[]` grows to 17 slots on its first push, ~250 bytes per ref for nothing.
      this.histories.set(r.n, { offsets: [offset], times: [r.t], first: v });
      return;
    }
    // Writers clamp times; a migrated layout-1 log is clamped on import. Clamp again so a hand-edited log
    // cannot break the binary search.
    const last = h.times[h.times.length - 1];
    h.offsets.push(offset);
    (h.values ??= [h.first]).push(v);
    h.times.push(last !== undefined && last > r.t ? last : r.t);
  }

  /** Existing refs whose names start with `prefix`, sorted by name (code-unit order). */
  list(prefix: string): { name: string; value: Hash }[] {
    if (this.unsorted.size > 0) this.mergeUnsorted();
    const out: { name: string; value: Hash }[] = [];
    for (let i = lowerBound(this.names, prefix); i < this.names.length; i++) {
      const name = this.names[i] as string;
      if (!name.startsWith(prefix)) break;
      out.push({ name, value: this.values.get(name) as Hash });
    }
    return out;
  }

  /** Offsets of the reflog entries of `name` with time < `before`, newest first, at most `limit`. */
  reflogOffsets(name: string, before: number, limit: number): number[] {
    const h = this.histories.get(name);
    if (!h) return [];
    const lo = lowerBound(h.times, before);
    const out: number[] = [];
    for (let i = lo - 1; i >= 0 && out.length < limit; i--) out.push(h.offsets[i] as number);
    return out;
  }

  /** The value and time of the newest reflog entry of `name` with time < `before` (see RefStore.reflogValue). */
  reflogValue(name: string, before: number): ReflogValue | undefined {
    const h = this.histories.get(name);
    if (!h) return undefined;
    const i = lowerBound(h.times, before) - 1;
    if (i < 0) return undefined;
    return { value: h.values ? (h.values[i] as Hash | null) : h.first, time: h.times[i] as number };
  }

  /** The reflog entries `expireReflog(before, {prefix})` keeps (see RefStore.expireReflog and expiryOf). */
  planExpiry(before: number, prefix: string): ExpiryPlan {
    const plan: ExpiryPlan = { keep: [], entriesRemoved: 0, refsForgotten: 0 };
    for (const [name, h] of this.histories) {
      let drop = 0;
      if (name.startsWith(prefix)) {
        const e = expiryOf(lowerBound(h.times, before), h.times.length, this.values.has(name));
        drop = e.drop;
        plan.entriesRemoved += e.drop;
        if (e.forget) plan.refsForgotten++;
      }
      for (let i = drop; i < h.offsets.length; i++) plan.keep.push(h.offsets[i] as number);
    }
    // Offsets are unique positions in one file: sorting numbers as float64 keeps the log's own order.
    plan.keep = Array.from(Float64Array.from(plan.keep).sort());
    return plan;
  }

  private shared(value: Hash | null): Hash | null {
    if (value === null) return null;
    const seen = this.recent.get(value);
    if (seen !== undefined) return seen;
    if (this.recent.size >= RECENT_VALUES) this.recent = new Map();
    this.recent.set(value, value);
    return value;
  }

  private setValue(name: string, value: Hash | null): void {
    const had = this.values.has(name);
    if (value === null) {
      if (!had) return;
      this.values.delete(name);
      if (!this.unsorted.delete(name)) this.names.splice(lowerBound(this.names, name), 1);
    } else {
      this.values.set(name, value);
      if (!had) this.unsorted.add(name);
    }
  }

  private mergeUnsorted(): void {
    const added = [...this.unsorted].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.unsorted.clear();
    const old = this.names;
    const merged = new Array<string>(old.length + added.length);
    let i = 0;
    let j = 0;
    for (let k = 0; k < merged.length; k++) merged[k] = j >= added.length || (i < old.length && (old[i] as string) < (added[j] as string)) ? (old[i++] as string) : (added[j++] as string);
    this.names = merged;
  }
}

/**
 * First index of sorted `a` whose element is >= `key` (as `<`: code-unit order on strings), i.e. how many
 * elements are below `key`: ref names for listing, reflog times for a lookup by time.
 */
function lowerBound<T extends string | number>(a: readonly T[], key: T): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as T) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
