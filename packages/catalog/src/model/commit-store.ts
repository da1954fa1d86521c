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
    if (first) record.skip = await this.skipFor(first);
    const hash = await this.chunks.put(canonicalJsonBytes(record));
    const commit = Object.freeze({ ...record, hash });
    this.commits.set(hash, commit);
    return commit;
  }

  /**
   * Myers' jump pointer for a child of `parent`: if the parent's jump and its jump's jump span equal
   * distances, the child jumps twice as far, else it jumps to the parent. Every ancestor is then
   * reachable in O(log n) steps with one pointer per commit.
   */
  private async skipFor(parent: Commit): Promise<{ commit: Hash; generation: number }> {
    if (parent.skip) {
      const jump = await this.readCommit(parent.skip.commit);
      const jumpJumpGen = jump.skip?.generation ?? 0;
      const jumpJump = jump.skip?.commit ?? jump.hash;
      if (parent.generation - parent.skip.generation === parent.skip.generation - jumpJumpGen && jump.skip) {
        return { commit: jumpJump, generation: jumpJumpGen };
      }
    }
    return { commit: parent.hash, generation: parent.generation };
  }

  /**
   * Along first parents from `start` (which must satisfy `holds`), the oldest commit such that `holds`
   * is true for it and everything between: O(log n) commit reads when `holds` is monotone
   * (true on a run ending at `start`).
   */
  async oldestWhere(start: Commit, holds: (c: Commit) => boolean | Promise<boolean>): Promise<Commit> {
    let x = start;
    for (;;) {
      if (x.skip && x.skip.commit !== x.parents[0]) {
        const jump = this.peekCommit(x.skip.commit) ?? (await this.readCommit(x.skip.commit));
        const ok = holds(jump);
        if (ok === true || (ok !== false && (await ok))) {
          x = jump;
          continue;
        }
      }
      const parentHash = x.parents[0];
      if (parentHash === undefined) return x;
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
