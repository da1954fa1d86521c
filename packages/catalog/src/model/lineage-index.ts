import type { Hash } from '@armillaria/core';
import { CorruptMetadataError } from '../errors.js';
import { Lru } from '../lru.js';
import type { Commit } from '../catalog-api.js';
import type { TreeRecord } from './commit.js';

/**
 * Generations one lineage holds by default: a longer history keeps its newest ones (older lookups take
 * the skip pointers). About 25 bytes per generation when the commits are cached (the arrays share their
 * hash strings) and 180 when they are not: estimated from array slots and string sizes, not measured.
 */
export const DEFAULT_LINEAGE_LIMIT = 100_000;

/** Generations a lineage may grow past its limit (or by the limit, if smaller) before its oldest ones are dropped. */
const TRIM_SLACK = 1024;

/**
 * A run of first-parent history held as arrays by generation: the commits' times, hashes and trees and,
 * per table incarnation, the table's version at each generation. A lookup by time or version is then a
 * binary search over an array of numbers, tens of nanoseconds whatever the length, where the skip
 * pointers need one commit (and tree) lookup per level: about 14 scattered objects at 10,000 commits,
 * which made such a lookup cost several times one over 10 commits even with every commit cached.
 *
 * It holds no commit objects, so it does not depend on the commit cache: a history longer than the
 * cache keeps its index (the lineage used to hold the commits and was capped at half the cache, and
 * past that every lookup took the skip pointers through a churning cache: 10x slower at 30,000 versions).
 *
 * Slot i holds generation `low + i`; slots run up to the tip the lineage was made for (or a descendant).
 */
export interface Lineage {
  /** Generation of slot 0. Falls as older commits are filled in, down to 0 or to the limit. */
  low: number;
  times: number[];
  /**
   * hashes[i] is the commit at generation low + i: a version lookup answers from these arrays alone.
   * Touching one commit object out of 10,000 scattered ones costs about a microsecond on the VMs this
   * runs on (a cache and TLB miss), as much as the rest of the lookup.
   */
  hashes: Hash[];
  trees: Hash[];
  /** First parent of the commit at `low`: undefined at the root. */
  below: Hash | undefined;
  /**
   * Per `table \0 origin`: that incarnation's version at each generation from `from` (-1 where it is
   * absent) and its manifest there, so a version lookup needs no tree read.
   */
  readonly versions: Map<string, IncarnationHistory>;
  /** Lookups that needed older commits than it holds (the commit store reads them once that is frequent). */
  misses: number;
  /**
   * The newest commits, copied side by side (`repack`) and extended by new tips: commits[g - from] is the
   * commit at generation g. A time lookup returns a commit, and taking it from here skips the commit
   * cache's hash lookup (~1 µs of scattered reads at 10,000 commits on the VMs this runs on).
   */
  packed?: { from: number; commits: Commit[] };
  /** Length when the commits were last copied (`repack`). */
  packedLength?: number;
}

export interface IncarnationHistory {
  /** Generation of slot 0 (the lineage's `low` when it was built; rebuilt when `low` moves). */
  from: number;
  versions: number[];
  manifests: Hash[];
}

/** What a lineage takes from a commit (a background fill keeps only this of the commits it reads). */
export type LineageEntry = Pick<Commit, 'hash' | 'generation' | 'time' | 'tree' | 'parents'>;

/** Newest generation a lineage holds. */
export function topOf(lineage: Lineage): number {
  return lineage.low + lineage.times.length - 1;
}

/**
 * Lineages of recently used tips, filled downwards from cached commits (no I/O here) and from commits
 * the commit store reads in the background (`extendDown`). A commit on top of a tip with a lineage
 * extends that lineage in O(1), so a branch that keeps moving keeps one lineage and each commit of a
 * history is walked once; a lookup older than a lineage holds takes the skip pointers.
 */
export class LineageIndex {
  private readonly byTip: Lru<Hash, Lineage>;

  constructor(
    private readonly peekCommit: (hash: Hash) => Commit | undefined,
    private readonly peekTree: (hash: Hash) => TreeRecord | undefined,
    /** Most generations one lineage holds (its newest). */
    readonly limit = DEFAULT_LINEAGE_LIMIT,
    tips = 256,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`lineage limit must be an integer >= 1, got ${limit}`);
    this.byTip = new Lru(tips);
  }

  /** A lineage holding `tip` (slot tip.generation - low), filled as far down as the cache allows. */
  of(tip: Commit): Lineage {
    let lineage = this.byTip.get(tip.hash);
    if (!lineage || !holds(lineage, tip)) {
      const parentHash = tip.parents[0];
      const parent = parentHash === undefined ? undefined : this.byTip.get(parentHash);
      lineage = parent && tip.generation - 1 >= parent.low ? this.extend(parent, tip) : single(tip);
      this.byTip.set(tip.hash, lineage);
    }
    if (this.missing(lineage) !== undefined) this.fillFromCache(lineage);
    return lineage;
  }

  /** The first parent of the oldest commit held, when the history goes further and the limit allows more. */
  missing(lineage: Lineage): Hash | undefined {
    return lineage.times.length < this.limit ? lineage.below : undefined;
  }

  /**
   * Adds older commits below the lineage: `older` runs down first parents from generation low - 1 (a
   * prefix the lineage already reached in the meantime is skipped). Arrays are rebuilt once per call,
   * so callers add in batches.
   */
  extendDown(lineage: Lineage, older: readonly LineageEntry[]): void {
    let i = older.findIndex((c) => c.generation === lineage.low - 1);
    if (i < 0) return;
    const times: number[] = [];
    const hashes: Hash[] = [];
    const trees: Hash[] = [];
    let expected = lineage.below;
    for (; i < older.length && lineage.times.length + times.length < this.limit; i++) {
      const c = older[i] as LineageEntry;
      if (c.hash !== expected) return; // not this lineage's history (a stale batch): nothing added
      if (c.generation !== lineage.low - 1 - times.length) throw new CorruptMetadataError('commit', c.hash, `generation ${c.generation} where ${lineage.low - 1 - times.length} was expected below its child`);
      times.push(c.time);
      hashes.push(c.hash);
      trees.push(c.tree);
      expected = c.parents[0];
    }
    if (times.length === 0) return;
    lineage.times = olderFirst(times, lineage.times);
    lineage.hashes = olderFirst(hashes, lineage.hashes);
    lineage.trees = olderFirst(trees, lineage.trees);
    lineage.low -= times.length;
    lineage.below = expected;
    if (lineage.below !== undefined && lineage.low === 0) throw new CorruptMetadataError('commit', lineage.hashes[0] as Hash, 'generation 0 has a parent');
  }

  /** Extends `lineage` downwards through cached first parents. */
  fillFromCache(lineage: Lineage): void {
    const older: Commit[] = [];
    for (let h = lineage.below; h !== undefined && lineage.times.length + older.length < this.limit;) {
      const c = this.peekCommit(h);
      if (!c) break;
      older.push(c);
      h = c.parents[0];
    }
    if (older.length > 0) this.extendDown(lineage, older);
  }

  /**
   * Versions of the incarnation `origin` of `table` along `lineage` up to generation `upTo`, filled from
   * cached trees (and `read`, trees the caller read without caching them); undefined when a tree is in
   * neither (the caller takes the skip pointers, and can read `treesMissing` in the background).
   */
  versionsOf(lineage: Lineage, table: string, origin: Hash, upTo: number, read?: ReadonlyMap<Hash, TreeRecord>): IncarnationHistory | undefined {
    const h = this.historyOf(lineage, table, origin);
    for (let g = h.from + h.versions.length; g <= upTo; g++) {
      const hash = lineage.trees[g - lineage.low] as Hash;
      const tree = this.peekTree(hash) ?? read?.get(hash);
      if (!tree) return undefined;
      const e = tree.tables[table];
      const held = e !== undefined && e.origin === origin;
      h.versions.push(held ? e.version : -1);
      h.manifests.push(held ? e.manifest : '');
    }
    return h;
  }

  /** Up to `max` trees, oldest first, that `versionsOf` lacks for generations up to `upTo`. */
  treesMissing(lineage: Lineage, table: string, origin: Hash, upTo: number, max: number): Hash[] {
    const h = this.historyOf(lineage, table, origin);
    const out: Hash[] = [];
    for (let g = h.from + h.versions.length; g <= upTo && out.length < max; g++) {
      const hash = lineage.trees[g - lineage.low] as Hash;
      if (!this.peekTree(hash)) out.push(hash);
    }
    return out;
  }

  /**
   * Copies the cached commits of the newest `max` generations into fresh objects allocated one after
   * another, once the lineage has doubled since the last copy (each commit copied O(1) times on average),
   * and hands each copy to `adopt` (the commit cache keeps it instead of the original). Why: a time lookup
   * returns one commit of many, which the caller reads; commits made one by one over a long run lie
   * scattered across the heap, and reading one of 10,000 such costs ~1.2 µs on the VMs this runs on (a
   * cache and TLB miss) against 0.08 µs for one of 10. Copies made in one go sit side by side. `max`
   * keeps the copies within what the commit cache holds.
   */
  repack(lineage: Lineage, max: number, adopt: (c: Commit) => void): void {
    const n = lineage.times.length;
    if (this.missing(lineage) !== undefined || n < 64 || n < 2 * (lineage.packedLength ?? 0)) return;
    lineage.packedLength = n;
    // The newest run of cached commits, up to `max` of them.
    let from = n;
    while (from > 0 && n - from < max && this.peekCommit(lineage.hashes[from - 1] as Hash)) from--;
    const originals = lineage.hashes.slice(from).map((h) => this.peekCommit(h) as Commit);
    // Copied in one go, with nothing else allocated in between, so the copies lie side by side.
    const commits = originals.map((c) => Object.freeze({ ...c }));
    for (const c of commits) adopt(c);
    lineage.packed = commits.length > 0 ? { from: lineage.low + from, commits } : undefined;
  }

  /** The commit at generation `g` if `lineage` keeps it (`packed`): no hash lookup. */
  packedCommit(lineage: Lineage, g: number): Commit | undefined {
    const p = lineage.packed;
    return p === undefined ? undefined : p.commits[g - p.from];
  }

  private historyOf(lineage: Lineage, table: string, origin: Hash): IncarnationHistory {
    const key = `${table}\0${origin}`;
    let h = lineage.versions.get(key);
    // Built from the lineage's lowest generation; older commits filled in since make it start again.
    if (!h || h.from !== lineage.low) lineage.versions.set(key, (h = { from: lineage.low, versions: [], manifests: [] }));
    return h;
  }

  /** `parent`'s lineage plus `tip`: in place when `tip` is the next generation, else a copy up to it. */
  private extend(lineage: Lineage, tip: Commit): Lineage {
    const g = tip.generation;
    const slot = g - lineage.low;
    if (lineage.times.length === slot) {
      lineage.times.push(tip.time);
      lineage.hashes.push(tip.hash);
      lineage.trees.push(tip.tree);
      const p = lineage.packed;
      if (p && p.from + p.commits.length === g) p.commits.push(tip);
      if (lineage.times.length > this.limit + Math.min(TRIM_SLACK, this.limit)) trim(lineage, lineage.times.length - this.limit);
      return lineage;
    }
    // Another child of the same parent extended it first: this branch of history gets its own copy.
    const versions = new Map<string, IncarnationHistory>();
    for (const [k, v] of lineage.versions) {
      const keep = g - v.from;
      if (keep > 0) versions.set(k, { from: v.from, versions: v.versions.slice(0, keep), manifests: v.manifests.slice(0, keep) });
    }
    const copy: Lineage = {
      low: lineage.low,
      times: lineage.times.slice(0, slot),
      hashes: lineage.hashes.slice(0, slot),
      trees: lineage.trees.slice(0, slot),
      below: lineage.below,
      versions,
      misses: 0,
    };
    copy.times.push(tip.time);
    copy.hashes.push(tip.hash);
    copy.trees.push(tip.tree);
    const p = lineage.packed;
    if (p && g > p.from) copy.packed = { from: p.from, commits: [...p.commits.slice(0, g - p.from), tip] };
    return copy;
  }
}

/**
 * `older` (newest first) reversed, then `newer`, as a new packed array. Not `concat`: apache-arrow
 * defines Symbol.isConcatSpreadable, which sends every Array concat in the process down V8's generic
 * path, and that returns large arrays in dictionary mode (a hash table per element read: it made a
 * 10,000-commit lineage's time search 0.35 µs slower).
 */
function olderFirst<T>(older: readonly T[], newer: readonly T[]): T[] {
  const out: T[] = [];
  for (let i = older.length - 1; i >= 0; i--) out.push(older[i] as T);
  for (const v of newer) out.push(v);
  return out;
}

function single(tip: Commit): Lineage {
  return { low: tip.generation, times: [tip.time], hashes: [tip.hash], trees: [tip.tree], below: tip.parents[0], versions: new Map(), misses: 0 };
}

/** Whether `tip` is in `lineage` (a lineage trimmed since may have dropped it). */
function holds(lineage: Lineage, tip: Commit): boolean {
  return lineage.hashes[tip.generation - lineage.low] === tip.hash;
}

/** Drops the `n` oldest generations of `lineage` (and of its incarnation histories). */
function trim(lineage: Lineage, n: number): void {
  lineage.below = lineage.hashes[n - 1];
  lineage.low += n;
  lineage.times = lineage.times.slice(n);
  lineage.hashes = lineage.hashes.slice(n);
  lineage.trees = lineage.trees.slice(n);
  const p = lineage.packed;
  if (p && p.from < lineage.low) lineage.packed = { from: lineage.low, commits: p.commits.slice(lineage.low - p.from) };
  for (const h of lineage.versions.values()) {
    const drop = Math.min(lineage.low - h.from, h.versions.length);
    h.versions = h.versions.slice(drop);
    h.manifests = h.manifests.slice(drop);
    h.from = lineage.low;
  }
}
