import type { Hash } from '@armillaria/core';
import { CorruptMetadataError } from '../errors.js';
import { Lru } from '../lru.js';
import type { Commit } from '../catalog-api.js';
import type { TreeRecord } from './commit.js';

/**
 * A first-parent history held as arrays indexed by generation: the commits, their times and, per
 * table incarnation, the table's version at each generation. A lookup by time or version is then a
 * binary search over an array of numbers, tens of nanoseconds whatever the length, where the skip
 * pointers need one commit (and tree) lookup per level: about 14 scattered objects at 10,000 commits,
 * which made such a lookup cost several times one over 10 commits even with every commit cached.
 */
export interface Lineage {
  /** commits[g] is the first-parent ancestor at generation g of the lineage's newest commit (from `low` up). */
  commits: Commit[];
  times: number[];
  /**
   * hashes[g] = commits[g].hash: a version lookup answers from these arrays alone. Touching one commit
   * object out of 10,000 scattered ones costs about a microsecond on the VMs this runs on (a cache and
   * TLB miss), as much as the rest of the lookup.
   */
  hashes: Hash[];
  /**
   * Per `table \0 origin`: that incarnation's version at each generation (-1 where it is absent) and
   * its manifest there, so a version lookup needs no tree read.
   */
  readonly versions: Map<string, IncarnationHistory>;
  /** Lowest generation filled in: 0 once the whole history is in; until then it is filled downwards. */
  low: number;
  /** Lookups that found it incomplete (the commit store reads the rest once it is used often). */
  misses: number;
  /** Length of `commits` when they were last copied side by side (`repack`). */
  packed?: number;
}

export interface IncarnationHistory {
  versions: number[];
  manifests: Hash[];
}

/**
 * Lineages of recently used tips, filled from cached commits only (no I/O here). A tip whose history is
 * not all in the commit cache gets an incomplete lineage that later calls extend downwards as commits
 * arrive in the cache (`fill`, which the commit store runs in the background); its lookups take the skip
 * pointers meanwhile. A commit on top of a tip with a lineage extends that lineage in O(1), so a branch
 * that keeps moving keeps one lineage, and each commit of a history is walked once.
 */
export class LineageIndex {
  private readonly byTip: Lru<Hash, Lineage>;

  constructor(
    private readonly peekCommit: (hash: Hash) => Commit | undefined,
    private readonly peekTree: (hash: Hash) => TreeRecord | undefined,
    tips = 256,
  ) {
    this.byTip = new Lru(tips);
  }

  /** The lineage ending at `tip` (commits[tip.generation] is `tip`), filled as far down as the cache allows. */
  of(tip: Commit): Lineage {
    let lineage = this.byTip.get(tip.hash);
    if (!lineage) {
      const parentHash = tip.parents[0];
      const parent = parentHash === undefined ? undefined : this.byTip.get(parentHash);
      lineage = parent ? extend(parent, tip) : { commits: [], times: [], hashes: [], versions: new Map(), low: tip.generation, misses: 0 };
      if (!parent) {
        lineage.commits[tip.generation] = tip;
        lineage.times[tip.generation] = tip.time;
        lineage.hashes[tip.generation] = tip.hash;
      }
      this.byTip.set(tip.hash, lineage);
    }
    if (lineage.low > 0) this.fillFromCache(lineage);
    return lineage;
  }

  /** The first parent of the lowest commit filled in, which the cache lacks; undefined once complete. */
  missing(lineage: Lineage): Hash | undefined {
    return lineage.low > 0 ? (lineage.commits[lineage.low] as Commit).parents[0] : undefined;
  }

  /**
   * Versions of the incarnation `origin` of `table` along a complete `lineage` up to generation `upTo`,
   * filled from cached trees; undefined when a tree is not cached (the caller then takes the skip pointers).
   */
  versionsOf(lineage: Lineage, table: string, origin: Hash, upTo: number): IncarnationHistory | undefined {
    if (lineage.low > 0) return undefined;
    const key = `${table}\0${origin}`;
    let h = lineage.versions.get(key);
    if (!h) lineage.versions.set(key, (h = { versions: [], manifests: [] }));
    for (let g = h.versions.length; g <= upTo; g++) {
      const tree = this.peekTree((lineage.commits[g] as Commit).tree);
      if (!tree) return undefined;
      const e = tree.tables[table];
      const held = e !== undefined && e.origin === origin;
      h.versions.push(held ? e.version : -1);
      h.manifests.push(held ? e.manifest : '');
    }
    return h;
  }

  /**
   * Copies a complete lineage's commits into fresh objects allocated one after another, once it has
   * doubled since the last copy (each commit copied O(1) times on average), and hands each copy to
   * `adopt` (the commit cache keeps it instead of the original). Why: a time lookup returns one commit of
   * many, which the caller reads; commits made one by one over a long run lie scattered across the heap,
   * and reading one of 10,000 such costs ~1.2 µs on the VMs this runs on (a cache and TLB miss) against
   * 0.08 µs for one of 10. Copies made in one go sit side by side.
   */
  repack(lineage: Lineage, adopt: (c: Commit) => void): void {
    const n = lineage.commits.length;
    if (lineage.low > 0 || n < 64 || n < 2 * (lineage.packed ?? 0)) return;
    lineage.packed = n;
    lineage.commits = lineage.commits.map((c) => Object.freeze({ ...c }));
    for (const c of lineage.commits) adopt(c);
  }

  /** Extends `lineage` downwards through cached first parents. */
  fillFromCache(lineage: Lineage): void {
    while (lineage.low > 0) {
      const lowest = lineage.commits[lineage.low] as Commit;
      const p = lowest.parents[0];
      const parent = p === undefined ? undefined : this.peekCommit(p);
      if (!parent) return;
      if (parent.generation !== lowest.generation - 1) throw new CorruptMetadataError('commit', lowest.hash, `first parent has generation ${parent.generation}`);
      lineage.commits[parent.generation] = parent;
      lineage.times[parent.generation] = parent.time;
      lineage.hashes[parent.generation] = parent.hash;
      lineage.low = parent.generation;
    }
    // Filled downwards, the arrays started sparse (slow dictionary elements): repack them once complete.
    lineage.commits = Array.from(lineage.commits);
    lineage.times = Array.from(lineage.times);
    lineage.hashes = Array.from(lineage.hashes);
  }
}

/** `parent`'s lineage plus `tip`: in place when `tip` is the next generation, else a copy up to it. */
function extend(lineage: Lineage, tip: Commit): Lineage {
  const g = tip.generation;
  if (lineage.commits.length === g) {
    lineage.commits.push(tip);
    lineage.times.push(tip.time);
    lineage.hashes.push(tip.hash);
    return lineage;
  }
  if (lineage.commits[g]?.hash === tip.hash) return lineage;
  // Another child of the same parent extended it first: this branch of history gets its own copy.
  const versions = new Map<string, IncarnationHistory>();
  for (const [k, v] of lineage.versions) versions.set(k, { versions: v.versions.slice(0, g), manifests: v.manifests.slice(0, g) });
  const commits = lineage.commits.slice(0, g);
  const times = lineage.times.slice(0, g);
  const hashes = lineage.hashes.slice(0, g);
  commits[g] = tip;
  times[g] = tip.time;
  hashes[g] = tip.hash;
  return { commits, times, hashes, versions, low: lineage.low, misses: 0 };
}
