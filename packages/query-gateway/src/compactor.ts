import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, assertHash, type Hash } from '@armillaria/core';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { ColumnType } from '@armillaria/catalog';
import type { CacheLease, ChunkCache } from './chunk-cache.js';
import { ident, literal, viewSelect } from './views.js';
import { runIndex } from './prune.js';

export interface CompactionOptions {
  /** Compact table versions of at least this many chunks (default 32), and every version with a merge-on-read delta. */
  minChunks?: number;
  /**
   * Compactions running at once (default 1). A full scan finding this many running starts none; a later
   * full scan of its version does. Bounds the background work when versions come faster than they
   * compact (a table updated and scanned every few seconds), at one core by default.
   */
  maxConcurrent?: number;
}

/** What the compactor needs of a table version. */
export interface CompactionSource {
  manifest: Hash;
  fields: ReadonlyArray<{ name: string; type: ColumnType }>;
  /** Base chunks in table order. */
  chunks: ReadonlyArray<{ hash: Hash; bytes: number }>;
  /** A merge-on-read delta: the file then holds the merged rows (the version's view), so scans skip the anti-join. */
  delta?: { chunks: ReadonlyArray<{ hash: Hash; bytes: number }>; keyColumns: readonly string[]; deletedColumn: string; unchangedColumn?: string; runStarts?: readonly number[] };
}

export const DEFAULT_COMPACT_MIN_CHUNKS = 32;
/**
 * A failed compaction (disk full, out of memory, a chunk evicted mid-copy) is retried no sooner than
 * this, doubled after each further failure of the same version (up to a day): a version that cannot be
 * compacted does not cost a full read every few minutes.
 */
const RETRY_AFTER_MS = 5 * 60_000;
const MAX_RETRY_AFTER_MS = 24 * 60 * 60_000;

/**
 * Per-version compaction: one Parquet file holding every row of a table version, in table order (for a
 * version with a merge-on-read delta: the merged rows, so its scans skip the anti-join),
 * written by DuckDB into the chunk cache (`v-<manifest hash>.parquet`) and accounted, pinned and evicted
 * there like a chunk. A manifest is immutable, so the file never goes stale. It is built in the
 * background after the first full scan of the version; later scans read one file with large row groups
 * (and DuckDB's own row-group pruning) instead of one file per chunk. Costs one read + write of the
 * version and its size in the cache again; a version larger than a quarter of the cache bound is not
 * compacted (its copy would evict the chunks it is built from).
 */
export class Compactor {
  private readonly running = new Map<Hash, Promise<void>>();
  private readonly failures = new Map<Hash, { at: number; count: number }>();
  private seq = 0;
  readonly minChunks: number;
  readonly maxConcurrent: number;

  constructor(private readonly db: DuckDBInstance, private readonly cache: ChunkCache, opts: CompactionOptions) {
    this.minChunks = opts.minChunks ?? DEFAULT_COMPACT_MIN_CHUNKS;
    if (!Number.isSafeInteger(this.minChunks) || this.minChunks < 1) {
      throw new InvalidArgumentError('compaction.minChunks must be an integer >= 1 (compaction: false turns compaction off)', { details: { minChunks: this.minChunks } });
    }
    this.maxConcurrent = opts.maxConcurrent ?? 1;
    if (!Number.isSafeInteger(this.maxConcurrent) || this.maxConcurrent < 1) {
      throw new InvalidArgumentError('compaction.maxConcurrent must be an integer >= 1', { details: { maxConcurrent: this.maxConcurrent } });
    }
  }

  static fileName(manifest: Hash): string {
    assertHash(manifest);
    return `v-${manifest}.parquet`;
  }

  /** The compacted file of a version when it is cached (pinned by `lease`), else undefined. */
  async lookup(manifest: Hash, lease: CacheLease): Promise<string | undefined> {
    return this.cache.lookupFile(Compactor.fileName(manifest), lease);
  }

  /**
   * Whether `source` qualifies: small enough for the cache bound, and either enough chunks or a
   * merge-on-read delta. A delta makes every scan of the version join its base rows with the delta (1M
   * rows under a 10% delta: 37-40 ms a full-scan aggregate vs 7.7-8 ms from the compacted file), whatever
   * the chunk count; the copy costs one background read + write of the version.
   */
  worthIt(source: CompactionSource): boolean {
    const all = [...source.chunks, ...(source.delta?.chunks ?? [])];
    if (all.length < this.minChunks && !(source.delta && source.delta.chunks.length > 0)) return false;
    const bytes = all.reduce((a, c) => a + c.bytes, 0);
    return bytes <= this.cache.maxBytes / 4;
  }

  /**
   * Starts building the compacted file in the background (once per version at a time), from chunk
   * files the caller has just fetched: they are pinned here before this returns, so they stay while
   * the copy reads them. A failure only means scans keep reading the chunk files.
   */
  start(source: CompactionSource): void {
    const { manifest } = source;
    if (this.running.has(manifest) || this.running.size >= this.maxConcurrent || !this.worthIt(source)) return;
    const failed = this.failures.get(manifest);
    if (failed && Date.now() - failed.at < Math.min(MAX_RETRY_AFTER_MS, RETRY_AFTER_MS * 2 ** (failed.count - 1))) return;
    const lease = this.cache.lease();
    const paths = this.cache.pinChunks(source.chunks.map((c) => c.hash), lease);
    const delta = source.delta && { ...source.delta, paths: this.cache.pinChunks(source.delta.chunks.map((c) => c.hash), lease) };
    // The version's rows exactly as its view gives them (one definition of the merge: views.ts).
    const view = viewSelect(source.fields, paths, delta && {
      paths: delta.paths, livePaths: delta.paths, keyColumns: delta.keyColumns, deletedColumn: delta.deletedColumn,
      ...(delta.unchangedColumn !== undefined ? { unchangedColumn: delta.unchangedColumn } : {}),
      ...(delta.runStarts ? { runs: runsOf(delta.paths.length, delta.runStarts) } : {}),
    });
    // Key order: DuckDB's anti-join does not keep the base order, and row groups with tight key ranges are
    // what lets DuckDB prune inside the file.
    const select = delta && delta.keyColumns.length > 0 ? `${view} ORDER BY ${delta.keyColumns.map(ident).join(', ')}` : view;
    const p = this.build(manifest, select)
      .then(() => void this.failures.delete(manifest))
      .catch(() => void this.failures.set(manifest, { at: Date.now(), count: (failed?.count ?? 0) + 1 }))
      .finally(() => {
        lease.release();
        this.running.delete(manifest);
      });
    this.running.set(manifest, p);
  }

  /** Resolves once no compaction is running (benchmarks and tests wait on it). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  private async build(manifest: Hash, select: string): Promise<void> {
    const name = Compactor.fileName(manifest);
    const tmp = join(this.cache.dir, `.v-${manifest}.${process.pid}.${++this.seq}.tmp`);
    const conn = await this.db.connect();
    try {
      // Insertion order is preserved (DuckDB default), so a version without a delta keeps the chunks' table
      // order (tight row-group stats on the key); a merged one is sorted by key (see `start`).
      await conn.run(`COPY (${select}) TO ${literal(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
      await this.cache.settled(name);
      await rename(tmp, join(this.cache.dir, name));
      await this.cache.adopt(name);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    } finally {
      conn.closeSync();
    }
  }
}

/** Every delta file read, each live: their runs for the view. */
function runsOf(n: number, runStarts: readonly number[]): { paths: number[]; livePaths: number[] } {
  const runs = [...runIndex(n, runStarts)];
  return { paths: runs, livePaths: runs };
}
