import { ArmillariaError, canonicalJsonBytes, isArmillariaError, parseJsonBytes, ErrorCode, type Hash } from '@armillaria/core';
import type { ChunkStore } from '@armillaria/chunk-store';
import { CatalogNotFoundError, CorruptMetadataError } from '../errors.js';
import { Lru } from '../lru.js';
import { COMMIT_FORMAT_VERSION, validateCommit, validateTree, type CommitRecord, type TreeRecord } from './commit.js';
import type { Commit } from '../catalog-api.js';

export interface NewCommit {
  parents: Hash[];
  tree: Hash;
  message: string;
  author: string;
  txnId?: string;
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

  constructor(private readonly chunks: ChunkStore, cacheSize = 50_000) {
    this.commits = new Lru(cacheSize);
    this.trees = new Lru(cacheSize);
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
   * Along first parents from `start` (which must satisfy `holds`), the oldest commit such that `holds`
   * is true for it and everything between, for a `holds` that is monotone (true on a run ending at
   * `start`). A binary search over generations through the skip pointers: each level is probed at
   * most about twice, and a generation known to fail is never probed again, so O(log n) reads.
   */
  async oldestWhere(start: Commit, holds: (c: Commit) => boolean | Promise<boolean>): Promise<Commit> {
    let x = start;
    let failedGen = -1; // `holds` is false at this generation and so at every older one
    for (;;) {
      let moved = false;
      const skips = x.skips ?? [];
      for (let k = skips.length; k >= 1 && !moved; k--) {
        const gen = skipGeneration(x.generation, k);
        if (gen <= failedGen || gen >= x.generation - 1) continue;
        const hash = skips[k - 1] as Hash;
        const target = this.peekCommit(hash) ?? (await this.readCommit(hash));
        const ok = holds(target);
        if (ok === true || (ok !== false && (await ok))) {
          x = target;
          moved = true;
        } else {
          failedGen = gen;
        }
      }
      if (moved) continue;
      const parentHash = x.parents[0];
      if (parentHash === undefined || x.generation - 1 <= failedGen) return x;
      const parent = this.peekCommit(parentHash) ?? (await this.readCommit(parentHash));
      const ok = holds(parent);
      if (!(ok === true || (ok !== false && (await ok)))) return x;
      x = parent;
    }
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
  const skips = first ? skipsFor(first) : [];
  if (skips.length > 0) record.skips = skips;
  return record;
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
