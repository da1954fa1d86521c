import { ErrorCode, isArmillariaError, mapLimit, type Hash } from '@armillaria/core';
import type { CommitStore } from '../model/commit-store.js';
import type { ManifestReader } from '../table-format/manifest-io.js';
import type { Manifest } from '../table-format/table-format.js';
import type { HashSet } from './hash-set.js';

/** Where an object was reached from: the repo, the commit and (below a tree) the table. */
export interface Reach {
  repo: string;
  commit?: Hash;
  table?: string;
}

export type ObjectKind = 'commit' | 'tree' | 'manifest' | 'manifest-page' | 'chunk' | 'repo-config';

/** A data chunk as its manifest lists it (`bytes` as recorded, for sizing batches). */
export interface DataChunk {
  hash: Hash;
  bytes: number;
}

/** A reachable object that cannot be read: absent, or present with bytes that fail their hash or do not parse. */
export interface WalkProblem {
  kind: 'missing' | 'corrupt';
  object: ObjectKind;
  hash: Hash;
  message: string;
  at: Reach;
}

export interface WalkerOptions {
  store: CommitStore;
  /**
   * A reader for one manifest or page. A fresh one per read: each is visited once per walk, so a
   * shared reader's cache would only pin up to thousands of parsed pages (millions of chunk entries).
   */
  manifests: () => ManifestReader;
  /** Every object reached is added here; an object already in it is not walked again. */
  seen: HashSet;
  /** Objects read in parallel (default 16). */
  concurrency?: number;
  /** Data chunks reached for the first time (GC only marks them; verify re-hashes them). */
  onData?: (chunks: DataChunk[], at: Reach & { manifest: Hash }) => void | Promise<void>;
  /** A metadata object could not be read. Throw to abort the walk (GC), or record it (verify). */
  onProblem: (problem: WalkProblem) => void;
}

/**
 * Marks everything reachable from roots: commits and all their ancestry (every parent, so merges keep
 * both sides), trees, manifests, manifest pages and data chunks. Breadth-first over commits with
 * bounded parallel reads; what is already in `seen` is skipped, so shared history and chunks shared
 * by tables, branches and repos are read once per run.
 */
export class ReachabilityWalker {
  private readonly concurrency: number;
  constructor(private readonly opts: WalkerOptions) {
    this.concurrency = opts.concurrency ?? 16;
  }

  get seen(): HashSet {
    return this.opts.seen;
  }

  /** Marks `hash` without reading it (e.g. a repo's config chunk). */
  mark(hash: Hash): boolean {
    return this.opts.seen.add(hash);
  }

  /** Commits and their whole ancestry. `from` attributes the roots (the commit whose parents they are, if any). */
  async commits(repo: string, roots: readonly Hash[]): Promise<void> {
    let frontier: Array<{ hash: Hash; child?: Hash }> = [];
    for (const hash of roots) if (this.opts.seen.add(hash)) frontier.push({ hash });
    while (frontier.length > 0) {
      const next: Array<{ hash: Hash; child?: Hash }> = [];
      await mapLimit(frontier, this.concurrency, async ({ hash, child }) => {
        const at: Reach = child !== undefined ? { repo, commit: child } : { repo };
        let commit;
        try {
          commit = await this.opts.store.readCommit(hash);
        } catch (err) {
          this.problem(err, 'commit', hash, at);
          return;
        }
        for (const p of commit.parents) if (this.opts.seen.add(p)) next.push({ hash: p, child: hash });
        if (this.opts.seen.add(commit.tree)) await this.tree(commit.tree, { repo, commit: hash });
      });
      frontier = next;
    }
  }

  /** A tree and every table version it names. */
  async tree(hash: Hash, at: Reach): Promise<void> {
    let tree;
    try {
      tree = await this.opts.store.readTree(hash);
    } catch (err) {
      this.problem(err, 'tree', hash, at);
      return;
    }
    const fresh = Object.entries(tree.tables).filter(([, e]) => this.opts.seen.add(e.manifest));
    await mapLimit(fresh, this.concurrency, ([table, e]) => this.manifest(e.manifest, { ...at, table }));
  }

  /** A manifest, its pages and its data chunks. */
  async manifest(hash: Hash, at: Reach): Promise<void> {
    let manifest;
    try {
      manifest = await this.opts.manifests().manifest(hash);
    } catch (err) {
      this.problem(err, 'manifest', hash, at);
      return;
    }
    // The base chunk list, then a keyed table's delta (merge-on-read; each of its runs in formatVersion
    // 4): all hold live data chunks.
    await this.list(manifest, at, hash);
    for (const run of manifest.delta ? (manifest.delta.runs ?? [manifest.delta]) : []) await this.list(run, at, hash);
  }

  /** An inline or paged chunk list of a manifest. */
  private async list(ref: Pick<Manifest, 'chunks' | 'pages'>, at: Reach, manifest: Hash): Promise<void> {
    const where = { ...at, manifest };
    if (ref.chunks) {
      await this.data(ref.chunks, where);
      return;
    }
    const pages = (ref.pages ?? []).filter((page) => this.opts.seen.add(page.hash));
    await mapLimit(pages, this.concurrency, async (page) => {
      let chunks;
      try {
        chunks = await this.opts.manifests().page(page);
      } catch (err) {
        this.problem(err, 'manifest-page', page.hash, at);
        return;
      }
      await this.data(chunks, where);
    });
  }

  private async data(chunks: readonly DataChunk[], at: Reach & { manifest: Hash }): Promise<void> {
    const fresh = chunks.filter((c) => this.opts.seen.add(c.hash)).map((c) => ({ hash: c.hash, bytes: c.bytes }));
    if (fresh.length > 0 && this.opts.onData) await this.opts.onData(fresh, at);
  }

  private problem(err: unknown, object: ObjectKind, hash: Hash, at: Reach): void {
    const kind = classify(err);
    if (kind === undefined) throw err;
    this.opts.onProblem({ kind, object, hash, message: (err as Error).message, at });
  }
}

/** Missing or corrupt, or undefined for errors that say nothing about the object (backend down…). */
export function classify(err: unknown): 'missing' | 'corrupt' | undefined {
  if (!isArmillariaError(err)) return undefined;
  switch (err.code) {
    case ErrorCode.ChunkNotFound:
    case ErrorCode.CommitNotFound:
    case ErrorCode.NotFound:
    case ErrorCode.ObjectNotFound:
      return 'missing';
    case ErrorCode.ChunkCorrupt:
    case ErrorCode.CorruptMetadata:
      return 'corrupt';
    default:
      return undefined;
  }
}
