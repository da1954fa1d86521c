import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assertHash, type Hash } from '@armillaria/core';
import type { DuckDBInstance } from '@duckdb/node-api';
import { ident } from './views.js';

export interface CompactionOptions {
  /** Compact table versions of at least this many chunks (default 32). */
  minChunks?: number;
}

const literal = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * Optional per-version compaction: one Parquet file holding every chunk of a table version, in table
 * order, written by DuckDB next to the chunks (`v-<manifest hash>.parquet`). A manifest is immutable,
 * so the file never goes stale; it is built in the background after the first full scan of the version
 * and used by later scans that keep every chunk, which then read one file with large row groups (and
 * DuckDB's own row-group pruning) instead of one file per chunk. Costs one read + write of the version
 * and its size on disk again, so it is off unless configured.
 */
export class Compactor {
  private readonly ready = new Set<Hash>();
  private readonly running = new Map<Hash, Promise<void>>();
  private seq = 0;
  readonly minChunks: number;

  constructor(private readonly db: DuckDBInstance, private readonly dir: string, opts: CompactionOptions) {
    this.minChunks = opts.minChunks ?? 32;
  }

  pathOf(manifest: Hash): string {
    assertHash(manifest);
    return join(this.dir, `v-${manifest}.parquet`);
  }

  /** The compacted file of `manifest` when it exists; otherwise starts building it (once) and returns undefined. */
  async lookup(manifest: Hash, columns: readonly string[], chunkPaths: readonly string[]): Promise<string | undefined> {
    if (this.ready.has(manifest)) return this.pathOf(manifest);
    if (chunkPaths.length < this.minChunks) return undefined;
    if (await stat(this.pathOf(manifest)).then((s) => s.isFile(), () => false)) {
      this.ready.add(manifest);
      return this.pathOf(manifest);
    }
    if (!this.running.has(manifest)) {
      const p = this.build(manifest, columns, chunkPaths)
        .then(() => void this.ready.add(manifest))
        // A failed compaction only means scans keep reading the chunk files.
        .catch(() => undefined)
        .finally(() => this.running.delete(manifest));
      this.running.set(manifest, p);
    }
    return undefined;
  }

  /** Resolves once no compaction is running (benchmarks and tests wait on it). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  private async build(manifest: Hash, columns: readonly string[], chunkPaths: readonly string[]): Promise<void> {
    const tmp = join(this.dir, `.v-${manifest}.${process.pid}.${++this.seq}.tmp`);
    const conn = await this.db.connect();
    try {
      // Insertion order is preserved (DuckDB default), so the file keeps the chunks' table order.
      await conn.run(`COPY (SELECT ${columns.map(ident).join(', ')} FROM read_parquet([${chunkPaths.map(literal).join(', ')}])) TO ${literal(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
      await rename(tmp, this.pathOf(manifest));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    } finally {
      conn.closeSync();
    }
  }
}
