import { ArmillariaError, canonicalJsonBytes, InvalidArgumentError, isArmillariaError, mapLimit, parseJsonBytes, ErrorCode, type Hash } from '@armillaria/core';
import type { ChunkStore } from '@armillaria/chunk-store';
import { CatalogNotFoundError, CorruptMetadataError } from '../errors.js';
import { Lru } from '../lru.js';
import { DEFAULT_LINEAGE_LIMIT, LineageIndex, topOf, type IncarnationHistory, type Lineage, type LineageEntry } from './lineage-index.js';
import { COMMIT_FORMAT_VERSION, validateCommit, validateTree, type CommitRecord, type TreeRecord } from './commit.js';
import type { Commit } from '../catalog-api.js';

/** Lookups a lineage could not answer after which what it lacks is read in the background. */
const FILL_AFTER = 64;

/** Smallest batch of commits or trees a background fill reads before adding them to a lineage. */
const FILL_BATCH = 1024;

/** Skip-pointer level whose targets a background fill walks from side by side: every 128 generations. */
const FILL_LEVEL = 7;
const FILL_SEGMENT = 2 ** FILL_LEVEL;

/** Store reads a background fill keeps in flight. */
const FILL_CONCURRENCY = 16;

export interface NewCommit {
  parents: Hash[];
  tree: Hash;
  message: string;
  author: string;
  txnId?: string;
  ops?: Record<string, string>;
  /** Defaults to now; raised to the first parent's time so times never go back along first parents. */
  time?: number;
}

/**
 * Commits and trees as canonical-JSON chunks, parsed once and kept in an LRU (they are immutable and
 * named by hash, so the cache never needs invalidating).
 */
export class CommitStore {
  private readonly commits: Lru<Hash, Commit>;
  private readonly trees: Lru<Hash, TreeRecord>;
  private readonly lineages: LineageIndex;
  /** Newest commits of a lineage copied side by side (`repack`): half the cache, so the copies stay cached. */
  private readonly repackLimit: number;
  private readonly filling = new WeakSet<Lineage>();

  constructor(private readonly chunks: ChunkStore, cacheSize = 50_000, lineageLimit = DEFAULT_LINEAGE_LIMIT) {
    for (const [name, v] of [['cacheSize', cacheSize], ['lineageLimit', lineageLimit]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${name} must be an integer >= 1, got ${String(v)}`, { details: { [name]: String(v) } });
    }
    this.repackLimit = Math.floor(cacheSize / 2);
    this.commits = new Lru(cacheSize);
    this.trees = new Lru(cacheSize);
    this.lineages = new LineageIndex((h) => this.commits.get(h), (h) => this.trees.get(h), lineageLimit);
  }

  /** The parsed commit if cached (no I/O): keeps hot skip-pointer walks free of awaits. */
  peekCommit(hash: Hash): Commit | undefined {
    return this.commits.get(hash);
  }

  peekTree(hash: Hash): TreeRecord | undefined {
    return this.trees.get(hash);
  }

  async readCommit(hash: Hash): Promise<Commit> {
    const cached = this.commits.get(hash);
    if (cached) return cached;
    const record = validateCommit(hash, await this.readJson(hash, 'commit'));
    const commit = Object.freeze({ ...record, hash });
    this.commits.set(hash, commit);
    return commit;
  }

  async readTree(hash: Hash): Promise<TreeRecord> {
    const cached = this.trees.get(hash);
    if (cached) return cached;
    const tree = validateTree(hash, await this.readJson(hash, 'tree'));
    this.trees.set(hash, tree);
    return tree;
  }

  async writeTree(tree: TreeRecord): Promise<Hash> {
    const hash = await this.chunks.put(canonicalJsonBytes({ tables: tree.tables }));
    this.trees.set(hash, tree);
    return hash;
  }

  /** Writes a commit chunk, computing its generation and skip pointer from its first parent. */
  async writeCommit(c: NewCommit): Promise<Commit> {
    const first = c.parents[0] !== undefined ? await this.readCommit(c.parents[0]) : undefined;
    const record = recordOf(c, first);
    const hash = await this.chunks.put(canonicalJsonBytes(record));
    const commit = Object.freeze({ ...record, hash });
    this.commits.set(hash, commit);
    return commit;
  }

  /**
   * The commit `writeCommit` would write on `first` (its first parent, already read), hashed with
   * `hash` but not stored: a chain of commits can be linked before any of them is written, then stored
   * at once with `putDrafts`.
   */
  draftCommit(c: NewCommit, first: Commit | undefined, hash: (bytes: Uint8Array) => Hash): { commit: Commit; bytes: Uint8Array } {
    const record = recordOf(c, first);
    const bytes = canonicalJsonBytes(record);
    return { commit: Object.freeze({ ...record, hash: hash(bytes) }), bytes };
  }

  /** A tree as `writeTree` would write it, hashed but not stored (see `draftCommit`). */
  draftTree(tree: TreeRecord, hash: (bytes: Uint8Array) => Hash): { hash: Hash; tree: TreeRecord; bytes: Uint8Array } {
    const bytes = canonicalJsonBytes({ tables: tree.tables });
    return { hash: hash(bytes), tree, bytes };
  }

  /** Stores drafted trees and commits with one batch put (parallel writes), checking the store agrees on every hash. */
  async putDrafts(trees: ReadonlyArray<{ hash: Hash; tree: TreeRecord; bytes: Uint8Array }>, commits: ReadonlyArray<{ commit: Commit; bytes: Uint8Array }>): Promise<void> {
    const expected = [...trees.map((t) => t.hash), ...commits.map((c) => c.commit.hash)];
    const stored = await this.chunks.putBatch([...trees.map((t) => t.bytes), ...commits.map((c) => c.bytes)]);
    stored.forEach((h, i) => {
      if (h !== expected[i]) throw new CorruptMetadataError(i < trees.length ? 'tree' : 'commit', expected[i] as string, `the chunk store hashed it as ${h}`);
    });
    for (const t of trees) this.trees.set(t.hash, t.tree);
    for (const c of commits) this.commits.set(c.commit.hash, c.commit);
  }

  /**
   * The newest first-parent ancestor of `start` made at or before `time` (undefined when even the root
   * is newer), given that commit times never go back along first parents. From the lineage index when
   * it holds that commit (a binary search over an array of times, whose answer's first parent is the
   * previous slot, so no commit is looked up while searching), else through the skip pointers from the
   * oldest commit the lineage holds.
   */
  async newestAtOrBefore(start: Commit, time: number): Promise<Commit | undefined> {
    if (start.time <= time) return start;
    const lineage = this.lineages.of(start);
    const after = firstAtLeast(lineage.times, start.generation - lineage.low, time, true);
    if (after > 0) return this.commitIn(lineage, after - 1);
    if (lineage.below === undefined) return undefined;
    const oldest = this.olderThanLineage(lineage) ?? start;
    const newer = await this.oldestWhere(oldest, (c) => c.time > time);
    return newer.parents[0] === undefined ? undefined : this.readCommit(newer.parents[0]);
  }

  /**
   * The oldest first-parent ancestor of `start` from which on, up to `start`, the incarnation `origin`
   * of `table` exists at a version >= `version` (`start` must hold it). From the lineage index when
   * it holds that commit and its trees are cached, else through the skip pointers.
   */
  async oldestWithVersion(start: Commit, table: string, origin: Hash, version: number): Promise<Commit> {
    const lineage = this.lineages.of(start);
    const h = this.historyOf(lineage, table, origin, start.generation);
    let from = start;
    if (h) {
      const i = firstAtLeast(h.versions, start.generation - h.from, version, false);
      if (i > 0 || lineage.below === undefined) return this.commitIn(lineage, i + h.from - lineage.low);
      from = this.olderThanLineage(lineage) ?? start;
    }
    return this.oldestWhere(from, (c) => {
      const cached = this.peekTree(c.tree);
      return cached ? holdsVersion(cached, table, origin, version) : this.readTree(c.tree).then((t) => holdsVersion(t, table, origin, version));
    });
  }

  /**
   * From the lineage index only (no I/O; undefined when the lineage does not reach back to it or a
   * merge jumped past `version` along first parents): the commit that introduced exactly `version` of
   * the incarnation (its hash), with its manifest, without reading that commit's tree or touching the commit.
   */
  lineageVersion(start: Commit, table: string, origin: Hash, version: number): { commit: Hash; manifest: Hash } | undefined {
    const lineage = this.lineages.of(start);
    const h = this.historyOf(lineage, table, origin, start.generation);
    if (!h) return undefined;
    const i = firstAtLeast(h.versions, start.generation - h.from, version, false);
    if (i === 0 && lineage.below !== undefined) {
      this.olderThanLineage(lineage);
      return undefined;
    }
    return h.versions[i] === version ? { commit: lineage.hashes[i + h.from - lineage.low] as Hash, manifest: h.manifests[i] as Hash } : undefined;
  }

  /**
   * The incarnation's versions along `lineage` up to `upTo`, or undefined while a tree they need is not
   * cached: after FILL_AFTER such lookups, the missing trees are read in the background (not into the
   * cache, which a long history would churn), so later lookups find them.
   */
  private historyOf(lineage: Lineage, table: string, origin: Hash, upTo: number): IncarnationHistory | undefined {
    const h = this.lineages.versionsOf(lineage, table, origin, upTo);
    if (h) return h;
    if (++lineage.misses >= FILL_AFTER) this.inBackground(lineage, () => this.fillVersions(lineage, table, origin));
    return undefined;
  }

  /**
   * The oldest commit `lineage` holds, when it is cached (the skip-pointer search continues from it),
   * after noting the miss: once FILL_AFTER lookups went older than the lineage, the commits below it are
   * read in the background, so later lookups find them in it. A lookup alone never reads more than its
   * O(log n) skip-pointer path.
   */
  private olderThanLineage(lineage: Lineage): Commit | undefined {
    if (this.lineages.missing(lineage) !== undefined && ++lineage.misses >= FILL_AFTER) this.inBackground(lineage, () => this.fill(lineage));
    return this.peekCommit(lineage.hashes[0] as Hash);
  }

  /** The commit in slot `i` of `lineage`: kept by the lineage, else from the cache (no promise to wait for) or read. */
  private commitIn(lineage: Lineage, i: number): Commit | Promise<Commit> {
    this.lineages.repack(lineage, this.repackLimit, (c) => this.commits.set(c.hash, c));
    const packed = this.lineages.packedCommit(lineage, lineage.low + i);
    if (packed) return packed;
    const hash = lineage.hashes[i] as Hash;
    return this.peekCommit(hash) ?? this.readCommit(hash);
  }

  /** Runs one background fill per lineage at a time. */
  private inBackground(lineage: Lineage, fill: () => Promise<void>): void {
    if (this.filling.has(lineage)) return;
    this.filling.add(lineage);
    lineage.misses = 0;
    void fill()
      .catch(() => {
        // An unreadable commit or tree: lookups keep taking the skip pointers, which report the error themselves.
      })
      .finally(() => this.filling.delete(lineage));
  }

  /** Reads the commits below `lineage` in batches that double, without caching them, and adds them. */
  private async fill(lineage: Lineage): Promise<void> {
    for (let below = this.lineages.missing(lineage); below !== undefined; below = this.lineages.missing(lineage)) {
      const size = Math.min(this.lineages.limit - lineage.times.length, Math.max(FILL_BATCH, lineage.times.length));
      const batch = await this.firstParents(below, lineage.low - 1, size);
      const low = lineage.low;
      this.lineages.extendDown(lineage, batch);
      if (lineage.low === low) return; // the lineage moved on meanwhile (trimmed, or the batch was stale)
    }
  }

  /**
   * Up to `count` first-parent commits from `top` (at generation `generation`) down, newest first, as
   * lineage entries. Read one by one, a long history costs one store round trip per commit (100,000
   * sequential GETs on S3). So the run is cut at the generations that are multiples of FILL_SEGMENT,
   * whose commits the skip pointers reach in one read each, and the segments between are walked side
   * by side, FILL_CONCURRENCY at a time.
   */
  private async firstParents(top: Hash, generation: number, count: number): Promise<LineageEntry[]> {
    const bottom = Math.max(0, generation - count + 1);
    // Segment starts, newest first: `top`, then every multiple of FILL_SEGMENT from below it down to `bottom`.
    // A start read to find the next one keeps its commit, so its segment's walk does not read it again.
    const starts: Array<{ hash: Hash; generation: number; commit?: Commit }> = [{ hash: top, generation }];
    for (let g = generation; g - FILL_SEGMENT >= bottom && g > 0;) {
      const last = starts[starts.length - 1]!;
      const c = (last.commit = await this.commitForFill(last.hash));
      const next = Math.floor((g - 1) / FILL_SEGMENT) * FILL_SEGMENT;
      // A commit at generation g has skip levels 1..bitLength(g - 1); level k lands on the previous multiple of 2^k.
      const hash = bitLength(g - 1) >= FILL_LEVEL ? c.skips?.[FILL_LEVEL - 1] : undefined;
      if (hash === undefined) break; // the rest is one segment down to the root
      starts.push({ hash, generation: next });
      g = next;
    }
    const segments = await mapLimit(starts, FILL_CONCURRENCY, async (start, i) => {
      const end = i + 1 < starts.length ? starts[i + 1]!.generation + 1 : bottom; // lowest generation of this segment
      const out: LineageEntry[] = [];
      for (let h: Hash | undefined = start.hash; h !== undefined && start.generation - out.length >= end;) {
        const c: Commit = out.length === 0 && start.commit ? start.commit : await this.commitForFill(h);
        if (c.generation !== start.generation - out.length) throw new CorruptMetadataError('commit', c.hash, `generation ${c.generation} where ${start.generation - out.length} was expected`);
        out.push({ hash: c.hash, generation: c.generation, time: c.time, tree: c.tree, parents: c.parents.slice(0, 1) });
        h = c.parents[0];
      }
      return out;
    });
    return segments.flat();
  }

  /** A commit for a background fill: from the cache, else read without entering it. */
  private async commitForFill(hash: Hash): Promise<Commit> {
    return this.peekCommit(hash) ?? (await this.loadCommit(hash));
  }

  /** Reads the trees an incarnation's history along `lineage` lacks, in batches, without caching them. */
  private async fillVersions(lineage: Lineage, table: string, origin: Hash): Promise<void> {
    for (;;) {
      const upTo = topOf(lineage);
      const missing = this.lineages.treesMissing(lineage, table, origin, upTo, FILL_BATCH);
      if (missing.length === 0) return;
      const trees = await mapLimit(missing, FILL_CONCURRENCY, async (h) => validateTree(h, await this.readJson(h, 'tree')));
      const read = new Map<Hash, TreeRecord>(missing.map((h, i) => [h, trees[i]!]));
      this.lineages.versionsOf(lineage, table, origin, upTo, read);
    }
  }

  /** A commit read from the store without entering the cache (background fills read many once). */
  private async loadCommit(hash: Hash): Promise<Commit> {
    return Object.freeze({ ...validateCommit(hash, await this.readJson(hash, 'commit')), hash });
  }

  /**
   * Along first parents from `start` (which must satisfy `holds`), the oldest commit such that `holds`
   * is true for it and everything between, for a `holds` that is monotone (true on a run ending at
   * `start`, false before it). A binary search over generations that probes, in each interval, its most
   * aligned generation (the one with the most trailing zero bits): from the newest commit known to hold,
   * that generation is exactly where one of its skip pointers lands, so every probe is one pointer
   * followed. At most bitLength(generation) probes (14 for 10,000 commits, 4 for 10), each one commit read
   * (none when cached) and one call of `holds`.
   */
  async oldestWhere(start: Commit, holds: (c: Commit) => boolean | Promise<boolean>): Promise<Commit> {
    let hi = start; // holds
    let lo = -1; // generation where `holds` is known false (or below the root)
    while (hi.generation - lo > 1) {
      const next = this.alignedAncestor(hi, lo + 1);
      const probe = next instanceof Promise ? await next : next; // no await when cached: hot walks stay synchronous
      const ok = holds(probe);
      if (ok === true || (ok !== false && (await ok))) hi = probe;
      else lo = probe.generation;
    }
    return hi;
  }

  /**
   * The first-parent ancestor of `from` at the most aligned generation in [lowest, from.generation - 1]:
   * `from`'s skip pointer of that alignment's level, or its parent at level 0.
   */
  private alignedAncestor(from: Commit, lowest: number): Commit | Promise<Commit> {
    const highest = from.generation - 1;
    const level = lowest === highest ? 0 : bitLength(lowest ^ highest) - 1;
    const hash = level === 0 ? from.parents[0] : from.skips?.[level - 1];
    if (hash === undefined) throw new CorruptMetadataError('commit', from.hash, `no first-parent pointer of level ${level} at generation ${from.generation}`);
    const expected = level === 0 ? highest : Math.floor(highest / 2 ** level) * 2 ** level;
    const cached = this.peekCommit(hash);
    // No closure on the cached path: hot walks allocate nothing per probe.
    return cached ? checkLanding(from, cached, expected) : this.readCommit(hash).then((c) => checkLanding(from, c, expected));
  }

  async putJson(value: unknown): Promise<Hash> {
    return this.chunks.put(canonicalJsonBytes(value));
  }

  async readJson(hash: Hash, what: string): Promise<unknown> {
    let bytes: Uint8Array;
    try {
      bytes = await this.chunks.get(hash);
    } catch (err) {
      if (isArmillariaError(err, ErrorCode.ChunkNotFound)) {
        if (what === 'commit') throw new CatalogNotFoundError(ErrorCode.CommitNotFound, `commit ${hash} not found`, { hash });
        throw new ArmillariaError(ErrorCode.NotFound, `${what} ${hash} not found`, { details: { hash, what } });
      }
      throw err;
    }
    try {
      return parseJsonBytes(bytes);
    } catch (err) {
      throw new CorruptMetadataError(what, hash, (err as Error).message);
    }
  }
}

/** The record of a new commit on `first` (its first parent): generation, skip pointers, monotone time. */
function recordOf(c: NewCommit, first: Commit | undefined): CommitRecord {
  const record: CommitRecord = {
    formatVersion: COMMIT_FORMAT_VERSION,
    parents: c.parents,
    tree: c.tree,
    message: c.message,
    author: c.author,
    time: Math.max(c.time ?? Date.now(), first?.time ?? 0),
    generation: first ? first.generation + 1 : 0,
  };
  if (c.txnId !== undefined) record.txnId = c.txnId;
  if (c.ops !== undefined && Object.keys(c.ops).length > 0) record.ops = c.ops;
  const skips = first ? skipsFor(first) : [];
  if (skips.length > 0) record.skips = skips;
  return record;
}

function holdsVersion(tree: TreeRecord, table: string, origin: Hash, version: number): boolean {
  const e = tree.tables[table];
  return e !== undefined && e.origin === origin && e.version >= version;
}

/**
 * The first index in [0, end] from which on every value up to `end` is above `bound` (`strict`) or at
 * least `bound`, for values that are non-decreasing on the run ending at `end` (as times and table
 * versions are along first parents). values[end] must qualify.
 */
function firstAtLeast(values: readonly number[], end: number, bound: number, strict: boolean): number {
  let lo = -1;
  let hi = end;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    const v = values[mid] as number;
    if (strict ? v > bound : v >= bound) hi = mid;
    else lo = mid;
  }
  return hi;
}

function checkLanding(from: Commit, target: Commit, expected: number): Commit {
  if (target.generation === expected) return target;
  throw new CorruptMetadataError('commit', from.hash, `a first-parent pointer leads to generation ${target.generation}, not ${expected}`);
}

/** Generation that skip pointer `k` (k >= 1) of a commit at `generation` lands on: the previous multiple of 2^k. */
export function skipGeneration(generation: number, k: number): number {
  const span = 2 ** k;
  return Math.floor((generation - 1) / span) * span;
}

/**
 * Skip pointers of a child of `parent`, computed from the parent alone (no reads): pointer k is the
 * nearest older first-parent ancestor whose generation is a multiple of 2^k, so it is the parent when
 * the parent's generation is such a multiple and otherwise the parent's own pointer k. Levels run up to
 * the one that reaches the root.
 */
function skipsFor(parent: Commit): Hash[] {
  const levels = bitLength(parent.generation);
  if (parent.generation === 0) return [];
  const own = parent.skips ?? [];
  const root = parent.generation === 1 ? (parent.parents[0] as Hash) : (own[own.length - 1] as Hash);
  const out: Hash[] = [];
  for (let k = 1; k <= levels; k++) out.push(parent.generation % 2 ** k === 0 ? parent.hash : (own[k - 1] ?? root));
  return out;
}

function bitLength(n: number): number {
  return n <= 0 ? 0 : Math.floor(Math.log2(n)) + 1;
}
