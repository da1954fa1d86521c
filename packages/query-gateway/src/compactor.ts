import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { assertHash, type Hash } from '@armillaria/core';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { CacheLease, ChunkCache } from './chunk-cache.js';
import { ident } from './views.js';

export interface CompactionOptions {
  /** Compact table versions of at least this many chunks (default 32). */
  minChunks?: number;
}

/** What the compactor needs of a table version (a manifest without a merge-on-read delta). */
export interface CompactionSource {
  manifest: Hash;
  columns: readonly string[];
  chunks: ReadonlyArray<{ hash: Hash; bytes: number }>;
}

export const DEFAULT_COMPACT_MIN_CHUNKS = 32;
/** A failed compaction (disk full, a chunk evicted mid-copy) is retried no sooner than this. */
const RETRY_AFTER_MS = 5 * 60_000;

const literal = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * Per-version compaction: one Parquet file holding every chunk of a table version, in table order,
 * written by DuckDB into the chunk cache (`v-<manifest hash>.parquet`) and accounted, pinned and evicted
 * there like a chunk. A manifest is immutable, so the file never goes stale. It is built in the
 * background after the first full scan of the version; later scans read one file with large row groups
 * (and DuckDB's own row-group pruning) instead of one file per chunk. Costs one read + write of the
 * version and its size in the cache again; a version larger than a quarter of the cache bound is not
 * compacted (its copy would evict the chunks it is built from).
 */
export class Compactor {
  private readonly running = new Map<Hash, Promise<void>>();
  private readonly failedAt = new Map<Hash, number>();
  private seq = 0;
  readonly minChunks: number;

  constructor(private readonly db: DuckDBInstance, private readonly cache: ChunkCache, opts: CompactionOptions) {
    this.minChunks = opts.minChunks ?? DEFAULT_COMPACT_MIN_CHUNKS;
  }

  static fileName(manifest: Hash): string {
    assertHash(manifest);
    return `v-${manifest}.parquet`;
  }

  /** The compacted file of a version when it is cached (pinned by `lease`), else undefined. */
  async lookup(manifest: Hash, lease: CacheLease): Promise<string | undefined> {
    return this.cache.lookupFile(Compactor.fileName(manifest), lease);
  }

  /** Whether `source` qualifies: enough chunks, small enough for the cache bound. */
  worthIt(source: CompactionSource): boolean {
    if (source.chunks.length < this.minChunks) return false;
    const bytes = source.chunks.reduce((a, c) => a + c.bytes, 0);
    return bytes <= this.cache.maxBytes / 4;
  }

  /**
   * Starts building the compacted file in the background (once per version at a time), from chunk
   * files the caller has just fetched: they are pinned here before this returns, so they stay while
   * the copy reads them. A failure only means scans keep reading the chunk files.
   */
  start(source: CompactionSource): void {
    const { manifest } = source;
    if (this.running.has(manifest) || !this.worthIt(source)) return;
    const failed = this.failedAt.get(manifest);
    if (failed !== undefined && Date.now() - failed < RETRY_AFTER_MS) return;
    const lease = this.cache.lease();
    const paths = this.cache.pinChunks(source.chunks.map((c) => c.hash), lease);
    const p = this.build(manifest, source.columns, paths)
      .then(() => void this.failedAt.delete(manifest))
      .catch(() => void this.failedAt.set(manifest, Date.now()))
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

  private async build(manifest: Hash, columns: readonly string[], chunkPaths: readonly string[]): Promise<void> {
    const name = Compactor.fileName(manifest);
    const tmp = join(this.cache.dir, `.v-${manifest}.${process.pid}.${++this.seq}.tmp`);
    const conn = await this.db.connect();
    try {
      // Insertion order is preserved (DuckDB default), so the file keeps the chunks' table order.
      await conn.run(`COPY (SELECT ${columns.map(ident).join(', ')} FROM read_parquet([${chunkPaths.map(literal).join(', ')}])) TO ${literal(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
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
